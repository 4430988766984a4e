"""Every command answers bad input files and bad configs with one line and a non-zero exit.

For each command, each input-file option gets a binary file, a non-UTF-8 file, a truncated copy
of a valid file and an empty file; each ``-c/--config`` option gets those plus invalid YAML
values. The answer must be exactly one line on stderr naming the problem, a non-zero exit code,
and never a traceback or a silent acceptance. A new command with an input file and no row in
:data:`CASES` fails :func:`test_every_input_option_is_covered`.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from langchain_costrouter.cli import build_parser, main
from langchain_costrouter.cli._style import iter_parsers
from langchain_costrouter.core.ledger import SQLiteLedger
from tests.unit_tests._ledger_samples import sample_records

CHEAP, PREMIUM = "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"
BINARY = bytes(range(256)) * 8
MISSING = b"<no such file>"  # the option names a file that does not exist
LOCAL = "http://127.0.0.1:9/v1"  # nothing listens there: no command may get as far as calling it

CONFIG = {
    "tiers": [
        {"name": "cheap", "model": "openai/gpt-4o-mini", "api_base": LOCAL},
        {"name": "premium", "model": "openai/gpt-4o", "api_base": LOCAL},
    ],
    "routing": {"type": "rules", "routes": [{"name": "chat", "tier": "cheap", "keywords": ["hi"]}]},
    "ledger": {"backend": "memory"},
}


def _csv() -> str:
    header = f"prompt,{CHEAP},{PREMIUM},{CHEAP}_response,{PREMIUM}_response\n"
    rows = "".join(f'"What is {i} + {i}?",True,True,"It is {2 * i}.","The answer is {2 * i}."\n' for i in range(40))
    return header + rows


def _gate(path: Path) -> bytes:
    """A real learned-gate file (so that a command gets past it to the option under test)."""
    from langchain_costrouter.core.gates.features import FeatureSpec
    from langchain_costrouter.core.gates.learned import LearnedGate

    prompts = [f"What is {i} + {i}?" for i in range(40)]
    answers = [f"It is {2 * i}." if i % 3 else "I am not sure." for i in range(40)]
    quality = [1.0 if i % 3 else 0.0 for i in range(40)]
    spec = FeatureSpec(embedding_cosine=False, embedding_components=0)
    out = LearnedGate.fit(prompts, answers, quality, spec=spec, threshold=0.5).save(path.with_suffix(".gate.json"))
    data = out.read_bytes()
    out.unlink()
    return data


def _ledger(path: Path) -> bytes:
    led = SQLiteLedger(path)
    led.write_many(sample_records())
    led.close()
    data = path.read_bytes()
    path.unlink()
    return data


VALID: dict[str, Callable[[Path], bytes]] = {
    "config": lambda _p: yaml.safe_dump(CONFIG, default_flow_style=True).encode(),  # truncation breaks its brackets
    "csv": lambda _p: _csv().encode(),
    "pairs": lambda _p: "".join(
        json.dumps(
            {"a": f"How do I reset password {i}?", "b": f"How can I reset password {i}?", "same_answer": i % 2 == 0}
        )
        + "\n"
        for i in range(30)
    ).encode(),
    "questions": lambda _p: "".join(
        json.dumps({"id": f"q{i}", "question": f"Capital of country {i}?"}) + "\n" for i in range(20)
    ).encode(),
    "script": lambda _p: json.dumps(
        {"models": {"m": {"reply": "hello", "rules": [{"contains": "a", "reply": "b"}]}}}
    ).encode(),
    "ledger": _ledger,
    "gate": _gate,
    "policy": lambda _p: json.dumps(
        {"similarity_threshold": 0.9, "vetoes": ["negation"], "source": "x" * 200}
    ).encode(),
    "text": lambda _p: ("You are a helpful assistant. " * 20).encode(),
    "routes": lambda _p: "".join(json.dumps({"prompt": f"hi {i}", "task": "chat"}) + "\n" for i in range(20)).encode(),
    "batch_output": lambda _p: "".join(
        json.dumps({"custom_id": f"b{i}", "response": {"status_code": 200}}) + "\n" for i in range(10)
    ).encode(),
}


# command -> (base argv with {placeholders}, {option: kind of its file}); placeholders name files
# the test writes valid (the option under test replaces its own with a bad file).
CASES: dict[str, tuple[list[str], dict[str, str]]] = {
    "report": (["report", "--ledger", "{ledger}"], {"--ledger": "ledger"}),
    "report -c": (["report", "-c", "{config}"], {"-c": "config"}),
    "dashboard": (["dashboard", "--ledger", "{ledger}", "--port", "0"], {"--ledger": "ledger"}),
    "dashboard -c": (["dashboard", "-c", "{config}", "--port", "0"], {"-c": "config"}),
    "config check": (["config", "check", "{config}"], {"FILE": "config"}),
    "config check -c": (["config", "check", "-c", "{config}"], {"-c": "config"}),
    "calibrate": (
        ["calibrate", "--data", "{csv}", "--cheap", CHEAP, "--premium", PREMIUM, "-o", "{out}", "--folds", "2"],
        {"--data": "csv"},
    ),
    "calibrate-cache": (["calibrate-cache", "--data", "{pairs}", "--folds", "0"], {"--data": "pairs"}),
    "calibrate-cache --holdout": (
        ["calibrate-cache", "--data", "{pairs}", "--data", "{pairs}", "--leave-one-out", "--holdout", "{pairs}"],
        {"--holdout": "pairs"},
    ),
    "cache status": (["cache", "status", "-c", "{config}"], {"-c": "config"}),
    "batch": (
        ["batch", "--data", "{questions}", "-o", "{out}", "-c", "{config}", "--system-prompt", "{text}"],
        {"--data": "questions", "-c": "config", "--system-prompt": "text"},
    ),
    "batch --results": (
        [
            "batch",
            "--data",
            "{questions}",
            "-o",
            "{out}",
            "-c",
            "{config}",
            "--batch-api",
            "--results",
            "{batch_output}",
        ],
        {"--results": "batch_output"},
    ),
    "litellm-config": (["litellm-config", "-c", "{config}"], {"-c": "config"}),
    "serve": (["serve", "-c", "{config}", "--port", "0", "-o", "{out}"], {"-c": "config"}),
    "local-server": (["local-server", "--script", "{script}"], {"--script": "script"}),
    "replay-server": (["replay-server", "--data", "{csv}"], {"--data": "csv"}),
    "bench cascade": (
        ["bench", "cascade", "--data", "{csv}", "--cheap", CHEAP, "--premium", PREMIUM, "--gate-file", "{gate}"],
        {"--data": "csv", "--gate-file": "gate"},
    ),
    "bench drift": (
        ["bench", "drift", "--data", "{csv}", "--cheap", CHEAP, "--premium", PREMIUM, "--runs", "0"],
        {"--data": "csv"},
    ),
    "bench cache": (
        ["bench", "cache", "--data", "{pairs}", "--policy", "{policy}", "--no-latency"],
        {"--data": "pairs", "--policy": "policy"},
    ),
    "bench routing": (
        ["bench", "routing", "-c", "{config}", "--data", "{routes}"],
        {"-c": "config", "--data": "routes"},
    ),
    "bench savings": (["bench", "savings", "-c", "{config}"], {"-c": "config"}),
}

# Options that name files a command writes, or that are not files.
OUTPUTS = {"--out", "--json", "--plot"}


def _bad_variants(kind: str, valid: bytes) -> dict[str, bytes]:
    variants = {"binary": BINARY, "empty": b""}
    if kind != "text":  # plain text cut short is still plain text; every structured format must notice
        variants["truncated"] = valid[: max(1, len(valid) * 2 // 3 + 3)]
    if kind != "ledger":  # a SQLite file is binary anyway
        text = valid.decode("utf-8")
        variants["non-utf8"] = text.replace("a", "\xe9", 3).encode("latin-1", errors="replace")
    variants["missing"] = MISSING
    if kind == "config":

        def priced(value: float) -> bytes:
            tier = {**CONFIG["tiers"][0], "price": {"input": value, "output": 1}}
            return yaml.safe_dump({**CONFIG, "tiers": [tier, CONFIG["tiers"][1]]}).encode()

        variants |= {
            "negative price": priced(-1),
            "infinite price": priced(float("inf")),
            "NaN price": priced(float("nan")),
            "absurd price": priced(1e308),
            "duplicate key": yaml.safe_dump(CONFIG).encode() + b"ledger:\n  backend: sqlite\n",
            "unknown key": yaml.safe_dump({**CONFIG, "tierz": []}).encode(),
            "not a mapping": b"- just\n- a list\n",
            "no tiers": b"version: 1\n",
        }
    return variants


def _params() -> list[tuple[str, str, str]]:
    out = []
    for name, (_argv, options) in CASES.items():
        for option, kind in options.items():
            out.extend(
                (name, option, variant)
                for variant in _bad_variants(kind, b"x" * 10 if kind in {"ledger", "gate"} else VALID[kind](Path("-")))
            )
    return out


def _argv(tmp_path: Path, name: str, option: str, bad: bytes) -> list[str]:
    argv, options = CASES[name]
    files: dict[str, str] = {}
    for kind, make in VALID.items():
        path = tmp_path / f"valid-{kind}"
        path.write_bytes(make(path))
        files[kind] = str(path)
    bad_path = tmp_path / "bad-input"
    if bad is not MISSING:
        bad_path.write_bytes(bad)
    files["out"] = str(tmp_path / "out" / "result.jsonl")
    kind = options[option]
    out = []
    for i, arg in enumerate(argv):
        if arg == "{" + kind + "}" and (argv[i - 1] == option or (option == "FILE" and i == len(argv) - 1)):
            out.append(str(bad_path))
        elif arg.startswith("{") and arg.endswith("}"):
            out.append(files[arg[1:-1]])
        else:
            out.append(arg)
    return out


@pytest.mark.parametrize(("name", "option", "variant"), _params())
def test_bad_input_is_one_line_and_non_zero(
    name: str,
    option: str,
    variant: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LITELLM_MASTER_KEY", "sk-test-master")  # serve must fail on the config, not the key
    monkeypatch.chdir(tmp_path)
    kind = CASES[name][1][option]
    valid = VALID[kind](tmp_path / "v.sqlite")
    bad = _bad_variants(kind, valid)[variant]
    argv = _argv(tmp_path, name, option, bad)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors (usage + one error line)
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0, f"{' '.join(argv)} accepted a {variant} {option}: {out[-500:]}"
    assert "Traceback" not in err + out
    assert len(lines) == 1, err
    assert lines[0].startswith(f"costrouter {name.split(' -', maxsplit=1)[0]}: error: "), lines[0]
    if variant == "missing":  # says so, whatever the command would have done with the file
        assert re.search(r"not found|no such file|does not exist|missing", lines[0], re.IGNORECASE), lines[0]
        assert "bad-input" in lines[0], lines[0]
    if variant == "duplicate key":
        assert "'ledger' is given twice" in lines[0], lines[0]
    if variant.endswith("price"):
        assert "price.input" in lines[0], lines[0]


def test_every_input_option_is_covered() -> None:
    covered = {(name.split(" -")[0], opt) for name, (_a, opts) in CASES.items() for opt in opts}
    missing = []
    for name, parser in iter_parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction) or action.help == argparse.SUPPRESS:
                continue
            if action.type is not Path or action.dest.endswith("_out"):  # not read: written
                continue
            opt = action.option_strings[0] if action.option_strings else action.metavar or action.dest
            long = action.option_strings[-1] if action.option_strings else opt
            if long in OUTPUTS or f"{long}@{name}" in OUTPUTS or long in {"--out"}:
                continue
            if not any((name, o) in covered for o in (opt, long, "FILE" if not action.option_strings else "")):
                missing.append(f"{name} {long}")
    assert missing == []


def test_truncated_ledger_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ledger.sqlite"
    data = _ledger(path)
    path.write_bytes(data[: len(data) // 2])
    assert main(["report", "--ledger", str(path)]) == 2
    assert str(path) in capsys.readouterr().err
    with sqlite3.connect(":memory:"):
        pass


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_cache_db_is_one_line_from_cache_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    from langchain_costrouter.core.cache.status import cache_status
    from langchain_costrouter.core.config import CostRouterConfig

    config = tmp_path / "costrouter.yaml"
    config.write_text(yaml.safe_dump({**CONFIG, "cache": {"enabled": True, "dir": "cache"}}), encoding="utf-8")
    store = Path(cache_status(CostRouterConfig.from_yaml(config).cache)["directory"])
    store.mkdir(parents=True)
    db = store / "sqlite.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE gptcache_question (id INTEGER PRIMARY KEY, question TEXT, deleted INTEGER)")
        con.executemany("INSERT INTO gptcache_question VALUES (?, ?, 0)", [(i, "q" * 500) for i in range(200)])
    con.close()
    assert main(["cache", "status", "-c", str(config)]) == 0  # a readable store is fine
    capsys.readouterr()
    db.write_bytes(BINARY if damage == "garbage" else db.read_bytes()[:3000])
    assert main(["cache", "status", "-c", str(config)]) == 2
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("costrouter cache status: error: "), err
    assert str(db) in lines[0] and "Traceback" not in err + out
