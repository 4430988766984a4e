"""``costrouter bench``: a parser whose sub-subcommands come from their own modules.

``bench cache`` lives in :mod:`.cache_cmds`; ``bench cascade`` (another module) registers the
same way when present: each module exposes ``register_bench(bench_subparsers)``.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

__all__ = ["BENCH_MODULES", "register"]

# Modules adding ``bench`` sub-subcommands through ``register_bench(subparsers)``.
BENCH_MODULES: tuple[str, ...] = ("cache_cmds", "bench_cascade", "optimize_cmds", "routing_cmds", "litellm_cmds")


def register(subparsers: Any) -> None:
    """Adds ``bench`` and every available ``bench <target>``."""
    parser: argparse.ArgumentParser = subparsers.add_parser("bench", help="run a benchmark (cache, cascade...)")
    sub = parser.add_subparsers(dest="bench_target", required=True, metavar="TARGET")
    for name in BENCH_MODULES:
        try:
            module = importlib.import_module(f"langchain_costrouter.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"langchain_costrouter.cli.{name}":
                continue
            raise
        hook = getattr(module, "register_bench", None)
        if hook is not None:
            hook(sub)
