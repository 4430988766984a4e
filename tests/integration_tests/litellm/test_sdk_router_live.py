"""``build_router`` over real HTTP: the core pipeline behind LiteLLM, sync, async and streaming."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.ledger import MemoryLedger
from langchain_costrouter.testing.server import LocalOpenAIServer
from litellm_hooks import CostRouterHooks, build_router
from tests.integration_tests.litellm.conftest import GOOD, config_data, expected_cost

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def sdk(local_server: LocalOpenAIServer) -> Iterator[tuple[Any, CostRouterHooks]]:
    data = config_data(local_server.base_url)
    data["cascade"] = {"retry_backoff_s": 0}
    cfg = CostRouterConfig.from_dict(data)
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
    assert (rec.tier, rec.outcome) == ("cheap", "accepted")
    assert (rec.input_tokens, rec.output_tokens) == (resp.usage.prompt_tokens, resp.usage.completion_tokens)
    assert resp._hidden_params["response_cost"] == pytest.approx(rec.cost_usd)  # LiteLLM's cost figure is ours
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
    assert recs[0].cost_usd > 0
    _check_costs(recs)
    assert trail["total_cost_usd"] == pytest.approx(sum(r.cost_usd for r in recs))


def test_sync_calls_are_routed_gated_and_escalated_too(sdk: tuple[Any, CostRouterHooks]) -> None:
    router, hooks = sdk
    resp = router.completion(model="cheap", messages=[{"role": "user", "content": "Tell me another fact."}])
    assert resp.choices[0].message.content == GOOD
    trail = resp._hidden_params["costrouter"]
    recs = hooks.ledger.records(request_id=trail["request_id"])
    assert [(r.tier, r.outcome) for r in recs] == [("cheap", "rejected"), ("mid", "accepted")]
    _check_costs(recs)
    translated = router.completion(model="costrouter", messages=[{"role": "user", "content": "translate 'hi'"}])
    assert translated._hidden_params["costrouter"]["tier"] == "translator"


async def test_rate_limit_is_retried_on_the_same_tier_and_every_attempt_recorded(
    sdk: tuple[Any, CostRouterHooks], local_server: LocalOpenAIServer
) -> None:
    router, hooks = sdk
    resp = await router.acompletion(model="flaky", messages=[{"role": "user", "content": "hello"}])
    assert _served(local_server, "flaky-m") == 2
    trail = resp._hidden_params["costrouter"]
    assert (trail["tier"], trail["escalations"]) == ("flaky", 0)
    recs = hooks.ledger.records(request_id=trail["request_id"])
    assert [(r.tier, r.outcome, r.extra.get("retry", 0)) for r in recs] == [
        ("flaky", "error", 0),
        ("flaky", "accepted", 1),
    ]
    assert recs[0].error == "rate_limit: HTTP 429"


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
    assert _served(local_server, "cheap-m") == cheap_before
    (rec,) = hooks.ledger.records(request_id=trail["request_id"])
    assert (rec.task, rec.outcome) == ("translate", "accepted")


async def test_a_stream_is_gated_buffered_and_replayed_only_when_it_passes(sdk: tuple[Any, CostRouterHooks]) -> None:
    router, hooks = sdk
    n = hooks.ledger.count()
    stream = await router.acompletion(
        model="costrouter",
        messages=[{"role": "user", "content": "A question the cheap tier answers badly"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == GOOD  # the cheap "dunno" was buffered, rejected, never sent
    recs = hooks.ledger.records()[n:]
    assert [(r.tier, r.outcome) for r in recs] == [("cheap", "rejected"), ("mid", "accepted")]
    _check_costs(recs)
    usage = next(c.usage for c in reversed(chunks) if getattr(c, "usage", None))
    assert usage.completion_tokens == recs[1].output_tokens


def test_sync_stream_of_the_last_tier_is_recorded(sdk: tuple[Any, CostRouterHooks]) -> None:
    router, hooks = sdk
    n = hooks.ledger.count()
    stream = router.completion(model="premium", messages=[{"role": "user", "content": "Hi"}], stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == GOOD
    (rec,) = hooks.ledger.records()[n:]
    assert (rec.tier, rec.outcome) == ("premium", "accepted")


async def test_judge_gate_calls_its_model_through_litellm(local_server: LocalOpenAIServer) -> None:
    data = config_data(local_server.base_url)
    data["tiers"][0]["gate"] = {"type": "judge", "judge_model": "judge", "threshold": 0.8}
    cfg = CostRouterConfig.from_dict(data)
    hooks = CostRouterHooks(cfg, ledger=MemoryLedger())
    router = build_router(cfg, hooks=hooks)
    try:
        resp = await router.acompletion(model="cheap", messages=[{"role": "user", "content": "anything"}])
        rid = resp._hidden_params["costrouter"]["request_id"]
        recs = hooks.ledger.records(request_id=rid)
        assert [(r.kind, r.outcome) for r in recs] == [("judge", "overhead"), ("completion", "accepted")]
        assert recs[0].model == "openai/judge-m"
        assert recs[0].cost_usd > 0
        assert recs[1].gate_score == pytest.approx(0.9)
    finally:
        hooks.close()


async def test_exhausted_cascade_serves_the_best_answer(local_server: LocalOpenAIServer) -> None:
    data = config_data(local_server.base_url)
    for tier in data["tiers"]:
        tier["gate"] = {"type": "heuristic", "min_chars": 80}  # nothing passes: every answer is shorter
    data["routing"] = {"type": "none"}
    cfg = CostRouterConfig.from_dict(data)
    hooks = CostRouterHooks(cfg, ledger=MemoryLedger())
    router = build_router(cfg, hooks=hooks)
    try:
        resp = await router.acompletion(model="cheap", messages=[{"role": "user", "content": "France?"}])
        trail = resp._hidden_params["costrouter"]
        assert trail["flag"] == "exhausted" and trail["accepted"] is False
        recs = hooks.ledger.records(request_id=trail["request_id"])
        assert [r.outcome for r in recs] == ["rejected", "rejected", "rejected", "served"]
        assert recs[-1].tier == trail["tier"] and recs[-1].cost_usd == 0
    finally:
        hooks.close()


def test_several_event_loops_in_a_row(sdk: tuple[Any, CostRouterHooks]) -> None:
    """A script calling ``asyncio.run`` repeatedly: tier clients belong to the loop that made them."""
    import asyncio

    router, _ = sdk
    for _ in range(3):
        resp = asyncio.run(
            router.acompletion(model="costrouter", messages=[{"role": "user", "content": "Capital of France?"}])
        )
        assert resp.choices[0].message.content == GOOD
