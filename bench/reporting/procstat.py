"""Server CPU time and context switches over a run, from two /proc snapshots.

req/s on a small machine mostly says how the cores were shared between the
server and the load generator; the server's own CPU time per request is the
steadier figure, and the one that prices the REST→gRPC hop. bench/lib.sh's
`proc_snapshot` writes, just before and just after a measured run, one line
per process of the server's tree and one per thread:

    proc PID UTIME STIME                   clock ticks, all threads, exited ones included
    task PID TID VOLUNTARY NONVOLUNTARY    context switches of one thread

This module takes the difference.
"""

from __future__ import annotations

from pathlib import Path


def parse_snapshot(text: str) -> tuple[dict[int, int], dict[tuple[int, int], int]]:
    """Snapshot text → ({pid: utime+stime ticks}, {(pid, tid): context switches})."""
    procs: dict[int, int] = {}
    tasks: dict[tuple[int, int], int] = {}
    for line in text.splitlines():
        kind, *fields = line.split()
        if kind == "proc" and len(fields) == 3:
            pid, utime, stime = map(int, fields)
            procs[pid] = utime + stime
        elif kind == "task" and len(fields) == 4:
            pid, tid, voluntary, nonvoluntary = map(int, fields)
            tasks[(pid, tid)] = voluntary + nonvoluntary
    return procs, tasks


def _grown(before: dict, after: dict) -> int:
    """Sum of what each key grew by; a key new in AFTER counts in full (it started at zero)."""
    return sum(value - before.get(key, 0) for key, value in after.items())


def usage(before_text: str, after_text: str, clk_tck: int) -> dict:
    """The server's CPU seconds and context switches between two snapshots.

    A process that ended between them took its CPU time with it, so the figure
    would be too low: `exited` counts them, and the caller flags the run.
    Threads that end inside a process keep their CPU time in the process's
    figure, but their context switches are lost: `switches` is a lower bound.
    """
    procs0, tasks0 = parse_snapshot(before_text)
    procs1, tasks1 = parse_snapshot(after_text)
    return {
        "cpu_s": _grown(procs0, procs1) / clk_tck,
        "switches": _grown(tasks0, tasks1),
        "processes": len(procs1),
        "exited": len(procs0.keys() - procs1.keys()),
    }


def usage_between(stem: Path, clk_tck: int) -> dict | None:
    """usage() of STEM.cpu0 → STEM.cpu1, None when either snapshot is missing or empty."""
    before, after = stem.with_name(stem.name + ".cpu0"), stem.with_name(stem.name + ".cpu1")
    if not (before.exists() and after.exists()):
        return None
    before_text, after_text = before.read_text(), after.read_text()
    if not before_text.strip() or not after_text.strip():
        return None
    return usage(before_text, after_text, clk_tck)


def per_request(cost: dict | None, requests: int | None) -> dict:
    """CPU µs and context switches per request (None when not measured or nothing completed)."""
    if cost is None or not requests:
        return {"cpu_us_per_req": None, "switches_per_req": None}
    return {"cpu_us_per_req": cost["cpu_s"] * 1e6 / requests, "switches_per_req": cost["switches"] / requests}
