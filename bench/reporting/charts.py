"""The two PNG charts: per system at the main connection count, and the connection sweep.

Bars of req/s alone hide what the experiment asks; each chart puts server CPU
per request beside req/s and p99. Runs with errors are hatched or marked ✕
and labelled ⚠, so a figure from a failing run never passes as a clean one.
"""

from __future__ import annotations

from pathlib import Path

from .collect import IMPLS, MODES, SYSTEMS

PANELS = (("req_per_sec", "requests/s (higher is better)"),
          ("p99_ms", "p99 latency, ms (lower is better)"),
          ("cpu_us_per_req", "server CPU µs per request (lower is better)"))
IMPL_COLORS = {"rust": "#c44e52", "peer": "#8172b2", "fastapi": "#4c72b0", "flask": "#55a868"}
MODE_COLORS = {"grpc": "#4c72b0", "direct": "#dd8452"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(key: str, y: float) -> str:
    if key == "p99_ms":
        return f"{y:.2f}"
    return f"{y:,.0f}" if key == "req_per_sec" or y >= 100 else f"{y:.1f}"


def bars(path: Path, summaries: dict, title: str) -> None:
    """req/s, p99 and CPU µs per request, grouped by implementation with hop and direct bars."""
    plt = _pyplot()
    impls = [i for i in IMPLS if any(f"{i}-{m}" in summaries for m in MODES)]
    fig, axes = plt.subplots(1, len(PANELS), figsize=(15, 4.5))
    width = 0.38
    for ax, (key, label) in zip(axes, PANELS):
        for k, mode in enumerate(MODES):
            xs, ys, flags = [], [], []
            for n, impl in enumerate(impls):
                s = summaries.get(f"{impl}-{mode}")
                if s and s.get(key) is not None:
                    xs.append(n + (k - 0.5) * width)
                    ys.append(s[key])
                    flags.append(bool(s["problems"]))
            drawn = ax.bar(xs, ys, width, label=MODES[mode], color=MODE_COLORS[mode])
            for bar, y, bad in zip(drawn, ys, flags):
                if bad:
                    bar.set_hatch("//")
                ax.annotate(_label(key, y) + (" ⚠" if bad else ""), (bar.get_x() + bar.get_width() / 2, y),
                            ha="center", va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")
        ax.set_xticks(range(len(impls)))
        ax.set_xticklabels([IMPLS[i].split(" (")[0] for i in impls])
        ax.set_title(label, fontsize=10)
        ax.margins(y=0.15)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")  # explicit: PATH.tmp has no suffix to go by
    plt.close(fig)


def sweep(path: Path, levels: dict[str, dict[int, dict]], title: str) -> None:
    """req/s, p99 and CPU µs per request against the connection count, one line per system and mode
    (colour: implementation; solid: hop, dashed: direct), log scales; a level with errors is marked ✕."""
    plt = _pyplot()
    counts = sorted({n for by_level in levels.values() for n in by_level})
    fig, axes = plt.subplots(1, len(PANELS), figsize=(15, 4.8))
    for ax, (key, label) in zip(axes, PANELS):
        for system in (s for s in SYSTEMS if s in levels):
            impl, mode = system.split("-")
            by_level = levels[system]
            points = [(counts.index(n), s[key], bool(s["problems"])) for n, s in sorted(by_level.items())
                      if s.get(key) is not None]
            if not points:
                continue
            xs, ys, _ = zip(*points)
            ax.plot(xs, ys, marker="o", color=IMPL_COLORS.get(impl), linestyle="-" if mode == "grpc" else "--",
                    label=f"{IMPLS[impl].split(' (')[0]} {MODES[mode]}")
            for x, y, flagged in points:
                if flagged:
                    ax.plot([x], [y], marker="x", markersize=12, color="black", linestyle="none")
                    ax.annotate("⚠", (x, y), xytext=(4, 4), textcoords="offset points", fontsize=9)
        ax.set_xticks(range(len(counts)))
        ax.set_xticklabels([str(n) for n in counts])
        ax.set_xlabel("connections")
        ax.set_yscale("log")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{title}   (✕ ⚠: a level with errors, see the table)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
