"""``costrouter cache status`` and ``costrouter calibrate-cache --leave-one-out`` through the CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from langchain_costrouter.cli import main
from langchain_costrouter.core.cache import CacheScope, ResponseCache

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "costrouter.yaml"


def _config(tmp_path: Path, **cache: object) -> Path:
    cfg = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    cfg["cache"] = {"enabled": True, "dir": str(tmp_path / "cache"), **cache}
    cfg.setdefault("ledger", {})["path"] = str(tmp_path / "ledger.db")
    path = tmp_path / "costrouter.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def test_cache_status_reads_entries_and_the_shadow_bound(
    embedder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(tmp_path, semantic="auto", max_false_hit_rate=0.05)
    with ResponseCache(embedder, directory=tmp_path / "cache", semantic="auto") as cache:
        scope = CacheScope(namespace="n", model="m")
        assert cache.store(scope, "Where is my order?", "On its way.", model="m", gate_passed=True).stored
        for _ in range(60):
            cache.shadow.record(agreed=True)
    assert main(["cache", "status", "--config", str(path), "--json", "-"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["entries"] == 1 and st["mode"] == "auto"
    assert st["shadow"]["observed"] == 60 and st["shadow"]["false_hits"] == 0
    assert st["serving_semantic"] is False  # 60 < min_shadow_observations (100)
    assert main(["cache", "status", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1 entries, semantic mode auto" in out and "semantic hits served now: no" in out


def test_cache_status_of_an_empty_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cache", "status", "-c", str(_config(tmp_path)), "--json", "-"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["entries"] == 0 and st["shadow"]["observed"] == 0 and st["serving_semantic"] is True


def _pairs(path: Path, rows: list[tuple[str, str, bool]]) -> Path:
    path.write_text(
        "\n".join(json.dumps({"a": a, "b": b, "same_answer": s}) for a, b, s in rows) + "\n", encoding="utf-8"
    )
    return path


def test_leave_one_out_reports_each_file_and_the_holdouts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = [json.loads(line) for line in Path("langchain_costrouter/data/support_pairs.jsonl").read_text().splitlines()]
    rows = [(r["a"], r["b"], r["same_answer"]) for r in src]
    one = _pairs(tmp_path / "one.jsonl", rows[::2])
    two = _pairs(tmp_path / "two.jsonl", rows[1::2])
    held = _pairs(tmp_path / "held.jsonl", rows[:40])
    report = tmp_path / "lodo.json"
    args = ["calibrate-cache", "--data", str(one), "--data", str(two), "--holdout", str(held)]
    assert main([*args, "--leave-one-out", "--max-false-hit-rate", "0.05", "--json", str(report)]) == 0
    out = json.loads(report.read_text())
    assert [r["left_out"] for r in out["rows"]] == ["one.jsonl", "two.jsonl", "all"]
    assert set(out["rows"][0]["measured"]) == {"one.jsonl", "held.jsonl"}
    assert set(out["rows"][2]["measured"]) == {"held.jsonl"}
    printed = capsys.readouterr().out
    assert "without one.jsonl" in printed and "all files" in printed


def test_leave_one_out_needs_two_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = _pairs(tmp_path / "one.jsonl", [("a", "b", True), ("c", "d", False)])
    assert main(["calibrate-cache", "--pairs", str(one), "--leave-one-out"]) == 2
    assert "at least two --data files" in capsys.readouterr().err
