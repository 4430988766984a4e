"""Tiered escalation: cheap first, quality-gated, within a dollar budget per request.

:class:`CascadeRun` is the one escalation state machine of the project, and it is *sans-IO*: it
says which tier to call next, the caller makes the call and reports what happened; the run
records every attempt in the ledger (retries, errors, rejected and cancelled answers included)
and decides whether to retry, escalate, stop or serve. Every adapter drives it through the
request pipeline (:mod:`langchain_costrouter.core.pipeline`), whose loop is::

    run = engine.start(request)
    while (step := run.next_step()) is not None:        # budget checked before each call
        try:
            completion = call(step.tier, messages)
        except Exception as exc:
            backoff = run.on_error(step, exc, latency_ms)  # re-raises what no tier would fix
            ...                                           # sleep ``backoff`` before a retry
            continue
        verdict = step.tier.gate.evaluate(request, completion)
        run.on_answer(step, completion, latency_ms, verdict)   # records; maybe stops
    result = run.result()        # or CascadeExhaustedError / BudgetExceededError

Rules (the same for every adapter):

- **Retries**: rate limits, 5xx, timeouts and broken connections are retried on the same tier
  (``cascade.retries``, or the tier's ``max_retries``) with exponential backoff, then escalate;
  a context-window overflow or a refusal escalates at once; bad requests and auth errors are
  raised (another tier would not fix them). Every attempt is a ledger record.
- **Budget**: before each call, the spend so far plus the call's estimate (prompt tokens and
  ``max_tokens`` at the tier's price, plus what its gate's judge would cost) must fit in
  ``budget.per_request_usd``; compression and judge costs count as spend.
- **Best answer**: when every tier fails, the highest gate score is served (a later step wins a
  tie) and flagged ``exhausted`` (or ``budget``); a gate that raises counts as a rejection.
- **Paid answers are never lost**: an answer whose gate was cancelled, or a stream broken after
  it had sent tokens, is recorded with its cost (estimated from the tokens seen when the provider
  reported none, flagged ``estimated``).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol

from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.config import BudgetConfig, CascadeConfig, CostRouterConfig, TierSpec
from langchain_costrouter.core.errors import (
    BudgetExceededError,
    BudgetUnavailableError,
    CascadeExhaustedError,
    ProviderError,
    SpendLimitExceededError,
)
from langchain_costrouter.core.faults import classify_error, provider_processed, retry_after_s
from langchain_costrouter.core.gates.base import BaseGate, GateVerdict
from langchain_costrouter.core.gates.factory import JudgeClientFactory, build_gate
from langchain_costrouter.core.gates.structured import CONTRACT_GATE
from langchain_costrouter.core.pricing import ModelPrice
from langchain_costrouter.core.routing import RouteDecision, Router, build_router
from langchain_costrouter.core.types import ChatRequest, Completion, OverheadCall
from langchain_costrouter.core.usage import Usage

if TYPE_CHECKING:
    from langchain_costrouter.core.budgets import BudgetStore, Reservation
    from langchain_costrouter.core.pipeline import CallTier

__all__ = [
    "RETRIED_KINDS",
    "CascadeAttempt",
    "CascadeEngine",
    "CascadeResult",
    "CascadeRun",
    "ThresholdSource",
    "TierRuntime",
    "TierStep",
    "estimate_prompt_tokens",
]

logger = logging.getLogger(__name__)

AttemptOutcome = Literal["accepted", "rejected", "error", "streamed", "cancelled"]

RETRIED_KINDS = frozenset({"rate_limit", "server", "timeout", "connection"})
"""Provider failures retried on the same tier before escalating (others escalate at once)."""

_MAX_BACKOFF_S = 8.0


def estimate_prompt_tokens(request: ChatRequest) -> int:
    """Prompt tokens of a request (tiktoken ``cl100k_base``, tool schemas included)."""
    from langchain_costrouter.core.tokens import count_message_tokens, count_tokens

    n = count_message_tokens(list(request.messages))
    if request.tools:
        import json

        n += count_tokens(json.dumps([dict(t) for t in request.tools]))
    return n


def _text_tokens(text: str) -> int:
    from langchain_costrouter.core.tokens import count_tokens

    return count_tokens(text) if text else 0


class ThresholdSource(Protocol):
    """Supplies the gate threshold of a route's tier (e.g. an online recalibration)."""

    def threshold(self, route: str | None, tier: str, default: float) -> float:
        """The threshold to apply instead of ``default`` (the gate's own)."""
        ...


