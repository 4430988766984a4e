r"""``costrouter calibrate``: fit a learned quality gate and pick its threshold by cross-validation.

Example::

    costrouter calibrate --data langchain_costrouter/data/gsm8k_routellm_dev.csv \
        --cheap mistralai/Mixtral-8x7B-Instruct-v0.1 --premium gpt-4-1106-preview \
        --target-quality 0.95 --out gate.json

The data is graded traffic, one row per request: a ``prompt`` column and, for each of the two
models, a column named after the model holding the answer's grade (True/False, or a score in
[0, 1]) and a ``<model>_response`` column holding the answer text.

Prints the cross-validated figures of every policy and writes the gate file (JSON). Use it in
costrouter.yaml on the tier whose answers it judges (the threshold is the calibrated one unless
the gate sets ``threshold``)::

    tiers:
      - name: cheap
        model: openai/gpt-4o-mini
        gate: {type: learned, path: gate.json}
      - name: premium
        model: openai/gpt-4o
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import asdict
from typing import Any

__all__ = ["parse_price", "register", "run"]


def parse_price(text: str) -> tuple[str, Any]:
    """Parses ``MODEL=IN,OUT`` (dollars per million input / output tokens).

    Raises:
        ConfigError: Malformed entry (field ``--prices``).
    """
    from langchain_costrouter.core.errors import ConfigError
    from langchain_costrouter.core.pricing import ModelPrice

    model, sep, nums = text.rpartition("=")
    parts = nums.split(",")
    try:
        if not sep or not model or len(parts) != 2:
            raise ValueError
        inp, out = float(parts[0]), float(parts[1])
        if not (math.isfinite(inp) and math.isfinite(out)) or inp < 0 or out < 0:
            raise ValueError
    except ValueError:
        raise ConfigError("--prices", f"expected MODEL=IN,OUT in dollars per million tokens, got {text!r}") from None
    return model, ModelPrice.per_million(inp, out, source="cli")


def register(subparsers: Any) -> None:
    """Adds the ``calibrate`` subcommand."""
    from langchain_costrouter.cli._style import add_command, add_data, add_json, add_out, add_progress, hidden_alias
    from langchain_costrouter.cli.bench_cascade import add_calibration_arguments, add_prices

    p = add_command(
        subparsers,
        "calibrate",
        help="fit a learned quality gate on graded answers and pick its threshold (K-fold CV)",
        description=__doc__,
    )
    add_data(p, help="graded answers: RouteLLM-format CSV (prompt, <model>, <model>_response columns)")
    p.add_argument("--cheap", required=True, metavar="MODEL", help="model whose answers the gate judges")
    p.add_argument("--premium", required=True, metavar="MODEL", help="model called when the gate fails an answer")
    add_out(p, required=True, help="the gate file to write (JSON; a 'type: learned' gate's path)")
    add_calibration_arguments(p)
    add_prices(p)
    add_json(p, help="also write every policy, fold and sweep point as JSON to PATH ('-': stdout)")
    hidden_alias(p, "--report", dest="json_out")
    add_progress(p)
    p.set_defaults(func=run)


def _pct(x: float | None) -> str:
    return "-" if x is None or math.isnan(x) else f"{100 * x:.1f}%"


def run(args: argparse.Namespace) -> int:
    """Runs the calibration and prints its cross-validated results."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from langchain_costrouter.cli._style import write_json
    from langchain_costrouter.core.pricing import PriceBook
    from langchain_costrouter.offline.data import load_routellm_csv
    from langchain_costrouter.offline.gate_calibration import calibrate
    from langchain_costrouter.offline.progress import Steps, progress_enabled

    overrides = dict(parse_price(t) for t in args.prices)
    book = PriceBook(overrides)
    book.known([args.cheap, args.premium])  # fail before any work when a price is unknown
    with Steps(enabled=progress_enabled(args.no_progress)) as steps:
        data = steps.run(f"reading {args.data.name}", load_routellm_csv, args.data, [args.cheap, args.premium])
        res = steps.run(
            f"fitting the gate ({args.folds}-fold cross-validation, {len(data)} items)",
            calibrate,
            data,
            args.cheap,
            args.premium,
            args.target_quality,
            args.folds,
            book,
            seed=args.seed,
            margin_z=args.margin_z,
        )
    path = res.gate.save(args.out)

    # With --json -, stdout carries only JSON; the tables go to stderr.
    console = Console(width=None if sys.stdout.isatty() else 110, stderr=args.json_out == "-")
    table = Table(
        title=f"{len(data)} items, {args.folds}-fold CV (learned gate never saw its test items)", box=box.SIMPLE_HEAD
    )
    for col in ("policy", "quality", "vs premium", "cost", "cost vs premium", "premium calls", "APGR"):
        table.add_column(col, justify="left" if col == "policy" else "right", no_wrap=col == "policy")
    for r in res.report.policies:
        table.add_row(
            r.name,
            _pct(r.quality),
            _pct(r.quality_vs_premium),
            f"${r.cost_usd:.4f}",
            _pct(r.cost_vs_premium),
            _pct(r.premium_call_rate),
            "-" if r.apgr is None else f"{r.apgr:.3f}",
        )
    console.print(table)
    met = "met" if res.target_met else "NOT met"
    console.print(
        f"target {_pct(res.target_quality)} of premium quality: {met} in CV "
        f"({_pct(res.cv.quality_vs_premium)} at {_pct(res.cv.cost_vs_premium)} of premium cost); "
        f"CV ROC-AUC {res.cv_auc:.3f}; fold thresholds " + ", ".join(f"{f.threshold:.3f}" for f in res.folds)
    )
    console.print(f"gate threshold {res.threshold:.3f} written to {path} ({res.seconds:.1f}s)")
    if args.json_out is not None:
        report = {
            "policies": [asdict(r) for r in res.report.policies],
            "folds": [asdict(f) for f in res.folds],
            "sweep": [asdict(s) for s in res.report.sweep],
            "cv_auc": res.cv_auc,
            "threshold": res.threshold,
            "target_quality": res.target_quality,
            "target_met": res.target_met,
            "training": res.gate.training,
        }
        write_json(args.json_out, report)
    return 0
