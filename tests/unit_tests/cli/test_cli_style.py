"""One CLI style: the flags of every command listed and checked against the project's conventions."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from langchain_costrouter.cli import COMMANDS, build_parser, main
from langchain_costrouter.cli._style import JSON_METAVAR, iter_parsers
from langchain_costrouter.cli.bench import BENCH_MODULES

CLI_DIR = Path(__file__).resolve().parents[3] / "langchain_costrouter" / "cli"
SLOW = {
    "report",
    "calibrate",
    "calibrate-cache",
    "batch",
    "demo",
    "bench cascade",
    "bench cache",
    "bench savings",
    "bench proxy",
}
OLD_SPELLINGS = {"--input", "--pairs", "--report", "--json-out", "--output", "--ledger-path"}


def _commands() -> dict[str, argparse.ArgumentParser]:
    return dict(iter_parsers(build_parser()))


def _leaves() -> dict[str, argparse.ArgumentParser]:
    return {
        name: p
        for name, p in _commands().items()
        if not any(isinstance(a, argparse._SubParsersAction) for a in p._actions)
    }


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        a
        for a in parser._actions
        if a.option_strings and a.help != argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)
    ]


def test_the_command_table_lists_every_command_module() -> None:
    """No silently skipped command: every module with register()/register_bench() is in a table."""
    registering = {
        p.stem for p in CLI_DIR.glob("*.py") if re.search(r"^def register\(", p.read_text(encoding="utf-8"), re.M)
    }
    benching = {
        p.stem for p in CLI_DIR.glob("*.py") if re.search(r"^def register_bench\(", p.read_text(encoding="utf-8"), re.M)
    }
    assert registering == set(COMMANDS)
    assert benching == set(BENCH_MODULES)


def test_the_flags_of_every_command() -> None:
    """Prints the table the style is checked on (run with -s to read it)."""
    lines = []
    for name, parser in _leaves().items():
        flags = ", ".join("/".join(a.option_strings) for a in _options(parser))
        lines.append(f"{name}: {flags}")
    assert len(lines) >= 18
    print("\n".join(lines))


@pytest.mark.parametrize("name", sorted(_leaves()))
def test_option_style(name: str) -> None:
    parser = _leaves()[name]
    problems = []
    assert parser.description, f"{name} has no description"
    for a in _options(parser):
        longs = [o for o in a.option_strings if o.startswith("--")]
        shorts = [o for o in a.option_strings if not o.startswith("--")]
        label = "/".join(a.option_strings)
        if not longs:
            problems.append(f"{label}: no long name")
        for o in longs:
            if not re.fullmatch(r"--[a-z][a-z0-9]*(-[a-z0-9]+)*", o):
                problems.append(f"{o}: not lower-case kebab-case")
            if o in OLD_SPELLINGS:
                problems.append(f"{o}: an old spelling (keep it as a hidden alias)")
        text = a.help or ""
        if not text:
            problems.append(f"{label}: no help")
        elif text[0].isupper() and not re.match(r"^[A-Z]{2,}|^[A-Z][a-z]+[A-Z]", text):
            problems.append(f"{label}: help starts with a capital: {text!r}")
        if text.rstrip().endswith("."):
            problems.append(f"{label}: help ends with a full stop")
        if re.search(r"\((?:default:? )?[\d.,_]+\)\s*$", text) or text.count("default") > 1:
            problems.append(f"{label}: a hand-written default (the formatter appends '(default: X)')")
        if "--config" in longs and (shorts != ["-c"] or a.metavar != "FILE"):
            problems.append(f"{label}: a config is always -c/--config FILE")
        if "--out" in longs and shorts != ["-o"]:
            problems.append(f"{label}: an output is always -o/--out")
        if "--json" in longs and (a.metavar != JSON_METAVAR or a.dest != "json_out"):
            problems.append(f"{label}: --json takes {JSON_METAVAR} ('-': stdout)")
        if "--data" in longs and a.metavar != "FILE":
            problems.append(f"{label}: --data takes a FILE")
    if name in SLOW and "--no-progress" not in {o for a in _options(parser) for o in a.option_strings}:
        problems.append("a slow command without progress bars (--no-progress)")
    assert problems == []


@pytest.mark.parametrize("name", sorted(_commands()))
def test_help_renders_cleanly(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*name.split(), "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "%%" not in out and "%(" not in out
    assert "``" not in out and ":class:" not in out  # reST made plain
    assert out.count("(default: ") == len(re.findall(r"\(default: ", out))  # no doubled defaults
    assert "(default: None)" not in out and "(default: False)" not in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"costrouter {version('langchain-costrouter')}"


def test_old_spellings_still_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    args = parser.parse_args(["calibrate-cache", "--pairs", "a.jsonl", "--data", "b.jsonl"])
    assert [str(p) for p in args.pairs] == ["a.jsonl", "b.jsonl"]
    args = parser.parse_args(["batch", "--input", "q.jsonl", "-o", "a.jsonl", "-c", "c.yaml"])
    assert str(args.data) == "q.jsonl"
    args = parser.parse_args(
        ["calibrate", "--data", "d.csv", "--cheap", "a", "--premium", "b", "-o", "g", "--report", "r.json"]
    )
    assert args.json_out == "r.json"
    args = parser.parse_args(["bench", "cascade", "--data", "d.csv", "--cheap", "a", "--premium", "b", "--json", "-"])
    assert args.json_out == "-"
