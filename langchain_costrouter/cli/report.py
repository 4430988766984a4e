r"""``costrouter report``: spend, savings against the always-premium baseline, and overheads.

Examples::

    costrouter report --ledger costrouter-ledger.sqlite
    costrouter report --config costrouter.yaml --since 2026-11-01 --until 2026-11-30
    costrouter report --ledger ledger.sqlite --json - > report.json
    costrouter report --ledger ledger.sqlite --json report.json --plot spend.png
    costrouter report --ledger "$COSTROUTER_LEDGER_URL" --table cost_records

The database does the aggregation (SQLite or Postgres): a large ledger is never loaded.

Savings are ``baseline - spend``; spend includes every overhead (rejected attempts, judge,
embedding and compression calls), which have no baseline. Dates are UTC; a bare date given to
``--until`` includes that whole day.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["parse_when", "register", "run"]

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
    p = subparsers.add_parser(
        "report",
        help="spend, savings vs always-premium, overheads and cache savings from the cost ledger",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--ledger",
        help=f"SQLite ledger file, or a postgresql:// URL of a Postgres ledger (default: {_DEFAULT_LEDGER})",
    )
    p.add_argument("--table", default="cost_records", help="table of a Postgres ledger (default: cost_records)")
    src.add_argument("--config", type=Path, help="costrouter.yaml: use its ledger path and premium tier")
    p.add_argument("--since", metavar="ISO_DATE", help="keep records at or after this UTC date/time")
    p.add_argument("--until", metavar="ISO_DATE", help="keep records before this UTC date/time (a date: inclusive)")
    p.add_argument("--json", metavar="OUT|-", dest="json_out", help="write the report as JSON to a file, '-' = stdout")
    p.add_argument("--plot", metavar="OUT.png|OUT.html", type=Path, help="draw spend vs baseline, by day/tier/model")
    p.set_defaults(func=run)


def _source(args: argparse.Namespace) -> tuple[Any, str, str | None, str | None]:
    """The ledger to aggregate, its display name, the premium model and the premium tier."""
    from langchain_costrouter.core.config import CostRouterConfig
    from langchain_costrouter.core.errors import ConfigError
    from langchain_costrouter.core.ledger import PostgresLedger, ledger_from_config
    from langchain_costrouter.core.report import open_existing

    if args.config is None:
        where = args.ledger or _DEFAULT_LEDGER
        if where.startswith(("postgresql://", "postgres://")):
            return _postgres(where, args.table), f"postgres table {args.table}", None, None
        return open_existing(where), where, None, None
    cfg = CostRouterConfig.from_yaml(args.config)
    premium = cfg.premium
    if cfg.ledger.backend == "sqlite":
        return open_existing(cfg.ledger.path), cfg.ledger.path, premium.model, premium.name
    if cfg.ledger.backend == "postgres":
        led = ledger_from_config(cfg.ledger)
        assert isinstance(led, PostgresLedger)
        return led, f"postgres table {cfg.ledger.table}", premium.model, premium.name
    raise ConfigError(
        "ledger.backend",
        f"costrouter report reads a sqlite or postgres ledger, {args.config} uses {cfg.ledger.backend!r}",
    )


def _postgres(url: str, table: str) -> Any:
    import tempfile

    from langchain_costrouter.core.ledger import PostgresLedger

    # A reader only: its outbox stays empty and is deleted at close.
    return PostgresLedger(url, table=table, outbox_dir=Path(tempfile.gettempdir()) / "costrouter-report-outbox")


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
    from langchain_costrouter.core.errors import ConfigError
    from langchain_costrouter.core.report_sql import build_report_sql

    since = parse_when(args.since, "--since") if args.since else None
    until = parse_when(args.until, "--until", end=True) if args.until else None
    if since is not None and until is not None and since >= until:
        raise ConfigError("--until", f"must be after --since ({args.since} .. {args.until} is empty)")
    if args.plot is not None:
        from langchain_costrouter.cli._plot import PLOT_SUFFIXES

        if args.plot.suffix.lower() not in PLOT_SUFFIXES:
            raise ConfigError("--plot", f"expected a .png or .html file, got {str(args.plot)!r}")

    ledger, path, premium_model, premium_tier = _source(args)
    try:  # aggregated by the database: no record is loaded into memory
        report = build_report_sql(
            ledger, since=since, until=until, premium_model=premium_model, premium_tier=premium_tier
        )
    finally:
        ledger.close()

    # With --json -, stdout carries only JSON; everything else goes to stderr.
    to_stdout = args.json_out == "-"
    console = Console(stderr=to_stdout)
    if not to_stdout:
        render_report(console, report, source=str(path))
    if args.json_out is not None:
        text = json.dumps({"ledger": str(path), **report.to_dict()}, indent=2)
        if to_stdout:
            sys.stdout.write(text + "\n")
        else:
            _write("--json", Path(args.json_out), lambda p: p.write_text(text + "\n", encoding="utf-8"))
            console.print(f"JSON report written to {args.json_out}")
    if args.plot is not None:
        from langchain_costrouter.cli._plot import write_plot

        _write("--plot", args.plot, lambda p: write_plot(report, p, source=str(path)))
        console.print(f"chart written to {args.plot}")
    return 0
