"""ChatCostRouter with its response cache, over real HTTP to the local server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from langchain_costrouter import ChatCostRouter, CostRouterConfig
from langchain_costrouter.core.cache import ResponseCache
from langchain_costrouter.core.ledger import MemoryLedger
from langchain_costrouter.testing.server import LocalOpenAIServer, ModelScript, ReplyRule, Script

pytestmark = pytest.mark.server

SCRIPT = Script(
    models={
        "cheap": ModelScript(
            reply="Your order ships within two business days of payment.",
            rules=(ReplyRule(contains="refund", reply="Eh."),),
        ),
        "premium": ModelScript(reply="Refunds are issued to the original card within five days."),
    },
    strict=True,
)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(SCRIPT, port=0) as srv:
        yield srv


def router(server: LocalOpenAIServer, tmp_path: Path, ledger: MemoryLedger, **cache: Any) -> ChatCostRouter:
    cfg = CostRouterConfig.from_dict(
        {
            "tiers": [
                {
                    "name": "cheap",
                    "model": "openai/cheap",
                    "api_base": server.base_url,
                    "price": {"input": 0.1, "output": 0.4},
                    "gate": {"type": "heuristic", "min_chars": 20},
                },
                {
                    "name": "premium",
                    "model": "openai/premium",
                    "api_base": server.base_url,
                    "price": {"input": 10, "output": 40},
                },
            ],
            "ledger": {"backend": "memory"},
            "cache": {"enabled": True, "dir": str(tmp_path / "cache"), **cache},
        }
    )
    return ChatCostRouter(config=cfg, ledger=ledger)


def test_repeat_question_is_served_from_cache_and_recorded(server: LocalOpenAIServer, tmp_path: Path) -> None:
    ledger = MemoryLedger()
    llm = router(server, tmp_path, ledger)
    first = llm.invoke("When will my order ship?")
    calls = len(server.requests)
    second = llm.invoke("When will my order ship?")
    assert len(server.requests) == calls  # no model call
    assert second.content == first.content
    trail = second.response_metadata["costrouter"]
    assert trail["cache"]["kind"] == "exact" and trail["tier"] == "cheap"
    hit = [r for r in ledger.records() if r.kind == "cache_hit"]
    assert len(hit) == 1 and hit[0].cost_usd == 0 and hit[0].cache_hit == "exact"
    answered = next(r for r in ledger.records() if r.kind == "completion")
    assert hit[0].baseline_cost_usd == pytest.approx(answered.baseline_cost_usd)


def test_stream_hits_the_cache_too(server: LocalOpenAIServer, tmp_path: Path) -> None:
    llm = router(server, tmp_path, MemoryLedger())
    llm.invoke("When will my order ship?")
    calls = len(server.requests)
    chunks = list(llm.stream("When will my order ship?"))
    assert len(server.requests) == calls
    assert "".join(str(c.content) for c in chunks) == "Your order ships within two business days of payment."


def test_only_gated_answers_are_stored_and_tenants_do_not_share(server: LocalOpenAIServer, tmp_path: Path) -> None:
    ledger = MemoryLedger()
    llm = router(server, tmp_path, ledger)
    llm.invoke("How do I get a refund?", config={"metadata": {"tenant": "acme"}})
    # the cheap answer failed its gate: premium answered, and premium's answer is what is cached
    again = llm.invoke("How do I get a refund?", config={"metadata": {"tenant": "acme"}})
    assert again.response_metadata["costrouter"]["cache"]["kind"] == "exact"
    assert again.content.startswith("Refunds are issued")
    calls = len(server.requests)
    other = llm.invoke("How do I get a refund?", config={"metadata": {"tenant": "globex"}})
    assert other.response_metadata["costrouter"]["cache"] is None  # no cross-tenant hit
    assert len(server.requests) > calls


def test_a_system_prompt_change_is_a_different_question(server: LocalOpenAIServer, tmp_path: Path) -> None:
    llm = router(server, tmp_path, MemoryLedger())
    llm.invoke([("system", "You are a shipping bot."), ("user", "When will my order ship?")])
    calls = len(server.requests)
    llm.invoke([("system", "You are a pirate."), ("user", "When will my order ship?")])
    assert len(server.requests) > calls


def test_shared_cache_object_can_be_passed_in(server: LocalOpenAIServer, tmp_path: Path) -> None:
    cache = ResponseCache(directory=tmp_path / "shared")
    cfg = router(server, tmp_path, MemoryLedger()).config
    a = ChatCostRouter(config=cfg, ledger=MemoryLedger(), response_cache=cache)
    b = ChatCostRouter(config=cfg, ledger=MemoryLedger(), response_cache=cache)
    a.invoke("When will my order ship?")
    calls = len(server.requests)
    assert b.invoke("When will my order ship?").response_metadata["costrouter"]["cache"]["kind"] == "exact"
    assert len(server.requests) == calls


async def test_async_lookup_and_store(server: LocalOpenAIServer, tmp_path: Path) -> None:
    llm = router(server, tmp_path, MemoryLedger())
    await llm.ainvoke("When will my order ship?")
    calls = len(server.requests)
    msg = await llm.ainvoke("When will my order ship?")
    assert msg.response_metadata["costrouter"]["cache"]["kind"] == "exact"
    assert len(server.requests) == calls
