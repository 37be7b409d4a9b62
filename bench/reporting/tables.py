"""The Markdown report: the hop's own cost first, then every table and the targets.

latest.md is what a reader of the repository sees (README quotes it), so its
order follows the experiment's question: what does the REST→gRPC hop cost
per request, in server CPU, here and in the Python originals.
"""

from __future__ import annotations

import argparse

from .collect import FRONT, IMPLS, LOAD_IMPLS, MODES, PEER, SYSTEMS
from .fmt import fmt_count, fmt_ms, fmt_rate, fmt_ratio, fmt_us
from .targets import ratio

PROFILES = {"smoke": "smoke run (CI check, 1 s runs: not a measurement)", "quick": "quick run (5 s runs)",
            "full": "full run"}


def errors_cell(s: dict) -> str:
    if not s["problems"]:
        return "none"
    cell = "⚠ " + ", ".join(s["problems"])
    return cell + (f" ({s['flagged_runs']} of {s['runs']} runs)" if s["runs"] > 1 else "")


def header(meta: dict, cfg: argparse.Namespace, systems: set[str]) -> list[str]:
    """The run's conditions; SYSTEMS: those measured."""
    lines = [f"# entity-service benchmark: {PROFILES.get(cfg.profile, cfg.profile)}", "",
             f"- **Date:** {meta['date']}",
             f"- **Machine:** {meta['cpu']}, {meta['cores']} cores (nproc)",
             f"- **OS:** {meta['os']}",
             f"- **Toolchain:** {meta['rustc']}; {meta['python'].split(' (')[0]}; {meta['wrk']}",
             f"- **REST load:** `{cfg.wrk_cmd}` after a {cfg.warmup:g} s warm-up at the same connection count "
             f"(discarded), one server at a time, wrk and server on the same host over loopback; entity 1 created "
             f"first with `POST /`.",
             f"- **Server CPU:** utime + stime of the server's whole process tree (every thread; gunicorn's master "
             f"and worker) from `/proc/PID/stat` just before and just after the measured run, ÷ the requests wrk "
             f"completed; the clock tick is 1/{cfg.clk_tck} s. **Switches:** voluntary + involuntary context switches "
             f"of the tree's threads over the run (`/proc/PID/task/*/status`; threads that end during the run are "
             f"missed, so a lower bound).",
             f"- **Rust server:** `RUST_LOG={cfg.server_log}`"
             + (f", extra flags `{cfg.server_args}`" if cfg.server_args else ", default flags")
             + "; Python servers: access logs off."]
    if any(system.startswith(f"{PEER}-") for system in systems):
        lines.append("- **Rust peer** (`bench/rust-peer`, tonic+axum): the same service as a Rust user would write it "
                     "without this project's constraints: tonic (gRPC) and axum (REST) on one tokio multi-thread "
                     "runtime (a worker per core), a `Mutex<Vec<Entity>>` store; its hop is a tonic client call "
                     "to its own gRPC server over loopback TCP, on one channel made at start and shared.")
    if cfg.repeat > 1:
        lines.append(f"- **Repeats:** {cfg.repeat}, interleaved (A B C … A B C); each figure is the median over "
                     f"repeats (each column its own median).")
    if cfg.load_threads:
        lines.append(f"- **gRPC load:** `entity-service load --threads {cfg.load_threads} --seconds {cfg.duration:g} "
                     f"--id 1` (blocking unary GetEntity).")
    return lines + [""]


