"""``costrouter batch`` (live and Batch API file paths) and ``bench savings`` over the local server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from langchain_costrouter.cli import main
from langchain_costrouter.core.batch_api import BatchApiFile, simulate_batch_output
from langchain_costrouter.testing.responders import answer_for
from langchain_costrouter.testing.server import LocalOpenAIServer

from .conftest import TARGET, bodies, client

pytestmark = pytest.mark.server


def _config(tmp_path: Path, server: LocalOpenAIServer) -> Path:
    cfg = tmp_path / "costrouter.yaml"
    cfg.write_text(
        f"""
version: 1
tiers:
  - {{name: cheap, model: openai/gpt-4o-mini, api_base: "{server.base_url}"}}
  - {{name: premium, model: openai/{TARGET}, api_base: "{server.base_url}"}}
ledger: {{backend: sqlite, path: ledger.sqlite}}
batching: {{enabled: true, model: premium, max_batch: 4}}
""",
        encoding="utf-8",
    )
    return cfg


def _questions(tmp_path: Path) -> tuple[Path, list[str]]:
    qs = [f"Which river flows through city {i}?" for i in range(6)]
    path = tmp_path / "questions.jsonl"
    lines = [json.dumps({"id": f"c{i}", "question": q}) for i, q in enumerate(qs[:5])] + [json.dumps(qs[5])]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, qs


def test_batch_command_live(tmp_path: Path, make_server) -> None:  # type: ignore[no-untyped-def]
    qpath, qs = _questions(tmp_path)
    server = make_server(malformed={qs[2]})
    out = tmp_path / "answers.jsonl"
    assert main(["batch", "--input", str(qpath), "--out", str(out), "--config", str(_config(tmp_path, server))]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["answer"] for r in rows] == [answer_for(q) for q in qs]
    assert [r["id"] for r in rows] == ["c0", "c1", "c2", "c3", "c4", "q6"]
    assert next(r for r in rows if r["id"] == "c2")["attempts"] == 2
    assert len(bodies(server, TARGET)) == 3  # 4 + 2 questions, then c2 alone
    assert (tmp_path / "ledger.sqlite").exists()


def test_batch_command_batch_api_file_then_results(tmp_path: Path, server: LocalOpenAIServer) -> None:
    qpath, qs = _questions(tmp_path)
    cfg = _config(tmp_path, server)
    requests = tmp_path / "requests.jsonl"
    assert main(["batch", "--input", str(qpath), "--out", str(requests), "--config", str(cfg), "--batch-api"]) == 0
    assert bodies(server, TARGET) == []  # nothing sent: the file waits for an explicit --submit
    file = BatchApiFile.read(requests)
    assert len(file.lines) == 2
    results = tmp_path / "results.jsonl"
    out_lines = simulate_batch_output(file, client(server, TARGET))
    results.write_text("".join(json.dumps(x) + "\n" for x in out_lines), encoding="utf-8")
    answers = tmp_path / "answers.jsonl"
    argv = ["batch", "--input", str(requests), "--results", str(results), "--out", str(answers)]
    assert main([*argv, "--config", str(cfg), "--batch-api"]) == 0
    rows = [json.loads(x) for x in answers.read_text().splitlines()]
    assert [r["answer"] for r in rows] == [answer_for(q) for q in qs]


def test_bench_savings_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    config = Path(__file__).parents[3] / "examples" / "optimize-openai.yaml"
    argv = ["bench", "savings", "--config", str(config), "--sample", "20", "--json", str(out)]
    assert main(argv) == 0
    result = json.loads(out.read_text())
    premium = result["targets"]["premium (openai/gpt-4o)"]
    names = [s["name"] for s in premium]
    assert names[:4] == ["unoptimised", "compression", "batching", "compression+batching"]
    base, comp, batch = premium[0], premium[1], premium[2]
    assert batch["cost_usd"] < base["cost_usd"]
    assert comp["answer_input_tokens"] < base["answer_input_tokens"]
    assert comp["overhead_usd"] > 0
    assert result["http_requests"] > 0
