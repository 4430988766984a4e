"""The ``costrouter`` command line.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds a parser
whose ``func`` default takes the parsed ``argparse.Namespace`` and returns an exit code. The
modules are listed in :data:`COMMANDS` (``bench`` targets in :mod:`.bench`); a module that
fails to import fails the command line loudly, never silently drops a command.

Errors end a command with one line on stderr and exit code 2, never a traceback: typed errors of
the package (:class:`CostRouterError`), and, as a last resort, an unreadable or malformed input
file (``OSError``, ``UnicodeDecodeError``, ``ValueError``, SQLite and CSV errors), named with the
command's input files. ``--verbose`` shows the traceback as well.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence

__all__ = ["COMMANDS", "build_parser", "main"]

# Modules providing top-level commands, in help order; each exposes ``register(subparsers)``.
# Adding a command is one line here (and its module).
COMMANDS: tuple[str, ...] = (
    "report",
    "dashboard",
    "config_cmds",
    "demo",
    "calibrate",
    "cache_cmds",
    "batch",
    "litellm_cmds",
    "serve_local",
    "bench",
)

# Input-file faults that escape a reader: named with the command's files instead of a traceback.
_INPUT_ERRORS = (OSError, UnicodeError, ValueError, sqlite3.DatabaseError, csv.Error, EOFError)


def _prepare_env() -> None:
    # Offline and reproducible: never fetch LiteLLM's remote price map from the CLI.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def _version() -> str:
    from langchain_costrouter._version import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand of :data:`COMMANDS`."""
    from langchain_costrouter.cli._style import HelpFormatter

    parser = argparse.ArgumentParser(
        prog="costrouter",
        description="Cut LLM API bills: routing, quality-gated escalation, a safe cache and cost accounting.",
        epilog="Run 'costrouter COMMAND --help' for the options of a command.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("-V", "--version", action="version", version=f"costrouter {_version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level, show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"langchain_costrouter.cli.{name}").register(sub)
    return parser


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _input_error(args: argparse.Namespace, exc: BaseException) -> str:
    from langchain_costrouter.cli._style import input_paths

    named = getattr(exc, "filename", None)
    if isinstance(exc, OSError) and named:
        return f"cannot use {named}: {exc.strerror or exc}"
    what = {
        UnicodeDecodeError: "is not UTF-8 text",
        sqlite3.DatabaseError: "is not a readable SQLite database",
        csv.Error: "is not valid CSV",
        EOFError: "ends too early",
    }
    reason = next((v for k, v in what.items() if isinstance(exc, k)), "is malformed")
    files = input_paths(args)
    where = ", ".join(files) if files else "an input"
    return f"{where} {reason} ({type(exc).__name__}: {_one_line(str(exc))[:200]})"


def _check_inputs(args: argparse.Namespace) -> None:
    """Input files must exist and not be empty (every command reads something from them).

    Checked before the command runs, so that a missing file is named as missing, whatever the
    command would have stumbled on first (another file, a price, a server).

    Raises:
        DataError: An input file is missing or empty.
    """
    from pathlib import Path

    from langchain_costrouter.cli._style import input_paths
    from langchain_costrouter.core.errors import DataError

    for name in input_paths(args):
        path = Path(name)
        if not path.exists():
            msg = f"{path}: no such file"
            raise DataError(msg)
        if path.is_file() and path.stat().st_size == 0:
            msg = f"{path} is empty"
            raise DataError(msg)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``costrouter`` console script."""
    _prepare_env()
    from langchain_costrouter.core.errors import CostRouterError

    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    command = " ".join(filter(None, (args.command, getattr(args, "subcommand", None))))
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        _check_inputs(args)
        return int(func(args) or 0)
    except CostRouterError as exc:
        if args.verbose:
            logging.getLogger(__name__).exception("costrouter %s failed", command)
        print(f"costrouter {command}: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except _INPUT_ERRORS as exc:
        if args.verbose:
            logging.getLogger(__name__).exception("costrouter %s failed", command)
        print(f"costrouter {command}: error: {_input_error(args, exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
