"""The quality section of ``costrouter report``: tables, alarms and the plot over time.

Rendered from :class:`~langchain_costrouter.core.monitor.quality.QualityReport` (built with the
spend report in the same pass over the ledger); shown only when the ledger holds monitor grades.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from langchain_costrouter.core.monitor.quality import QualityReport, QualityRow

__all__ = ["draw_quality", "html_quality_rows", "log_alarms", "render_quality"]

logger = logging.getLogger(__name__)

_HEADER = ("requests", "accepted", "graded", "acceptance error rate", "quality vs premium")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _interval(value: float, lo: float, hi: float) -> str:
    return f"{_pct(value)} [{100 * lo:.1f}-{100 * hi:.1f}]"


def _cells(r: QualityRow) -> list[str]:
    e, q = r.error_rate, r.quality_vs_premium
    return [
        f"{r.requests:,}",
        f"{r.accepted:,}",
        f"{r.graded:,.0f}",
        _interval(e.value, e.lo, e.hi),
        _interval(q.value, q.lo, q.hi),
    ]


def render_quality(console: Console, q: QualityReport) -> None:
    """Prints the totals, the breakdowns by route, tier, tenant and day, and the alarms."""
    from rich.table import Table

    target = "no target" if q.target is None else f"target {_pct(q.target)}"
    table = Table(
        title=f"Realised quality ({q.grader} grades, {100 * q.confidence:.0f}% intervals, {target})",
        caption=(
            f"accepted: answers a gate accepted on a lower tier; acceptance error rate: share of them worse than "
            f"the premium answer; quality vs premium: share of requests served an answer as good as the premium "
            f"tier's (premium answers count as 1); shadow and monitor calls cost ${q.shadow_usd:,.4f} (in the spend)"
        ),
    )
    table.add_column("", no_wrap=True)
    for h in _HEADER:
        table.add_column(h, justify="right", no_wrap=h.endswith(("rate", "premium")))
    table.add_row("[bold]all requests[/]", *_cells(q.totals))
    for dim in ("route", "tier", "tenant", "day"):
        for r in q.breakdowns.get(dim, ()):
            style = "bold red" if r.below_target else None
            table.add_row(f"{dim} {r.key or '(none)'}", *_cells(r), style=style)
    console.print(table)
    for alarm in q.alarms:
        console.print(f"[bold red]quality alarm:[/] {alarm}", highlight=False)


def log_alarms(q: QualityReport | None) -> None:
    """Logs every alarm of the report as a warning."""
    if q is not None:
        for alarm in q.alarms:
            logger.warning("quality alarm: %s", alarm)


def draw_quality(ax: Any, q: QualityReport) -> None:
    """Daily realised quality vs premium with its interval, and the target."""
    rows = q.breakdowns.get("day", ())
    x = list(range(len(rows)))
    values = [r.quality_vs_premium.value * 100 for r in rows]
    lo = [r.quality_vs_premium.lo * 100 for r in rows]
    hi = [r.quality_vs_premium.hi * 100 for r in rows]
    ax.fill_between(x, lo, hi, color="#9ecae1", alpha=0.6, label=f"{100 * q.confidence:.0f}% interval")
    ax.plot(x, values, marker="o", color="#08519c", label="quality vs premium")
    if q.target is not None:
        ax.axhline(q.target * 100, color="#d62728", linestyle="--", label=f"target {_pct(q.target)}")
    step = max(1, len(rows) // 12)
    ax.set_xticks(x[::step])
    ax.set_xticklabels([r.key or "" for r in rows][::step], rotation=30, ha="right", fontsize="small")
    ax.set_ylabel("% of requests as good as premium")
    ax.set_title(f"Realised quality per day ({q.grader} grades)")
    ax.legend(loc="lower left", fontsize="small")


def html_quality_rows(q: QualityReport) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the quality table for the HTML page."""
    rows = [["all requests", *_cells(q.totals)]]
    for dim in ("route", "tier", "tenant", "day"):
        rows += [[f"{dim} {r.key or '(none)'}", *_cells(r)] for r in q.breakdowns.get(dim, ())]
    return ["", *_HEADER], rows
