"""Gate, routing and logger hooks on LiteLLM-shaped inputs (no network)."""

from __future__ import annotations

from typing import Any

import pytest

from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.errors import BudgetExceededError, LowQualityError
from langchain_costrouter.core.ledger import MemoryLedger
from litellm_hooks import CostRouterHooks, TierSkippedError
from tests.unit_tests.litellm._kwargs import deployment_kwargs, response
from tests.unit_tests.litellm.conftest import config_dict

GOOD = "Paris is the capital of France, and its largest city."


async def test_gate_rejects_with_true_cost_then_accepts_next_tier(config: CostRouterConfig, hooks: Any) -> None:
    cheap = deployment_kwargs(config, "cheap", trace_id="req-1")
    with pytest.raises(LowQualityError) as err:
        await hooks.gate.async_post_call_success_deployment_hook(cheap, response("dunno", 10, 2), "acompletion")
    assert err.value.tier == "cheap"
    mid = deployment_kwargs(config, "mid", trace_id="req-1")
    resp = response(GOOD, 10, 12)
    assert await hooks.gate.async_post_call_success_deployment_hook(mid, resp, "acompletion") is None
    recs = hooks.ledger.records(request_id="req-1")
    assert [(r.tier, r.outcome, r.escalation_step) for r in recs] == [("cheap", "rejected", 0), ("mid", "accepted", 1)]
    assert recs[0].cost_usd == pytest.approx(10 * 0.1e-6 + 2 * 0.4e-6)  # LiteLLM would log $0
    assert recs[1].cost_usd == pytest.approx(10 * 1e-6 + 12 * 4e-6)
    assert recs[0].baseline_cost_usd == 0.0
    assert recs[1].baseline_cost_usd == pytest.approx(10 * 5e-6 + 12 * 20e-6)
    trail = resp._hidden_params["costrouter"]
    assert trail["tier"] == "mid"
    assert trail["escalations"] == 1
    assert trail["total_cost_usd"] == pytest.approx(recs[0].cost_usd + recs[1].cost_usd)
    from litellm_hooks.hooks import trail_headers

    headers = trail_headers(trail)
    assert headers["x-costrouter-tier"] == "mid"
    assert headers["x-costrouter-escalations"] == "1"


async def test_gate_ignores_streams_internal_calls_and_foreign_deployments(
    config: CostRouterConfig, hooks: Any
) -> None:
    bad = response("dunno")
    for kwargs in (
        deployment_kwargs(config, "cheap", stream=True),
        deployment_kwargs(config, "cheap", metadata={"model_group": "cheap", "costrouter_internal": True}),
        {**deployment_kwargs(config, "cheap"), "model_info": {"id": "x", "costrouter_tier": "cheap"}},
    ):
        assert await hooks.gate.async_post_call_success_deployment_hook(kwargs, bad, "acompletion") is None
    assert hooks.ledger.count() == 0


async def test_last_tier_failing_its_gate_is_served_flagged() -> None:
    data = config_dict(routing={"type": "none"}, models=[])
    data["tiers"][2]["gate"] = {"type": "heuristic", "min_chars": 20}
    cfg = CostRouterConfig.from_dict(data)
    hooks = CostRouterHooks(cfg, ledger=MemoryLedger())
    try:
        kwargs = deployment_kwargs(cfg, "premium", trace_id="r")
        resp = response("no")
        assert await hooks.gate.async_post_call_success_deployment_hook(kwargs, resp, "acompletion") is None
        outcomes = [(r.outcome, r.extra.get("flag")) for r in hooks.ledger.records()]
        assert outcomes == [("rejected", "exhausted"), ("served", "exhausted")]
        assert resp._hidden_params["costrouter"]["accepted"] is False
    finally:
        hooks.close()


