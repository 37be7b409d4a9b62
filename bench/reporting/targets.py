"""Ratios between systems, the hop's own cost, and the project's targets, judged.

The targets (issue 10, "Targets") judge server CPU per request first: it is
the steady figure on a shared 2-core machine, where req/s mostly says how the
cores were split with wrk. Every comparison is within one run, the one
against the Rust peer (bench/rust-peer, tonic + axum) too: its figures move
with the machine's load as ours do.
"""

from __future__ import annotations

from .collect import IMPLS, MODES, PEER, PYTHONS
from .fmt import fmt_ms, fmt_ratio, fmt_us

TARGET_HOP_CPU_US = 70.0  # Rust hop: server CPU µs per request ≤ 70
TARGET_DIRECT_CPU_US = 16.0  # Rust direct ≤ 16
TARGET_HOP_COST_VS_PEER = 0.8  # Rust hop's own cost (hop − direct CPU per request) ≤ 0.8 × the peer's
TARGET_CPU_VS_FASTAPI = {"grpc": 12.0, "direct": 8.0}  # FastAPI's CPU per request ÷ Rust's ≥ this
TARGET_RPS_VS_FASTAPI = {"grpc": 14.0, "direct": 10.0}  # Rust req/s ÷ FastAPI's ≥ this
TARGET_HOP_P99_MS = 1.0  # Rust hop p99 at P99_CONNECTIONS ≤ 1 ms
P99_CONNECTIONS = 10
SWEEP_LEVELS = (1, 10, 100, 400)  # bench.sh --sweep: the connection counts measured
SWEEP_BASE, SWEEP_HIGH = 10, (100, 400)  # req/s at SWEEP_HIGH stays ≥ SWEEP_KEEP × req/s at SWEEP_BASE
SWEEP_KEEP = 0.85
TARGET_HOP_OVER_DIRECT = 0.3  # Rust hop ÷ Rust direct req/s ≥ 0.3
TARGET_RSS_RATIO = 1 / 3  # Rust RSS ≤ 1/3 of the smallest Python's


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _get(summaries: dict, system: str, key: str) -> float | None:
    return summaries.get(system, {}).get(key)


def ratios(summaries: dict) -> dict:
    """At one connection count: Rust's req/s ÷ each other system's (the peer, each Python), their CPU per
    request ÷ Rust's (both per mode), and hop ÷ direct req/s per implementation."""
    out: dict = {"rust_rps_over": {}, "cpu_over_rust": {}, "hop_over_direct": {}}
    for mode in MODES:
        for other in (impl for impl in IMPLS if impl != "rust"):
            system = f"{other}-{mode}"
            out["rust_rps_over"][system] = ratio(_get(summaries, f"rust-{mode}", "req_per_sec"),
                                                 _get(summaries, system, "req_per_sec"))
            out["cpu_over_rust"][system] = ratio(_get(summaries, system, "cpu_us_per_req"),
                                                 _get(summaries, f"rust-{mode}", "cpu_us_per_req"))
    for impl in IMPLS:
        out["hop_over_direct"][impl] = ratio(_get(summaries, f"{impl}-grpc", "req_per_sec"),
                                             _get(summaries, f"{impl}-direct", "req_per_sec"))
    return out


def hop_cost(summaries: dict) -> dict[str, dict]:
    """impl → what the REST→gRPC hop adds per request at one connection count: server CPU µs
    (hop − direct), context switches, and whether either run had errors."""
    out = {}
    for impl in IMPLS:
        hop, direct = summaries.get(f"{impl}-grpc"), summaries.get(f"{impl}-direct")
        if not hop or not direct:
            continue

        def minus(key: str) -> float | None:
            return None if hop[key] is None or direct[key] is None else hop[key] - direct[key]

        out[impl] = {
            "hop_cpu_us": hop["cpu_us_per_req"],
            "direct_cpu_us": direct["cpu_us_per_req"],
            "cost_us": minus("cpu_us_per_req"),
            "hop_switches": hop["switches_per_req"],
            "direct_switches": direct["switches_per_req"],
            "switch_cost": minus("switches_per_req"),
            "hop_over_direct_rps": ratio(hop["req_per_sec"], direct["req_per_sec"]),
            "flagged": bool(hop["problems"] or direct["problems"]),
        }
    return out


