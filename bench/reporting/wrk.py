"""wrk's text output → numbers, and what went wrong in a run.

wrk prints a human report, not data: latencies with units, error lines only
when there were errors. Reading it is the one place that knows that format.
Shell scripts read it through the command line:

    python3 bench/reporting/wrk.py FILE FIELD...

prints each FIELD of parse(FILE) on a line of its own (`none` for a missing
figure), where FIELD is a key of parse()'s result or `problems` (problems()
joined with "; ", `none` for a clean run).
"""

from __future__ import annotations

import re
import sys

_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
LATENCY_KEYS = ("avg_ms", "p50_ms", "p75_ms", "p90_ms", "p99_ms", "max_ms")


def _ms(text: str) -> float | None:
    """wrk's time format (`401.00us`, `1.85ms`, `2.00s`, `1.00m`) → milliseconds."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    return float(m.group(1)) * _TIME_UNITS_MS[m.group(2)] if m else None


def parse(text: str) -> dict:
    """The figures of one `wrk --latency` output.

    Missing lines mean zero for the error counters (wrk prints "Socket errors"
    and "Non-2xx or 3xx responses" only when they are not zero) and None for
    the rest (e.g. a run that made no request at all).
    """
    out: dict = {"requests": None, "req_per_sec": None, **{key: None for key in LATENCY_KEYS}, "non_2xx": 0,
                 "socket_errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0}}
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
        for key in LATENCY_KEYS:
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
    """What is wrong with a run, as short labels ("12 non-2xx", "3 timeouts"); [] when clean."""
    found = []
    if not run.get("requests") or run.get("req_per_sec") is None:
        found.append("no requests")
    if run.get("non_2xx"):
        found.append(f"{run['non_2xx']} non-2xx")
    return found + socket_error_labels(run.get("socket_errors", {}))


def field(run: dict, name: str) -> str:
    """One figure of a parsed run as text: `problems` or a key of parse()'s result."""
    if name == "problems":
        return "; ".join(problems(run)) or "none"
    if name not in run or isinstance(run[name], dict):
        fields = ", ".join(key for key, value in run.items() if not isinstance(value, dict))
        raise SystemExit(f"wrk.py: unknown field {name!r} (known: {fields}, problems)")
    return "none" if run[name] is None else str(run[name])


def main(args: list[str]) -> None:
    """The command line: FILE FIELD..."""
    if len(args) < 2:
        raise SystemExit("usage: python3 bench/reporting/wrk.py FILE FIELD...")
    with open(args[0], encoding="utf-8") as file:
        run = parse(file.read())
    print("\n".join(field(run, name) for name in args[1:]))


if __name__ == "__main__":
    main(sys.argv[1:])
