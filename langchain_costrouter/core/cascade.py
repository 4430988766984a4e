"""Tiered escalation: cheap first, quality-gated, within a dollar budget per request.

The engine is *sans-IO*: :class:`CascadeRun` says which tier to call next, the adapter makes
the call (sync, async or streaming, with LangChain or LiteLLM) and reports the answer or the
error back; the run gates it, records it in the ledger and decides whether to escalate. One
implementation of the policy therefore serves every adapter::

    run = engine.start(request)
    while (step := run.next_step()) is not None:
        try:
            completion = call(step.tier, request)
        except Exception as exc:
            run.on_error(step, exc, latency_ms)      # re-raises what escalation cannot fix
            continue
        run.on_answer(step, completion, latency_ms)  # gates, records, maybe stops
    result = run.result()                            # or CascadeExhaustedError / BudgetExceededError

:meth:`CascadeEngine.run` and :meth:`CascadeEngine.arun` are that loop for callers that do not
stream.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.config import BudgetConfig, CascadeConfig, CostRouterConfig, TierSpec
from langchain_costrouter.core.errors import BudgetExceededError, CascadeExhaustedError, ProviderError
from langchain_costrouter.core.faults import classify_error
from langchain_costrouter.core.gates.base import BaseGate, GateVerdict
from langchain_costrouter.core.gates.factory import JudgeClientFactory, build_gate
from langchain_costrouter.core.pricing import ModelPrice, PriceBook
from langchain_costrouter.core.routing import RouteDecision, Router, build_router
from langchain_costrouter.core.types import ChatRequest, Completion
from langchain_costrouter.core.usage import Usage

__all__ = [
    "CascadeAttempt",
    "CascadeEngine",
    "CascadeResult",
    "CascadeRun",
    "TierRuntime",
    "TierStep",
    "estimate_prompt_tokens",
]

AttemptOutcome = Literal["accepted", "rejected", "error", "streamed"]


def estimate_prompt_tokens(request: ChatRequest) -> int:
    """Prompt tokens of a request (tiktoken ``cl100k_base``, tool schemas included)."""
    from langchain_costrouter.core.tokens import count_message_tokens, count_tokens

    n = count_message_tokens(list(request.messages))
    if request.tools:
        import json

        n += count_tokens(json.dumps([dict(t) for t in request.tools]))
    return n


@dataclass(frozen=True, slots=True)
class TierRuntime:
    """A configured deployment with its gate and price, ready to be called."""

    spec: TierSpec
    gate: BaseGate
    price: ModelPrice

    @property
    def name(self) -> str:
        """The tier's name."""
        return self.spec.name

    @property
    def model(self) -> str:
        """The LiteLLM model string (as priced)."""
        return self.spec.model


@dataclass(frozen=True, slots=True)
class TierStep:
    """The next call the adapter must make."""

    index: int
    tier: TierRuntime
    is_last: bool
    estimate_usd: float