async def test_exhausted_cascade_serves_the_best_answer_not_the_last() -> None:
    data = config_dict(routing={"type": "none"}, models=[])
    data["tiers"][2]["gate"] = {"type": "heuristic", "min_chars": 20}
    cfg = CostRouterConfig.from_dict(data)
    hooks = CostRouterHooks(cfg, ledger=MemoryLedger())
    try:
        best = response("almost twenty", 10, 3)  # 13 chars: the best score of the three
        with pytest.raises(LowQualityError):
            await hooks.gate.async_post_call_success_deployment_hook(
                deployment_kwargs(cfg, "cheap", trace_id="r"), best, "acompletion"
            )
        with pytest.raises(LowQualityError):
            await hooks.gate.async_post_call_success_deployment_hook(
                deployment_kwargs(cfg, "mid", trace_id="r"), response("meh", 10, 1), "acompletion"
            )
        served = await hooks.gate.async_post_call_success_deployment_hook(
            deployment_kwargs(cfg, "premium", trace_id="r"), response("no", 10, 1), "acompletion"
        )
        assert served is best  # LiteLLM replaces the premium response with the cheap one
        recs = hooks.ledger.records(request_id="r")
        assert [(r.tier, r.outcome) for r in recs] == [
            ("cheap", "rejected"),
            ("mid", "rejected"),
            ("premium", "rejected"),
            ("cheap", "served"),
        ]
        assert recs[-1].cost_usd == 0 and recs[-1].extra["flag"] == "exhausted"
        assert best._hidden_params["costrouter"]["tier"] == "cheap"
    finally:
        hooks.close()


async def _route(hooks: Any, config: CostRouterConfig, text: str, chain: list[str]) -> list[str]:
    """Walks the entry chain like LiteLLM's fallbacks; returns the groups actually called."""
    called = []
    trace = f"trace-{text}"
    for group in chain:
        kwargs = deployment_kwargs(config, group, text, trace_id=trace)
        try:
            await hooks.routing.async_pre_call_deployment_hook(kwargs, None)
        except TierSkippedError:
            continue
        called.append(group)
    return called


async def test_routing_hook_skips_everything_outside_the_route(config: CostRouterConfig, hooks: Any) -> None:
    chain = ["costrouter", "translator", "cheap", "mid", "premium"]
    assert await _route(hooks, config, "hello", chain) == ["costrouter", "mid", "premium"]
    assert await _route(hooks, config, "please translate this", chain) == ["translator", "mid", "premium"]
    assert await _route(hooks, config, "prove it", chain) == ["mid", "premium"]
    # a direct call to a tier is not task-routed: it escalates along its own ladder
    direct = await _route(hooks, config, "please translate", ["cheap", "mid", "premium"])
    assert direct == ["cheap", "mid", "premium"]


async def test_routing_hook_lets_retries_of_the_same_tier_through(config: CostRouterConfig, hooks: Any) -> None:
    for _ in range(3):
        kwargs = deployment_kwargs(config, "cheap", "hi", trace_id="same")
        assert await hooks.routing.async_pre_call_deployment_hook(kwargs, None) is None


async def test_proxy_pre_call_hook_rewrites_the_entry_model(config: CostRouterConfig, hooks: Any) -> None:
    data = {"model": "costrouter", "messages": [{"role": "user", "content": "translate: bonjour"}]}
    out = await hooks.routing.async_pre_call_hook(None, None, data, "acompletion")
    assert out is not None
    assert out["model"] == "translator"
    assert out["metadata"]["costrouter_route"]["route"] == "translate"
    other = {"model": "mid", "messages": [{"role": "user", "content": "translate"}]}
    assert await hooks.routing.async_pre_call_hook(None, None, other, "acompletion") is None


async def test_budget_refuses_an_attempt_it_cannot_cover() -> None:
    cfg = CostRouterConfig.from_dict(config_dict(budget={"per_request_usd": 0.001}))
    hooks = CostRouterHooks(cfg, ledger=MemoryLedger())
    try:
        ok = deployment_kwargs(cfg, "cheap", trace_id="b")
        assert await hooks.routing.async_pre_call_deployment_hook(ok, None) is None
        pricey = deployment_kwargs(cfg, "premium", trace_id="b")  # 1024 max tokens * $20/M > $0.001
        with pytest.raises(BudgetExceededError) as err:
            await hooks.routing.async_pre_call_deployment_hook(pricey, None)
        assert err.value.next_tier == "premium"
    finally:
        hooks.close()


