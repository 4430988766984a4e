"""The cascade as a plain LCEL fallback chain, for users who want pure LangChain runnables.

``build_fallback_chain(config)`` returns ``tier_0.with_fallbacks([tier_1, ..., tier_n])`` where
each gated tier raises :class:`LowQualityError` when its answer fails its gate, which
``with_fallbacks`` handles like a provider error by moving to the next tier. Each attempt
(accepted, rejected or failed) is written to the ledger.

What it loses compared with :class:`~langchain_costrouter.ChatCostRouter`:

- ``bind_tools`` / ``with_structured_output`` (a ``RunnableWithFallbacks`` has neither; bind
  tools on each tier model yourself before building, via ``tier_models``);
- task routing (every request starts at the first tier) and the per-request budget;
- buffered token streaming (each tier answers whole, then is gated);
- the best-of answer when every tier fails: the last tier's error is raised instead;
- ``response_metadata["costrouter"]`` (the trail is only in the ledger).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableLambda

from langchain_costrouter._convert import completion_from_message, request_from_messages
from langchain_costrouter._tiers import LangChainModelClient, build_tier_model
from langchain_costrouter.core.cascade import TierRuntime
from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.errors import LowQualityError
from langchain_costrouter.core.gates.base import GateVerdict
from langchain_costrouter.core.ledger import LedgerBackend
from langchain_costrouter.core.runtime import CostRouterRuntime
from langchain_costrouter.core.types import ChatRequest, Completion
from langchain_costrouter.core.usage import Usage

__all__ = ["build_fallback_chain"]


class _GatedTier:
    """Calls one tier, records the attempt, raises ``LowQualityError`` when the gate fails."""

    def __init__(self, runtime: CostRouterRuntime, tier: TierRuntime, model: BaseChatModel, step: int) -> None:
        self.runtime = runtime
        self.tier = tier
        self.model = model
        self.step = step
        self.is_last = step == len(runtime.config.tiers) - 1

    def _request(self, messages: list[BaseMessage]) -> ChatRequest:
        return request_from_messages(messages, tenant=self.runtime.config.ledger.tenant)

    def _messages(self, value: LanguageModelInput) -> list[BaseMessage]:
        return self.model._convert_input(value).to_messages()

    def _settle(self, request: ChatRequest, completion: Completion, latency_ms: float, verdict: GateVerdict) -> None:
        accountant = self.runtime.accountant
        for call in verdict.overhead:
            accountant.record(
                request_id=request.request_id,
                model=call.model,
                usage=call.usage,
                kind="judge",
                outcome="overhead",
                tier=self.tier.name,
                escalation_step=self.step,
                source="fallback_chain",
                strict=False,
            )
        accountant.record(
            request_id=request.request_id,
            model=self.tier.model,
            usage=completion.usage,
            outcome="accepted" if verdict.passed else "rejected",
            tier=self.tier.name,
            escalation_step=self.step,
            latency_ms=latency_ms,
            gate_score=verdict.score,
            source="fallback_chain",
        )
        if not verdict.passed:
            raise LowQualityError(self.tier.name, verdict.score, self.tier.gate.threshold, verdict.reason)

    def _error(self, request: ChatRequest, exc: BaseException, latency_ms: float) -> None:
        self.runtime.accountant.record(
            request_id=request.request_id,
            model=self.tier.model,
            usage=Usage(),
            outcome="error",
            tier=self.tier.name,
            escalation_step=self.step,
            latency_ms=latency_ms,
            error=type(exc).__name__,
            source="fallback_chain",
        )

    def invoke(self, value: LanguageModelInput) -> BaseMessage:
        messages = self._messages(value)
        request = self._request(messages)
        t0 = time.perf_counter()
        try:
            msg = self.model.invoke(messages)
        except Exception as exc:
            self._error(request, exc, (time.perf_counter() - t0) * 1000)
            raise
        completion = completion_from_message(msg, model=self.tier.model)
        verdict = self.tier.gate.evaluate(request, completion)
        self._settle(request, completion, (time.perf_counter() - t0) * 1000, verdict)
        return msg

    async def ainvoke(self, value: LanguageModelInput) -> BaseMessage:
        messages = self._messages(value)
        request = self._request(messages)
        t0 = time.perf_counter()
        try:
            msg = await self.model.ainvoke(messages)
        except Exception as exc:
            self._error(request, exc, (time.perf_counter() - t0) * 1000)
            raise
        completion = completion_from_message(msg, model=self.tier.model)
        verdict = await self.tier.gate.aevaluate(request, completion)
        self._settle(request, completion, (time.perf_counter() - t0) * 1000, verdict)
        return msg


def build_fallback_chain(
    config: CostRouterConfig,
    *,
    tier_models: Mapping[str, BaseChatModel] | None = None,
    ledger: LedgerBackend | None = None,
) -> Runnable[LanguageModelInput, BaseMessage]:
    """The default ladder as ``tier_0.with_fallbacks([...])`` with gates raising ``LowQualityError``.

    Args:
        config: The configuration (its ``tiers`` in order; routing and budget are not used).
        tier_models: Chat models by tier name replacing the ones built from the config.
        ledger: Ledger backend replacing the config's.
    """
    given = dict(tier_models or {})
    models = {
        spec.name: given.get(spec.name) or build_tier_model(spec, field=f"tiers[{i}]")
        for i, spec in enumerate(config.tiers)
    }

    def judge(name: str) -> LangChainModelClient:
        spec = config.deployment(name)
        return LangChainModelClient(given.get(name) or build_tier_model(spec, field=name), spec.model)

    runtime = CostRouterRuntime(config, ledger=ledger, judge_clients=judge)
    runnables: list[Runnable[LanguageModelInput, BaseMessage]] = []
    for step, spec in enumerate(config.tiers):
        gated = _GatedTier(runtime, runtime.engine.tiers[spec.name], models[spec.name], step)
        runnables.append(RunnableLambda(gated.invoke, afunc=gated.ainvoke, name=f"costrouter:{spec.name}"))
    first, *rest = runnables
    if not rest:
        return first
    return first.with_fallbacks(rest)