@dataclass(frozen=True, slots=True)
class CascadeAttempt:
    """One tier's try, as recorded."""

    step: int
    tier: str
    model: str
    outcome: AttemptOutcome
    cost_usd: float
    latency_ms: float
    usage: Usage = field(default_factory=Usage)
    score: float | None = None
    gate: str | None = None
    reason: str = ""
    overhead_usd: float = 0.0
    error_kind: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``response_metadata``."""
        return {
            "step": self.step,
            "tier": self.tier,
            "model": self.model,
            "outcome": self.outcome,
            "score": None if self.score is None else round(self.score, 4),
            "gate": self.gate,
            "reason": self.reason,
            "cost_usd": self.cost_usd,
            "overhead_usd": self.overhead_usd,
            "latency_ms": round(self.latency_ms, 2),
            "error_kind": self.error_kind,
        }


@dataclass(frozen=True, slots=True)
class CascadeResult:
    """What a request ended with.

    Attributes:
        completion: The answer served.
        accepted: Whether it passed its gate (``False`` when flagged).
        flag: ``None``, ``"exhausted"`` (every tier failed; best answer served) or
            ``"budget"`` (the budget stopped escalation; best answer so far served).
    """

    request_id: str
    completion: Completion
    answered_by: str
    attempts: tuple[CascadeAttempt, ...]
    decision: RouteDecision
    total_cost_usd: float
    accepted: bool
    flag: str | None = None
    baseline_cost_usd: float = 0.0

    def metadata(self) -> dict[str, Any]:
        """The cascade trail for ``response_metadata["costrouter"]``."""
        return {
            "request_id": self.request_id,
            "tier": self.answered_by,
            "model": self.completion.model,
            "accepted": self.accepted,
            "flag": self.flag,
            "route": self.decision.to_dict(),
            "attempts": [a.to_dict() for a in self.attempts],
            "escalations": max(0, len(self.attempts) - 1),
            "total_cost_usd": self.total_cost_usd,
            "baseline_cost_usd": self.baseline_cost_usd,
        }


class CascadeEngine:
    """The escalation policy over configured tiers.

    Args:
        config: The configuration (tiers, routing, cascade and budget settings).
        accountant: Prices and records every attempt.
        router: Picks each request's route and ladder (built from the config by default).
        gates: Gate per tier/model name, overriding the config's gate specs.
        judge_clients: Builds model clients for judge gates (the adapter provides it).
    """

    def __init__(
        self,
        config: CostRouterConfig,
        accountant: CostAccountant,
        *,
        router: Router | None = None,
        gates: Mapping[str, BaseGate] | None = None,
        judge_clients: JudgeClientFactory | None = None,
    ) -> None:
        self.config = config
        self.accountant = accountant
        self.cascade: CascadeConfig = config.cascade
        self.budget: BudgetConfig = config.budget
        self.router = router or build_router(config, prices=accountant.prices)
        gates = dict(gates or {})
        self.tiers: dict[str, TierRuntime] = {}
        for spec in (*config.tiers, *config.models):
            gate = gates.get(spec.name) or build_gate(spec.gate, judge_clients=judge_clients)
            self.tiers[spec.name] = TierRuntime(spec, gate, accountant.prices.price(spec.model))

    @classmethod
    def price_book(cls, config: CostRouterConfig) -> PriceBook:
        """A price book with the config's overrides."""
        return PriceBook(config.price_overrides_map())

    def start(self, request: ChatRequest, *, decision: RouteDecision | None = None) -> CascadeRun:
        """Routes ``request`` and opens its run."""
        decision = decision or self.router.route(request)
        return CascadeRun(self, request, decision)

    def run(self, request: ChatRequest, call: Callable[[TierRuntime, ChatRequest], Completion]) -> CascadeResult:
        """The whole cascade with a synchronous ``call``."""
        run = self.start(request)
        while (step := run.next_step()) is not None:
            t0 = time.perf_counter()
            try:
                completion = call(step.tier, request)
            except Exception as exc:
                run.on_error(step, exc, (time.perf_counter() - t0) * 1000)
                continue
            run.on_answer(step, completion, (time.perf_counter() - t0) * 1000)
        return run.result()

    async def arun(
        self,
        request: ChatRequest,
        call: Callable[[TierRuntime, ChatRequest], Awaitable[Completion]],
    ) -> CascadeResult:
        """The whole cascade with an asynchronous ``call``."""
        run = self.start(request)
        while (step := run.next_step()) is not None:
            t0 = time.perf_counter()
            try:
                completion = await call(step.tier, request)
            except Exception as exc:
                run.on_error(step, exc, (time.perf_counter() - t0) * 1000)
                continue
            await run.aon_answer(step, completion, (time.perf_counter() - t0) * 1000)
        return run.result()


