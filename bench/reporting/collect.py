"""bench.sh's work directory → parsed runs, medians, gRPC load and memory figures.

bench.sh leaves every measurement as a raw file; this module reads them all,
so the rest of the report works on plain dicts. Layout (written by bench.sh):

    runs/<system>.c<N>.<repeat>.wrk     wrk --latency output at N connections, e.g. runs/rust-grpc.c10.1.wrk
    runs/<system>.c<N>.<repeat>.cpu0    proc_snapshot of the server just before that run (.cpu1: just after)
    runs/rust-front.c<N>.<repeat>.front.cpu0, .front.cpu1
                                        the same of nginx (master and workers) in front of the Rust hop
    load/<impl>.<repeat>.json           `entity-service load --json` output (impl: rust, peer, python)
    load/<impl>.<repeat>.cpu0, .cpu1    proc_snapshot of the server around that load run
    load/<impl>.from                    which server it ran against, e.g. "fastapi-grpc"
    mem/<impl>.env                      key=value lines: pid_role, rss_before_kib, rss_after_kib, created
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import re
import statistics
import subprocess
import sys
from pathlib import Path

from . import procstat, wrk

# The Rust peer (bench/rust-peer): the same service in tonic + axum, what a
# Rust user would pick instead; some targets are judged against it.
PEER = "peer"
# Every system × mode bench.sh knows, in table order.
SYSTEMS = ["rust-grpc", "rust-direct", f"{PEER}-grpc", f"{PEER}-direct", "fastapi-grpc", "fastapi-direct",
           "flask-grpc", "flask-direct"]
IMPLS = {"rust": "Rust (tiny_http + grpcio)", PEER: "tonic+axum (what a Rust user would pick instead)",
         "fastapi": "FastAPI (uvicorn + grpc.aio)", "flask": "Flask (gunicorn gthread)"}
MODES = {"grpc": "hop (gRPC)", "direct": "direct"}
PYTHONS = ["fastapi", "flask"]
# The servers of the gRPC-only figure: this crate's, the peer's tonic server, Python's grpcio.
LOAD_IMPLS = ("rust", PEER, "python")
# The Rust hop behind deploy/front.sh (nginx): what the front costs. Kept out
# of SYSTEMS, whose names are IMPL-MODE pairs that every table and target
# compares; it has a table of its own.
FRONT = "rust-front"
ERROR_KINDS = ("connect", "read", "write", "timeout")
MEDIAN_KEYS = ("req_per_sec", "avg_ms", "p50_ms", "p99_ms", "cpu_us_per_req", "switches_per_req", "front_cpu_us_per_req")

_RUN_FILE = re.compile(r"^(?P<system>[a-z]+-[a-z]+)\.c(?P<connections>\d+)\.(?P<repeat>\d+)\.wrk$")


def median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def read_run(path: Path, clk_tck: int) -> dict:
    """One measured wrk run with the server's CPU time and context switches over it."""
    run = wrk.parse(path.read_text())
    cost = procstat.usage_between(path.with_suffix(""), clk_tck)
    run["server"] = cost
    run.update(procstat.per_request(cost, run["requests"]))
    stem = path.with_suffix("")
    front = procstat.usage_between(stem.with_name(stem.name + ".front"), clk_tck)
    run["front"] = front
    run["front_cpu_us_per_req"] = procstat.per_request(front, run["requests"])["cpu_us_per_req"]
    run["problems"] = wrk.problems(run)
    if cost and cost["exited"]:
        run["problems"].append("a server process exited during the run")
    if front and front["exited"]:
        run["problems"].append("an nginx process exited during the run")
    return run


