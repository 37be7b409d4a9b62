"""Parsing and reporting for bench.sh.

Why this exists: bench.sh only orchestrates (build, start and stop servers, run
wrk and the gRPC load generator, snapshot the server's CPU time, import
entities, read RSS) and leaves every figure as a raw file in its work
directory. Turning those into numbers, taking medians over repeats, pricing
the hop, checking the targets and drawing the charts is easier to get right,
and to read, in Python than in shell: the code is in bench/reporting/, this
file is its command line. It runs with bench/.venv's interpreter, which is
also the Python under test, so its version is the one reported.

    report.py summary FILE.wrk [--clk-tck N]  one progress line for a wrk run (CPU from FILE.cpu0/.cpu1)
    report.py report WORKDIR --out DIR [...]  writes DIR/latest.{md,json,png} (+ latest-sweep.png), prints the table
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from reporting import charts, collect, tables, targets
from reporting.fmt import fmt_count, fmt_ms, fmt_rate, fmt_us


def write_atomically(path: Path, write) -> None:
    """Writes to PATH.tmp (git-ignored), then renames, so a failed run leaves the old result."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def cmd_summary(args: argparse.Namespace) -> int:
    run = collect.read_run(Path(args.file), args.clk_tck)
    cpu = "" if run["cpu_us_per_req"] is None else (
        f", server CPU {fmt_us(run['cpu_us_per_req'])} µs/req, {fmt_count(run['switches_per_req'])} switches/req")
    print(f"{fmt_rate(run['req_per_sec'])} req/s, avg {fmt_ms(run['avg_ms'])} ms, p50 {fmt_ms(run['p50_ms'])} ms, "
          f"p99 {fmt_ms(run['p99_ms'])} ms{cpu}" + (f"  ⚠ {', '.join(run['problems'])}" if run["problems"] else ""))
    return 0


def analyse(workdir: Path, main_level: int, clk_tck: int) -> dict | None:
    """Every figure of the work directory, summarized, compared and judged; None without wrk runs."""
    runs = collect.read_runs(workdir, clk_tck)
    if not runs:
        return None
    levels = {system: {n: collect.summarize(r) for n, r in sorted(by_level.items())} for system, by_level in runs.items()}
    main = {system: by_level[main_level] for system, by_level in levels.items() if main_level in by_level}
    counts = sorted({n for by_level in levels.values() for n in by_level})
    memory = collect.read_mem(workdir)
    return {
        "runs": runs,
        "levels": levels,
        "main": main,
        "ratios": targets.ratios(main),
        "hop_cost": targets.hop_cost(main),
        "sweep_hop_cost": {n: targets.hop_cost({s: by_level[n] for s, by_level in levels.items() if n in by_level})
                           for n in counts},
        "load": collect.read_load(workdir, clk_tck),
        "memory": memory,
        "targets": targets.judge(levels, main_level, memory),
    }


def raw_figures(report: dict, meta: dict, args: argparse.Namespace) -> dict:
    """latest.json: every run as measured, the medians, and everything derived from them."""
    return {
        "profile": args.profile,
        "machine": meta,
        "config": {
            "wrk_command": args.wrk_cmd,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "sweep_connections": sorted({n for by_level in report["levels"].values() for n in by_level}),
            "repeat": args.repeat,
            "load_threads": args.load_threads,
            "clk_tck": args.clk_tck,
            "server_rust_log": args.server_log,
            "server_args": args.server_args,
            "systems": args.systems.split(",") if args.systems else sorted(report["runs"]),
            "invocation": args.invocation,
        },
        "rest": {system: {str(n): {"median": report["levels"][system][n], "runs": report["runs"][system][n]}
                          for n in report["levels"][system]}
                 for system in [*collect.SYSTEMS, collect.FRONT] if system in report["runs"]},
        "grpc_load": report["load"],
        "memory": report["memory"],
        "ratios": report["ratios"],
        "hop_cost": report["hop_cost"],
        "sweep_hop_cost": {str(n): costs for n, costs in report["sweep_hop_cost"].items()},
        "targets": report["targets"],
    }


def cmd_report(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = analyse(Path(args.workdir), args.connections, args.clk_tck)
    if report is None:
        print("report.py: no wrk runs found", file=sys.stderr)
        return 1
    meta = collect.machine()
    shown = args.shown_as or str(out)
    sweep_written = len(report["sweep_hop_cost"]) > 1
    files = {"json": f"{shown}/latest.json", "chart": f"{shown}/latest.png",
             "sweep_chart": f"{shown}/latest-sweep.png", "sweep_written": sweep_written}
    table = tables.markdown(meta, args, report, files)
    write_atomically(out / "latest.md", lambda p: p.write_text(table))
    write_atomically(out / "latest.json",
                     lambda p: p.write_text(json.dumps(raw_figures(report, meta, args), indent=2, ensure_ascii=False) + "\n"))
    title = f"entity-service REST GET /{{id}}: {args.profile} run, {meta['date']}, {meta['cpu']} × {meta['cores']}"
    write_atomically(out / "latest.png",
                     lambda p: charts.bars(p, report["main"], f"{title}, {args.connections} connections"))
    if sweep_written:
        write_atomically(out / "latest-sweep.png",
                         lambda p: charts.sweep(p, report["levels"], f"{title}: connection sweep"))
    else:
        (out / "latest-sweep.png").unlink(missing_ok=True)  # not this run's: do not leave it beside it
    sys.stdout.write(table)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("summary", help="one progress line for a wrk output file")
    s.add_argument("file")
    s.add_argument("--clk-tck", type=int, default=os.sysconf("SC_CLK_TCK"), help="clock ticks per second")
    r = sub.add_parser("report", help="write latest.{md,json,png} from bench.sh's work directory")
    r.add_argument("workdir")
    r.add_argument("--out", required=True, help="directory for latest.{md,json,png} and latest-sweep.png")
    r.add_argument("--shown-as", default="", help="how the report names --out (e.g. relative to the repository)")
    r.add_argument("--profile", default="full", choices=["smoke", "quick", "full"])
    r.add_argument("--wrk-cmd", required=True)
    r.add_argument("--duration", type=float, required=True)
    r.add_argument("--warmup", type=float, required=True)
    r.add_argument("--connections", type=int, required=True, help="the connection count of the main tables")
    r.add_argument("--repeat", type=int, default=1)
    r.add_argument("--load-threads", type=int, default=0, help="threads of the gRPC load run (0: none ran)")
    r.add_argument("--clk-tck", type=int, default=os.sysconf("SC_CLK_TCK"), help="clock ticks per second")
    r.add_argument("--server-log", default="warn", help="RUST_LOG of the Rust server")
    r.add_argument("--server-args", default="", help="extra flags the Rust server ran with")
    r.add_argument("--systems", default="")
    r.add_argument("--invocation", default="./bench.sh", help="the bench.sh command line, for the report")
    args = parser.parse_args()
    return cmd_summary(args) if args.command == "summary" else cmd_report(args)


if __name__ == "__main__":
    sys.exit(main())
