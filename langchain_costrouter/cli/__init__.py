"""The ``costrouter`` command line.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds a parser
whose ``func`` default takes the parsed ``argparse.Namespace`` and returns an exit code.
Typed errors of the package (:class:`CostRouterError`) end the command with a one-line message
and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence

__all__ = ["main"]

# Modules providing subcommands, in help order. Each exposes ``register(subparsers)``.
_COMMANDS: tuple[str, ...] = (
    "report",
    "serve_local",
    "demo",
    "calibrate",
    "litellm_cmds",
    "cache_cmds",
    "bench",
    "optimize_cmds",
)


def _prepare_env() -> None:
    # Offline and reproducible: never fetch LiteLLM's remote price map from the CLI.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(prog="costrouter", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMANDS:
        try:
            module = importlib.import_module(f"langchain_costrouter.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"langchain_costrouter.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``costrouter`` console script."""
    _prepare_env()
    from langchain_costrouter.core.errors import CostRouterError

    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return int(func(args) or 0)
    except CostRouterError as exc:
        print(f"costrouter {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
