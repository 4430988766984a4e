from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.cascade import CascadeEngine, TierRuntime, estimate_prompt_tokens
from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.errors import BudgetExceededError, CascadeExhaustedError
from langchain_costrouter.core.ledger import MemoryLedger
from langchain_costrouter.core.pricing import PriceBook
from langchain_costrouter.core.types import ChatRequest, Completion
from langchain_costrouter.core.usage import Usage


class RateLimitError(Exception):
    status_code = 429


class InternalServerError(Exception):
    status_code = 500


class APITimeoutError(Exception):
    pass


class BadRequestError(Exception):
    status_code = 400


def _config(**over: Any) -> CostRouterConfig:
    data: dict[str, Any] = {
        "tiers": [
            {
                "name": "cheap",
                "model": "t/cheap",
                "price": {"input": 0.1, "output": 0.4},
                "max_tokens": 100,
                "gate": {"type": "heuristic", "min_chars": 20},
            },
            {
                "name": "mid",
                "model": "t/mid",
                "price": {"input": 1.0, "output": 4.0},
                "max_tokens": 100,
                "gate": {"type": "heuristic", "min_chars": 20},
            },
            {"name": "premium", "model": "t/premium", "price": {"input": 10.0, "output": 40.0}, "max_tokens": 100},
        ],
        "ledger": {"backend": "memory"},
    }
    data.update(over)
    return CostRouterConfig.from_dict(data)


def _engine(cfg: CostRouterConfig) -> tuple[CascadeEngine, MemoryLedger]:
    led = MemoryLedger()
    acc = CostAccountant(PriceBook(cfg.price_overrides_map()), led, premium_model=cfg.premium.model)
    return CascadeEngine(cfg, acc), led


REQ = ChatRequest(messages=({"role": "user", "content": "What is the boiling point of water at sea level?"},))
GOOD = "Water boils at 100 degrees Celsius at sea level."


def scripted(answers: Mapping[str, Any]) -> Callable[[TierRuntime, ChatRequest], Completion]:
    def call(tier: TierRuntime, request: ChatRequest) -> Completion:
        a = answers[tier.name]
        if isinstance(a, BaseException):
            raise a
        # usage as a provider would report it: the real prompt tokens, 50 output tokens
        return Completion(text=a, model=tier.model, usage=Usage(estimate_prompt_tokens(request), 50))

    return call


def test_cheap_answer_accepted_costs_only_cheap() -> None:
    engine, led = _engine(_config())
    res = engine.run(REQ, scripted({"cheap": GOOD}))
    assert res.accepted and res.answered_by == "cheap" and res.flag is None
    assert [a.outcome for a in res.attempts] == ["accepted"]
    n = estimate_prompt_tokens(REQ)
    assert 10 < n < 40
    assert res.total_cost_usd == pytest.approx(n * 0.1e-6 + 50 * 0.4e-6)
    (rec,) = led.records()
    assert rec.baseline_cost_usd == pytest.approx(n * 10e-6 + 50 * 40e-6)


def test_failed_gate_escalates_and_every_attempt_is_recorded() -> None:
    engine, led = _engine(_config())
    res = engine.run(REQ, scripted({"cheap": "no", "mid": "dunno", "premium": GOOD}))
    assert res.answered_by == "premium"
    assert [a.outcome for a in res.attempts] == ["rejected", "rejected", "accepted"]
    recs = led.records()
    assert [(r.tier, r.outcome, r.escalation_step) for r in recs] == [
        ("cheap", "rejected", 0),
        ("mid", "rejected", 1),
        ("premium", "accepted", 2),
    ]
    assert sum(r.cost_usd for r in recs) == pytest.approx(res.total_cost_usd)
    assert res.metadata()["escalations"] == 2
    assert all(r.request_id == REQ.request_id for r in recs)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (RateLimitError("slow down"), "rate_limit"),
        (InternalServerError("boom"), "server"),
        (APITimeoutError("timed out"), "timeout"),
        (BadRequestError("This model's maximum context length is 8192 tokens"), "context_window"),
    ],
)
def test_provider_faults_escalate(exc: Exception, kind: str) -> None:
    engine, led = _engine(_config())
    res = engine.run(REQ, scripted({"cheap": exc, "mid": GOOD}))
    assert res.answered_by == "mid"
    assert res.attempts[0].outcome == "error" and res.attempts[0].error_kind == kind
    assert led.records()[0].error is not None and kind in led.records()[0].error