def read_runs(workdir: Path, clk_tck: int) -> dict[str, dict[int, list[dict]]]:
    """system → connections → its runs in repeat order."""
    runs: dict[str, dict[int, list[dict]]] = {}
    for path in (workdir / "runs").glob("*.wrk"):
        m = _RUN_FILE.match(path.name)
        if not m:
            continue
        run = read_run(path, clk_tck)
        run["repeat"], run["connections"] = int(m["repeat"]), int(m["connections"])
        runs.setdefault(m["system"], {}).setdefault(run["connections"], []).append(run)
    for levels in runs.values():
        for level_runs in levels.values():
            level_runs.sort(key=lambda r: r["repeat"])
    return runs


def summarize(runs: list[dict]) -> dict:
    """Median of each figure over repeats (each on its own); errors summed, never hidden."""
    summary: dict = {key: median([r[key] for r in runs]) for key in MEDIAN_KEYS}
    summary["runs"] = len(runs)
    summary["non_2xx"] = sum(r["non_2xx"] for r in runs)
    summary["socket_errors"] = {k: sum(r["socket_errors"][k] for r in runs) for k in ERROR_KINDS}
    summary["flagged_runs"] = sum(1 for r in runs if r["problems"])
    found = []
    if empty := sum(1 for r in runs if "no requests" in r["problems"]):
        found.append("no requests" if len(runs) == 1 else f"{empty} runs without requests")
    if summary["non_2xx"]:
        found.append(f"{summary['non_2xx']} non-2xx")
    found += wrk.socket_error_labels(summary["socket_errors"])
    if exited := sum(1 for r in runs if r["server"] and r["server"]["exited"]):
        found.append("a server process exited" + ("" if len(runs) == 1 else f" in {exited} runs"))
    summary["problems"] = found
    return summary


def read_load(workdir: Path, clk_tck: int) -> dict[str, dict]:
    """impl (rust, peer, python) → median calls/s, p50, p99, server CPU µs per call over repeats, summed errors."""
    result = {}
    for impl in LOAD_IMPLS:
        files = sorted((workdir / "load").glob(f"{impl}.*.json"))
        if not files:
            continue
        loads = []
        for f in files:
            load = json.loads(f.read_text())
            cost = procstat.usage_between(f.with_suffix(""), clk_tck)
            calls = int(load.get("calls", 0))
            load["server"] = cost
            load["cpu_us_per_call"] = cost["cpu_s"] * 1e6 / calls if cost and calls else None
            loads.append(load)
        source = workdir / "load" / f"{impl}.from"
        result[impl] = {
            "from": source.read_text().strip() if source.exists() else None,
            "runs": loads,
            **{key: median([x.get(key) for x in loads]) for key in ("calls_per_sec", "p50_ms", "p99_ms", "cpu_us_per_call")},
            "errors": sum(int(x.get("errors", 0)) for x in loads),
            "calls": sum(int(x.get("calls", 0)) for x in loads),
        }
    return result


def read_mem(workdir: Path) -> dict[str, dict]:
    """impl (rust, peer, fastapi, flask) → RSS before/after import in MiB, and who was measured."""
    result = {}
    for impl in IMPLS:
        path = workdir / "mem" / f"{impl}.env"
        if not path.exists():
            continue
        kv = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
        before, after = int(kv["rss_before_kib"]), int(kv["rss_after_kib"])
        result[impl] = {
            "process": kv.get("pid_role", "server"),
            "entities": int(kv.get("created", 0)),
            "rss_before_mib": before / 1024,
            "rss_after_mib": after / 1024,
            "growth_mib": (after - before) / 1024,
        }
    return result


def _first_line(cmd: list[str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = (done.stdout + done.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def machine() -> dict:
    """Where and with what the benchmark ran."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    os_name = platform.system()
    try:
        release = dict(
            line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line
        )
        os_name = release.get("PRETTY_NAME", os_name).strip('"')
    except OSError:
        pass
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": _first_line(["nproc"]),
        "os": f"{os_name}, {platform.system()} {platform.release()} {platform.machine()}",
        "rustc": _first_line(["rustc", "--version"]),
        "python": f"Python {platform.python_version()} ({sys.executable})",
        "wrk": _first_line(["wrk", "-v"]).split(" Copyright")[0],
    }
