r"""``costrouter bench cascade``: cheap → premium escalation policies through the real pipeline.

Example::

    costrouter bench cascade --data langchain_costrouter/data/gsm8k_routellm_dev.csv \
        --cheap mistralai/Mixtral-8x7B-Instruct-v0.1 --premium gpt-4-1106-preview \
        --json out/cascade.json --plot out/cascade.png

Starts a replay server on the data, sends every item through ``ChatCostRouter`` once per policy
(always-cheap, always-premium, the seed-like heuristic gate, the learned gate from
``--gate-file`` or calibrated in-run by cross-validation), adds the oracle and random escalation
at the learned gate's premium-call rate, and prints one table. Costs are the ledger's; the
per-request overhead of the router over a direct ``ChatOpenAI`` call is measured in the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from langchain_costrouter.core.pricing import ModelPrice
    from langchain_costrouter.offline.cascade_bench import CascadeBenchResult, CascadeBenchSettings

__all__ = [
    "add_bench_arguments",
    "add_calibration_arguments",
    "add_prices",
    "parse_prices",
    "print_prices",
    "register_bench",
    "render_bench",
    "resolve_or_explain",
    "run",
    "settings_from_args",
    "write_json",
]


def register_bench(subparsers: Any) -> None:
    """Adds ``bench cascade`` to the ``bench`` sub-subcommands."""
    from langchain_costrouter.cli._style import add_command, add_data, add_json

    p = add_command(
        subparsers,
        "cascade",
        help="cheap -> premium escalation policies through ChatCostRouter and a replay server",
        description=__doc__,
    )
    add_data(p, help="RouteLLM-format CSV (prompt, <model>, <model>_response columns)")
    p.add_argument("--cheap", required=True, metavar="MODEL", help="cheap model name as in the CSV")
    p.add_argument("--premium", required=True, metavar="MODEL", help="premium model name as in the CSV")
    p.add_argument(
        "--gate-file",
        type=Path,
        metavar="FILE",
        help="learned gate to evaluate (default: calibrate one per fold, cross-validated)",
    )
    add_json(p, help="also write one object per policy as a JSON list to PATH ('-': stdout)")
    p.add_argument("--plot", type=Path, metavar="PATH", help="draw the cost-quality curve (.png, .svg or .pdf)")
    add_bench_arguments(p)
    from langchain_costrouter.cli._bench_online import add_online_arguments, register_drift

    add_online_arguments(p)
    p.set_defaults(func=run)
    register_drift(subparsers)


def add_bench_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by ``bench cascade`` and ``demo``."""
    from langchain_costrouter.cli._style import add_progress

    add_prices(p)
    p.add_argument("--limit", type=int, metavar="N", help="benchmark only the first N items")
    add_calibration_arguments(p)
    p.add_argument("--concurrency", type=int, default=48, help="requests in flight at once")
    p.add_argument(
        "--overhead-requests",
        type=int,
        default=200,
        help="sequential requests timed through the router and directly (0 skips)",
    )
    p.add_argument(
        "--ledger",
        type=Path,
        dest="ledger_out",
        metavar="FILE",
        help="SQLite ledger to write (tenant = policy; default: in memory)",
    )
    p.add_argument("--server-url", metavar="URL", help="use this running replay server instead of starting one")
    add_progress(p)


def add_calibration_arguments(p: argparse.ArgumentParser) -> None:
    """How a learned gate is calibrated (``calibrate``, and in-run by ``bench cascade`` / ``demo``)."""
    p.add_argument("--target-quality", type=float, default=0.95, help="share of premium quality to keep")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds")
    p.add_argument("--seed", type=int, default=0, help="seed of the fold shuffles")
    p.add_argument(
        "--margin-z",
        type=float,
        default=1.0,
        help="thresholds clear the target by this many standard errors (0: exactly at the target)",
    )


def add_prices(p: argparse.ArgumentParser) -> None:
    """``--prices MODEL=IN,OUT ...``: price overrides (``bench cascade``, ``demo``, ``calibrate``)."""
    p.add_argument(
        "--prices",
        action="extend",
        nargs="+",
        default=[],
        metavar="MODEL=IN,OUT",
        help="price override in dollars per million input,output tokens (repeatable)",
    )