def test_bad_request_is_not_escalated() -> None:
    engine, led = _engine(_config())
    with pytest.raises(BadRequestError):
        engine.run(REQ, scripted({"cheap": BadRequestError("invalid parameter 'foo'"), "mid": GOOD}))
    assert [r.outcome for r in led.records()] == ["error"]


def test_exhausted_returns_best_flagged_or_raises() -> None:
    engine, led = _engine(_config(tiers=[*_config().model_dump()["tiers"][:2]]))
    res = engine.run(REQ, scripted({"cheap": "short", "mid": "a bit longer"}))
    assert not res.accepted and res.flag == "exhausted"
    assert res.completion.text == "a bit longer"  # best score: more of min_chars
    served = [r for r in led.records() if r.outcome == "served"]
    assert len(served) == 1 and served[0].cost_usd == 0 and served[0].baseline_cost_usd > 0

    engine2, led2 = _engine(_config(tiers=_config().model_dump()["tiers"][:2], cascade={"on_exhausted": "raise"}))
    with pytest.raises(CascadeExhaustedError) as info:
        engine2.run(REQ, scripted({"cheap": "short", "mid": "tiny"}))
    assert len(info.value.attempts) == 2
    assert info.value.total_cost_usd == pytest.approx(sum(r.cost_usd for r in led2.records()))


def test_all_tiers_erroring_raises_exhausted() -> None:
    engine, _ = _engine(_config())
    err = InternalServerError("down")
    with pytest.raises(CascadeExhaustedError):
        engine.run(REQ, scripted({"cheap": err, "mid": err, "premium": err}))


def test_budget_stops_before_an_unaffordable_tier() -> None:
    # cheap + mid estimates (prompt + 100 output tokens) fit in $0.001; premium alone needs ~$0.0043
    cfg = _config(budget={"per_request_usd": 0.001})
    engine, _led = _engine(cfg)
    res = engine.run(REQ, scripted({"cheap": "no", "mid": "nope", "premium": GOOD}))
    assert res.flag == "budget" and not res.accepted
    assert "premium" not in [a.tier for a in res.attempts]
    assert res.total_cost_usd <= 0.001
    raising = _config(budget={"per_request_usd": 0.001, "on_exceeded": "raise"})
    engine2, _ = _engine(raising)
    with pytest.raises(BudgetExceededError) as info:
        engine2.run(REQ, scripted({"cheap": "no", "mid": "nope", "premium": GOOD}))
    assert info.value.next_tier == "premium" and info.value.limit_usd == 0.001
    assert info.value.spent_usd + info.value.estimate_usd > 0.001


def test_budget_too_small_for_first_tier_raises_even_in_best_mode() -> None:
    engine, led = _engine(_config(budget={"per_request_usd": 1e-9}))
    with pytest.raises(BudgetExceededError):
        engine.run(REQ, scripted({"cheap": GOOD}))
    assert led.count() == 0


async def test_async_run_matches_sync() -> None:
    engine, led = _engine(_config())
    call = scripted({"cheap": "no", "mid": GOOD})

    async def acall(tier: TierRuntime, request: ChatRequest) -> Completion:
        return call(tier, request)

    res = await engine.arun(REQ, acall)
    assert res.answered_by == "mid" and [r.outcome for r in led.records()] == ["rejected", "accepted"]


class _Judge:
    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.calls: list[Sequence[Mapping[str, Any]]] = []

    @property
    def model(self) -> str:
        return "t/cheap"

    def complete(self, messages: Sequence[Mapping[str, Any]], **params: Any) -> Completion:
        self.calls.append(messages)
        return Completion(text=self.reply, model="t/cheap", usage=Usage(200, 2))

    async def acomplete(self, messages: Sequence[Mapping[str, Any]], **params: Any) -> Completion:
        return self.complete(messages, **params)


