"""The cost-quality chart of the cascade benchmark (``costrouter bench cascade --plot``, notebooks).

The learned gate's threshold sweep is drawn as a curve (share of premium cost → share of
premium quality, each point one threshold, every item scored by a gate that never saw it) and
every policy of the run as a labelled point. Drawn on a bare matplotlib :class:`Figure` with the
Agg canvas (no pyplot, no display needed).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_costrouter.offline.cascade_bench import CascadeBenchResult

__all__ = [
    "CASCADE_PLOT_SUFFIXES",
    "cascade_plot_png",
    "checked_plot_path",
    "draw_cascade_figure",
    "write_cascade_plot",
]

#: File suffixes ``--plot`` accepts.
CASCADE_PLOT_SUFFIXES: tuple[str, ...] = (".png", ".svg", ".pdf")

_COLOURS = {
    "always_premium": "#7f7f7f",
    "always_cheap": "#1f77b4",
    "heuristic": "#ff7f0e",
    "learned": "#d62728",
    "oracle": "#2ca02c",
    "random_at_learned_rate": "#9467bd",
}
_LABELS = {
    "always_premium": "always premium",
    "always_cheap": "always cheap",
    "heuristic": "heuristic gate",
    "learned": "learned gate",
    "oracle": "oracle",
    "random_at_learned_rate": "random (learned rate)",
}


def draw_cascade_figure(result: CascadeBenchResult, *, target_quality: float | None = 0.95) -> Any:
    """The chart as a matplotlib ``Figure``.

    Args:
        result: A benchmark result.
        target_quality: Draws a dotted line at this share of premium quality (``None``: none).
    """
    from langchain_costrouter.core._optional import require

    require("matplotlib", extra="plots", feature="--plot")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0, 5.5), layout="constrained")
    ax = fig.add_subplot()
    if result.sweep:
        pts = sorted(result.sweep, key=lambda s: s.cost_vs_premium)
        ax.plot(
            [100 * s.cost_vs_premium for s in pts],
            [100 * s.quality_vs_premium for s in pts],
            "-",
            color=_COLOURS["learned"],
            alpha=0.45,
            marker=".",
            label="learned gate, threshold sweep",
        )
    for row in result.rows:
        if math.isnan(row.cost_vs_premium) or math.isnan(row.quality_vs_premium):
            continue
        x, y = 100 * row.cost_vs_premium, 100 * row.quality_vs_premium
        ax.scatter([x], [y], s=60, color=_COLOURS.get(row.policy, "black"), zorder=3)
        ax.annotate(
            f"{_LABELS.get(row.policy, row.policy)}\n{y:.1f}% @ {x:.1f}%",
            (x, y),
            textcoords="offset points",
            xytext=(6, -14 if row.policy == "random_at_learned_rate" else 6),
            fontsize="small",
        )
    if target_quality is not None:
        ax.axhline(
            100 * target_quality, linestyle=":", color="black", linewidth=1, label=f"{target_quality:.0%} target"
        )
    ax.set_xlabel("cost, % of always-premium")
    ax.set_ylabel("quality, % of always-premium")
    ax.set_xlim(left=0)
    ax.margins(y=0.1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    cheap, premium = (result.prices[m].model for m in result.prices)
    ax.set_title(f"Cascade {cheap} → {premium}: {result.n_items} items", fontsize="medium")
    return fig


def checked_plot_path(path: str | Path, suffixes: Sequence[str]) -> tuple[Path, str]:
    """``path`` and its lower-case suffix, which must be one of ``suffixes`` (a ``--plot`` file).

    Raises:
        ConfigError: Unsupported suffix (field ``--plot``).
    """
    from langchain_costrouter.core.errors import ConfigError

    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in suffixes:
        raise ConfigError("--plot", f"expected a {'/'.join(suffixes)} file, got {str(p)!r}")
    return p, suffix


def cascade_plot_png(result: CascadeBenchResult, *, dpi: int = 100) -> bytes:
    """The chart as PNG bytes (e.g. for ``IPython.display.Image``)."""
    buf = io.BytesIO()
    draw_cascade_figure(result).savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def write_cascade_plot(result: CascadeBenchResult, path: str | Path) -> Path:
    """Writes the chart; the suffix picks the format (``.png``, ``.svg``, ``.pdf``).

    Raises:
        ConfigError: Unsupported suffix (field ``--plot``).
        OSError: The file cannot be written.
    """
    p, suffix = checked_plot_path(path, CASCADE_PLOT_SUFFIXES)
    p.parent.mkdir(parents=True, exist_ok=True)
    draw_cascade_figure(result).savefig(p, format=suffix.lstrip("."), dpi=100)
    return p