def judge(levels: dict[str, dict[int, dict]], main_level: int, mem: dict) -> list[dict]:
    """The targets, in order, each met, not met, or None (not measured in this run)."""
    main = {system: by_level[main_level] for system, by_level in levels.items() if main_level in by_level}
    targets: list[dict] = []

    def target(name: str, value, goal: str, met: bool | None, shown: str, note: str = "", dirty: bool = False):
        targets.append({"target": name, "value": value, "shown": shown, "goal": goal, "met": met,
                        "note": note, "from_flagged_runs": dirty})

    def flagged(summaries: dict, *systems: str) -> bool:
        return any(summaries.get(s, {}).get("problems") for s in systems)

    where = f"{main_level} connections"
    for mode, goal in (("grpc", TARGET_HOP_CPU_US), ("direct", TARGET_DIRECT_CPU_US)):
        cpu = _get(main, f"rust-{mode}", "cpu_us_per_req")
        target(f"Rust {MODES[mode]}: server CPU per request", cpu, f"≤ {goal:g} µs",
               None if cpu is None else cpu <= goal, "—" if cpu is None else f"{fmt_us(cpu)} µs", where,
               flagged(main, f"rust-{mode}"))
    versus_peer(main, target, where, flagged(main, "rust-grpc", "rust-direct", f"{PEER}-grpc", f"{PEER}-direct"))
    for mode, goal in TARGET_CPU_VS_FASTAPI.items():
        value = ratio(_get(main, f"fastapi-{mode}", "cpu_us_per_req"), _get(main, f"rust-{mode}", "cpu_us_per_req"))
        target(f"FastAPI {MODES[mode]} ÷ Rust {MODES[mode]}: CPU per request", value, f"≥ {goal:g}×",
               None if value is None else value >= goal, fmt_ratio(value), where,
               flagged(main, f"rust-{mode}", f"fastapi-{mode}"))
    for mode, goal in TARGET_RPS_VS_FASTAPI.items():
        value = ratio(_get(main, f"rust-{mode}", "req_per_sec"), _get(main, f"fastapi-{mode}", "req_per_sec"))
        target(f"Rust {MODES[mode]} ÷ FastAPI {MODES[mode]}: req/s", value, f"≥ {goal:g}×",
               None if value is None else value >= goal, fmt_ratio(value), where,
               flagged(main, f"rust-{mode}", f"fastapi-{mode}"))

    at_p99 = {system: by_level[P99_CONNECTIONS] for system, by_level in levels.items() if P99_CONNECTIONS in by_level}
    p99 = _get(at_p99, "rust-grpc", "p99_ms")
    target(f"Rust {MODES['grpc']}: p99 latency at {P99_CONNECTIONS} connections", p99, f"≤ {TARGET_HOP_P99_MS:g} ms",
           None if p99 is None else p99 <= TARGET_HOP_P99_MS, "—" if p99 is None else f"{fmt_ms(p99)} ms",
           dirty=flagged(at_p99, "rust-grpc"))

    sweep_errors(levels, target)
    for mode in MODES:
        sweep_keep(levels, mode, target)

    hd = ratio(_get(main, "rust-grpc", "req_per_sec"), _get(main, "rust-direct", "req_per_sec"))
    target("Rust hop ÷ Rust direct: req/s", hd, f"≥ {TARGET_HOP_OVER_DIRECT:g}",
           None if hd is None else hd >= TARGET_HOP_OVER_DIRECT, "—" if hd is None else f"{hd:.3f}", where,
           flagged(main, "rust-grpc", "rust-direct"))
    pythons = [(mem[py]["rss_after_mib"], py) for py in PYTHONS if py in mem]
    if "rust" in mem and pythons:
        smallest, who = min(pythons)
        value = mem["rust"]["rss_after_mib"] / smallest
        target(f"Rust RSS ÷ smallest Python RSS after {mem['rust']['entities']:,} entities", value, "≤ 1/3 (0.333)",
               value <= TARGET_RSS_RATIO, f"{value:.3f}", f"smallest Python: {who}")
    else:
        target("Rust RSS ÷ smallest Python RSS", None, "≤ 1/3 (0.333)", None, "—")
    return targets


