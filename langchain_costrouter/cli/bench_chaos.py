"""``costrouter bench chaos``: concurrent requests under faults and sabotage; the ledger against the server's bill.

Example::

    costrouter bench chaos --requests 2000 --fault-rate 0.2 --seed 0 --timeout 60 --json out/chaos.json

Starts a local OpenAI-compatible server (a cheap, a premium and a judge model) that injects
random faults and keeps its own bill, sends the requests through ``ChatCostRouter`` at once
(``ainvoke`` and ``astream``), cancels some, deletes and locks the SQLite ledger and locks the
response cache mid-run, then pairs every ledger record with the server's bill: lost (billed,
not in the ledger), phantom (in the ledger, never billed), duplicates, and the money on both
sides. Exits 1 when anything was lost, invented or duplicated.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from langchain_costrouter.offline.chaos_bench import ChaosResult

__all__ = ["register_bench", "render_chaos", "run"]


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        msg = f"expected a share between 0 and 1, got {text}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        msg = f"expected a whole number >= 1, got {text}"
        raise argparse.ArgumentTypeError(msg)
    return value


def register_bench(subparsers: Any) -> None:
    """Adds ``bench chaos`` to the ``bench`` sub-subcommands."""
    from langchain_costrouter.cli._style import add_command, add_json

    p = add_command(
        subparsers,
        "chaos",
        help="concurrent requests with faults, cancellations and ledger/cache sabotage vs the server's bill",
        description=__doc__,
    )
    p.add_argument("--requests", type=_positive, default=2000, metavar="N", help="requests sent, all started at once")
    p.add_argument(
        "--concurrency",
        type=_positive,
        default=None,
        metavar="N",
        help="most requests in flight (default: all of them)",
    )
    p.add_argument(
        "--fault-rate", type=_share, default=0.2, metavar="SHARE", help="share of the server's calls that get a fault"
    )
    p.add_argument(
        "--cancel-rate",
        type=_share,
        default=0.05,
        metavar="SHARE",
        help="share of requests the client cancels at a random moment",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of every draw (questions, modes, cancellations, faults)")
    p.add_argument(
        "--adapter",
        choices=("langchain", "litellm"),
        default="langchain",
        help="ChatCostRouter (default) or litellm.Router with the costrouter hooks",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="the tiers' timeout_s (a timeout fault holds a request 5 s longer)",
    )
    p.add_argument(
        "--workdir",
        dest="workdir_out",
        type=Path,
        metavar="DIR",
        help="keep the ledger, cache and server bill here (default: a temporary folder)",
    )
    add_json(p, help="also write the figures as JSON to PATH ('-': stdout)")
    p.set_defaults(func=run)


def _usd(x: float) -> str:
    return f"${x:.6f}"


def render_chaos(console: Console, result: ChaosResult) -> None:
    """Prints the run's table."""
    from rich.table import Table

    d = result.to_dict()
    c = d["comparison"]
    table = Table(title="bench chaos: the ledger against the server's own bill")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows: list[tuple[str, Any]] = [
        ("adapter", d["settings"]["adapter"]),
        ("requests (call / stream)", f"{d['requests']} ({d['modes'].get('call', 0)} / {d['modes'].get('stream', 0)})"),
        ("outcomes", ", ".join(f"{k} {v}" for k, v in sorted(d["outcomes"].items()))),
        ("client cancellations", d["cancelled"]),
        ("faults injected", ", ".join(f"{k} {v}" for k, v in sorted(d["faults_injected"].items()))),
        ("sabotage", "; ".join(f"{e['event']} at {e['at_progress']:.0%}" for e in d["sabotage"])),
        ("server calls (billed)", f"{c['server_lines']} ({c['server_billed_lines']})"),
        ("ledger records (call records)", f"{d['ledger_records']} ({c['ledger_call_records']})"),
        ("  of which in the deleted file", d["records_in_deleted_file"]),
        ("pairs exact / estimated / late reply / unbilled",
         f"{c['pairs_exact']} / {c['pairs_estimated']} / {c['pairs_late_reply']} / {c['pairs_unbilled']}"),
        ("lost", c["lost"]),
        ("phantom", c["phantom"]),
        ("duplicates", c["duplicates"]),
        ("estimate rule breaks", c["estimate_rule_breaks"]),
        ("estimates never sent (usd)", f"{c['never_sent_records']} ({_usd(c['never_sent_usd'])})"),
        ("unbilled server errors without a record", c["unrecorded_unbilled_lines"]),
        ("money exact: server / ledger", f"{_usd(c['exact_server_usd'])} / {_usd(c['exact_ledger_usd'])}"),
        ("money estimated: server / ledger",
         f"{_usd(c['estimated_server_usd'])} / {_usd(c['estimated_ledger_usd'])}"),
        ("money total: server / ledger", f"{_usd(c['server_usd'])} / {_usd(c['ledger_usd'])}"),
        ("ledger reopened / pending after close", f"{d['ledger_reopened']} / {d['pending_after_close']}"),
        ("cache hits / cache store failures", f"{d['cache_hits']} / {d['cache_store_failures']}"),
        ("judge calls recorded as abandoned", d["abandoned_judge_records"]),
        ("wall time", f"{d['wall_s']:.1f} s"),
    ]  # fmt: skip
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
    console.print(f"Estimate rule: {d['estimate_rule']}.")
    console.print("verdict: " + ("OK" if c["ok"] else "FAILED (see the JSON's examples)"))


def run(args: argparse.Namespace) -> int:
    """Runs ``bench chaos``."""
    from rich.console import Console

    from langchain_costrouter.cli import _style
    from langchain_costrouter.core.errors import ConfigError
    from langchain_costrouter.offline.chaos_bench import ChaosSettings, run_chaos

    if args.workdir_out is not None and args.workdir_out.exists() and not args.workdir_out.is_dir():
        raise ConfigError("--workdir", f"{args.workdir_out} exists and is not a folder")
    settings = ChaosSettings(
        requests=args.requests,
        adapter=args.adapter,
        concurrency=args.concurrency or args.requests,
        fault_rate=args.fault_rate,
        cancel_rate=args.cancel_rate,
        seed=args.seed,
        timeout_s=args.timeout,
        workdir=args.workdir_out,
    )
    console = Console(width=None if sys.stdout.isatty() else 130, stderr=args.json_out == "-")
    result = run_chaos(settings)
    render_chaos(console, result)
    if args.json_out is not None:
        _style.write_json(args.json_out, result.to_dict())
        if args.json_out != "-":
            console.print(f"JSON written to {args.json_out}")
    return 0 if result.comparison.ok else 1
