"""Charts of a :class:`~langchain_costrouter.core.report.LedgerReport` (``costrouter report --plot``).

Drawn with matplotlib's Agg canvas on a bare :class:`~matplotlib.figure.Figure` (no pyplot, no
display, no global backend switch). ``.png`` writes the chart; ``.html`` writes one
self-contained page with the chart as inline SVG and the report's tables.
"""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_costrouter.cli._render import fmt_pct, fmt_usd

if TYPE_CHECKING:
    from langchain_costrouter.core.report import BreakdownRow, LedgerReport

__all__ = ["PLOT_SUFFIXES", "draw_figure", "write_plot"]

#: File suffixes ``--plot`` accepts.
PLOT_SUFFIXES: tuple[str, ...] = (".png", ".html", ".htm")

_TOP = 10  # bars per category chart
_SPEND = "#d62728"
_BASELINE = "#7f7f7f"


def _text(s: str) -> str:
    """Escapes ``$`` so matplotlib does not read dollar amounts as mathtext."""
    return s.replace("$", r"\$")


def _bars(ax: Any, rows: tuple[BreakdownRow, ...], title: str) -> None:
    rows = rows[:_TOP]
    labels = [_text(r.key) if r.key is not None else "(none)" for r in rows][::-1]
    y = list(range(len(rows)))
    h = 0.4
    ax.barh([v + h / 2 for v in y], [r.baseline_usd for r in rows][::-1], h, label="baseline", color=_BASELINE)
    ax.barh([v - h / 2 for v in y], [r.cost_usd for r in rows][::-1], h, label="spend", color=_SPEND)
    ax.set_yticks(y)
    ax.set_yticklabels(labels)
    ax.set_title(title)
    ax.set_xlabel("USD")
    ax.legend(loc="lower right", fontsize="small")


