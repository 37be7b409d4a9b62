"""Parsing and reporting for bench.sh.

Why this exists: bench.sh only orchestrates (build, start and stop servers, run
wrk and the gRPC load generator, import entities, read RSS) and leaves every
figure as a raw file in its work directory. Turning wrk's text into numbers,
taking medians over repeats, computing the ratios, checking the targets and
drawing the chart is easier to get right, and to read, in Python than in
shell, so it lives here. It runs with bench/.venv's interpreter, which is
also the Python under test, so its version is the one reported.

    report.py summary FILE.wrk          one progress line for a wrk output
    report.py report WORKDIR [options]  writes latest.{md,json,png}, prints the table

WORKDIR layout (written by bench.sh):
    runs/<system>.<repeat>.wrk          wrk --latency output, e.g. runs/rust-grpc.1.wrk
    load/<impl>.<repeat>.json           `entity-service load --json` output (impl: rust, python)
    load/<impl>.from                    which server it ran against, e.g. "fastapi-grpc"
    mem/<impl>.env                      key=value lines: pid_role, rss_before_kib, rss_after_kib, created
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
from pathlib import Path

# Every system × mode bench.sh knows, in table order.
SYSTEMS = ["rust-grpc", "rust-direct", "fastapi-grpc", "fastapi-direct", "flask-grpc", "flask-direct"]
IMPLS = {"rust": "Rust (tiny_http + grpcio)", "fastapi": "FastAPI (uvicorn + grpc.aio)", "flask": "Flask (gunicorn gthread)"}
MODES = {"grpc": "hop (gRPC)", "direct": "direct"}
PYTHONS = ["fastapi", "flask"]

# The project's targets (see the brief in README / bench.sh --help).
TARGET_HOP_SPEEDUP = 15.0  # Rust hop req/s ≥ 15× the best Python hop
TARGET_DIRECT_SPEEDUP = 10.0  # Rust direct req/s ≥ 10× the best Python direct
TARGET_HOP_P99_MS = 1.5  # Rust hop p99 ≤ 1.5 ms
TARGET_HOP_OVER_DIRECT = 0.3  # Rust hop ÷ direct ≥ 0.3
TARGET_RSS_RATIO = 1 / 3  # Rust RSS ≤ 1/3 of Python's (the smallest Python)

# --------------------------------------------------------------------------- wrk parsing

_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(text: str) -> float | None:
    """wrk's time format (`401.00us`, `1.85ms`, `2.00s`, `1.00m`) → milliseconds."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    return float(m.group(1)) * _TIME_UNITS_MS[m.group(2)] if m else None