def hop_cost_table(costs: dict, connections: int) -> list[str]:
    if not costs:
        return []
    lines = [f"## The hop's own cost: server CPU per request, {connections} connections", "",
             "What the REST→gRPC hop adds to a `GET /{id}`: the server's CPU per request with the hop minus "
             "without it, in the same run.", "",
             "| system | hop µs/req | direct µs/req | **hop's own cost µs/req** | hop switches/req | "
             "direct switches/req | hop req/s ÷ direct |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for impl, c in costs.items():
        warn = " ⚠" if c["flagged"] else ""
        lines.append(f"| {IMPLS[impl]} | {fmt_us(c['hop_cpu_us'])} | {fmt_us(c['direct_cpu_us'])} | "
                     f"**{fmt_us(c['cost_us'])}**{warn} | {fmt_count(c['hop_switches'])} | "
                     f"{fmt_count(c['direct_switches'])} | {fmt_count(c['hop_over_direct_rps'])} |")
    rust = costs.get("rust", {}).get("cost_us")
    if rust:
        others = [f"{IMPLS[i].split(' (')[0]}'s {fmt_us(c['cost_us'])} µs ({fmt_ratio(ratio(c['cost_us'], rust))})"
                  for i, c in costs.items() if i != "rust" and c["cost_us"] is not None]
        lines += ["", f"Rust's hop costs **{fmt_us(rust)} µs** of server CPU per request"
                  + (f"; {', '.join(others)}." if others else ".")]
    return lines + [""]


def rest_table(summaries: dict, ratios: dict, connections: int) -> list[str]:
    lines = [f"## REST `GET /{{id}}`, {connections} connections", "",
             "| system | mode | CPU µs/req | switches/req | req/s | avg ms | p50 ms | p99 ms | "
             "Rust's req/s ÷ this | this CPU ÷ Rust's | errors |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for system in SYSTEMS:
        if system not in summaries:
            continue
        s = summaries[system]
        impl, mode = system.split("-")
        warn = " ⚠" if s["problems"] else ""
        rps_vs = "—" if impl == "rust" else fmt_ratio(ratios["rust_rps_over"].get(system))
        cpu_vs = "—" if impl == "rust" else fmt_ratio(ratios["cpu_over_rust"].get(system))
        lines.append(f"| {IMPLS[impl]} | {MODES[mode]} | {fmt_us(s['cpu_us_per_req'])}{warn} | "
                     f"{fmt_count(s['switches_per_req'])} | {fmt_rate(s['req_per_sec'])}{warn} | {fmt_ms(s['avg_ms'])} | "
                     f"{fmt_ms(s['p50_ms'])} | {fmt_ms(s['p99_ms'])} | {rps_vs} | {cpu_vs} | {errors_cell(s)} |")
    return lines + [""]


def front_table(summaries: dict, connections: int) -> list[str]:
    """What deploy/front.sh (nginx) costs in front of the Rust hop: the service's and nginx's CPU per request."""
    front, alone = summaries.get(FRONT), summaries.get("rust-grpc")
    if not front:
        return []
    lines = [f"## The nginx front's cost: CPU per request, {connections} connections", "",
             "The Rust hop behind `deploy/front.sh` (nginx; HTTP/1.1 keep-alive to the instance), wrk → nginx → "
             "service, against the same hop without it. nginx's CPU is that of its master and workers, from "
             "`/proc` over the same run.", "",
             "| path | service µs/req | nginx µs/req | total µs/req | req/s | p50 ms | p99 ms | errors |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]

    def row(name: str, s: dict, nginx: float | None) -> str:
        service = s["cpu_us_per_req"]
        total = service + (nginx or 0.0) if service is not None else None
        warn = " ⚠" if s["problems"] else ""
        return (f"| {name} | {fmt_us(service)}{warn} | {fmt_us(nginx) if nginx is not None else '—'} | "
                f"{fmt_us(total)} | {fmt_rate(s['req_per_sec'])} | {fmt_ms(s['p50_ms'])} | {fmt_ms(s['p99_ms'])} | "
                f"{errors_cell(s)} |")

    if alone:
        lines.append(row("hop, straight to the service", alone, None))
    lines.append(row("hop through the nginx front", front, front["front_cpu_us_per_req"]))
    if alone and alone["cpu_us_per_req"] is not None and front["cpu_us_per_req"] is not None:
        total = front["cpu_us_per_req"] + (front["front_cpu_us_per_req"] or 0.0)
        lines += ["", f"The front adds **{fmt_us(total - alone['cpu_us_per_req'])} µs** of CPU per request "
                  f"(service + nginx through the front − the service alone)."]
    return lines + [""]


def sweep_tables(levels: dict, sweep_costs: dict, chart_name: str) -> list[str]:
    counts = sorted({n for by_level in levels.values() for n in by_level})
    if len(counts) < 2:
        return []
    lines = ["## Connection sweep", "",
             f"The same run at {', '.join(map(str, counts))} connections (`wrk -t1 -cN`), each after its own "
             f"warm-up; chart: `{chart_name}`. A level with errors is flagged ⚠, never averaged away.", "",
             "| system | mode | connections | req/s | p99 ms | CPU µs/req | switches/req | errors |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for system in SYSTEMS:
        impl, mode = system.split("-")
        for n, s in sorted(levels.get(system, {}).items()):
            warn = " ⚠" if s["problems"] else ""
            lines.append(f"| {IMPLS[impl]} | {MODES[mode]} | {n} | {fmt_rate(s['req_per_sec'])}{warn} | "
                         f"{fmt_ms(s['p99_ms'])} | {fmt_us(s['cpu_us_per_req'])}{warn} | "
                         f"{fmt_count(s['switches_per_req'])} | {errors_cell(s)} |")
    impls = [i for i in IMPLS if any(i in sweep_costs[n] for n in counts)]
    if impls:
        lines += ["", "The hop's own cost (server CPU µs per request, hop − direct) by connection count:", "",
                  "| system | " + " | ".join(f"{n} conn." for n in counts) + " |",
                  "|---|" + "---:|" * len(counts)]
        for impl in impls:
            cells = []
            for n in counts:
                c = sweep_costs[n].get(impl)
                cells.append("—" if c is None else fmt_us(c["cost_us"]) + (" ⚠" if c["flagged"] else ""))
            lines.append(f"| {IMPLS[impl]} | " + " | ".join(cells) + " |")
    return lines + [""]


def load_table(load: dict, threads: int) -> list[str]:
    if not load:
        return []
    lines = [f"## gRPC only (`entity-service load`, {threads} threads, unary GetEntity)", "",
             "| server | measured on | calls/s | p50 ms | p99 ms | server CPU µs/call | errors |",
             "|---|---|---:|---:|---:|---:|---|"]
    names = {"rust": "Rust (grpcio server)", PEER: "tonic+axum (tonic server)",
             "python": "Python (grpcio sync server, store.py)"}
    for impl in LOAD_IMPLS:
        if impl in load:
            x = load[impl]
            errs = f"⚠ {x['errors']}" if x["errors"] else "none"
            lines.append(f"| {names[impl]} | {x['from']} | {fmt_rate(x['calls_per_sec'])} | {fmt_ms(x['p50_ms'])} | "
                         f"{fmt_ms(x['p99_ms'])} | {fmt_us(x['cpu_us_per_call'])} | {errs} |")
    for other in (impl for impl in LOAD_IMPLS if impl != "rust"):
        if "rust" in load and other in load:
            name = names[other].split(" (")[0]
            rate = fmt_ratio(ratio(load["rust"]["calls_per_sec"], load[other]["calls_per_sec"]))
            cpu = fmt_ratio(ratio(load[other]["cpu_us_per_call"], load["rust"]["cpu_us_per_call"]))
            lines.append(f"| **Rust ÷ {name}** (CPU: {name} ÷ Rust) | | {rate} | | | {cpu} | |")
    return lines + [""]


def memory_table(mem: dict) -> list[str]:
    if not mem:
        return []
    entities = max(m["entities"] for m in mem.values())
    lines = [f"## Memory: RSS after importing {entities:,} entities (`entity-service client import`)", "",
             "VmRSS of the process that owns the store, read from /proc after the CreateEntities stream completed "
             "(gunicorn: its worker, not the master). One figure per implementation: the mode does not change the "
             "process shape.", "",
             "| system | process | RSS at start MiB | RSS after import MiB | growth MiB | Rust ÷ this |",
             "|---|---|---:|---:|---:|---:|"]
    for impl in IMPLS:
        if impl not in mem:
            continue
        m = mem[impl]
        vs = "—" if impl == "rust" or "rust" not in mem else f"{mem['rust']['rss_after_mib'] / m['rss_after_mib']:.2f}"
        lines.append(f"| {IMPLS[impl]} | {m['process']} | {m['rss_before_mib']:.1f} | {m['rss_after_mib']:.1f} | "
                     f"{m['growth_mib']:.1f} | {vs} |")
    return lines + [""]


def targets_table(targets: list[dict]) -> list[str]:
    lines = ["## Targets", "", "| target | value | goal | status |", "|---|---:|---|---|"]
    for t in targets:
        status = "n/a (not measured)" if t["met"] is None else ("✅ met" if t["met"] else "❌ not met")
        if t["from_flagged_runs"] and t["met"] is not None:
            status += " (⚠ from runs with errors)"
        note = f" ({t['note']})" if t["note"] else ""
        lines.append(f"| {t['target']}{note} | {t['shown']} | {t['goal']} | {status} |")
    return lines + [""]


def flagged_runs(runs: dict) -> list[str]:
    flagged = [(system, n, r) for system in [*SYSTEMS, FRONT] for n, level_runs in sorted(runs.get(system, {}).items())
               for r in level_runs if r["problems"]]
    if not flagged:
        return []
    lines = ["**Runs with errors** (kept in the medians above, flagged, never dropped):", ""]
    for system, n, r in flagged:
        lines.append(f"- {system}, {n} connections, repeat {r['repeat']}: {', '.join(r['problems'])} "
                     f"({fmt_rate(r['req_per_sec'])} req/s)")
    return lines + [""]


def markdown(meta: dict, cfg: argparse.Namespace, report: dict, files: dict[str, str]) -> str:
    """The whole report. REPORT holds runs, levels (medians by system and connections), main (medians at
    cfg.connections), ratios, hop_cost, sweep_hop_cost, load, memory and targets; FILES names the outputs."""
    lines = header(meta, cfg, set(report["runs"]))
    lines += hop_cost_table(report["hop_cost"], cfg.connections)
    lines += rest_table(report["main"], report["ratios"], cfg.connections)
    lines += front_table(report["main"], cfg.connections)
    lines += sweep_tables(report["levels"], report["sweep_hop_cost"], files["sweep_chart"])
    lines += load_table(report["load"], cfg.load_threads)
    lines += memory_table(report["memory"])
    lines += targets_table(report["targets"])
    lines += flagged_runs(report["runs"])
    lines.append(f"Raw figures: `{files['json']}`; charts: `{files['chart']}`"
                 + (f", `{files['sweep_chart']}`" if files.get("sweep_written") else "")
                 + f"; made by `{cfg.invocation}`.")
    return "\n".join(lines) + "\n"
