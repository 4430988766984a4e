r"""``costrouter report``: spend, savings against the always-premium baseline, and overheads.

Examples::

    costrouter report --ledger costrouter-ledger.sqlite
    costrouter report -c costrouter.yaml --since 2026-11-01 --until 2026-11-30
    costrouter report --ledger ledger.sqlite --json - > report.json
    costrouter report --ledger ledger.sqlite --json report.json --plot spend.png
    costrouter report --ledger "$COSTROUTER_LEDGER_URL" --table cost_records

The database does the aggregation (SQLite or Postgres): a large ledger is never loaded.

Savings are ``baseline - spend``; spend includes every overhead (rejected attempts, judge,
embedding, compression and quality-monitor shadow calls), which have no baseline. When the
ledger holds quality-monitor grades, the report adds the realised quality relative to premium
and the acceptance error rate, with confidence intervals, per route, tier, tenant and day, and
its alarms (also logged as warnings). Dates are UTC; a bare date given to
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
    """``--ledger FILE|URL`` or ``-c/--config FILE`` (its ledger and premium tier): where records come from."""
    from langchain_costrouter.cli._style import add_config

    src = p.add_mutually_exclusive_group()
    add_config(src, required=False, help="costrouter YAML config: read its ledger, with its premium tier")
    src.add_argument(
        "--ledger",
        metavar="FILE|URL",
        help=f"SQLite ledger file, or a postgresql:// URL of a Postgres ledger (default: {_DEFAULT_LEDGER})",
    )
    p.add_argument("--table", default="cost_records", help="table of a Postgres ledger given by --ledger URL")


def source_of(args: argparse.Namespace) -> tuple[Any, str, str | None, str | None]:
    """The ledger to aggregate, its display name, the premium model and the premium tier.

    Raises:
        ConfigError: The config is invalid or its ledger is neither SQLite nor Postgres.
        LedgerError: The ledger file is missing, empty or unreadable.
    """
    from langchain_costrouter.core.config import CostRouterConfig
    from langchain_costrouter.core.errors import ConfigError
    from langchain_costrouter.core.ledger import PostgresLedger, ledger_from_config

    if args.config is None:
        where = str(args.ledger or _DEFAULT_LEDGER)
        if where.startswith(("postgresql://", "postgres://")):
            return _postgres(where, args.table), f"postgres table {args.table}", None, None
        return _sqlite(where), where, None, None
    cfg = CostRouterConfig.from_yaml(args.config)
    premium = cfg.premium
    if cfg.ledger.backend == "sqlite":
        return _sqlite(cfg.ledger.path), cfg.ledger.path, premium.model, premium.name
    if cfg.ledger.backend == "postgres":
        led = ledger_from_config(cfg.ledger)
        assert isinstance(led, PostgresLedger)
        return led, f"postgres table {cfg.ledger.table}", premium.model, premium.name
    raise ConfigError(
        "ledger.backend",
        f"costrouter report reads a sqlite or postgres ledger, {args.config} uses {cfg.ledger.backend!r}",
    )


def _sqlite(where: str) -> Any:
    from langchain_costrouter.core.errors import LedgerError
    from langchain_costrouter.core.report import open_existing

    path = Path(where)
    if path.is_file() and path.stat().st_size == 0:
        msg = f"{path} is empty: not a costrouter ledger (a ledger is written by ChatCostRouter or the LiteLLM hooks)"
        raise LedgerError(msg)
    return open_existing(path)


def _postgres(url: str, table: str) -> Any:
    import tempfile

    from langchain_costrouter.core.ledger import PostgresLedger

    # A reader only: its outbox stays empty and is deleted at close.
    return PostgresLedger(url, table=table, outbox_dir=Path(tempfile.gettempdir()) / "costrouter-report-outbox")


def load_report(
    args: argparse.Namespace, *, since: float | None = None, until: float | None = None, progress: bool = False
) -> tuple[str, LedgerReport]:
    """The report over the ledger the options name (what ``report`` prints and the dashboard shows).

    The database aggregates (SQLite or Postgres): no record is loaded into memory.

    Args:
        args: Parsed options with ``config``, ``ledger`` and ``table`` (see :func:`add_source`).
        since: Window start (epoch seconds).
        until: Window end (epoch seconds, exclusive).
        progress: Show a spinner while the database aggregates.

    Raises:
        ConfigError: A bad config.
        LedgerError: The ledger is missing or unreadable.
    """
    from langchain_costrouter.core.report_sql import build_report_sql
    from langchain_costrouter.offline.progress import Steps

    ledger, name, premium_model, premium_tier = source_of(args)
    try:
        with Steps(enabled=progress) as steps:
            report = steps.run(
                f"aggregating {name}",
                lambda: build_report_sql(
                    ledger, since=since, until=until, premium_model=premium_model, premium_tier=premium_tier
                ),
            )
    finally:
        ledger.close()
    return name, report


def report_json(name: str, report: LedgerReport) -> dict[str, Any]:
    """What ``costrouter report --json`` writes (and the dashboard serves): the ledger and the report."""
    return {"ledger": name, **report.to_dict()}


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
    if report.quality is not None:
        from langchain_costrouter.cli._quality import log_alarms, render_quality

        log_alarms(report.quality)
        if not to_stdout:
            render_quality(console, report.quality)
    if args.json_out is not None:
        write_json(args.json_out, report_json(path, report))
        if not to_stdout:
            console.print(f"JSON report written to {args.json_out}")
    if args.plot is not None:
        from langchain_costrouter.cli._plot import write_plot

        _write("--plot", args.plot, lambda p: write_plot(report, p, source=str(path)))
        console.print(f"chart written to {args.plot}")
    return 0