def _daily(ax: Any, rows: tuple[BreakdownRow, ...]) -> None:
    days = [r.key or "" for r in rows]
    x = list(range(len(rows)))
    if len(rows) <= 31:
        w = 0.4
        ax.bar(
            [v - w / 2 for v in x], [r.baseline_usd for r in rows], w, label="always-premium baseline", color=_BASELINE
        )
        ax.bar([v + w / 2 for v in x], [r.cost_usd for r in rows], w, label="spend (overheads included)", color=_SPEND)
    else:
        ax.plot(x, [r.baseline_usd for r in rows], label="always-premium baseline", color=_BASELINE)
        ax.plot(x, [r.cost_usd for r in rows], label="spend (overheads included)", color=_SPEND)
    step = max(1, len(days) // 12)
    ax.set_xticks(x[::step])
    ax.set_xticklabels(days[::step], rotation=30, ha="right", fontsize="small")
    ax.set_title("Daily spend vs always-premium baseline (UTC)")
    ax.set_ylabel("USD")
    ax.legend(loc="upper left", fontsize="small")


def draw_figure(report: LedgerReport) -> Any:
    """A matplotlib figure: daily spend vs baseline, spend by tier and by model.

    Returns:
        A :class:`matplotlib.figure.Figure` attached to an Agg canvas.
    """
    from langchain_costrouter.core._optional import require

    require("matplotlib", extra="plots", feature="--plot")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    t = report.totals
    quality = report.quality
    fig = Figure(figsize=(10, 11 if quality is None else 15), layout="constrained")
    FigureCanvasAgg(fig)
    fig.suptitle(
        _text(
            f"Spend {fmt_usd(t.cost_usd)} vs baseline {fmt_usd(t.baseline_usd)}: "
            f"saved {fmt_usd(t.savings_usd)} ({fmt_pct(t.savings_pct)}), overheads {fmt_usd(t.overhead_usd)}"
        )
    )
    if report.empty:
        ax = fig.add_subplot()
        ax.axis("off")
        ax.text(0.5, 0.5, "No records in the ledger for this window.", ha="center", va="center", fontsize="large")
        return fig
    grid = fig.add_gridspec(2 if quality is None else 3, 2, height_ratios=(1.2, 1) if quality is None else (1.2, 1, 1))
    _daily(fig.add_subplot(grid[0, :]), report.breakdowns["day"])
    _bars(fig.add_subplot(grid[1, 0]), report.breakdowns["tier"], "Spend by tier")
    _bars(fig.add_subplot(grid[1, 1]), report.breakdowns["model"], f"Spend by model (top {_TOP})")
    if quality is not None:
        from langchain_costrouter.cli._quality import draw_quality

        draw_quality(fig.add_subplot(grid[2, :]), quality)
    return fig


def _html_table(title: str, header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<h2>{html.escape(title)}</h2><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html(report: LedgerReport, svg: str, source: str | None) -> str:
    t = report.totals
    o = t.overhead
    totals = [
        ["requests", f"{t.requests:,}"],
        ["provider calls", f"{t.calls:,}"],
        ["spend (overheads included)", fmt_usd(t.cost_usd)],
        ["always-premium baseline", fmt_usd(t.baseline_usd)],
        ["savings", f"{fmt_usd(t.savings_usd)} ({fmt_pct(t.savings_pct)})"],
        ["overhead: rejected attempts", fmt_usd(o.rejected_usd)],
        ["overhead: judge calls", fmt_usd(o.judge_usd)],
        ["overhead: embedding calls", fmt_usd(o.embedding_usd)],
        ["overhead: compression calls", fmt_usd(o.compression_usd)],
        ["overhead: failed calls", fmt_usd(o.error_usd)],
        ["cache hits", f"{t.cache_hits:,}"],
        ["cache savings", fmt_usd(t.cache_savings_usd)],
        ["escalation rate", fmt_pct(t.escalation_rate, scale=100)],
        ["premium-call share", fmt_pct(t.premium_call_share, scale=100)],
        ["errors", f"{t.errors:,}"],
        ["unpriced records", f"{t.unpriced:,}"],
    ]
    parts = [_html_table("Totals", ["", ""], totals)]
    header = ["", "requests", "calls", "spend", "baseline", "savings", "savings %"]
    for dim, rows in report.breakdowns.items():
        cells = [
            [
                r.key or "(none)",
                f"{r.requests:,}",
                f"{r.calls:,}",
                fmt_usd(r.cost_usd),
                fmt_usd(r.baseline_usd),
                fmt_usd(r.savings_usd),
                fmt_pct(r.savings_pct),
            ]
            for r in rows
        ]
        parts.append(_html_table(f"Spend by {dim}", header, cells))
    if report.quality is not None:
        from langchain_costrouter.cli._quality import html_quality_rows

        q_header, q_rows = html_quality_rows(report.quality)
        parts.append(_html_table("Realised quality (intervals)", q_header, q_rows))
        parts += [f"<p><b>quality alarm:</b> {html.escape(a)}</p>" for a in report.quality.alarms]
    title = "costrouter report" + (f" - {source}" if source else "")
    style = (
        "body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin-bottom:1em}"
        "td,th{border:1px solid #ccc;padding:2px 8px}td+td{text-align:right}svg{max-width:100%;height:auto}"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>\n{svg}\n{''.join(parts)}\n</body></html>\n"
    )


def write_plot(report: LedgerReport, path: str | Path, *, source: str | None = None) -> Path:
    """Writes the chart as PNG (``.png``) or as a self-contained HTML page (``.html``).

    Args:
        report: The report to draw.
        path: Output file; its suffix picks the format.
        source: Where the records came from, shown in the HTML title.

    Returns:
        The path written.

    Raises:
        ConfigError: Unsupported suffix (field ``--plot``).
        OSError: The file cannot be written.
    """
    from langchain_costrouter.core.errors import ConfigError

    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in PLOT_SUFFIXES:
        raise ConfigError("--plot", f"expected a .png or .html file, got {str(p)!r}")
    fig = draw_figure(report)
    if suffix == ".png":
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        p.write_bytes(buf.getvalue())
        return p
    sbuf = io.StringIO()
    fig.savefig(sbuf, format="svg")
    svg = sbuf.getvalue()
    svg = svg[svg.index("<svg") :]  # drop the XML prolog and doctype: inline SVG in HTML5
    p.write_text(_html(report, svg, source), encoding="utf-8")
    return p
