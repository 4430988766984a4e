"""``costrouter bench replicas``: N LiteLLM proxy replicas on one Postgres ledger and one Redis.

See :mod:`langchain_costrouter.offline.replicas_bench`.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register_bench"]


def register_bench(bench_subparsers: Any) -> None:
    """Adds ``costrouter bench replicas``."""
    from langchain_costrouter.cli._style import add_command, add_progress
    from langchain_costrouter.offline.replicas_bench import add_arguments

    p = add_command(
        bench_subparsers,
        "replicas",
        help="proxy replicas on a shared Postgres ledger and Redis: lost/doubled records, budget, cache, faults",
    )
    add_arguments(p)
    add_progress(p)
    p.set_defaults(func=run_bench_replicas)


def run_bench_replicas(args: argparse.Namespace) -> int:
    """``costrouter bench replicas``: the benchmark under a progress display."""
    from langchain_costrouter.offline.progress import Steps, progress_enabled
    from langchain_costrouter.offline.replicas_bench import run_cli

    with Steps(enabled=progress_enabled(args.no_progress)) as steps:
        label = f"{args.replicas} replica(s), {args.clients} clients, {args.requests} requests a phase"
        return steps.run(label, run_cli, args)
