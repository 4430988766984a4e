r"""``costrouter dashboard``: a local web page over the cost ledger.

Examples::

    costrouter dashboard -c costrouter.yaml
    costrouter dashboard --ledger costrouter-ledger.sqlite --port 8765

Serves, on http://127.0.0.1:PORT/ only and read-only, spend and savings over time and by route
(task), tier, model and tenant, the cache hit rate and savings, the escalation rate and the
premium-call share (and realised quality when the report has it). The page's figures are those
of 'costrouter report --json' over the same ledger, recomputed on every refresh (15 s). Stop it
with Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Adds the ``dashboard`` subcommand."""
    from langchain_costrouter.cli._style import add_command
    from langchain_costrouter.cli.report import add_source

    p = add_command(
        subparsers,
        "dashboard",
        help="a local web page over the ledger: spend, savings, cache and escalation (127.0.0.1, read-only)",
        description=__doc__,
    )
    add_source(p)
    p.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: a free one)")
    p.add_argument("--open", action="store_true", help="open the page in the default web browser")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Checks the ledger once, then serves the page until Ctrl-C or SIGTERM."""
    from langchain_costrouter.cli._signals import stop_on_signals
    from langchain_costrouter.cli.report import load_report, report_json
    from langchain_costrouter.core.errors import ConfigError
    from langchain_costrouter.dashboard import DashboardServer

    if not 0 <= args.port <= 65535:
        raise ConfigError("--port", f"must be 0-65535, got {args.port}")
    path, _ = load_report(args)  # a bad config or ledger fails now, in one line, not in the page

    def figures() -> dict[str, Any]:
        return report_json(*load_report(args))

    try:
        server = DashboardServer(figures, port=args.port, title=str(path))
    except OSError as exc:
        raise ConfigError("--port", f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}") from None
    with server:
        print(f"costrouter dashboard: {server.url} (ledger {path}); Ctrl-C to stop", flush=True)
        if args.open:
            import webbrowser

            webbrowser.open(server.url)
        with stop_on_signals() as stop:
            stop.wait()
    print("stopping", file=sys.stderr)
    return 0