def parse_wrk(text: str) -> dict:
    """The figures of one `wrk --latency` output.

    Missing lines mean zero for the error counters (wrk prints "Socket errors"
    and "Non-2xx or 3xx responses" only when they are not zero) and None for
    the rest (e.g. a run that made no request at all).
    """
    out: dict = {
        "requests": None,
        "req_per_sec": None,
        "avg_ms": None,
        "p50_ms": None,
        "p75_ms": None,
        "p90_ms": None,
        "p99_ms": None,
        "max_ms": None,
        "non_2xx": 0,
        "socket_errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0},
    }
    if m := re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M):
        out["req_per_sec"] = float(m.group(1))
    if m := re.search(r"^\s*(\d+) requests in ", text, re.M):
        out["requests"] = int(m.group(1))
    if m := re.search(r"^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)", text, re.M):
        out["avg_ms"], out["max_ms"] = _ms(m.group(1)), _ms(m.group(3))
    for pct in ("50", "75", "90", "99"):
        if m := re.search(rf"^\s*{pct}%\s+(\S+)", text, re.M):
            out[f"p{pct}_ms"] = _ms(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text):
        out["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups())))
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", text):
        out["non_2xx"] = int(m.group(1))
    if not out["requests"]:  # wrk prints 0.00us latencies for a run without responses: they mean nothing
        for key in ("avg_ms", "p50_ms", "p75_ms", "p90_ms", "p99_ms", "max_ms"):
            out[key] = None
    return out


def socket_error_labels(errors: dict) -> list[str]:
    """{"read": 2, "timeout": 3} → ["2 read errors", "3 timeouts"]."""
    labels = []
    for kind, count in errors.items():
        if count:
            noun = ("timeout" if kind == "timeout" else f"{kind} error") + ("s" if count > 1 else "")
            labels.append(f"{count} {noun}")
    return labels


def problems(run: dict) -> list[str]:
    """What is wrong with a run, as short labels ("12 non-2xx", "3 timeout"); [] when clean."""
    found = []
    if not run.get("requests") or run.get("req_per_sec") is None:
        found.append("no requests")
    if run.get("non_2xx"):
        found.append(f"{run['non_2xx']} non-2xx")
    return found + socket_error_labels(run.get("socket_errors", {}))


# --------------------------------------------------------------------------- formatting


def fmt_rate(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


def fmt_ms(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def fmt_ratio(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.2f}×" if x < 10 else f"{x:.1f}×"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# --------------------------------------------------------------------------- collecting


def read_runs(workdir: Path) -> dict[str, list[dict]]:
    """system → its runs in repeat order, each parsed."""
    runs: dict[str, list[dict]] = {}
    for path in sorted((workdir / "runs").glob("*.wrk"), key=lambda p: (p.name.split(".")[0], int(p.name.split(".")[1]))):
        system, repeat = path.name.split(".")[:2]
        run = parse_wrk(path.read_text())
        run["repeat"] = int(repeat)
        run["problems"] = problems(run)
        runs.setdefault(system, []).append(run)
    return runs


def summarize(runs: list[dict]) -> dict:
    """Median of req/s and of each latency figure over repeats; errors summed, never hidden."""
    summary = {key: median([r[key] for r in runs]) for key in ("req_per_sec", "avg_ms", "p50_ms", "p99_ms")}
    summary["runs"] = len(runs)
    summary["non_2xx"] = sum(r["non_2xx"] for r in runs)
    summary["socket_errors"] = {k: sum(r["socket_errors"][k] for r in runs) for k in ("connect", "read", "write", "timeout")}
    summary["flagged_runs"] = sum(1 for r in runs if r["problems"])
    found = []
    if empty := sum(1 for r in runs if "no requests" in r["problems"]):
        found.append("no requests" if len(runs) == 1 else f"{empty} runs without requests")
    if summary["non_2xx"]:
        found.append(f"{summary['non_2xx']} non-2xx")
    found += socket_error_labels(summary["socket_errors"])
    summary["problems"] = found
    return summary


def read_load(workdir: Path) -> dict[str, dict]:
    """impl (rust, python) → median calls/s, p50, p99 over repeats, summed errors, source server."""
    result = {}
    for impl in ("rust", "python"):
        files = sorted((workdir / "load").glob(f"{impl}.*.json"))
        if not files:
            continue
        loads = [json.loads(f.read_text()) for f in files]
        source = workdir / "load" / f"{impl}.from"
        result[impl] = {
            "from": source.read_text().strip() if source.exists() else None,
            "runs": loads,
            "calls_per_sec": median([x.get("calls_per_sec") for x in loads]),
            "p50_ms": median([x.get("p50_ms") for x in loads]),
            "p99_ms": median([x.get("p99_ms") for x in loads]),
            "errors": sum(int(x.get("errors", 0)) for x in loads),
            "calls": sum(int(x.get("calls", 0)) for x in loads),
        }
    return result


def read_mem(workdir: Path) -> dict[str, dict]:
    """impl (rust, fastapi, flask) → RSS before/after import in MiB, and who was measured."""
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
    wrk = _first_line(["wrk", "-v"]).split(" Copyright")[0]
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": _first_line(["nproc"]),
        "os": f"{os_name}, {platform.system()} {platform.release()} {platform.machine()}",
        "rustc": _first_line(["rustc", "--version"]),
        "python": f"Python {platform.python_version()} ({sys.executable})",
        "wrk": wrk,
    }


# --------------------------------------------------------------------------- ratios and targets


def compute(summaries: dict[str, dict], load: dict, mem: dict) -> tuple[dict, list[dict]]:
    """The ratios (Rust ÷ each Python per mode, hop ÷ direct per system) and the target checks."""

    def rps(system: str) -> float | None:
        return summaries.get(system, {}).get("req_per_sec")

    def flagged(*systems: str) -> bool:
        return any(summaries.get(s, {}).get("problems") for s in systems)

    ratios: dict = {"rust_over_python": {}, "hop_over_direct": {}}
    for mode in MODES:
        for py in PYTHONS:
            ratios["rust_over_python"][f"{py}-{mode}"] = ratio(rps(f"rust-{mode}"), rps(f"{py}-{mode}"))
    for impl in IMPLS:
        ratios["hop_over_direct"][impl] = ratio(rps(f"{impl}-grpc"), rps(f"{impl}-direct"))

    targets = []

    def target(name: str, value: float | None, goal: str, met: bool | None, shown: str, note: str = "", dirty: bool = False):
        targets.append({
            "target": name,
            "value": value,
            "shown": shown,
            "goal": goal,
            "met": met,
            "note": note,
            "from_flagged_runs": dirty,
        })

    for mode, goal in (("grpc", TARGET_HOP_SPEEDUP), ("direct", TARGET_DIRECT_SPEEDUP)):
        candidates = [(rps(f"{py}-{mode}"), py) for py in PYTHONS if rps(f"{py}-{mode}")]
        best_rate, best = max(candidates) if candidates else (None, None)
        value = ratio(rps(f"rust-{mode}"), best_rate)
        target(
            f"Rust {MODES[mode]} ÷ best Python {MODES[mode]} (req/s)",
            value,
            f"≥ {goal:g}×",
            None if value is None else value >= goal,
            fmt_ratio(value),
            f"best Python: {best}" if best else "",
            flagged(f"rust-{mode}", *(f"{py}-{mode}" for py in PYTHONS)),
        )
    p99 = summaries.get("rust-grpc", {}).get("p99_ms")
    target("Rust hop p99 latency", p99, f"≤ {TARGET_HOP_P99_MS:g} ms",
           None if p99 is None else p99 <= TARGET_HOP_P99_MS, "—" if p99 is None else f"{p99:.3f} ms",
           dirty=flagged("rust-grpc"))
    hd = ratios["hop_over_direct"]["rust"]
    target("Rust hop ÷ Rust direct (req/s)", hd, f"≥ {TARGET_HOP_OVER_DIRECT:g}",
           None if hd is None else hd >= TARGET_HOP_OVER_DIRECT, "—" if hd is None else f"{hd:.3f}",
           dirty=flagged("rust-grpc", "rust-direct"))
    pythons = [(mem[py]["rss_after_mib"], py) for py in PYTHONS if py in mem]
    if "rust" in mem and pythons:
        smallest, who = min(pythons)
        value = mem["rust"]["rss_after_mib"] / smallest
        entities = mem["rust"]["entities"]
        target(f"Rust RSS ÷ smallest Python RSS after {entities:,} entities", value, "≤ 1/3 (0.333)",
               value <= TARGET_RSS_RATIO, f"{value:.3f}", f"smallest Python: {who}")
    else:
        target("Rust RSS ÷ smallest Python RSS", None, "≤ 1/3 (0.333)", None, "—")
    return ratios, targets


# --------------------------------------------------------------------------- Markdown


def markdown(meta: dict, cfg: argparse.Namespace, summaries: dict, runs: dict, load: dict, mem: dict,
             ratios: dict, targets: list[dict]) -> str:
    lines: list[str] = []
    add = lines.append
    profile = {"smoke": "smoke run (CI check, 1 s runs: not a measurement)", "quick": "quick run (5 s runs)",
               "full": "full run"}.get(cfg.profile, cfg.profile)
    add(f"# entity-service benchmark: {profile}")
    add("")
    add(f"- **Date:** {meta['date']}")
    add(f"- **Machine:** {meta['cpu']}, {meta['cores']} cores (nproc)")
    add(f"- **OS:** {meta['os']}")
    add(f"- **Toolchain:** {meta['rustc']}; {meta['python'].split(' (')[0]}; {meta['wrk']}")
    add(f"- **REST load:** `{cfg.wrk_cmd}` after a {cfg.warmup:g} s warm-up (discarded), one server at a time, "
        f"wrk and server on the same host over loopback; entity 1 created first with `POST /`.")
    if cfg.repeat > 1:
        add(f"- **Repeats:** {cfg.repeat}, interleaved (A B C … A B C); each figure is the median over repeats "
            f"(each latency column its own median).")
    add(f"- **gRPC load:** `entity-service load --threads {cfg.load_threads} --seconds {cfg.duration:g} --id 1` "
        f"(blocking unary GetEntity).")
    add("")

    add("## REST `GET /{id}`")
    add("")
    add("| system | mode | req/s | avg ms | p50 ms | p99 ms | Rust ÷ this (req/s) | hop ÷ direct | errors |")
    add("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for system in SYSTEMS:
        if system not in summaries:
            continue
        s = summaries[system]
        impl, mode = system.split("-")
        warn = " ⚠" if s["problems"] else ""
        vs_rust = "—" if impl == "rust" else fmt_ratio(ratios["rust_over_python"].get(system))
        hop_direct = ratios["hop_over_direct"].get(impl) if mode == "grpc" else None
        errors = "⚠ " + ", ".join(s["problems"]) if s["problems"] else "none"
        if s["problems"] and s["runs"] > 1:
            errors += f" ({s['flagged_runs']} of {s['runs']} runs)"
        add(f"| {IMPLS[impl]} | {MODES[mode]} | {fmt_rate(s['req_per_sec'])}{warn} | {fmt_ms(s['avg_ms'])} | "
            f"{fmt_ms(s['p50_ms'])} | {fmt_ms(s['p99_ms'])} | {vs_rust} | "
            f"{'' if hop_direct is None else f'{hop_direct:.2f}'} | {errors} |")
    add("")

    if load:
        add(f"## gRPC only (`entity-service load`, {cfg.load_threads} threads, unary GetEntity)")
        add("")
        add("| server | measured on | calls/s | p50 ms | p99 ms | errors |")
        add("|---|---|---:|---:|---:|---|")
        names = {"rust": "Rust (grpcio server)", "python": "Python (grpcio sync server, store.py)"}
        for impl in ("rust", "python"):
            if impl in load:
                x = load[impl]
                errs = f"⚠ {x['errors']}" if x["errors"] else "none"
                add(f"| {names[impl]} | {x['from']} | {fmt_rate(x['calls_per_sec'])} | {fmt_ms(x['p50_ms'])} | "
                    f"{fmt_ms(x['p99_ms'])} | {errs} |")
        if "rust" in load and "python" in load:
            add(f"| **Rust ÷ Python** | | {fmt_ratio(ratio(load['rust']['calls_per_sec'], load['python']['calls_per_sec']))} "
                f"| | | |")
        add("")

    if mem:
        entities = max(m["entities"] for m in mem.values())
        add(f"## Memory: RSS after importing {entities:,} entities (`entity-service client import`)")
        add("")
        add("VmRSS of the process that owns the store, read from /proc after the CreateEntities stream "
            "completed (gunicorn: its worker, not the master). One figure per implementation: the mode "
            "does not change the process shape.")
        add("")
        add("| system | process | RSS at start MiB | RSS after import MiB | growth MiB | Rust ÷ this |")
        add("|---|---|---:|---:|---:|---:|")
        for impl in IMPLS:
            if impl not in mem:
                continue
            m = mem[impl]
            vs = "—" if impl == "rust" or "rust" not in mem else f"{mem['rust']['rss_after_mib'] / m['rss_after_mib']:.2f}"
            add(f"| {IMPLS[impl]} | {m['process']} | {m['rss_before_mib']:.1f} | {m['rss_after_mib']:.1f} | "
                f"{m['growth_mib']:.1f} | {vs} |")
        add("")

    add("## Targets")
    add("")
    add("| target | value | goal | status |")
    add("|---|---:|---|---|")
    for t in targets:
        status = "n/a (not measured)" if t["met"] is None else ("✅ met" if t["met"] else "❌ not met")
        if t["from_flagged_runs"] and t["met"] is not None:
            status += " (⚠ from runs with errors)"
        note = f" ({t['note']})" if t["note"] else ""
        add(f"| {t['target']}{note} | {t['shown']} | {t['goal']} | {status} |")
    add("")
    flagged = [(system, r) for system in SYSTEMS for r in runs.get(system, []) if r["problems"]]
    if flagged:
        add("**Runs with errors** (kept in the medians above, flagged, never dropped):")
        add("")
        for system, r in flagged:
            add(f"- {system}, repeat {r['repeat']}: {', '.join(r['problems'])} "
                f"({fmt_rate(r['req_per_sec'])} req/s)")
        add("")
    add("Raw figures: `bench/results/latest.json`; chart: `bench/results/latest.png`; "
        f"made by `{cfg.invocation}`.")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- chart


def chart(path: Path, summaries: dict, title: str) -> None:
    """Two subplots, req/s and p99 ms, grouped by implementation with hop and direct bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    impls = [i for i in IMPLS if any(f"{i}-{m}" in summaries for m in MODES)]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    width = 0.38
    colors = {"grpc": "#4c72b0", "direct": "#dd8452"}
    for ax, key, label in ((axes[0], "req_per_sec", "requests/s (higher is better)"),
                           (axes[1], "p99_ms", "p99 latency, ms (lower is better)")):
        for k, mode in enumerate(MODES):
            xs, ys, flags = [], [], []
            for n, impl in enumerate(impls):
                s = summaries.get(f"{impl}-{mode}")
                if s and s.get(key) is not None:
                    xs.append(n + (k - 0.5) * width)
                    ys.append(s[key])
                    flags.append(bool(s["problems"]))
            bars = ax.bar(xs, ys, width, label=MODES[mode], color=colors[mode])
            for bar, y, bad in zip(bars, ys, flags):
                if bad:
                    bar.set_hatch("//")
                text = (f"{y:,.0f}" if key == "req_per_sec" else f"{y:.2f}") + (" ⚠" if bad else "")
                ax.annotate(text, (bar.get_x() + bar.get_width() / 2, y), ha="center", va="bottom",
                            fontsize=8, xytext=(0, 2), textcoords="offset points")
        ax.set_xticks(range(len(impls)))
        ax.set_xticklabels([IMPLS[i].split(" (")[0] for i in impls])
        ax.set_title(label)
        ax.margins(y=0.15)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")  # explicit: PATH.tmp has no suffix to go by
    plt.close(fig)


# --------------------------------------------------------------------------- commands


def write_atomically(path: Path, write) -> None:
    """Writes to PATH.tmp (git-ignored), then renames, so a failed run leaves the old result."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def cmd_summary(args: argparse.Namespace) -> int:
    run = parse_wrk(Path(args.file).read_text())
    bad = problems(run)
    print(f"{fmt_rate(run['req_per_sec'])} req/s, avg {fmt_ms(run['avg_ms'])} ms, p50 {fmt_ms(run['p50_ms'])} ms, "
          f"p99 {fmt_ms(run['p99_ms'])} ms" + (f"  ⚠ {', '.join(bad)}" if bad else ""))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = read_runs(workdir)
    if not runs:
        print("report.py: no wrk runs found", file=sys.stderr)
        return 1
    summaries = {system: summarize(r) for system, r in runs.items()}
    load = read_load(workdir)
    mem = read_mem(workdir)
    ratios, targets = compute(summaries, load, mem)
    meta = machine()
    table = markdown(meta, args, summaries, runs, load, mem, ratios, targets)
    raw = {
        "profile": args.profile,
        "machine": meta,
        "config": {
            "wrk_command": args.wrk_cmd,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "repeat": args.repeat,
            "load_threads": args.load_threads,
            "systems": args.systems.split(",") if args.systems else sorted(runs),
            "invocation": args.invocation,
        },
        "rest": {system: {"median": summaries[system], "runs": runs[system]} for system in SYSTEMS if system in runs},
        "grpc_load": load,
        "memory": mem,
        "ratios": ratios,
        "targets": targets,
    }
    write_atomically(out / "latest.md", lambda p: p.write_text(table))
    write_atomically(out / "latest.json", lambda p: p.write_text(json.dumps(raw, indent=2, ensure_ascii=False) + "\n"))
    title = f"entity-service REST GET /{{id}}: {args.profile} run, {meta['date']}, {meta['cpu']} × {meta['cores']}"
    write_atomically(out / "latest.png", lambda p: chart(p, summaries, title))
    sys.stdout.write(table)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("summary", help="one progress line for a wrk output file")
    s.add_argument("file")
    r = sub.add_parser("report", help="write latest.{md,json,png} from bench.sh's work directory")
    r.add_argument("workdir")
    r.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    r.add_argument("--profile", default="full", choices=["smoke", "quick", "full"])
    r.add_argument("--wrk-cmd", required=True)
    r.add_argument("--duration", type=float, required=True)
    r.add_argument("--warmup", type=float, required=True)
    r.add_argument("--connections", type=int, required=True)
    r.add_argument("--repeat", type=int, default=1)
    r.add_argument("--load-threads", type=int, default=4)
    r.add_argument("--systems", default="")
    r.add_argument("--invocation", default="./bench.sh", help="the bench.sh command line, for the report")
    args = parser.parse_args()
    return cmd_summary(args) if args.command == "summary" else cmd_report(args)


if __name__ == "__main__":
    sys.exit(main())
