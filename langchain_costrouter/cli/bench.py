"""``costrouter bench``: a parser whose targets come from their own modules.

Each module of :data:`BENCH_MODULES` exposes ``register_bench(bench_subparsers)`` and adds one or
more targets (``bench cache`` lives in :mod:`.cache_cmds`, ``bench cascade`` in
:mod:`.bench_cascade`...). The list is explicit: a module that fails to import fails loudly.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

__all__ = ["BENCH_MODULES", "register"]

# Modules adding ``bench`` targets through ``register_bench(subparsers)``, in help order.
# Adding a target is one line here (and its module).
BENCH_MODULES: tuple[str, ...] = (
    "bench_cascade",
    "cache_cmds",
    "routing_cmds",
    "batch",
    "litellm_cmds",
    "bench_replicas",
    "bench_chaos",
)


def register(subparsers: Any) -> None:
    """Adds ``bench`` and every ``bench <target>``."""
    from langchain_costrouter.cli._style import add_command

    parser: argparse.ArgumentParser = add_command(
        subparsers,
        "bench",
        help="run a benchmark (cascade, cache, routing, savings, proxy, chaos)",
        description="Benchmarks: each target prints its figures and can write them as JSON (--json PATH|-).",
    )
    sub = parser.add_subparsers(dest="subcommand", required=True, metavar="TARGET")
    for name in BENCH_MODULES:
        importlib.import_module(f"langchain_costrouter.cli.{name}").register_bench(sub)
