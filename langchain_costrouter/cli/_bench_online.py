r"""``bench cascade --online`` and ``bench drift``: the quality monitor's loop on recorded answers.

Examples::

    costrouter bench cascade --data langchain_costrouter/data/gsm8k_routellm_dev.csv \
        --cheap mistralai/Mixtral-8x7B-Instruct-v0.1 --premium gpt-4-1106-preview \
        --gate-file gate.json --online --target-quality 0.9 --shadow-rate 0.2 --json out/online.json
    costrouter bench drift --data langchain_costrouter/data/gsm8k_routellm_dev.csv \
        --cheap mistralai/Mixtral-8x7B-Instruct-v0.1 --premium gpt-4-1106-preview \
        --proxy length --calibrate-on high --target-quality 0.9 --shadow-rate 0.2 --runs 20
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from langchain_costrouter.offline.cascade_bench import CascadeBenchResult, CascadeBenchSettings

__all__ = ["add_online_arguments", "check_online_args", "register_drift", "run_online_row"]


def add_online_arguments(p: argparse.ArgumentParser) -> None:
    """``--online`` and ``--shadow-rate`` (``--target-quality`` is shared with the calibration)."""
    p.add_argument(
        "--online",
        action="store_true",
        help="also stream the items in file order with the quality monitor recalibrating the --gate-file gate "
        "(row learned_online; the monitor grades by agreement with the premium answer, --target-quality is its target)",
    )
    p.add_argument("--shadow-rate", type=float, default=0.1, help="--online: share of accepted answers shadowed")


def check_online_args(args: argparse.Namespace) -> None:
    """Raises ``ConfigError`` for inconsistent online options."""
    from langchain_costrouter.core.errors import ConfigError

    if not getattr(args, "online", False):
        return
    if args.gate_file is None:
        raise ConfigError("--gate-file", "--online recalibrates a given gate: pass --gate-file (costrouter calibrate)")
    if not 0 < args.shadow_rate <= 1:
        raise ConfigError("--shadow-rate", f"must be in (0, 1], got {args.shadow_rate}")
    if not 0 < args.target_quality <= 1:
        raise ConfigError("--target-quality", f"--online needs a target in (0, 1], got {args.target_quality}")


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:.1f}%"


def run_online_row(
    args: argparse.Namespace, settings: CascadeBenchSettings, result: CascadeBenchResult, console: Console
) -> dict[str, Any] | None:
    """Runs the online loop when ``--online`` is given, prints its row and returns it (JSON-ready)."""
    if not getattr(args, "online", False):
        return None
    import numpy as np

    from langchain_costrouter.core.gates.learned import LearnedGate
    from langchain_costrouter.offline.cascade_bench import load_bench_data
    from langchain_costrouter.offline.cascade_policies import resolve_prices
    from langchain_costrouter.offline.online_loop import OnlineSettings, run_online

    data = load_bench_data(args.data, settings.cheap, settings.premium, limit=args.limit)
    prices = {m: r.price for m, r in resolve_prices([settings.cheap, settings.premium], settings.prices).items()}
    gate = LearnedGate.load(args.gate_file)
    out = run_online(
        data,
        settings.cheap,
        settings.premium,
        gate,
        prices=prices,
        settings=OnlineSettings(args.target_quality, args.shadow_rate, True, {}, args.seed),
    )
    base = result.row("always_premium")
    quality = float(np.mean(out.quality))
    cost = float(np.sum(out.cost_usd))
    row = {
        "policy": "learned_online",
        "source": "replay",
        "quality": quality,
        "quality_vs_premium": quality / base.quality if base.quality else float("nan"),
        "cost_usd": cost,
        "cost_vs_premium": cost / base.cost_usd if base.cost_usd else float("nan"),
        "shadow_cost_usd": float(np.sum(out.shadow_usd)),
        "premium_call_rate": float(np.mean(out.escalated)),
        "shadow_rate_realised": float(np.mean(out.shadowed)),
        "agreement_vs_premium": float(np.mean(out.agreement)),
        "estimated_quality_vs_premium": out.estimate[0],
        "estimated_ci": [out.estimate[1], out.estimate[2]],
        "target_quality": args.target_quality,
        "threshold_start": float(out.thresholds[0]),
        "threshold_end": float(out.thresholds[-1]),
        "alarms": list(out.alarms),
        "n_items": len(data),
    }
    console.print(
        f"learned_online (monitor on, target {_pct(args.target_quality)} agreement with premium, shadow rate "
        f"{args.shadow_rate:g}): quality {_pct(quality)} = {_pct(row['quality_vs_premium'])} of premium, cost "
        f"{_pct(row['cost_vs_premium'])} of premium (shadows {row['shadow_cost_usd']:.4f} USD included), premium calls "
        f"{_pct(row['premium_call_rate'])}; agreement with premium {_pct(row['agreement_vs_premium'])}, monitor "
        f"estimate {_pct(out.estimate[0])} [{_pct(out.estimate[1])}, {_pct(out.estimate[2])}]; threshold "
        f"{row['threshold_start']:.3f} -> {row['threshold_end']:.3f}",
        highlight=False,
    )
    for alarm in out.alarms:
        console.print(f"[bold yellow]monitor alarm:[/] {alarm}")
    if args.overhead_requests > 0:
        row["monitor_overhead"] = _overhead(args, data, settings, console)
    return row


def _overhead(args: argparse.Namespace, data: Any, settings: CascadeBenchSettings, console: Console) -> dict[str, Any]:
    """Latency with the monitor on vs off, over HTTP to a replay server of the data."""
    import asyncio
    import contextlib

    from langchain_costrouter.offline._bench_monitor import measure_monitor_overhead
    from langchain_costrouter.offline._bench_pipeline import CHEAP_TIER, PREMIUM_TIER, Wiring, max_tokens_for
    from langchain_costrouter.offline.cascade_policies import resolve_prices
    from langchain_costrouter.testing.server import LocalOpenAIServer

    prices = resolve_prices([settings.cheap, settings.premium], settings.prices)
    n = min(args.overhead_requests, len(data))
    with contextlib.ExitStack() as stack:
        url = args.server_url or stack.enter_context(LocalOpenAIServer.replay(args.data)).base_url
        wiring = Wiring(url, prices[settings.cheap], prices[settings.premium], max_tokens_for(data))
        cheap, premium = wiring.tier(CHEAP_TIER, None), wiring.tier(PREMIUM_TIER, None)
        o = asyncio.run(measure_monitor_overhead(cheap, premium, data.prompts[:n]))
    console.print(
        f"monitor overhead ({o.requests} sequential requests, every answer shadowed: {o.shadows} shadow calls on the "
        f"worker thread meanwhile): p50 {o.off_p50_ms:.2f} ms off vs {o.on_p50_ms:.2f} ms on, "
        f"{o.added_p50_ms:+.2f} ms p50 (paired); mean {o.off_mean_ms:.2f} vs {o.on_mean_ms:.2f} ms",
        highlight=False,
    )
    return o.to_dict()


def register_drift(subparsers: Any) -> None:
    """Adds ``bench drift``."""
    from langchain_costrouter.cli._style import add_command, add_data, add_json
    from langchain_costrouter.cli.bench_cascade import add_prices

    p = add_command(
        subparsers,
        "drift",
        help="a gate calibrated on one part of the data, streamed on the other, with and without the monitor",
        description="Calibrates a learned gate on the part of the data at one side of a visible proxy's median "
        "(prompt length, or how many numbers the prompt states), then streams the other part with the calibrated "
        "threshold fixed and with the quality monitor recalibrating it online (file order and shuffled orders). "
        "The monitor grades by agreement with the premium answer and never reads the quality columns.",
    )
    add_data(p, help="RouteLLM-format CSV (prompt, <model>, <model>_response columns)")
    p.add_argument("--cheap", required=True, metavar="MODEL", help="cheap model name as in the CSV")
    p.add_argument("--premium", required=True, metavar="MODEL", help="premium model name as in the CSV")
    p.add_argument("--proxy", choices=("length", "numbers"), default="length", help="what splits the data")
    p.add_argument("--calibrate-on", choices=("low", "high"), default="high", help="side of the median calibrated on")
    p.add_argument("--target-quality", type=float, default=0.9, help="target share of answers agreeing with premium")
    p.add_argument("--shadow-rate", type=float, default=0.2, help="share of accepted answers shadowed")
    p.add_argument("--runs", type=int, default=20, help="shuffled orders of the streamed part")
    p.add_argument("--seed", type=int, default=0, help="seed of the calibration folds, shuffles and sampling")
    add_prices(p)
    add_json(p, help="also write every run as JSON to PATH ('-': stdout)")
    p.set_defaults(func=run_drift_cmd)


def run_drift_cmd(args: argparse.Namespace) -> int:
    """Runs the drift experiment and prints its table."""
    import statistics

    from rich.console import Console
    from rich.table import Table

    from langchain_costrouter.cli._style import write_json
    from langchain_costrouter.cli.bench_cascade import parse_prices
    from langchain_costrouter.core.errors import ConfigError
    from langchain_costrouter.offline.cascade_bench import load_bench_data
    from langchain_costrouter.offline.cascade_policies import resolve_prices
    from langchain_costrouter.offline.drift import run_drift

    if not 0 < args.target_quality <= 1:
        raise ConfigError("--target-quality", f"must be in (0, 1], got {args.target_quality}")
    if not 0 < args.shadow_rate <= 1:
        raise ConfigError("--shadow-rate", f"must be in (0, 1], got {args.shadow_rate}")
    if args.runs < 0:
        raise ConfigError("--runs", f"must be 0 or more, got {args.runs}")
    data = load_bench_data(args.data, args.cheap, args.premium)
    prices = {m: r.price for m, r in resolve_prices([args.cheap, args.premium], parse_prices(args.prices)).items()}
    res = run_drift(
        data,
        args.cheap,
        args.premium,
        prices,
        proxy=args.proxy,
        calibrate_on=args.calibrate_on,
        target_quality=args.target_quality,
        shadow_rate=args.shadow_rate,
        runs=args.runs,
        seed=args.seed,
    )
    # With --json -, stdout carries only JSON; the table goes to stderr.
    console = Console(width=None if sys.stdout.isatty() else 150, stderr=args.json_out == "-")
    console.print(
        f"calibrated on the {args.calibrate_on} {args.proxy} half ({res.n_calibration} items; threshold "
        f"{res.calibrated_threshold:.3f}, cross-validated agreement {_pct(res.calibration_cv)}), streamed the other "
        f"{res.n_stream}; target {_pct(res.target_quality)} agreement with premium",
        highlight=False,
    )
    table = Table()
    for col in (
        "policy",
        "order",
        "agreement",
        "correct vs premium",
        "estimate [interval]",
        "covered",
        "cost vs premium",
        "shadow share",
        "premium calls",
        "threshold",
    ):
        table.add_column(col, justify="left" if col in {"policy", "order"} else "right", no_wrap=True)
    for r in res.runs:
        table.add_row(
            r.policy,
            r.order,
            _pct(r.quality_vs_premium),
            _pct(r.correct_vs_premium),
            f"{_pct(r.estimate[0])} [{100 * r.estimate[1]:.1f}-{100 * r.estimate[2]:.1f}]",
            "yes" if r.covered else "NO",
            _pct(r.cost_vs_premium),
            _pct(r.shadow_share),
            _pct(r.premium_call_rate),
            f"{r.final_threshold:.3f}",
        )
    console.print(table)
    shuffled = [r for r in res.runs if r.policy == "online" and r.order != "file"]
    if shuffled:
        q = [r.quality_vs_premium for r in shuffled]
        console.print(
            f"online over {len(shuffled)} shuffles: agreement mean {_pct(statistics.fmean(q))}, min {_pct(min(q))}, "
            f"target {_pct(res.target_quality)}; interval covered the realised value in "
            f"{sum(r.covered for r in shuffled)}/{len(shuffled)}; cost mean "
            f"{_pct(statistics.fmean(r.cost_vs_premium for r in shuffled))} of premium",
            highlight=False,
        )
    if args.json_out is not None:
        write_json(args.json_out, res.to_dict())
        if args.json_out != "-":
            console.print(f"JSON written to {args.json_out}")
    return 0
