"""The one style of the ``costrouter`` options: the same name for the same thing in every command.

Every subcommand builds its options with these helpers, so that a config file is always
``-c/--config FILE``, a JSON copy of the results always ``--json PATH|-`` (``-`` is stdout), the
file a command produces always ``-o/--out PATH``, its input data always ``--data FILE`` and a slow
command's progress bars always ``--no-progress``. Help texts are lower-case phrases without a
final full stop; defaults are appended by :class:`HelpFormatter` as ``(default: X)``. Old
spellings stay accepted as hidden aliases (:func:`hidden_alias`). ``tests/unit_tests/cli``
walks every command and checks these rules.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "JSON_METAVAR",
    "HelpFormatter",
    "add_command",
    "add_config",
    "add_data",
    "add_json",
    "add_out",
    "add_progress",
    "hidden_alias",
    "input_paths",
    "iter_parsers",
    "plain_text",
    "require",
    "write_json",
]

JSON_METAVAR = "PATH|-"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps descriptions as written and appends ``(default: X)`` to options that have one.

    A default is shown when it says something: not for flags, ``None``, empty lists or options
    whose help already names their default.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default is None
            or default is argparse.SUPPRESS
            or isinstance(default, bool)
            or default in ([], ())
            or not action.option_strings
        ):
            return text
        return text + " (default: %(default)s)"


def add_command(subparsers: Any, name: str, *, help: str, description: str | None = None) -> argparse.ArgumentParser:  # noqa: A002 - argparse's own keyword
    """Adds a subcommand with the shared formatter; ``description`` defaults to ``help``.

    Args:
        subparsers: What ``add_subparsers()`` returned.
        name: The command name.
        help: One line for the list of commands (a lower-case phrase, no full stop).
        description: The text of ``costrouter NAME --help`` (a module docstring is fine: its reST
            literals are made plain); default: ``help`` as a sentence.
    """
    text = _wrap(plain_text(description)) if description else help[:1].upper() + help[1:] + "."
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help, description=text, formatter_class=HelpFormatter
    )
    return parser


def _wrap(text: str, width: int = 92) -> str:
    """Fills each plain paragraph to ``width``; indented blocks (examples) stay as written."""
    import textwrap

    out = []
    for block in text.split("\n\n"):
        lines = block.splitlines()
        if lines and not any(line.startswith((" ", "-")) for line in lines):
            out.append(textwrap.fill(" ".join(line.strip() for line in lines), width, break_on_hyphens=False))
        else:
            out.append(block)
    return "\n\n".join(out)


def plain_text(doc: str) -> str:
    """A module docstring as help text: reST literals and ``::`` markers made plain."""
    text = doc.strip().replace("``", "").replace("::\n", ":\n")
    return re.sub(r":(?:class|func|mod|data|meth):`~?([^`]+)`", r"\1", text)


def add_config(
    p: argparse.ArgumentParser | argparse._MutuallyExclusiveGroup,
    *,
    required: bool = True,
    help: str | None = None,  # noqa: A002 - argparse's own keyword
    **kwargs: Any,
) -> None:
    """``-c/--config FILE``: the costrouter YAML."""
    p.add_argument(
        "-c",
        "--config",
        type=Path,
        required=required,
        metavar="FILE",
        help=help or "costrouter YAML config",
        **kwargs,
    )


def add_json(p: argparse.ArgumentParser, *, help: str = "also write the results as JSON to PATH ('-': stdout)") -> None:  # noqa: A002
    """``--json PATH|-``: a JSON copy of the results (``-`` writes it to stdout, alone)."""
    p.add_argument("--json", dest="json_out", metavar=JSON_METAVAR, help=help)


def add_out(
    p: argparse.ArgumentParser,
    *,
    help: str,  # noqa: A002
    required: bool = False,
    metavar: str = "PATH",
    **kwargs: Any,
) -> None:
    """``-o/--out PATH``: the file (or folder) the command produces."""
    p.add_argument("-o", "--out", type=Path, required=required, metavar=metavar, help=help, **kwargs)


def add_data(p: argparse.ArgumentParser, *, help: str, required: bool = True, **kwargs: Any) -> None:  # noqa: A002
    """``--data FILE``: the input data file of a command."""
    p.add_argument("--data", type=Path, required=required, metavar="FILE", help=help, **kwargs)


def add_progress(p: argparse.ArgumentParser) -> None:
    """``--no-progress``: hide the progress bars (shown on stderr by default)."""
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def hidden_alias(p: argparse.ArgumentParser, *flags: str, dest: str, **kwargs: Any) -> None:
    """An old spelling of an option, still accepted, left out of ``--help``.

    When the option it stands for is required, declare that one with ``required=False`` and
    check it with :func:`require` (argparse would not count the alias).
    """
    p.add_argument(*flags, dest=dest, help=argparse.SUPPRESS, **kwargs)


def require(args: argparse.Namespace, dest: str, option: str) -> None:
    """Fails like argparse when a required option (that has a hidden alias) is missing.

    Raises:
        ConfigError: The option was not given.
    """
    from langchain_costrouter.core.errors import ConfigError

    if getattr(args, dest, None) in (None, []):
        raise ConfigError(option, "this option is required")


def write_json(target: str | Path, data: Any, *, option: str = "--json") -> None:
    """Writes ``data`` as indented JSON to a file, or to stdout when ``target`` is ``-``.

    Raises:
        ConfigError: The file cannot be written (field ``option``).
    """
    from langchain_costrouter.core.errors import ConfigError

    text = json.dumps(data, indent=2, default=str) + "\n"
    if str(target) == "-":
        sys.stdout.write(text)
        return
    path = Path(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(option, f"cannot write {path}: {exc.strerror or exc}") from None


def iter_parsers(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command parser below ``parser``, as (``"bench cascade"``, parser), leaves and groups."""
    for action in parser._actions:  # argparse keeps its subparsers here
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                path = (*prefix, name)
                yield " ".join(path), sub
                yield from iter_parsers(sub, path)


def input_paths(args: argparse.Namespace) -> list[str]:
    """The file paths among the parsed options, to name them in a last-resort error."""
    out: list[str] = []
    for name, value in sorted(vars(args).items()):
        if name in {"out", "plot"} or name.endswith("_out"):  # files the command writes
            continue
        values = value if isinstance(value, list | tuple) else [value]
        out.extend(str(v) for v in values if isinstance(v, Path))
    return out
