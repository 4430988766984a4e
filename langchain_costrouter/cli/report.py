r"""``costrouter report``: spend, savings against the always-premium baseline, and overheads.

Examples::

    costrouter report --ledger costrouter-ledger.sqlite
    costrouter report -c costrouter.yaml --since 2026-11-01 --until 2026-11-30
    costrouter report --ledger ledger.sqlite --json - > report.json
    costrouter report --ledger ledger.sqlite --json report.json --plot spend.png

Savings are ``baseline - spend``; spend includes every overhead (rejected attempts, judge,
embedding and compression calls), which have no baseline. Dates are UTC; a bare date given to
``--until`` includes that whole day.
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_costrouter.core.report import LedgerReport

__all__ = ["add_source", "load_report", "parse_when", "register", "report_json", "run", "source_of"]

_DEFAULT_LEDGER = "costrouter-ledger.sqlite"


def parse_when(text: str, option: str, *, end: bool = False) -> float:
    """Parses an ISO 8601 date or date-time (UTC unless it has an offset) into epoch seconds.

    Args:
        text: ``2026-11-03``, ``2026-11-03T12:00``, ``2026-11-03T12:00:00+01:00``...
        option: The option name, for the error message.
        end: A bare date means the end of that day (the start of the next one), so that
            ``--until 2026-11-03`` includes November 3rd.

    Raises:
        ConfigError: Not an ISO date (the field is ``option``).
    """
    from langchain_costrouter.core.errors import ConfigError

    s = text.strip()
    try:
        if len(s) == 10:
            d = date.fromisoformat(s)
            dt = datetime(d.year, d.month, d.day, tzinfo=UTC) + (timedelta(days=1) if end else timedelta())
        else:
            dt = datetime.fromisoformat(s)
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
    except ValueError:
        raise ConfigError(option, f"expected an ISO date like 2026-11-03 or 2026-11-03T14:00, got {text!r}") from None
    return dt.timestamp()


def register(subparsers: Any) -> None:
    """Adds the ``report`` subcommand."""
    from langchain_costrouter.cli._style import add_command, add_json, add_progress

    p = add_command(
        subparsers,
        "report",
        help="spend, savings vs always-premium, overheads and cache savings from the cost ledger",
        description=__doc__,
    )
    add_source(p)
    p.add_argument("--since", metavar="ISO_DATE", help="keep records at or after this UTC date/time")
    p.add_argument("--until", metavar="ISO_DATE", help="keep records before this UTC date/time (a date: inclusive)")
    add_json(p, help="also write the report as JSON to PATH ('-': stdout, and the tables are not printed)")
    p.add_argument("--plot", metavar="PATH", type=Path, help="draw spend vs baseline by day/tier/model (.png or .html)")
    add_progress(p)
    p.set_defaults(func=run)


def add_source(p: argparse.ArgumentParser) -> None:
    """``--ledger FILE`` or ``-c/--config FILE`` (its ledger and premium tier): where records come from."""
    from langchain_costrouter.cli._style import add_config

    src = p.add_mutually_exclusive_group()
    add_config(src, required=False, help="costrouter YAML config: read its ledger, with its premium tier")
    src.add_argument("--ledger", type=Path, metavar="FILE", help=f"SQLite ledger file (default: {_DEFAULT_LEDGER})")


def source_of(args: argparse.Namespace) -> tuple[Path, str | None, str | None]:
    """Ledger path, premium model and premium tier from ``--ledger`` / ``-c/--config``.

    Raises:
        ConfigError: The config is invalid or its ledger is not a SQLite file.
    """
    from langchain_costrouter.core.config import CostRouterConfig
    from langchain_costrouter.core.errors import ConfigError

    if args.config is None:
        return (args.ledger or Path(_DEFAULT_LEDGER)), None, None
    cfg = CostRouterConfig.from_yaml(args.config)
    if cfg.ledger.backend != "sqlite":
        raise ConfigError(
            "ledger.backend", f"a report reads a sqlite ledger, {args.config} uses {cfg.ledger.backend!r}"
        )
    premium = cfg.premium
    return Path(cfg.ledger.path), premium.model, premium.name


def load_report(
    args: argparse.Namespace, *, since: float | None = None, until: float | None = None, progress: bool = False
) -> tuple[Path, LedgerReport]:
    """The report over the ledger the options name (what ``report`` prints and the dashboard shows).

    Args:
        args: Parsed options with ``config`` and ``ledger`` (see :func:`add_source`).
        since: Window start (epoch seconds).
        until: Window end (epoch seconds, exclusive).
        progress: Draw a bar while the records stream in.

    Raises:
        ConfigError: A bad config.
        LedgerError: The ledger file is missing or unreadable.
    """
    from langchain_costrouter.core.errors import LedgerError
    from langchain_costrouter.core.report import build_report, iter_ledger
    from langchain_costrouter.offline.progress import Steps

    path, premium_model, premium_tier = source_of(args)
    if path.is_file() and path.stat().st_size == 0:
        msg = f"{path} is empty: not a costrouter ledger (a ledger is written by ChatCostRouter or the LiteLLM hooks)"
        raise LedgerError(msg)
    records = iter_ledger(path, since=since, until=until)  # streamed: a large ledger is never held in memory
    with Steps(enabled=progress) as steps:
        report = build_report(
            steps.track(records, f"reading {path.name}"),
            since=since,
            until=until,
            premium_model=premium_model,
            premium_tier=premium_tier,
        )
    return path, report


def report_json(path: Path, report: LedgerReport) -> dict[str, Any]:
    """What ``costrouter report --json`` writes (and the dashboard serves): the ledger path and the report."""
    return {"ledger": str(path), **report.to_dict()}


def _write(option: str, path: Path, write: Any) -> None:
    from langchain_costrouter.core.errors import ConfigError

    try:
        write(path)
    except OSError as exc:
        raise ConfigError(option, f"cannot write {path}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    """Builds the report and prints it (rich tables, or JSON with ``--json -``)."""
    from rich.console import Console

    from langchain_costrouter.cli._render import render_report
    from langchain_costrouter.cli._style import write_json
    from langchain_costrouter.core.errors import ConfigError
    from langchain_costrouter.offline.progress import progress_enabled

    since = parse_when(args.since, "--since") if args.since else None
    until = parse_when(args.until, "--until", end=True) if args.until else None
    if since is not None and until is not None and since >= until:
        raise ConfigError("--until", f"must be after --since ({args.since} .. {args.until} is empty)")
    if args.plot is not None:
        from langchain_costrouter.cli._plot import PLOT_SUFFIXES

        if args.plot.suffix.lower() not in PLOT_SUFFIXES:
            raise ConfigError("--plot", f"expected a .png or .html file, got {str(args.plot)!r}")

    path, report = load_report(args, since=since, until=until, progress=progress_enabled(args.no_progress))
    # With --json -, stdout carries only JSON; everything else goes to stderr.
    to_stdout = args.json_out == "-"
    console = Console(stderr=to_stdout)
    if not to_stdout:
        render_report(console, report, source=str(path))
    if args.json_out is not None:
        write_json(args.json_out, report_json(path, report))
        if not to_stdout:
            console.print(f"JSON report written to {args.json_out}")
    if args.plot is not None:
        from langchain_costrouter.cli._plot import write_plot

        _write("--plot", args.plot, lambda p: write_plot(report, p, source=str(path)))
        console.print(f"chart written to {args.plot}")
    return 0