@dataclass(frozen=True, slots=True)
class TierRuntime:
    """A configured deployment with its gate and price, ready to be called."""

    spec: TierSpec
    gate: BaseGate
    price: ModelPrice
    max_retries: int = 0

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
    """The next call the adapter must make.

    Attributes:
        index: The tier's position in the route's ladder (the escalation step).
        tier: The tier to call.
        is_last: Whether it is the last tier of the ladder.
        estimate_usd: The call's estimated cost, its gate's overhead included (0 when no budget
            is configured: then nothing is estimated).
        attempt: 0 for the first try on this tier, 1 for the first retry...
    """

    index: int
    tier: TierRuntime
    is_last: bool
    estimate_usd: float
    attempt: int = 0


@dataclass(frozen=True, slots=True)
class CascadeAttempt:
    """One call, as recorded: a try of a tier (retries are attempts of their own)."""

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
    retry: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``response_metadata``."""
        return {
            "step": self.step,
            "retry": self.retry,
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
    """What a request ended with (one shape for every adapter: :meth:`metadata`).

    Attributes:
        completion: The answer served.
        accepted: Whether it passed its gate (``False`` when flagged).
        flag: ``None``, ``"exhausted"`` (every tier failed; best answer served) or
            ``"budget"`` (the budget stopped escalation; best answer so far served).
        cache: How a cache hit was found (``kind``, ``similarity``, ``cached_query``, ``age_s``),
            ``None`` when a tier answered.
        over_budget: The request spent more than ``budget.per_request_usd`` (a judge or a
            long answer cost more than estimated).
        rejected: The answers a gate rejected before, with their attempts (the quality monitor
            grades them against the premium answer that replaced them).
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
    cache: Mapping[str, Any] | None = None
    over_budget: bool = False
    rejected: tuple[tuple[CascadeAttempt, Completion], ...] = field(default=(), repr=False, compare=False)

    @property
    def escalations(self) -> int:
        """Tiers tried after the first (retries of one tier are not escalations)."""
        return max(0, len({a.step for a in self.attempts}) - 1)

    def metadata(self) -> dict[str, Any]:
        """The cascade trail (``response_metadata["costrouter"]``, LiteLLM ``_hidden_params``)."""
        return {
            "request_id": self.request_id,
            "tier": self.answered_by,
            "model": self.completion.model,
            "accepted": self.accepted,
            "flag": self.flag,
            "route": self.decision.to_dict(),
            "attempts": [a.to_dict() for a in self.attempts],
            "escalations": self.escalations,
            "cache": dict(self.cache) if self.cache is not None else None,
            "total_cost_usd": self.total_cost_usd,
            "baseline_cost_usd": self.baseline_cost_usd,
            "over_budget": self.over_budget,
        }