class CascadeRun:
    """The state of one request's cascade (see the module docstring for the loop)."""

    def __init__(self, engine: CascadeEngine, request: ChatRequest, decision: RouteDecision) -> None:
        self.engine = engine
        self.request = request
        self.decision = decision
        self.ladder = tuple(engine.tiers[n] for n in decision.ladder)
        self.attempts: list[CascadeAttempt] = []
        self.spent_usd = 0.0
        self.baseline_usd = 0.0
        self._answers: list[tuple[float, int, Completion, CascadeAttempt]] = []
        self._accepted: tuple[Completion, CascadeAttempt] | None = None
        self._next = 0
        self._stop: str | None = None
        self._budget_error: BudgetExceededError | None = None
        self._last_error: ProviderError | None = None
        self._prompt_tokens: int | None = None

    # ------------------------------------------------------------------ planning
    def _estimate(self, tier: TierRuntime) -> float:
        if self._prompt_tokens is None:
            self._prompt_tokens = estimate_prompt_tokens(self.request)
        max_out = int(self.request.params.get("max_tokens") or tier.spec.max_tokens)
        return tier.price.estimate(self._prompt_tokens, max_out)

    def next_step(self) -> TierStep | None:
        """The next tier to call, or ``None`` when the cascade is over."""
        if self._accepted is not None or self._stop is not None or self._next >= len(self.ladder):
            return None
        tier = self.ladder[self._next]
        estimate = self._estimate(tier)
        limit = self.engine.budget.per_request_usd
        if limit is not None and self.spent_usd + estimate > limit:
            self._stop = "budget"
            self._budget_error = BudgetExceededError(
                list(self.attempts),
                self.spent_usd,
                limit_usd=limit,
                next_tier=tier.name,
                estimate_usd=estimate,
            )
            return None
        step = TierStep(self._next, tier, self._next == len(self.ladder) - 1, estimate)
        self._next += 1
        return step

    def charge(self, usd: float) -> None:
        """Adds a side cost already in the ledger (e.g. prompt compression) to this request's spend.

        It counts against the budget and in ``total_cost_usd``.
        """
        self.spent_usd += max(0.0, usd)

    # ------------------------------------------------------------------ outcomes
    def _record(self, step: TierStep, **kwargs: Any) -> float:
        rec = self.engine.accountant.record(
            request_id=self.request.request_id,
            tenant=self.request.tenant,
            task=self.decision.route,
            tier=step.tier.name,
            escalation_step=step.index,
            source="cascade",
            **kwargs,
        )
        self.baseline_usd += rec.baseline_cost_usd
        return rec.cost_usd

    def on_error(self, step: TierStep, exc: BaseException, latency_ms: float) -> None:
        """Records a failed call; re-raises errors that another tier would not fix."""
        err = classify_error(exc)
        self._record(
            step,
            model=step.tier.model,
            usage=Usage(),
            outcome="error",
            latency_ms=latency_ms,
            error=f"{err.kind}: {type(exc).__name__}",
        )
        self.attempts.append(
            CascadeAttempt(step.index, step.tier.name, step.tier.model, "error", 0.0, latency_ms, error_kind=err.kind)
        )
        self._last_error = err
        if not err.retryable or err.kind not in self.engine.cascade.escalate_on:
            raise exc

    def _apply(self, step: TierStep, completion: Completion, latency_ms: float, verdict: GateVerdict) -> bool:
        outcome: AttemptOutcome = "accepted" if verdict.passed else "rejected"
        overhead = 0.0
        for call in verdict.overhead:
            overhead += self._record(
                step,
                model=call.model,
                usage=call.usage,
                kind="judge" if call.kind == "judge" else "embedding",
                outcome="overhead",
                latency_ms=call.latency_ms,
                cost_usd=call.cost_usd,
                strict=False,
            )
        cost = self._record(
            step,
            model=completion.model or step.tier.model,
            usage=completion.usage,
            outcome=outcome,
            latency_ms=latency_ms,
            gate_score=verdict.score,
            extra={"gate": verdict.gate, "reason": verdict.reason} if verdict.reason else {"gate": verdict.gate},
        )
        self.spent_usd += cost + overhead
        attempt = CascadeAttempt(
            step.index,
            step.tier.name,
            completion.model or step.tier.model,
            outcome,
            cost,
            latency_ms,
            completion.usage,
            verdict.score,
            verdict.gate,
            verdict.reason,
            overhead,
        )
        self.attempts.append(attempt)
        self._answers.append((verdict.score, step.index, completion, attempt))
        if verdict.passed:
            self._accepted = (completion, attempt)
        return verdict.passed

    def on_answer(self, step: TierStep, completion: Completion, latency_ms: float) -> bool:
        """Gates and records an answer; returns whether it was accepted."""
        return self._apply(step, completion, latency_ms, step.tier.gate.evaluate(self.request, completion))

    async def aon_answer(self, step: TierStep, completion: Completion, latency_ms: float) -> bool:
        """Async :meth:`on_answer` (judge gates call their model asynchronously)."""
        verdict = await step.tier.gate.aevaluate(self.request, completion)
        return self._apply(step, completion, latency_ms, verdict)

    def on_streamed(self, step: TierStep, completion: Completion, latency_ms: float) -> None:
        """Records the last tier's answer that was streamed straight to the user (no gate)."""
        verdict = GateVerdict(1.0, True, "streamed", "last tier streamed without gate")
        self._apply(step, completion, latency_ms, verdict)
        self.attempts[-1] = _replace_outcome(self.attempts[-1], "streamed")

    # ------------------------------------------------------------------ result
    def result(self) -> CascadeResult:
        """The served answer.

        Raises:
            CascadeExhaustedError: no tier answered, or every answer failed and the config
                says ``on_exhausted: raise``.
            BudgetExceededError: the budget stopped the cascade and the config says
                ``on_exceeded: raise`` (or nothing was answered yet).
            Exception: the last provider error, when no tier produced any answer and it was
                not retryable.
        """
        total = self.spent_usd
        if self._accepted is not None:
            completion, attempt = self._accepted
            return CascadeResult(
                self.request.request_id,
                completion,
                attempt.tier,
                tuple(self.attempts),
                self.decision,
                total,
                True,
                baseline_cost_usd=self.baseline_usd,
            )
        if self._stop == "budget" and self._budget_error is not None:
            if self.engine.budget.on_exceeded == "raise" or not self._answers:
                raise self._budget_error
            return self._best("budget")
        if not self._answers or self.engine.cascade.on_exhausted == "raise":
            raise CascadeExhaustedError(list(self.attempts), total)
        return self._best("exhausted")

    def _best(self, flag: str) -> CascadeResult:
        score, _, completion, attempt = max(self._answers, key=lambda a: (a[0], a[1]))
        # The always-premium app would also have answered this request: count its baseline
        # once, on a zero-cost record (the attempt itself was recorded as rejected).
        rec = self.engine.accountant.record(
            request_id=self.request.request_id,
            tenant=self.request.tenant,
            task=self.decision.route,
            tier=attempt.tier,
            escalation_step=attempt.step,
            model=attempt.model,
            usage=Usage(),
            baseline_usage=completion.usage,
            cost_usd=0.0,
            outcome="served",
            gate_score=score,
            source="cascade",
            extra={"flag": flag},
        )
        self.baseline_usd += rec.baseline_cost_usd
        return CascadeResult(
            self.request.request_id,
            completion,
            attempt.tier,
            tuple(self.attempts),
            self.decision,
            self.spent_usd,
            False,
            flag,
            self.baseline_usd,
        )


def _replace_outcome(a: CascadeAttempt, outcome: AttemptOutcome) -> CascadeAttempt:
    return CascadeAttempt(
        a.step,
        a.tier,
        a.model,
        outcome,
        a.cost_usd,
        a.latency_ms,
        a.usage,
        a.score,
        a.gate,
        a.reason,
        a.overhead_usd,
        a.error_kind,
    )
