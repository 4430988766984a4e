"""``costrouter config``: check a config file, write its JSON Schema or its Markdown reference.

Examples::

    costrouter config check costrouter.yaml
    costrouter config check costrouter.yaml --json - --strict
    costrouter config schema -o costrouter.schema.json
    costrouter config reference -o docs/config.md

check validates the file and prints each tier's price and where it comes from (the tier's
price, price_overrides or LiteLLM's bundled price map), the routes with the deployments each
tries, and findings: errors (a model without a price, a missing gate or policy file) and
warnings (an unset key variable, options that have no effect). Exit status: 0 when the file is
usable, 1 when it has errors (or warnings, with --strict), 2 when it is not a valid config.

schema writes the JSON Schema of costrouter.yaml; with '# yaml-language-server:
$schema=costrouter.schema.json' as the YAML's first line, editors complete and validate it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from langchain_costrouter.core.config_check import ConfigCheck

__all__ = ["register", "render_check"]


def register(subparsers: Any) -> None:
    """Adds ``config`` with ``check``, ``schema`` and ``reference``."""
    from langchain_costrouter.cli._style import add_command, add_config, add_json, add_out

    group = add_command(
        subparsers, "config", help="check a config file, write its JSON Schema or reference", description=__doc__
    )
    sub = group.add_subparsers(dest="subcommand", required=True, metavar="ACTION")

    check = add_command(
        sub,
        "check",
        help="validate a config; show prices and their source, routes, and warnings",
        description=__doc__,
    )
    check.add_argument("file", nargs="?", type=Path, metavar="FILE", help="the costrouter YAML to check")
    add_config(check, required=False, help="the costrouter YAML to check (instead of FILE)")
    check.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    add_json(check, help="also write the findings as JSON to PATH ('-': stdout)")
    check.set_defaults(func=run_check)

    schema = add_command(
        sub, "schema", help="write the JSON Schema of costrouter.yaml (for editors)", description=__doc__
    )
    add_out(schema, help="write the schema here (default: stdout)")
    schema.set_defaults(func=run_schema)

    ref = add_command(sub, "reference", help="write the Markdown reference of every config key (docs/config.md)")
    add_out(ref, help="write the reference here (default: stdout)")
    ref.set_defaults(func=run_reference)


def _write_text(out: Path | None, text: str) -> None:
    from langchain_costrouter.core.errors import ConfigError

    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError("--out", f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"wrote {out}", file=sys.stderr)


def run_schema(args: argparse.Namespace) -> int:
    """``costrouter config schema``."""
    import json

    from langchain_costrouter.core.config_reference import config_schema

    _write_text(args.out, json.dumps(config_schema(), indent=2) + "\n")
    return 0


def run_reference(args: argparse.Namespace) -> int:
    """``costrouter config reference``."""
    from langchain_costrouter.core.config_reference import config_reference

    _write_text(args.out, config_reference())
    return 0


def _money(x: float | None) -> str:
    return "?" if x is None else f"{x:g}"


def render_check(console: Console, path: Path, check: ConfigCheck, *, routing: str) -> None:
    """Prints a check: prices, routes, findings and a summary line."""
    from rich import box
    from rich.table import Table

    prices = Table(title="Prices (dollars per million tokens)", title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("deployment", "model", "input", "output", "cached input", "source"):
        prices.add_column(col, justify="right" if col in {"input", "output", "cached input"} else "left")
    for p in check.prices:
        name = f"{p.name} [dim](baseline)[/]" if p.name == check.premium else p.name
        cached = "as input" if p.cache_read_per_million is None and p.input_per_million is not None else None
        prices.add_row(
            name,
            p.model,
            _money(p.input_per_million),
            _money(p.output_per_million),
            cached or _money(p.cache_read_per_million),
            p.source if p.source != "unknown" else "[bold red]unknown[/]",
        )
    console.print(prices)
    routes = Table(title=f"Routes (routing: {routing})", title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("route", "tries, in order", "picked by"):
        routes.add_column(col)
    for r in check.routes:
        routes.add_row(r.name + (" [dim](default)[/]" if r.default else ""), " -> ".join(r.ladder), r.matches)
    console.print(routes)
    for f in check.findings:
        style = "bold red" if f.level == "error" else "yellow"
        console.print(f"[{style}]{f.level}:[/] {f.field}: {f.message}", highlight=False)
    n_err, n_warn = len(check.errors), len(check.warnings)
    verdict = "[bold red]has errors[/]" if n_err else "[green]valid[/]"
    console.print(f"{path}: {verdict} ({n_err} error(s), {n_warn} warning(s))", highlight=False)


def run_check(args: argparse.Namespace) -> int:
    """``costrouter config check``."""
    from rich.console import Console

    from langchain_costrouter.cli._style import write_json
    from langchain_costrouter.core.config import CostRouterConfig
    from langchain_costrouter.core.config_check import check_config
    from langchain_costrouter.core.errors import ConfigError

    if (args.file is None) == (args.config is None):
        raise ConfigError("FILE", "give the config file to check, as FILE or -c/--config FILE (one of them)")
    path: Path = args.file or args.config
    cfg = CostRouterConfig.from_yaml(path)
    check = check_config(cfg)
    console = Console(stderr=args.json_out == "-", width=None if sys.stdout.isatty() else 120)
    render_check(console, path, check, routing=cfg.routing.type)
    if args.json_out is not None:
        write_json(args.json_out, {"config": str(path), "valid": not check.errors, **check.to_dict()})
    if check.errors or (args.strict and check.warnings):
        return 1
    return 0
