"""Rich rendering of a :class:`~langchain_costrouter.core.report.LedgerReport`.

Kept apart from argument parsing so that other commands (the demo) can print the same tables:
``render_report(Console(), report)``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from langchain_costrouter.core.report import BreakdownRow, LedgerReport

__all__ = ["fmt_pct", "fmt_usd", "render_report"]

_TITLES = {
    "day": "Spend by day (UTC)",
    "model": "Spend by model",
    "tier": "Spend by tier",
    "task": "Spend by task",
    "tenant": "Spend by user (tenant)",
}


def fmt_usd(value: float) -> str:
    """Dollars with a precision that suits the amount.

    ``$1,234.50`` from a dollar up, four decimals from a cent (``$0.0123``), three significant
    digits below (``$0.000123``); ``$0`` for zero.

    Examples:
        >>> fmt_usd(0.000123456)
        '$0.000123'
        >>> fmt_usd(-2.5)
        '-$2.50'
    """
    if value == 0:
        return "$0"
    if not math.isfinite(value):
        return f"${value}"
    sign = "-" if value < 0 else ""
    v = abs(value)
    if v >= 1:
        text = f"{v:,.2f}"
    elif v >= 0.01:
        text = f"{v:.4f}"
    else:
        decimals = min(12, 2 - math.floor(math.log10(v)))
        text = f"{v:.{decimals}f}"
    return f"{sign}${text}"


def fmt_pct(value: float | None, *, scale: float = 1.0) -> str:
    """A percentage with one decimal, ``-`` when unknown (``scale=100`` for a 0..1 share)."""
    return "-" if value is None else f"{value * scale:.1f}%"


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _totals_table(report: LedgerReport) -> Table:
    from rich.table import Table

    t = report.totals
    o = t.overhead
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(justify="right")
    grid.add_column(style="bold")
    grid.add_column(justify="right")
    savings_style = "green" if t.savings_usd >= 0 else "red"
    pairs = [
        ("Requests", f"{t.requests:,}", "Spend", fmt_usd(t.cost_usd)),
        ("Provider calls", f"{t.calls:,}", "Always-premium baseline", fmt_usd(t.baseline_usd)),
        (
            "Answered",
            f"{t.answered:,}",
            "Savings",
            f"[{savings_style}]{fmt_usd(t.savings_usd)} ({fmt_pct(t.savings_pct)})[/]",
        ),
        ("Escalation rate", fmt_pct(t.escalation_rate, scale=100), "Overhead (in spend)", fmt_usd(t.overhead_usd)),
        (
            "Premium-call share",
            fmt_pct(t.premium_call_share, scale=100),
            "  rejected attempts",
            fmt_usd(o.rejected_usd),
        ),
        ("Cache hits", f"{t.cache_hits:,}", "  judge calls", fmt_usd(o.judge_usd)),
        ("Cache savings", fmt_usd(t.cache_savings_usd), "  embedding calls", fmt_usd(o.embedding_usd)),
        ("Errors", f"{t.errors:,}", "  compression calls", fmt_usd(o.compression_usd)),
        ("Unpriced records", _warn(t.unpriced), "  failed calls", fmt_usd(o.error_usd)),
    ]
    for row in pairs:
        grid.add_row(*row)
    if t.unpriced_baseline:
        grid.add_row("Unpriced baselines", _warn(t.unpriced_baseline), "", "")
    return grid


def _warn(n: int) -> str:
    return f"[bold yellow]{n:,}[/]" if n else "0"


def _tokens_table(report: LedgerReport) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(title="Tokens by kind", title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("kind", "records", "input", "output", "cached", "cache write", "reasoning"):
        table.add_column(col, justify="left" if col == "kind" else "right")
    for k in report.totals.tokens:
        table.add_row(
            k.kind,
            *(
                f"{v:,}"
                for v in (
                    k.records,
                    k.input_tokens,
                    k.output_tokens,
                    k.cached_tokens,
                    k.cache_write_tokens,
                    k.reasoning_tokens,
                )
            ),
        )
    return table


# Columns a narrow terminal drops first, in order; the others always show.
_OPTIONAL = ("share", "calls", "requests")
_KEY_MIN = 24  # the key column gets at least this many characters (or its longest key)


def _breakdown_table(title: str, rows: tuple[BreakdownRow, ...], total_cost: float, width: int) -> Table:
    from rich import box
    from rich.table import Table

    cells: list[dict[str, str]] = []
    for r in rows:
        share = 100.0 * r.cost_usd / total_cost if total_cost > 0 else None
        cells.append(
            {
                "requests": f"{r.requests:,}",
                "calls": f"{r.calls:,}",
                "spend": fmt_usd(r.cost_usd),
                "share": fmt_pct(share),
                "baseline": fmt_usd(r.baseline_usd),
                "savings": fmt_usd(r.savings_usd),
                "saved %": fmt_pct(r.savings_pct),
            }
        )
    columns = ["requests", "calls", "spend", "share", "baseline", "savings", "saved %"]
    # Each column takes its text + 2 padding + 1 separator; the table adds one more edge.
    need = {c: max([len(c), *(len(x[c]) for x in cells)]) + 3 for c in columns}
    key_width = min(_KEY_MIN, max([6, *(len(r.key or "") for r in rows)])) + 4
    for optional in _OPTIONAL:
        if key_width + sum(need[c] for c in columns) <= width:
            break
        columns.remove(optional)

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("", overflow="fold", min_width=key_width - 4)
    for col in columns:
        table.add_column(col, justify="right", no_wrap=True)
    for r, x in zip(rows, cells, strict=True):
        key = r.key if r.key is not None else "[dim](none)[/]"
        table.add_row(key, *(x[c] for c in columns), style="red" if r.savings_usd < 0 else None)
    return table


def render_report(console: Console, report: LedgerReport, *, source: str | None = None) -> None:
    """Prints a report: a totals panel, tokens by kind and one table per breakdown.

    Args:
        console: Where to print.
        report: The report to show.
        source: Where the records came from (e.g. the ledger path), shown in the panel title.
    """
    from rich.panel import Panel

    title = "costrouter report" + (f" - {source}" if source else "")
    window = f"{_when(report.first_ts)} -> {_when(report.last_ts)}"
    if report.since is not None or report.until is not None:
        window = f"window {_when(report.since)} -> {_when(report.until)}; records {window}"
    if report.empty:
        console.print(Panel(f"No records in the ledger for this window.\n{window}", title=title, expand=False))
        return
    console.print(Panel(_totals_table(report), title=title, subtitle=window, expand=False))
    if report.totals.unpriced:
        console.print(
            f"[bold yellow]warning:[/] {report.totals.unpriced} record(s) had no known price and count as $0; "
            "add price overrides so spend is not understated."
        )
    console.print(_tokens_table(report))
    for dim, rows in report.breakdowns.items():
        heading = _TITLES.get(dim, f"Spend by {dim}")
        console.print(_breakdown_table(heading, rows, report.totals.cost_usd, console.width))