def _logger_kwargs(hook_kwargs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "litellm_call_id": hook_kwargs["litellm_call_id"],
        "litellm_params": {"metadata": hook_kwargs["metadata"], "model_info": hook_kwargs["model_info"]},
        "standard_logging_object": {"trace_id": hook_kwargs["litellm_trace_id"]},
        **extra,
    }


async def test_cost_logger_records_errors_and_ungated_answers_once(config: CostRouterConfig, hooks: Any) -> None:
    import litellm

    kw = deployment_kwargs(config, "mid", trace_id="L")
    rate_limited = litellm.RateLimitError("slow down", llm_provider="openai", model="mid-m")
    await hooks.cost_logger.async_log_failure_event(_logger_kwargs(kw, exception=rate_limited), None, None, None)
    # a stream (never gated) is recorded by the logger as served, with its tokens
    stream_kw = _logger_kwargs(kw, stream=True)
    await hooks.cost_logger.async_log_success_event(stream_kw, response(GOOD, 7, 9), None, None)
    recs = hooks.ledger.records(request_id="L")
    assert [(r.outcome, r.error) for r in recs] == [("error", "rate_limit: RateLimitError"), ("served", None)]
    assert recs[1].cost_usd == pytest.approx(7 * 1e-6 + 9 * 4e-6)
    assert recs[1].extra["stream"] is True


async def test_cost_logger_skips_what_the_gate_recorded(config: CostRouterConfig, hooks: Any) -> None:
    kw = deployment_kwargs(config, "cheap", trace_id="G")
    with pytest.raises(LowQualityError) as err:
        await hooks.gate.async_post_call_success_deployment_hook(kw, response("dunno"), "acompletion")
    await hooks.cost_logger.async_log_failure_event(_logger_kwargs(kw, exception=err.value), None, None, None)
    kw2 = deployment_kwargs(config, "mid", trace_id="G", call_id=kw["litellm_call_id"])  # proxy: one call id
    resp = response(GOOD)
    await hooks.gate.async_post_call_success_deployment_hook(kw2, resp, "acompletion")
    await hooks.cost_logger.async_log_success_event(_logger_kwargs(kw2), resp, None, None)
    assert [r.outcome for r in hooks.ledger.records(request_id="G")] == ["rejected", "accepted"]


async def test_cost_logger_never_raises(hooks: Any) -> None:
    class Broken(dict[str, Any]):
        def get(self, *a: Any, **k: Any) -> Any:
            raise RuntimeError("boom")

    await hooks.cost_logger.async_log_success_event(Broken(), object(), None, None)
    hooks.cost_logger.log_failure_event(Broken(), None, None, None)
    assert hooks.cost_logger.errors == 2


async def test_foreign_calls_recorded_only_when_asked(config: CostRouterConfig) -> None:
    hooks = CostRouterHooks(config, ledger=MemoryLedger(), record_foreign=True)
    try:
        kw = {"model": "gpt-4o-mini", "custom_llm_provider": "openai", "litellm_call_id": "f"}
        await hooks.cost_logger.async_log_success_event(kw, response(GOOD, 100, 50), None, None)
        (rec,) = hooks.ledger.records()
        assert rec.model == "openai/gpt-4o-mini"
        assert rec.outcome == "unrated"
        assert rec.cost_usd > 0  # priced by the bundled map
    finally:
        hooks.close()


async def test_cost_logger_records_litellm_cache_hits_at_no_cost(config: CostRouterConfig, hooks: Any) -> None:
    kw = deployment_kwargs(config, "cheap", trace_id="C")
    await hooks.cost_logger.async_log_success_event(
        _logger_kwargs(kw, cache_hit=True), response(GOOD, 10, 12), None, None
    )
    (rec,) = hooks.ledger.records(request_id="C")
    assert (rec.kind, rec.outcome, rec.cache_hit, rec.cost_usd) == ("cache_hit", "served", "litellm", 0.0)
    assert rec.baseline_cost_usd == pytest.approx(10 * 5e-6 + 12 * 20e-6)
