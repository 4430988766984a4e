"""Compression and batching through LiteLLM over real HTTP (LiteLLM SDK -> local server).

``compression.enabled: true`` works through ``build_router`` exactly as through
``ChatCostRouter`` (it did nothing through LiteLLM before the request pipeline moved into the
core): the cascade compresses a long prompt for the tier where it pays and charges the
compression call to the request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.ledger import MemoryLedger
from langchain_costrouter.core.runtime import CostRouterRuntime
from langchain_costrouter.testing.responders import answer_for
from langchain_costrouter.testing.server import LocalOpenAIServer

from .conftest import COMPRESSOR, TARGET, bodies
from .test_compression_http import CODE, JSON, KEEP, QUOTE, SYSTEM, TICKET

pytestmark = pytest.mark.server


def _config(server: LocalOpenAIServer) -> CostRouterConfig:
    return CostRouterConfig.from_dict(
        {
            "tiers": [
                {"name": "cheap", "model": f"openai/{COMPRESSOR}", "api_base": server.base_url},
                {"name": "premium", "model": f"openai/{TARGET}", "api_base": server.base_url},
            ],
            "compression": {"enabled": True, "model": "cheap", "min_tokens": 500, "target_ratio": 0.5},
            "batching": {"enabled": True, "model": "premium", "max_batch": 10},
            "ledger": {"backend": "memory"},
        }
    )


@pytest.fixture
def router(server: LocalOpenAIServer) -> Iterator[tuple[Any, Any]]:
    from litellm_hooks import CostRouterHooks, build_router

    hooks = CostRouterHooks(_config(server), ledger=MemoryLedger())
    yield build_router(hooks.config, hooks=hooks), hooks
    hooks.close()


@pytest.mark.parametrize("stream", [False, True])
async def test_the_cascade_compresses_for_the_tier_where_it_pays(
    server: LocalOpenAIServer, router: tuple[Any, Any], stream: bool
) -> None:
    rtr, hooks = router
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": TICKET}]
    resp = await rtr.acompletion(model="premium", messages=messages, stream=stream)
    if stream:
        _ = [c async for c in resp]
    [compress_call] = [b for b in server.requests.snapshot() if "TEXT:\n" in str(b["messages"][-1]["content"])]
    assert compress_call["model"] == COMPRESSOR
    [sent] = bodies(server, TARGET)
    assert sent["messages"][0]["content"] == SYSTEM  # the system prompt is byte-stable
    body = sent["messages"][1]["content"]
    assert len(body) < 0.7 * len(TICKET)
    for span in (CODE, JSON, QUOTE, KEEP):
        assert span in body
    recs = hooks.ledger.records()
    assert len({r.request_id for r in recs}) == 1  # the compression call belongs to the request
    kinds = sorted((r.kind, r.outcome) for r in recs)
    assert kinds == [("completion", "accepted"), ("compression", "overhead")]
    if not stream:
        trail = resp._hidden_params["costrouter"]
        assert trail["total_cost_usd"] == pytest.approx(sum(r.cost_usd for r in recs))


async def test_a_prompt_is_not_compressed_where_it_does_not_pay(
    server: LocalOpenAIServer, router: tuple[Any, Any]
) -> None:
    rtr, hooks = router
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": TICKET.replace("parcel", "box")}]
    await rtr.acompletion(model="cheap", messages=messages)
    assert not [b for b in server.requests.snapshot() if "TEXT:\n" in str(b["messages"][-1]["content"])]
    [decision] = [r for r in hooks.ledger.records() if r.kind == "compression"]
    assert decision.extra["compress"] is False and decision.cost_usd == 0


def test_batch_runner_through_litellm(make_server: Any) -> None:
    from litellm_hooks import batch_runner

    questions = [f"Name a river in region {i}." for i in range(10)]
    server = make_server(malformed={questions[2]})
    rt = CostRouterRuntime(_config(server), ledger=MemoryLedger())
    report = batch_runner(rt.config, accountant=rt.accountant, system_prompt=SYSTEM).run(questions)
    assert report.answers == [answer_for(q) for q in questions]
    assert [len(c.item_ids) for c in report.calls] == [10, 1]
    recs = rt.ledger.records()
    assert abs(sum(r.cost_usd for r in recs) - report.total_cost_usd) < 1e-12