def parse_prices(texts: list[str]) -> dict[str, ModelPrice]:
    """``MODEL=IN,OUT`` entries (dollars per million tokens) as price overrides.

    Raises:
        ConfigError: A malformed entry (field ``--prices``).
    """
    from langchain_costrouter.cli.calibrate import parse_price

    out: dict[str, ModelPrice] = {}
    for text in texts:
        model, price = parse_price(text)
        out[model] = dataclasses.replace(price, source="--prices")
    return out


def settings_from_args(args: argparse.Namespace, **overrides: Any) -> CascadeBenchSettings:
    """The benchmark settings the parsed options describe.

    Raises:
        ConfigError: A malformed or out-of-range option.
    """
    from langchain_costrouter.core.errors import ConfigError
    from langchain_costrouter.offline.cascade_bench import CascadeBenchSettings

    if args.concurrency < 1:
        raise ConfigError("--concurrency", f"must be at least 1, got {args.concurrency}")
    if args.overhead_requests < 0:
        raise ConfigError("--overhead-requests", f"must be 0 or more, got {args.overhead_requests}")
    if not 0 < args.target_quality <= 1.5:
        raise ConfigError("--target-quality", f"must be in (0, 1.5], got {args.target_quality}")
    values: dict[str, Any] = {
        "prices": parse_prices(args.prices),
        "gate_file": getattr(args, "gate_file", None),
        "folds": args.folds,
        "seed": args.seed,
        "target_quality": args.target_quality,
        "margin_z": args.margin_z,
        "concurrency": args.concurrency,
        "overhead_requests": args.overhead_requests,
        "ledger_path": args.ledger_out,
        "progress": not args.no_progress,
    }
    values.update(overrides)
    return CascadeBenchSettings(args.cheap, args.premium, **values)


def _pct(x: float | None) -> str:
    return "-" if x is None or math.isnan(x) else f"{100 * x:.1f}%"


#: One line per column of the benchmark table, printed under it.
COLUMNS = """\
  policy                how each question picks cheap or premium (always_premium is the baseline of every %)
  via                   pipeline: sent through ChatCostRouter, cost from the ledger; recorded: computed from the
                        recorded answers and the pipeline's per-question costs (no calls of its own)
  quality               share of the {n} questions answered correctly
  % of premium quality  quality / always_premium's quality
  cost                  what the {n} questions cost, every call included (rejected cheap answers too)
  % of premium cost     cost / always_premium's cost
  premium calls         share of the questions that reached the premium model
  APGR                  how well the gate ranks answers: the share of the cheap-to-premium quality gap recovered,
                        averaged over every premium-call rate from 0 to 100% (0.5 = random, 1 = perfect)"""


def render_bench(console: Console, result: CascadeBenchResult) -> None:
    """Prints the comparison table, the overhead and the timings of a run."""
    from rich import box
    from rich.table import Table

    from langchain_costrouter.cli._render import fmt_usd

    table = Table(
        title=f"Cascade benchmark: {result.n_items:,} questions through ChatCostRouter -> HTTP -> replay server",
        box=box.SIMPLE_HEAD,
    )
    cols = ("policy", "via", "quality", "% of premium quality", "cost", "% of premium cost", "premium calls", "APGR")
    for col in cols:
        table.add_column(col, justify="left" if col in {"policy", "via"} else "right", no_wrap=col == "policy")
    for r in result.rows:
        table.add_row(
            r.policy,
            r.source,
            _pct(r.quality),
            _pct(r.quality_vs_premium),
            fmt_usd(r.cost_usd),
            _pct(r.cost_vs_premium),
            _pct(r.premium_call_rate),
            "-" if r.apgr is None or math.isnan(r.apgr) else f"{r.apgr:.3f}",
            style="bold" if r.policy == "learned" else None,
        )
    console.print(table)
    console.print(COLUMNS.format(n=f"{result.n_items:,}"), highlight=False)
    learned = result.row("learned")
    console.print(
        f"learned gate: {_pct(learned.quality_vs_premium)} of premium quality at {_pct(learned.cost_vs_premium)} "
        f"of premium cost ({result.learned_gate}; threshold(s) {learned.threshold})"
    )
    if result.answer_mismatches:
        console.print(f"[bold yellow]warning:[/] {result.answer_mismatches} served answers differ from the recordings")
    o = result.overhead
    if o is not None:
        console.print(
            f"per-request overhead ({o.requests} sequential requests, {o.ledger} ledger): ChatCostRouter "
            f"{o.router_mean_ms:.2f} ms mean / {o.router_p50_ms:.2f} ms p50 vs direct ChatOpenAI "
            f"{o.direct_mean_ms:.2f} / {o.direct_p50_ms:.2f} ms: +{o.added_mean_ms:.2f} ms mean, "
            f"+{o.added_p50_ms:.2f} ms p50 (paired), x{o.ratio:.2f}"
        )
    s = result.seconds
    rate = result.calls / s["pipeline"] if s.get("pipeline") else float("nan")
    console.print(
        f"time: {s['total']:.1f}s total; gates {s.get('gates', 0):.1f}s, pipeline {s.get('pipeline', 0):.1f}s "
        f"({result.calls} model calls, {rate:.0f} calls/s), overhead {s.get('overhead', 0):.1f}s"
    )