def test_judge_gate_cost_is_recorded_as_overhead() -> None:
    cfg = _config()
    tiers = cfg.model_dump()["tiers"]
    tiers[0]["gate"] = {"type": "judge", "judge_model": "cheap", "threshold": 0.7}
    cfg = _config(tiers=tiers)
    judge = _Judge("3")
    led = MemoryLedger()
    acc = CostAccountant(PriceBook(cfg.price_overrides_map()), led, premium_model=cfg.premium.model)
    engine = CascadeEngine(cfg, acc, judge_clients=lambda name: judge)
    res = engine.run(REQ, scripted({"cheap": GOOD, "mid": GOOD}))
    assert res.answered_by == "mid"
    assert "Question:" in judge.calls[0][0]["content"] and GOOD in judge.calls[0][0]["content"]
    kinds = [(r.kind, r.outcome) for r in led.records()]
    assert kinds == [("judge", "overhead"), ("completion", "rejected"), ("completion", "accepted")]
    overhead = led.records()[0]
    assert overhead.cost_usd == pytest.approx(200 * 0.1e-6 + 2 * 0.4e-6)
    assert res.attempts[0].overhead_usd == pytest.approx(overhead.cost_usd)
    assert res.total_cost_usd == pytest.approx(sum(r.cost_usd for r in led.records()))


def _engine_with(cfg: CostRouterConfig, **kw: Any) -> tuple[CascadeEngine, MemoryLedger]:
    led = MemoryLedger()
    acc = CostAccountant(PriceBook(cfg.price_overrides_map()), led, premium_model=cfg.premium.model)
    return CascadeEngine(cfg, acc, **kw), led


def test_a_gate_that_raises_is_a_rejection_and_the_paid_answer_is_recorded() -> None:
    from langchain_costrouter.core.gates.validators import CallableGate

    def broken(question: str, answer: str) -> bool:
        raise RuntimeError("gate bug")

    engine, led = _engine_with(_config(), gates={"cheap": CallableGate(broken)})
    res = engine.run(REQ, scripted({"cheap": GOOD, "mid": GOOD}))
    assert res.answered_by == "mid" and res.accepted
    cheap = led.records()[0]
    assert (cheap.tier, cheap.outcome, cheap.extra["reason"]) == ("cheap", "rejected", "gate error: RuntimeError")
    assert cheap.cost_usd > 0


async def test_cancellation_while_a_judge_runs_records_the_paid_answer_and_the_judge() -> None:
    import asyncio

    cfg = _config()
    tiers = cfg.model_dump()["tiers"]
    tiers[0]["gate"] = {"type": "judge", "judge_model": "cheap", "threshold": 0.7}
    cfg = _config(tiers=tiers)

    class SlowJudge(_Judge):
        async def acomplete(self, messages: Sequence[Mapping[str, Any]], **params: Any) -> Completion:
            await asyncio.sleep(30)
            return self.complete(messages, **params)

    engine, led = _engine_with(cfg, judge_clients=lambda name: SlowJudge("9"))

    async def acall(tier: TierRuntime, request: ChatRequest) -> Completion:
        return scripted({"cheap": GOOD})(tier, request)

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(engine.arun(REQ, acall), timeout=0.2)
    kinds = [(r.kind, r.outcome, r.tier) for r in led.records()]
    assert kinds == [("judge", "overhead", "cheap"), ("completion", "error", "cheap")]
    judge, answer = led.records()
    assert judge.extra["estimated"] and judge.cost_usd > 0
    assert answer.output_tokens == 50 and answer.cost_usd > 0 and answer.error == "cancelled: CancelledError"


def test_the_budget_counts_a_judge_before_the_call() -> None:
    cfg = _config()
    tiers = cfg.model_dump()["tiers"]
    tiers[0]["gate"] = {"type": "judge", "judge_model": "premium", "threshold": 0.7}  # a pricey judge
    # the cheap call alone (~$0.00005) fits $0.0002; with its judge (~$0.0025 on premium) it does not
    cfg = _config(tiers=tiers, budget={"per_request_usd": 0.0002, "on_exceeded": "raise"})

    class PremiumJudge(_Judge):
        @property
        def model(self) -> str:
            return "t/premium"

    engine, led = _engine_with(cfg, judge_clients=lambda name: PremiumJudge("9"))
    with pytest.raises(BudgetExceededError) as info:
        engine.run(REQ, scripted({"cheap": GOOD}))
    assert info.value.next_tier == "cheap" and info.value.estimate_usd > 0.0002
    assert led.records() == []  # nothing was called, nothing paid
