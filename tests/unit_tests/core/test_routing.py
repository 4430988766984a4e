from __future__ import annotations

import json
from pathlib import Path

import pytest

from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.routing import EmbeddingRouter, RulesRouter, ladder_for
from langchain_costrouter.core.types import ChatRequest

ROOT = Path(__file__).parents[3]
CFG = CostRouterConfig.from_yaml(ROOT / "examples" / "costrouter.yaml")
LABELLED = [
    json.loads(line)
    for line in (ROOT / "langchain_costrouter" / "data" / "task_prompts.jsonl").read_text("utf-8").splitlines()
]


def req(text: str) -> ChatRequest:
    return ChatRequest(messages=({"role": "system", "content": "be brief"}, {"role": "user", "content": text}))


@pytest.mark.parametrize(
    ("prompt", "route", "ladder"),
    [
        ("Translate 'good night' into French", "translation", ("qwen-mt", "premium")),
        ("Write a python function that sorts a list", "code", ("coder", "mid", "premium")),
        (
            "Classify this review as positive or negative: great!",
            "classification",
            ("qwen3-8b", "cheap", "mid", "premium"),
        ),
        ("Summarize this: " + "lorem ipsum dolor sit amet " * 200, "long_document", ("mid", "premium")),
        ("Prove that there are infinitely many primes", "complex_reasoning", ("premium",)),
        ("Hi! what's the capital of Peru?", "chat", ("cheap", "mid", "premium")),
    ],
)
def test_seed_table_routes_example_prompts(prompt: str, route: str, ladder: tuple[str, ...]) -> None:
    d = RulesRouter(CFG).route(req(prompt))
    assert (d.route, d.ladder) == (route, ladder)
    assert d.method in {"rules", "default"}


def test_model_route_escalates_only_to_pricier_tiers() -> None:
    coder = next(r for r in CFG.routing.routes if r.name == "code")
    # coder's output price (0.25) equals cheap's: cheap is skipped, mid (0.28) and premium kept
    assert ladder_for(CFG, coder) == ("coder", "mid", "premium")


def test_short_summary_request_is_not_a_long_document() -> None:
    assert RulesRouter(CFG).route(req("summarize: the cat sat")).route != "long_document"


def _accuracy(router: RulesRouter | EmbeddingRouter) -> float:
    hits = sum(router.route(req(row["prompt"])).route == row["task"] for row in LABELLED)
    return hits / len(LABELLED)


def test_embedding_router_beats_keyword_rules_on_labelled_prompts() -> None:
    rules, emb = _accuracy(RulesRouter(CFG)), _accuracy(EmbeddingRouter(CFG))
    assert len(LABELLED) == 90 and {r["task"] for r in LABELLED} == {r.name for r in CFG.routing.routes}
    assert emb > rules
    assert emb >= 0.8


def test_embedding_router_threshold_falls_back_to_default() -> None:
    strict = EmbeddingRouter(CFG, threshold=0.999)
    d = strict.route(req("Tell me about the weather on Mars"))
    assert d.route == "chat" and d.method == "default"


def test_bench_routing_cli_reports_both_routers(tmp_path: Path) -> None:
    from langchain_costrouter.cli import main

    out = tmp_path / "routing.json"
    assert main(["bench", "routing", "--json", str(out)]) == 0
    result = json.loads(out.read_text("utf-8"))
    assert result["items"] == 90
    assert result["embedding"]["accuracy"] == pytest.approx(_accuracy(EmbeddingRouter(CFG)))
    assert result["rules"]["accuracy"] == pytest.approx(_accuracy(RulesRouter(CFG)))


def test_bench_routing_rejects_unknown_task(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from langchain_costrouter.cli import main

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "hi", "task": "poetry"}\n', encoding="utf-8")
    assert main(["bench", "routing", "--data", str(bad)]) == 2
    assert "task 'poetry' is not a route" in capsys.readouterr().err