def versus_peer(main: dict, target, where: str, dirty: bool) -> None:
    """Targets against the Rust peer: the hop's server CPU per request no more than the peer's hop's, and
    the hop's own cost (hop − direct) at most TARGET_HOP_COST_VS_PEER × the peer's."""
    peer = IMPLS[PEER].split(" (")[0]
    ours, theirs = _get(main, "rust-grpc", "cpu_us_per_req"), _get(main, f"{PEER}-grpc", "cpu_us_per_req")
    measured = ours is not None and theirs is not None
    target(f"Rust {MODES['grpc']} vs {peer} {MODES['grpc']}: server CPU per request", ratio(ours, theirs),
           f"≤ {peer}'s", ours <= theirs if measured else None,
           f"{fmt_us(ours)} µs vs {fmt_us(theirs)} µs" if measured else "—", where, dirty)
    costs = hop_cost(main)
    ours, theirs = costs.get("rust", {}).get("cost_us"), costs.get(PEER, {}).get("cost_us")
    measured = ours is not None and theirs is not None
    target(f"Rust hop's own cost vs {peer}'s (hop − direct CPU per request)",
           ratio(ours, theirs) if measured and theirs > 0 else None,
           f"≤ {TARGET_HOP_COST_VS_PEER:g} × {peer}'s", ours <= TARGET_HOP_COST_VS_PEER * theirs if measured else None,
           f"{fmt_us(ours)} µs vs {fmt_us(theirs)} µs" if measured else "—", where, dirty)


def sweep_errors(levels: dict, target) -> None:
    """Target: Rust, hop and direct, without a single error at any connection count of the sweep."""
    measured = sorted({n for s in ("rust-grpc", "rust-direct") for n in levels.get(s, {}) if n in SWEEP_LEVELS})
    name = f"Rust hop and direct: errors at {SWEEP_LEVELS[0]}–{SWEEP_LEVELS[-1]} connections"
    if len(measured) < 2 or not all(s in levels for s in ("rust-grpc", "rust-direct")):
        target(name, None, "none", None, "—", "needs the sweep of both: --sweep or a full run")
        return
    found = [f"{MODES[s.split('-')[1]]} at {n}: {', '.join(levels[s][n]['problems'])}"
             for s in ("rust-grpc", "rust-direct") for n in measured if levels.get(s, {}).get(n, {}).get("problems")]
    note = "" if measured == list(SWEEP_LEVELS) else "measured at " + ", ".join(map(str, measured))
    target(name, len(found), "none", not found, "; ".join(found) if found else "none", note)


def sweep_keep(levels: dict, mode: str, target) -> None:
    """Target: Rust's req/s at 100 and 400 connections within 15% of its req/s at 10."""
    by_level = levels.get(f"rust-{mode}", {})
    name = f"Rust {MODES[mode]}: req/s at {' and '.join(map(str, SWEEP_HIGH))} connections ÷ at {SWEEP_BASE}"
    goal = f"≥ {SWEEP_KEEP:g}"
    base = by_level.get(SWEEP_BASE, {}).get("req_per_sec")
    kept = {n: ratio(by_level[n]["req_per_sec"], base) for n in SWEEP_HIGH if n in by_level}
    if base is None or not kept or None in kept.values():
        target(name, None, goal, None, "—", "needs the sweep: --sweep or a full run")
        return
    worst = min(kept.values())
    dirty = any(by_level[n]["problems"] for n in (SWEEP_BASE, *kept))
    target(name, worst, goal, worst >= SWEEP_KEEP, f"{worst:.2f}",
           ", ".join(f"{n}: {v:.2f}" for n, v in kept.items()), dirty)
