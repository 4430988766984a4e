"""``costrouter bench replicas``: N LiteLLM proxy replicas on one Postgres ledger and one Redis.

See :mod:`langchain_costrouter.offline.replicas_bench`. Prints the figures and the run's details;
exits 1 when an invariant fails (a lost or doubled record, spend past the limit and the
in-flight bound, a budget never reached, no cross-replica cache hit).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_arguments", "register_bench", "run_cli"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The benchmark's command-line options."""
    from langchain_costrouter.offline.replicas_bench import DEFAULT_POSTGRES_URL

    p.add_argument("--replicas", type=int, default=3, help="proxy processes")
    p.add_argument("--clients", type=int, default=30, help="concurrent clients")
    p.add_argument("--requests", type=int, default=900, help="requests of each phase")
    p.add_argument("--faults", action="store_true", help="restart Redis and kill ledger connections mid-run")
    p.add_argument(
        "--no-redis-persistence",
        action="store_true",
        help="run the private Redis without its append-only file (a restart loses budgets and cache)",
    )
    p.add_argument(
        "--postgres-url",
        default=None,
        metavar="URL",
        help="server where the bench creates (and drops) its own database "
        f"(default: $COSTROUTER_BENCH_POSTGRES_URL or {DEFAULT_POSTGRES_URL})",
    )
    p.add_argument(
        "--json", dest="json_out", metavar="PATH|-", help="also write the figures as JSON to PATH ('-': stdout)"
    )


def register_bench(bench_subparsers: Any) -> None:
    """Adds ``costrouter bench replicas``."""
    from langchain_costrouter.cli._style import add_command, add_progress

    p = add_command(
        bench_subparsers,
        "replicas",
        help="proxy replicas on a shared Postgres ledger and Redis: lost/doubled records, budget, cache, faults",
    )
    add_arguments(p)
    add_progress(p)
    p.set_defaults(func=run_bench_replicas)


def run_cli(args: argparse.Namespace) -> int:
    """Runs the benchmark, prints the figures (exit 1 when an invariant fails)."""
    from langchain_costrouter.cli._style import write_json
    from langchain_costrouter.offline.replicas_bench import check, run_benchmark

    res = run_benchmark(
        replicas=args.replicas,
        clients=args.clients,
        requests=args.requests,
        faults=args.faults,
        postgres_url=args.postgres_url,
        redis_persistence=not args.no_redis_persistence,
    )
    details = res.pop("_details")
    figures = "\n".join(f"{k}: {v}" for k, v in res.items())
    sys.stdout.write(f"{figures}\ndetails: {json.dumps(details)}\n")
    problems = check(res, details)
    for p in problems:
        sys.stdout.write(f"FAILED: {p}\n")
    if args.json_out is not None:
        write_json(args.json_out, res)
    return 1 if problems else 0


def run_bench_replicas(args: argparse.Namespace) -> int:
    """``costrouter bench replicas``: the benchmark under a progress display."""
    from langchain_costrouter.offline.progress import Steps, progress_enabled

    with Steps(enabled=progress_enabled(args.no_progress)) as steps:
        label = f"{args.replicas} replica(s), {args.clients} clients, {args.requests} requests a phase"
        return steps.run(label, run_cli, args)
