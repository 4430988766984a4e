"""``build_router`` + hooks over real HTTP: sync and async, escalation, retries, routing, streams."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.ledger import MemoryLedger
from langchain_costrouter.testing.server import LocalOpenAIServer
from litellm_hooks import CostRouterHooks, build_router
from tests.integration_tests.litellm.conftest import GOOD, await_for, config_data, expected_cost, wait_for

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def sdk(local_server: LocalOpenAIServer) -> Iterator[tuple[Any, CostRouterHooks]]:
    cfg = CostRouterConfig.from_dict(config_data(local_server.base_url))
    hooks = CostRouterHooks(cfg, ledger=MemoryLedger())
    router = build_router(cfg, hooks=hooks)
    yield router, hooks
    hooks.close()


def _served(server: LocalOpenAIServer, model: str) -> int:
    return sum(1 for body in server.requests if body.get("model") == model)


def _check_costs(records: list[Any]) -> None:
    for rec in records:
        assert rec.input_tokens > 0
        assert rec.cost_usd == pytest.approx(expected_cost(rec), rel=1e-12)


async def test_async_cheap_answer_accepted(sdk: tuple[Any, CostRouterHooks]) -> None:
    router, hooks = sdk
    resp = await router.acompletion(model="costrouter", messages=[{"role": "user", "content": "Capital of France?"}])
    trail = resp._hidden_params["costrouter"]
    assert resp.choices[0].message.content == GOOD
    assert (trail["tier"], trail["escalations"]) == ("cheap", 0)
    (rec,) = hooks.ledger.records(request_id=trail["request_id"])
    assert (rec.tier, rec.outcome, rec.source) == ("cheap", "accepted", "litellm")
    assert (rec.input_tokens, rec.output_tokens) == (resp.usage.prompt_tokens, resp.usage.completion_tokens)
    _check_costs([rec])


async def test_async_rejected_answer_escalates_with_its_cost(
    sdk: tuple[Any, CostRouterHooks], local_server: LocalOpenAIServer
) -> None:
    router, hooks = sdk
    before = _served(local_server, "cheap-m")
    resp = await router.acompletion(model="costrouter", messages=[{"role": "user", "content": "Tell me a fact."}])
    trail = resp._hidden_params["costrouter"]
    assert (trail["tier"], trail["escalations"]) == ("mid", 1)
    assert _served(local_server, "cheap-m") == before + 1  # tried once: quality rejections are not retried
    recs = hooks.ledger.records(request_id=trail["request_id"])
    assert [(r.tier, r.outcome, r.escalation_step) for r in recs] == [("cheap", "rejected", 0), ("mid", "accepted", 1)]
    assert recs[0].cost_usd > 0  # LiteLLM itself logs a rejected attempt as $0
    _check_costs(recs)
    assert trail["total_cost_usd"] == pytest.approx(sum(r.cost_usd for r in recs))


def test_sync_rejected_answer_escalates(sdk: tuple[Any, CostRouterHooks]) -> None:
    router, hooks = sdk
    resp = router.completion(model="cheap", messages=[{"role": "user", "content": "Tell me another fact."}])
    assert resp.choices[0].message.content == GOOD
    assert resp._hidden_params["additional_headers"]["x-litellm-model-group"] == "mid"
    recs = wait_for(hooks.ledger, lambda rs: any(r.tier == "mid" and r.outcome == "accepted" for r in rs[-2:]))
    last = [r for r in recs if r.request_id == recs[-1].request_id]
    assert [(r.tier, r.outcome) for r in last] == [("cheap", "rejected"), ("mid", "accepted")]
    _check_costs(last)


def test_sync_cheap_answer_accepted(sdk: tuple[Any, CostRouterHooks]) -> None:
    router, hooks = sdk
    n = hooks.ledger.count()
    resp = router.completion(model="costrouter", messages=[{"role": "user", "content": "Is Paris in France?"}])
    assert resp._hidden_params["additional_headers"]["x-litellm-model-group"] == "costrouter"
    recs = wait_for(hooks.ledger, lambda rs: len(rs) > n)
    assert [(r.tier, r.outcome) for r in recs[n:]] == [("cheap", "accepted")]


async def test_rate_limit_is_retried_on_the_same_tier(
    sdk: tuple[Any, CostRouterHooks], local_server: LocalOpenAIServer
) -> None:
    router, hooks = sdk
    resp = await router.acompletion(model="flaky", messages=[{"role": "user", "content": "hello"}])
    headers = resp._hidden_params["additional_headers"]
    assert headers["x-litellm-attempted-retries"] == 1
    assert _served(local_server, "flaky-m") == 2
    rid = resp._hidden_params["costrouter"]["request_id"]
    recs = await await_for(hooks.ledger, lambda rs: sum(r.request_id == rid for r in rs) >= 2)
    mine = [r for r in recs if r.request_id == rid]
    assert [(r.tier, r.outcome) for r in mine] == [("flaky", "error"), ("flaky", "accepted")]
    assert mine[0].error == "rate_limit: RateLimitError"
    assert mine[0].cost_usd == 0.0


async def test_task_routing_sends_a_translation_to_the_translator(
    sdk: tuple[Any, CostRouterHooks], local_server: LocalOpenAIServer
) -> None:
    router, hooks = sdk
    cheap_before = _served(local_server, "cheap-m")
    msgs = [{"role": "user", "content": "Please translate 'good morning' into French."}]
    resp = await router.acompletion(model="costrouter", messages=msgs)
    trail = resp._hidden_params["costrouter"]
    assert trail["tier"] == "translator"
    assert trail["route"]["route"] == "translate"
    assert _served(local_server, "cheap-m") == cheap_before  # skipped without a call
    (rec,) = hooks.ledger.records(request_id=trail["request_id"])
    assert (rec.task, rec.outcome) == ("translate", "accepted")


async def test_rejections_do_not_cool_a_tier_down(
    sdk: tuple[Any, CostRouterHooks], local_server: LocalOpenAIServer
) -> None:
    router, _ = sdk
    before = _served(local_server, "cheap-m")
    for i in range(5):
        await router.acompletion(model="costrouter", messages=[{"role": "user", "content": f"vague question {i}"}])
    assert _served(local_server, "cheap-m") == before + 5


async def test_a_stream_is_served_ungated_and_recorded(sdk: tuple[Any, CostRouterHooks]) -> None:
    router, hooks = sdk
    n = hooks.ledger.count()
    stream = await router.acompletion(
        model="costrouter",
        messages=[{"role": "user", "content": "A question the cheap tier answers badly"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    assert text == "dunno"  # nothing can escalate a stream once tokens were sent
    recs = await await_for(hooks.ledger, lambda rs: len(rs) > n)
    (rec,) = recs[n:]
    assert (rec.tier, rec.outcome, rec.extra["stream"]) == ("cheap", "served", True)
    _check_costs([rec])


async def test_judge_gate_calls_its_model_through_litellm(local_server: LocalOpenAIServer) -> None:
    data = config_data(local_server.base_url)
    data["tiers"][0]["gate"] = {"type": "judge", "judge_model": "judge", "threshold": 0.8}
    cfg = CostRouterConfig.from_dict(data)
    hooks = CostRouterHooks(cfg, ledger=MemoryLedger())
    router = build_router(cfg, hooks=hooks)
    try:
        resp = await router.acompletion(model="cheap", messages=[{"role": "user", "content": "anything"}])
        rid = resp._hidden_params["costrouter"]["request_id"]
        await asyncio.sleep(0.2)
        recs = hooks.ledger.records(request_id=rid)
        assert [(r.kind, r.outcome) for r in recs] == [("judge", "overhead"), ("completion", "accepted")]
        assert recs[0].model == "openai/judge-m"
        assert recs[0].cost_usd > 0
        assert recs[1].gate_score == pytest.approx(0.9)
    finally:
        hooks.close()