class CascadeEngine:
    """The escalation policy over configured tiers.

    Args:
        config: The configuration (tiers, routing, cascade and budget settings).
        accountant: Prices and records every attempt.
        router: Picks each request's route and ladder (built from the config by default).
        gates: Gate per tier/model name, overriding the config's gate specs.
        judge_clients: Builds model clients for judge gates (the adapter provides it).
        thresholds: Overrides gate thresholds per route and tier (online recalibration).
        budgets: Tenant and key budgets (reserved before each call, settled after it).
    """

    def __init__(
        self,
        config: CostRouterConfig,
        accountant: CostAccountant,
        *,
        router: Router | None = None,
        gates: Mapping[str, BaseGate] | None = None,
        judge_clients: JudgeClientFactory | None = None,
        thresholds: ThresholdSource | None = None,
        budgets: BudgetStore | None = None,
    ) -> None:
        self.config = config
        self.accountant = accountant
        self.budgets = budgets
        self.cascade: CascadeConfig = config.cascade
        self.budget: BudgetConfig = config.budget
        self.router = router or build_router(config, prices=accountant.prices)
        self.thresholds = thresholds
        gates = dict(gates or {})
        self.tiers: dict[str, TierRuntime] = {}
        for spec in (*config.tiers, *config.models):
            gate = gates.get(spec.name) or build_gate(spec.gate, judge_clients=judge_clients)
            retries = config.cascade.retries if spec.max_retries is None else spec.max_retries
            self.tiers[spec.name] = TierRuntime(spec, gate, accountant.prices.price(spec.model), retries)

    def start(self, request: ChatRequest, *, decision: RouteDecision | None = None) -> CascadeRun:
        """Routes ``request`` and opens its run."""
        decision = decision or self.router.route(request)
        return CascadeRun(self, request, decision)

    def run(self, request: ChatRequest, call: Callable[[TierRuntime, ChatRequest], Completion]) -> CascadeResult:
        """The whole cascade (no cache, no compression) with a synchronous ``call(tier, request)``."""
        from langchain_costrouter.core.pipeline import RequestPipeline, run_sync

        return run_sync(RequestPipeline(self).flow(request), _FunctionIO(call))

    async def arun(
        self, request: ChatRequest, call: Callable[[TierRuntime, ChatRequest], Awaitable[Completion]]
    ) -> CascadeResult:
        """The whole cascade (no cache, no compression) with an asynchronous ``call(tier, request)``."""
        from langchain_costrouter.core.pipeline import RequestPipeline, run_async

        return await run_async(RequestPipeline(self).flow(request), _FunctionIO(acall=call))


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
        self._retry: TierStep | None = None
        self._stop: str | None = None
        self._budget_error: BudgetExceededError | BudgetUnavailableError | None = None
        self._prompt_tokens: int | None = None
        self._reservation: Reservation | None = None
        self._reserved_at = 0.0

    # ------------------------------------------------------------------ planning
    @property
    def prompt_tokens(self) -> int:
        """The request's prompt tokens (counted once)."""
        if self._prompt_tokens is None:
            self._prompt_tokens = estimate_prompt_tokens(self.request)
        return self._prompt_tokens

    def _max_output(self, tier: TierRuntime) -> int:
        return int(self.request.params.get("max_tokens") or tier.spec.max_tokens)

    def _estimate(self, tier: TierRuntime) -> float:
        max_out = self._max_output(tier)
        call = tier.price.estimate(self.prompt_tokens, max_out)
        gate = 0.0
        for o in tier.gate.estimate_overhead(self.request, max_out):
            gate += self.engine.accountant.cost_usd(o.model, o.usage) if o.cost_usd is None else o.cost_usd
        return call + gate

    @property
    def done(self) -> bool:
        """Whether the cascade is over (an answer was accepted, or it stopped)."""
        return self._accepted is not None or self._stop is not None

    def next_step(self) -> TierStep | None:
        """The next call to make (a retry or the next tier), or ``None`` when the cascade is over.

        With tenant/key budgets the step's estimate is reserved here (and the previous step's
        reservation settled with what it actually cost).
        """
        self.settle_budget()
        if self.done:
            return None
        if self._retry is not None:
            pending, self._retry = self._retry, None
            index, tier, attempt = pending.index, pending.tier, pending.attempt + 1
        elif self._next < len(self.ladder):
            index, tier, attempt = self._next, self.ladder[self._next], 0
        else:
            return None
        limit = self.engine.budget.per_request_usd
        # counted only when a budget needs it (tokenizing a long prompt is not free)
        estimate = self._estimate(tier) if limit is not None or self.engine.budgets is not None else 0.0
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
        if self.engine.budgets is not None and not self._reserve(tier, estimate):
            return None
        if attempt == 0:
            self._next += 1
        return TierStep(index, tier, index == len(self.ladder) - 1, estimate, attempt)

    def _reserve(self, tier: TierRuntime, estimate: float) -> bool:
        """Reserves ``estimate`` on the tenant's budgets; ``False`` (and stops) when refused."""
        assert self.engine.budgets is not None
        try:
            self._reservation = self.engine.budgets.reserve(self.request.tenant, self.request.key, estimate)
        except SpendLimitExceededError as exc:
            exc.attempts = list(self.attempts)
            exc.next_tier = tier.name
            self._budget_error = exc
        except BudgetUnavailableError as exc:
            self._budget_error = exc
        else:
            self._reserved_at = self.spent_usd
            return True
        self._stop = "budget"
        return False

    def settle_budget(self) -> None:
        """Settles the open budget reservation with what was spent since it was made (idempotent)."""
        res, self._reservation = self._reservation, None
        if res is not None and self.engine.budgets is not None:
            self.engine.budgets.settle(res, self.spent_usd - self._reserved_at)

    def charge(self, usd: float) -> None:
        """Adds a side cost already in the ledger (e.g. prompt compression) to this request's spend.

        It counts against the budget and in ``total_cost_usd``.
        """
        self.spent_usd += max(0.0, usd)

    # ------------------------------------------------------------------ recording
    def _record(self, step: TierStep, **fields: Any) -> tuple[float, float]:
        base: dict[str, Any] = {
            "request_id": self.request.request_id,
            "tenant": self.request.tenant,
            "task": self.decision.route,
            "tier": step.tier.name,
            "escalation_step": step.index,
            "source": "cascade",
        }
        if step.attempt:
            fields["extra"] = {**fields.get("extra", {}), "retry": step.attempt}
        rec = self.engine.accountant.record(**base, **fields)
        self.baseline_usd += rec.baseline_cost_usd
        self.spent_usd += rec.cost_usd
        return rec.cost_usd, rec.baseline_cost_usd

    def _record_side_calls(
        self, step: TierStep, calls: Sequence[OverheadCall], *, extra: Mapping[str, Any] | None = None
    ) -> float:
        """Records a gate's side calls (a judge, embeddings) as overheads of ``step``; returns their cost.

        A call flagged ``estimated`` (e.g. a judge that timed out after its request was sent) is
        recorded with that flag, whatever ``extra`` says.
        """
        total = 0.0
        for call in calls:
            fields = dict(extra or {})
            if call.estimated:
                fields["estimated"] = True
            total += self._record(
                step,
                model=call.model,
                usage=call.usage,
                kind="judge" if call.kind == "judge" else "embedding",
                outcome="overhead",
                latency_ms=call.latency_ms,
                cost_usd=call.cost_usd,
                extra=fields,
                strict=False,
            )[0]
        return total

    def _estimated_usage(self, partial: Completion | None) -> Usage:
        """Tokens of a call that ended without a usage report: the prompt, plus what was seen."""
        try:
            out = _text_tokens(partial.text) if partial is not None else 0
            return Usage(self.prompt_tokens, out)
        except Exception:  # no tokenizer at hand: the call is still recorded, unpriced
            logger.warning("cannot count the tokens of a failed call; recorded without them", exc_info=True)
            return Usage()

    def _paid_usage(self, completion: Completion | None) -> tuple[Usage, bool]:
        if completion is not None and completion.usage.total_tokens > 0:
            return completion.usage, False
        return self._estimated_usage(completion), True

    def on_error(
        self,
        step: TierStep,
        exc: BaseException,
        latency_ms: float,
        *,
        partial: Completion | None = None,
        sent: bool = False,
    ) -> float | None:
        """Records a failed call and decides what follows.

        Args:
            step: The step that failed.
            exc: The exception the call raised.
            latency_ms: Time spent on it.
            partial: What a broken stream had produced before failing (priced when the
                provider billed it).
            sent: Tokens of it already reached the user (nothing can escalate then).

        Returns:
            Seconds to wait before retrying the same tier (the next :meth:`next_step` returns
            it), or ``None`` to escalate.

        Raises:
            BaseException: ``exc`` itself, when another tier would not fix it, or when the
                user already received part of the answer.
        """
        err = classify_error(exc)
        # A provider bills what it processed: the tokens a broken stream delivered, and the prompt
        # of a call the client timed out on (the reply may still be produced, and billed, after
        # the client gave up: the prompt is a lower bound). A refused call (429, 5xx, a connection
        # that never opened) processed nothing.
        streamed = partial is not None and (bool(partial.text) or partial.usage.total_tokens > 0)
        timed_out = provider_processed(exc)
        usage, estimated = self._paid_usage(partial) if streamed or timed_out else (Usage(), False)
        extra: dict[str, Any] = {"error_kind": err.kind}
        if estimated:
            extra["estimated"] = True
        if sent:
            extra["partial_sent"] = True
        cost, _ = self._record(
            step,
            model=step.tier.model,
            usage=usage,
            outcome="error",
            latency_ms=latency_ms,
            error=_error_text(err),
            extra=extra,
        )
        self.attempts.append(
            CascadeAttempt(
                step.index,
                step.tier.name,
                step.tier.model,
                "error",
                cost,
                latency_ms,
                usage,
                error_kind=err.kind,
                retry=step.attempt,
            )
        )
        if sent or not err.retryable or err.kind not in self.engine.cascade.escalate_on:
            raise exc
        if err.kind in RETRIED_KINDS and step.attempt < step.tier.max_retries:
            self._retry = step
            return self._backoff(step.attempt, exc)
        return None

    def _backoff(self, attempt: int, exc: BaseException) -> float:
        base = float(self.engine.cascade.retry_backoff_s)
        if base <= 0:
            return 0.0
        hinted = retry_after_s(exc)
        if hinted is not None:
            return min(_MAX_BACKOFF_S, hinted)
        delay = min(_MAX_BACKOFF_S, base * 2.0**attempt)
        return delay * (0.5 + random.random() / 2)  # full jitter over the upper half

    def gate_failed(self, step: TierStep, exc: BaseException) -> GateVerdict:
        """The verdict of a gate that raised: a rejection, so the answer escalates."""
        logger.warning("quality gate %r of tier %r raised %s: treated as a rejection", step.tier.gate.name,
                       step.tier.name, type(exc).__name__)  # fmt: skip
        return GateVerdict(0.0, False, step.tier.gate.name, f"gate error: {type(exc).__name__}")

    def _passes(self, step: TierStep, verdict: GateVerdict) -> bool:
        source = self.engine.thresholds
        if source is None or verdict.gate in {"none", "streamed", CONTRACT_GATE}:
            return verdict.passed
        try:
            threshold = source.threshold(self.decision.route, step.tier.name, step.tier.gate.threshold)
        except Exception:  # a monitor is a side concern: never fail a paid answer for it
            logger.exception("threshold source failed; using the gate's own verdict")
            return verdict.passed
        return verdict.score >= threshold

    def on_answer(self, step: TierStep, completion: Completion, latency_ms: float, verdict: GateVerdict) -> bool:
        """Records a gated answer (and its gate's side calls); returns whether it was accepted."""
        passed = self._passes(step, verdict)
        outcome: AttemptOutcome = "accepted" if passed else "rejected"
        overhead = self._record_side_calls(step, verdict.overhead)
        extra: dict[str, Any] = {"gate": verdict.gate}
        if verdict.reason:
            extra["reason"] = verdict.reason
        cost, _ = self._record(
            step,
            model=completion.model or step.tier.model,
            usage=completion.usage,
            outcome=outcome,
            latency_ms=latency_ms,
            gate_score=verdict.score,
            extra=extra,
        )
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
            retry=step.attempt,
        )
        self.attempts.append(attempt)
        self._answers.append((verdict.score, step.index, completion, attempt))
        if passed:
            self._accepted = (completion, attempt)
        return passed

    def on_streamed(self, step: TierStep, completion: Completion, latency_ms: float) -> None:
        """Records an answer streamed straight to the user, without its gate (it is served)."""
        self.on_answer(step, completion, latency_ms, GateVerdict(1.0, True, "streamed", "streamed without its gate"))
        self.attempts[-1] = replace(self.attempts[-1], outcome="streamed")

    def on_abandoned(
        self,
        step: TierStep,
        completion: Completion | None,
        latency_ms: float,
        reason: str,
        *,
        overhead: Sequence[OverheadCall] = (),
    ) -> None:
        """Records a call the caller gave up on (cancelled, disconnected) before it was settled.

        The provider bills what it produced: the answer's tokens when it arrived, else the
        prompt and what was streamed (an estimate, flagged). ``overhead`` are side calls that
        were under way (a judge), recorded as estimates. Nothing is served and nothing follows.
        """
        self._record_side_calls(step, overhead, extra={"estimated": True, "abandoned": reason})
        usage, estimated = self._paid_usage(completion)
        extra: dict[str, Any] = {"abandoned": reason}
        if estimated:
            extra["estimated"] = True
        model = completion.model if completion is not None and completion.model else step.tier.model
        cost, _ = self._record(
            step,
            model=model,
            usage=usage,
            outcome="error",
            latency_ms=latency_ms,
            error=f"cancelled: {reason}",
            extra=extra,
            strict=False,
        )
        self.attempts.append(
            CascadeAttempt(step.index, step.tier.name, model, "cancelled", cost, latency_ms, usage, retry=step.attempt)
        )
        self._stop = "cancelled"
        self.settle_budget()

    # ------------------------------------------------------------------ result
    def _over_budget(self) -> bool:
        limit = self.engine.budget.per_request_usd
        return limit is not None and self.spent_usd > limit + 1e-12

    def result(self) -> CascadeResult:
        """The served answer.

        Raises:
            CascadeExhaustedError: no tier answered, or every answer failed and the config
                says ``on_exhausted: raise``.
            BudgetExceededError: the budget stopped the cascade and the config says
                ``on_exceeded: raise`` (or nothing was answered yet).
        """
        self.settle_budget()
        if self._accepted is not None:
            return self._served(*self._accepted)
        if self._stop == "budget" and self._budget_error is not None:
            if self.engine.budget.on_exceeded == "raise" or not self._answers:
                raise self._budget_error
            return self._best("budget")
        if not self._answers or self.engine.cascade.on_exhausted == "raise":
            raise CascadeExhaustedError(list(self.attempts), self.spent_usd)
        return self._best("exhausted")

    def _served(self, completion: Completion, attempt: CascadeAttempt, flag: str | None = None) -> CascadeResult:
        return CascadeResult(
            self.request.request_id,
            completion,
            attempt.tier,
            tuple(self.attempts),
            self.decision,
            self.spent_usd,
            flag is None,
            flag,
            self.baseline_usd,
            over_budget=self._over_budget(),
            rejected=self._rejected(),
        )

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
        return self._served(completion, attempt, flag)

    def _rejected(self) -> tuple[tuple[CascadeAttempt, Completion], ...]:
        return tuple((a, c) for _, _, c, a in self._answers if a.outcome == "rejected")


class _FunctionIO:
    """Tier I/O over plain functions ``call(tier, request)`` (tests, simple embeddings)."""

    def __init__(
        self,
        call: Callable[[TierRuntime, ChatRequest], Completion] | None = None,
        acall: Callable[[TierRuntime, ChatRequest], Awaitable[Completion]] | None = None,
    ) -> None:
        self._call = call
        self._acall = acall

    def call(self, effect: CallTier) -> Completion:
        assert self._call is not None
        return self._call(effect.step.tier, effect.request)

    async def acall(self, effect: CallTier) -> Completion:
        assert self._acall is not None
        return await self._acall(effect.step.tier, effect.request)


def _error_text(err: ProviderError) -> str:
    """The ledger's ``error`` of a failed call: its kind, and the provider's HTTP status when it sent one.

    The same for every adapter (exception class names differ between SDKs); a client-side timeout
    or a broken connection has no provider status (LiteLLM labels its own timeouts 408).
    """
    if err.status is None or err.kind in {"timeout", "connection"}:
        return err.kind
    return f"{err.kind}: HTTP {err.status}"
