"""``costrouter demo``: the cascade savings story end to end, offline, in about a minute.

1. Starts the replay server on the bundled recorded data (1,013 GSM8K questions answered by
   Mixtral-8x7B and GPT-4, with whether each answer was right; see NOTICE).
2. Runs the cascade benchmark through ``ChatCostRouter`` (``costrouter bench cascade``): always
   cheap, always premium, the seed-like heuristic gate, the learned gate (5-fold cross-validated:
   no item is judged by a gate that saw it), the oracle and random escalation.
3. Prints the savings table (each column defined under it), what the ledger recorded for the
   learned cascade, and the saving in money per 1,000 requests, and writes
   ``out/cascade.png`` (cost-quality curve), ``out/cascade.json``, ``out/demo-report.png`` and
   the SQLite ledger ``out/demo-ledger.sqlite`` (every policy, tenant = policy name).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_costrouter.cli._render import fmt_pct, fmt_usd

if TYPE_CHECKING:
    from rich.console import Console

    from langchain_costrouter.core.report import LedgerReport
    from langchain_costrouter.offline.cascade_policies import BenchRow

__all__ = ["register", "render_ledger_check", "run"]

CHEAP = "mistralai/Mixtral-8x7B-Instruct-v0.1"
PREMIUM = "gpt-4-1106-preview"
SHOWN_TENANT = "learned"


def register(subparsers: Any) -> None:
    """Adds the ``demo`` subcommand."""
    from langchain_costrouter.cli._style import add_command, add_out
    from langchain_costrouter.cli.bench_cascade import add_bench_arguments

    p = add_command(
        subparsers,
        "demo",
        help="offline demo: cascade savings on recorded GSM8K answers: the savings table, the ledger, plots",
        description=__doc__,
    )
    add_out(p, default=Path("out"), metavar="DIR", help="folder for the plots, JSON and ledger")
    add_bench_arguments(p)
    p.set_defaults(func=run, cheap=CHEAP, premium=PREMIUM)


def render_ledger_check(console: Console, report: LedgerReport, learned: BenchRow, *, n_items: int) -> None:
    """The learned cascade as its ledger saw it, in the table's terms (one baseline, one premium share)."""
    t = report.totals
    premium_calls = round(learned.premium_call_rate * n_items)
    console.print(
        f"{t.requests:,} requests, {t.calls:,} provider calls ({t.calls - premium_calls:,} cheap, {premium_calls:,} "
        f"premium): spend {fmt_usd(t.cost_usd)}, the table's cost, of which {fmt_usd(t.overhead.rejected_usd)} "
        f"paid for the {premium_calls:,} cheap answers the gate rejected.",
        highlight=False,
    )
    console.print(
        f"[dim]`costrouter report` on this ledger shows an always-premium baseline of {fmt_usd(t.baseline_usd)}: "
        "there the served answers' own tokens are priced at premium rates (the premium model would have written "
        "other tokens), while the table measures it by calling the premium model for every question. "
        f"Its premium-call share, {fmt_pct(t.premium_call_share, scale=100)}, counts provider calls, not questions.[/]",
        highlight=False,
    )


def _fresh_ledger(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def run(args: argparse.Namespace) -> int:
    """Runs the demo."""
    from rich.console import Console

    from langchain_costrouter.cli._plot import write_plot
    from langchain_costrouter.cli.bench_cascade import (
        print_prices,
        render_bench,
        resolve_or_explain,
        settings_from_args,
        write_json,
    )
    from langchain_costrouter.core.report import build_report, read_ledger
    from langchain_costrouter.offline.cascade_bench import run_cascade_bench
    from langchain_costrouter.offline.data import bundled_data_path
    from langchain_costrouter.offline.plots import write_cascade_plot

    t0 = time.perf_counter()
    console = Console(width=None if sys.stdout.isatty() else 130)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    ledger_path = args.ledger_out or out / "demo-ledger.sqlite"
    _fresh_ledger(ledger_path)
    settings = settings_from_args(args, ledger_path=ledger_path, work_dir=out / "gates")
    resolve_or_explain(settings)
    data = bundled_data_path()
    console.rule("[bold]costrouter demo[/]: cheap -> premium cascade on recorded answers (offline)")
    console.print(
        f"Replaying recorded GSM8K answers ({data.name}, see NOTICE) through ChatCostRouter -> HTTP -> a local "
        "replay server. Every answer is real; the gate decides when the cheap answer is not good enough.",
        highlight=False,
    )
    print_prices(console, settings)
    result = run_cascade_bench(data, settings, limit=args.limit, base_url=args.server_url)
    render_bench(console, result)
    plot = write_cascade_plot(result, out / "cascade.png")
    write_json(result, out / "cascade.json")

    records = [r for r in read_ledger(ledger_path) if r.tenant == SHOWN_TENANT]
    report = build_report(records, premium_tier="premium")
    report_png = write_plot(report, out / "demo-report.png", source=str(ledger_path))
    learned, premium = result.row("learned"), result.row("always_premium")
    console.rule(f"[bold]The ledger[/] of the learned cascade ({ledger_path}, tenant {SHOWN_TENANT!r})")
    render_ledger_check(console, report, learned, n_items=result.n_items)

    console.rule("[bold]Summary[/]")
    per_k = 1000 / result.n_items
    console.print(
        f"The learned gate kept {100 * learned.quality_vs_premium:.1f}% of always-premium quality for "
        f"{100 * learned.cost_vs_premium:.1f}% of its cost, calling the premium model on "
        f"{100 * learned.premium_call_rate:.1f}% of the questions.",
        highlight=False,
    )
    console.print(
        f"Written: {plot} (cost-quality curve), {out / 'cascade.json'}, {report_png} (ledger chart), {ledger_path} "
        f"(every policy, tenant = policy: `costrouter report --ledger {ledger_path}` or "
        f"`costrouter dashboard --ledger {ledger_path}`). Demo time {time.perf_counter() - t0:.1f}s.",
        highlight=False,
    )
    console.print(
        f"[bold]On this traffic: {fmt_usd(learned.cost_usd * per_k)} per 1,000 requests instead of "
        f"{fmt_usd(premium.cost_usd * per_k)}.[/]",
        highlight=False,
    )
    return 0
