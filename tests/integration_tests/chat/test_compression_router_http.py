"""ChatCostRouter with prompt compression, over real HTTP to the local server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from langchain_costrouter import ChatCostRouter, CostRouterConfig
from langchain_costrouter.core.ledger import MemoryLedger
from langchain_costrouter.testing.responders import OptimizeResponder
from langchain_costrouter.testing.server import LocalOpenAIServer

pytestmark = pytest.mark.server

PROSE = (
    "Our customer explained at length that the delivery was late, that the courier left the parcel "
    "at the wrong door, that nobody answered the phone line for several days, and that the refund "
    "form kept failing on the last page. "
)
DOCUMENT = PROSE * 40  # ~1,600 tokens of compressible prose


@pytest.fixture(scope="module")
def server() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(OptimizeResponder()) as srv:
        yield srv


def _router(server: LocalOpenAIServer, ledger: MemoryLedger) -> ChatCostRouter:
    cfg = CostRouterConfig.from_dict(
        {
            "tiers": [{"name": "premium", "model": "openai/gpt-4o", "api_base": server.base_url}],
            "models": [{"name": "squeezer", "model": "openai/gpt-4o-mini", "api_base": server.base_url}],
            "compression": {"enabled": True, "model": "squeezer", "min_tokens": 200, "target_ratio": 0.5},
            "ledger": {"backend": "memory"},
        }
    )
    return ChatCostRouter(config=cfg, ledger=ledger)


def _bodies(server: LocalOpenAIServer, model: str) -> list[dict]:
    return [b for b in server.requests.snapshot() if isinstance(b, dict) and b.get("model") == model]


@pytest.mark.parametrize("mode", ["invoke", "stream"])
def test_long_prompt_is_compressed_for_the_tier_and_costed_in_the_request(server: LocalOpenAIServer, mode: str) -> None:
    ledger = MemoryLedger()
    llm = _router(server, ledger)
    before = len(_bodies(server, "gpt-4o"))
    question = f"Summarise the complaint below in two sentences.\n\n{DOCUMENT}"
    if mode == "invoke":
        msg = llm.invoke([("system", "You are a support lead."), ("user", question)])
        trail = msg.response_metadata["costrouter"]
    else:
        chunks = list(llm.stream([("system", "You are a support lead."), ("user", question)]))
        trail = chunks[-1].response_metadata["costrouter"]
    sent = _bodies(server, "gpt-4o")[before:]
    assert len(sent) == 1
    assert sent[0]["messages"][0]["content"] == "You are a support lead."  # system prompt byte-stable
    assert len(sent[0]["messages"][1]["content"]) < 0.75 * len(question)
    records = ledger.records(request_id=trail["request_id"])
    kinds = sorted((r.kind, r.outcome) for r in records)
    assert ("compression", "overhead") in kinds and ("completion", "accepted") in kinds
    assert trail["total_cost_usd"] == pytest.approx(sum(r.cost_usd for r in records))


def test_short_prompt_is_not_compressed(server: LocalOpenAIServer) -> None:
    ledger = MemoryLedger()
    before = len(_bodies(server, "gpt-4o-mini"))
    _router(server, ledger).invoke("What are your opening hours?")
    assert len(_bodies(server, "gpt-4o-mini")) == before
