"""``costrouter batch --data``: every line is a question of the documented shape, or the command
stops with one line naming the line number; a truncated line never becomes a question."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from langchain_costrouter.cli import main

CONFIG = {
    "tiers": [
        {"name": "cheap", "model": "openai/m", "api_base": "http://127.0.0.1:9/v1", "price": {"input": 1, "output": 2}}
    ],
    "ledger": {"backend": "memory"},
}
GOOD = [json.dumps({"id": "q1", "question": "What is the capital of Peru?"}), json.dumps("How many legs?")]


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ('{"id": "q3", "question": "What is the capital of Fra', "not a JSON line"),
        ('{"id": "q3", "question": "What is the capital of France?"', "not a JSON line"),
        ('"How many legs does a spi', "not a JSON line"),
        ("[1, 2, 3]", "expected a JSON string or an object"),
        ("42", "expected a JSON string or an object"),
        ("null", "expected a JSON string or an object"),
        ('{"id": "q3"}', "expected a JSON string or an object"),
        ('{"id": "q3", "question": 7}', "expected a JSON string or an object"),
        ('{"id": "q3", "question": "   "}', "expected a JSON string or an object"),
        ('{"id": {"x": 1}, "question": "Why?"}', "'id' must be"),
        ('{"id": true, "question": "Why?"}', "'id' must be"),
        ('{"id": "q1", "question": "Again?"}', "duplicate question ids"),
    ],
)
def test_a_bad_line_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str, why: str
) -> None:
    cfg = tmp_path / "costrouter.yaml"
    cfg.write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    data = tmp_path / "questions.jsonl"
    data.write_text("\n".join([*GOOD, "", bad]), encoding="utf-8")  # no final newline: as a cut file ends
    out = tmp_path / "answers.jsonl"
    assert main(["batch", "--data", str(data), "-o", str(out), "-c", str(cfg)]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("costrouter batch: error: "), err
    assert why in lines[0]
    if why != "duplicate question ids":
        assert f"{data}:4:" in lines[0]
    assert not out.exists()  # nothing was asked
