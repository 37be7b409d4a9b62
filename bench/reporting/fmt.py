"""How figures are written in every table and progress line, so one number reads the same everywhere."""

from __future__ import annotations


def fmt_rate(x: float | None) -> str:
    """Requests or calls per second: 13,197."""
    return "—" if x is None else f"{x:,.0f}"


def fmt_ms(x: float | None) -> str:
    """Milliseconds: 0.773, 20.8."""
    if x is None:
        return "—"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def fmt_us(x: float | None) -> str:
    """Microseconds of CPU: 51.4, 1,218."""
    if x is None:
        return "—"
    return f"{x:.1f}" if abs(x) < 100 else f"{x:,.0f}"


def fmt_count(x: float | None) -> str:
    """Events per request (context switches): 2.41."""
    return "—" if x is None else f"{x:.2f}"


def fmt_ratio(x: float | None) -> str:
    """A ratio between two systems: 7.77×, 10.0×."""
    if x is None:
        return "—"
    return f"{x:.2f}×" if x < 10 else f"{x:.1f}×"