def _check_outputs(args: argparse.Namespace) -> None:
    from langchain_costrouter.core.errors import ConfigError
    from langchain_costrouter.offline.plots import CASCADE_PLOT_SUFFIXES

    plot = getattr(args, "plot", None)
    if plot is not None and plot.suffix.lower() not in CASCADE_PLOT_SUFFIXES:
        raise ConfigError("--plot", f"expected a {'/'.join(CASCADE_PLOT_SUFFIXES)} file, got {str(plot)!r}")


def resolve_or_explain(settings: CascadeBenchSettings) -> None:
    """Resolves both prices, turning an unknown one into a ``--prices`` error with the fix.

    Raises:
        ConfigError: A model has no price (field ``--prices``).
    """
    from langchain_costrouter.core.errors import ConfigError, UnknownModelPriceError
    from langchain_costrouter.offline.cascade_policies import resolve_prices

    try:
        resolve_prices([settings.cheap, settings.premium], settings.prices)
    except UnknownModelPriceError as exc:
        raise ConfigError(
            "--prices",
            f"{exc.args[0].split(';')[0]}; give it a price with --prices '{exc.model}=IN,OUT' "
            "(dollars per million input,output tokens)",
        ) from None


def print_prices(console: Console, settings: CascadeBenchSettings) -> None:
    """Prints each model's price and where it came from."""
    from langchain_costrouter.offline.cascade_policies import resolve_prices

    for role, res in zip(
        ("cheap", "premium"), resolve_prices([settings.cheap, settings.premium], settings.prices).values(), strict=True
    ):
        console.print(
            f"{role} {res.model}: ${res.input_per_million:g} in / ${res.output_per_million:g} out per 1M tokens "
            f"[dim]({res.how})[/]",
            highlight=False,
        )


def write_json(result: CascadeBenchResult, path: str | Path, extra: Sequence[Mapping[str, Any]] = ()) -> None:
    """Writes one object per policy (a JSON list) to a file, or to stdout for ``-``; ``extra`` rows last."""
    from langchain_costrouter.cli import _style
    from langchain_costrouter.offline.cascade_policies import rows_to_json

    _style.write_json(path, [*rows_to_json(result.rows), *extra])


def run(args: argparse.Namespace) -> int:
    """Runs the benchmark and prints its table."""
    from rich.console import Console

    from langchain_costrouter.cli._bench_online import check_online_args, run_online_row
    from langchain_costrouter.offline.cascade_bench import run_cascade_bench

    _check_outputs(args)
    check_online_args(args)
    settings = settings_from_args(args)
    resolve_or_explain(settings)
    if args.gate_file is not None:
        from langchain_costrouter.core.gates.learned import LearnedGate

        LearnedGate.load(args.gate_file)  # a bad gate file fails now, before the replay server starts
    # With --json -, stdout carries only JSON; the tables go to stderr.
    console = Console(width=None if sys.stdout.isatty() else 130, stderr=args.json_out == "-")
    print_prices(console, settings)
    result = run_cascade_bench(args.data, settings, limit=args.limit, base_url=args.server_url)
    render_bench(console, result)
    online = run_online_row(args, settings, result, console)
    if args.json_out is not None:
        write_json(result, args.json_out, [] if online is None else [online])
        if args.json_out != "-":
            console.print(f"JSON written to {args.json_out}")
    if args.plot is not None:
        from langchain_costrouter.offline.plots import write_cascade_plot

        write_cascade_plot(result, args.plot)
        console.print(f"plot written to {args.plot}")
    return 0
