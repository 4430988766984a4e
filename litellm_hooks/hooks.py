"""The quality-gate hook: rejects a cheap answer so LiteLLM falls back to the next tier.

:class:`QualityGateHook` is a LiteLLM ``CustomGuardrail``. LiteLLM 1.110 escalates on a *bad
answer* only when a guardrail raises in ``async_post_call_success_deployment_hook`` (async,
non-streaming calls: the SDK's ``Router.acompletion`` and every proxy request) or when a
``litellm.post_call_rules`` rule fails (the sync ``Router.completion`` path). The hook uses
both, with one implementation: the core gate of the tier that answered scores the answer, the
attempt is written to the ledger **with its true cost** (LiteLLM logs a rejected attempt as
$0), and a rejection raises :class:`~langchain_costrouter.core.errors.LowQualityError`, which
LiteLLM treats like a provider failure and answers with the configured ``fallbacks``. The
retry policy built by :func:`litellm_hooks.build_router` never retries it.

An accepted answer carries the trail in ``response._hidden_params["costrouter"]`` (SDK); the
proxy sends it as ``x-costrouter-*`` HTTP response headers (:func:`trail_headers`).

Streams are not gated: once a token was sent nothing can escalate it (see docs/litellm.md).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
from collections.abc import Mapping
from typing import Any

from langchain_costrouter.core.cascade import TierRuntime
from langchain_costrouter.core.errors import LowQualityError
from langchain_costrouter.core.gates.base import GateVerdict
from langchain_costrouter.core.routing import ladder_for
from langchain_costrouter.core.types import Completion
from litellm_hooks import _convert as cv
from litellm_hooks._litellm import CustomGuardrail
from litellm_hooks._runtime import HookRuntime, RequestState

__all__ = ["COSTROUTER_HEADERS", "QualityGateHook", "trail_headers"]

logger = logging.getLogger(__name__)

COSTROUTER_HEADERS = (
    "x-costrouter-request-id",
    "x-costrouter-tier",
    "x-costrouter-escalations",
    "x-costrouter-route",
    "x-costrouter-gate-score",
    "x-costrouter-cost-usd",
)
_COMPLETION_CALLS = frozenset({"completion", "acompletion"})
_sync_call: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "costrouter_sync_call", default=None
)


def trail_headers(trail: Mapping[str, Any]) -> dict[str, str]:
    """The ``x-costrouter-*`` headers of a request trail (``_hidden_params["costrouter"]``)."""
    route = trail.get("route")
    route_name = route.get("route") if isinstance(route, Mapping) else None
    score = trail.get("gate_score")
    return {
        "x-costrouter-request-id": str(trail.get("request_id") or ""),
        "x-costrouter-tier": str(trail.get("tier") or ""),
        "x-costrouter-escalations": str(trail.get("escalations") or 0),
        "x-costrouter-route": str(route_name or "default"),
        "x-costrouter-gate-score": f"{score:.4f}" if isinstance(score, int | float) else "",
        "x-costrouter-cost-usd": f"{float(trail.get('total_cost_usd') or 0.0):.8f}",
    }


def _call_type_name(call_type: Any) -> str:
    value = getattr(call_type, "value", call_type)
    return str(value) if value is not None else "acompletion"


def _latency_ms(kwargs: Mapping[str, Any]) -> float:
    start = kwargs.get("start_time")
    logging_obj = kwargs.get("litellm_logging_obj")
    if start is None and logging_obj is not None:
        start = getattr(logging_obj, "start_time", None)
    if isinstance(start, dt.datetime):
        now = dt.datetime.now(tz=start.tzinfo)
        return max(0.0, (now - start).total_seconds() * 1000)
    return 0.0


class QualityGateHook(CustomGuardrail):
    """Gates each deployment's answer with the core gate of its tier.

    Args:
        runtime: The shared hook runtime (config, gates, ledger, request state).
    """

    def __init__(self, runtime: HookRuntime, **kwargs: Any) -> None:
        kwargs.setdefault("guardrail_name", "costrouter-quality-gate")
        super().__init__(**kwargs)
        self.runtime = runtime
        # LiteLLM de-duplicates loggers by class and public attributes: keep each instance distinct.
        self.costrouter_instance = runtime.instance_id

    # ------------------------------------------------------------------ shared logic
    def _target(self, kwargs: Mapping[str, Any]) -> tuple[RequestState, TierRuntime] | None:
        if cv.is_internal(kwargs) or cv.is_stream(kwargs):
            return None
        tier_name = cv.tier_of(kwargs)
        if tier_name is None or not self.runtime.owns(kwargs):
            return None
        tier = self.runtime.tiers.get(tier_name)
        request_id = cv.trace_id(kwargs) or cv.call_id(kwargs)
        if tier is None or request_id is None:
            return None
        return self.runtime.state(request_id), tier

    def _is_last(self, state: RequestState, tier: TierRuntime) -> bool:
        ladder = state.decision.ladder if state.decision else ladder_for(self.runtime.config, None)
        if tier.name not in ladder:
            ladder = self.runtime.natural_ladder(tier.name)
        return ladder.index(tier.name) == len(ladder) - 1

    def _request(self, state: RequestState, kwargs: Mapping[str, Any]) -> Any:
        tenant = cv.tenant_of(kwargs, self.runtime.config.ledger.tenant)
        task = state.decision.route if state.decision else None
        return cv.request_from_kwargs(kwargs, request_id=state.request_id, tenant=tenant, task=task)

    def _settle(
        self,
        state: RequestState,
        tier: TierRuntime,
        kwargs: Mapping[str, Any],
        completion: Completion,
        verdict: GateVerdict,
        *,
        can_swap: bool = True,
    ) -> Completion:
        """Records the attempt; raises ``LowQualityError`` when it must escalate.

        Returns:
            The answer to serve: ``completion``, or, when every tier failed its gate and the
            config says ``on_exhausted: best``, the best-scoring answer of the request (only
            when ``can_swap``: the sync ``post_call_rules`` path cannot replace the response,
            so it serves, and records, the last one).
        """
        rt = self.runtime
        step = state.step(tier.name)
        rt.record_overheads(state, tier, step, verdict)
        tenant = cv.tenant_of(kwargs, rt.config.ledger.tenant)
        extra: dict[str, Any] = {"gate": verdict.gate}
        if verdict.reason:
            extra["reason"] = verdict.reason
        exhausted = not verdict.passed and self._is_last(state, tier)
        if exhausted:
            extra["flag"] = "exhausted"
        rt.record_attempt(
            state,
            tier,
            attempt_id=cv.attempt_key(kwargs),
            outcome="accepted" if verdict.passed else "rejected",
            tenant=tenant,
            completion=completion,
            latency_ms=_latency_ms(kwargs),
            gate_score=verdict.score,
            extra=extra,
        )
        if not verdict.passed:
            state.remember(verdict.score, tier.name, completion)
        if not verdict.passed and not (exhausted and rt.config.cascade.on_exhausted == "best"):
            raise LowQualityError(tier.name, verdict.score, tier.gate.threshold, verdict.reason)
        if exhausted:
            if can_swap and state.best is not None:
                score, _, best_tier, best = state.best
                tier, completion = rt.tiers[best_tier], best
                verdict = GateVerdict(score, False, verdict.gate, verdict.reason)
            rt.record_best(state, tier, completion, verdict, tenant)
        self._annotate(state, tier, completion, verdict)
        return completion

    def _annotate(self, state: RequestState, tier: TierRuntime, completion: Completion, verdict: GateVerdict) -> None:
        hidden = getattr(completion.raw, "_hidden_params", None)
        if not isinstance(hidden, dict):
            return
        trail = self.runtime.trail(state, tier.name)
        trail["accepted"] = verdict.passed
        trail["gate_score"] = verdict.score
        hidden["costrouter"] = trail

    async def async_post_call_response_headers_hook(
        self,
        data: dict[str, Any],
        user_api_key_dict: Any,
        response: Any,
        request_headers: dict[str, str] | None = None,
        litellm_call_info: dict[str, Any] | None = None,
    ) -> dict[str, str] | None:
        """Proxy: the ``x-costrouter-*`` response headers of an answer the gate saw."""
        try:
            hidden = getattr(response, "_hidden_params", None)
            trail = hidden.get("costrouter") if isinstance(hidden, dict) else None
            return trail_headers(trail) if isinstance(trail, Mapping) else None
        except Exception:  # headers are informative: never fail the request for them
            logger.exception("costrouter gate: cannot build response headers")
            return None

    # ------------------------------------------------------------------ async path (SDK + proxy)
    async def async_post_call_success_deployment_hook(
        self,
        request_data: dict[str, Any],
        response: Any,
        call_type: Any,
    ) -> Any:
        if _call_type_name(call_type) not in _COMPLETION_CALLS or not cv.get(response, "choices"):
            return None
        target = self._target(request_data)
        if target is None:
            return None
        if cv.is_cache_hit(response):
            return None  # the cascade cache stores only answers that passed their gate
        state, tier = target
        completion = cv.completion_from_response(response, model=tier.model)
        request = self._request(state, request_data)
        verdict = await tier.gate.aevaluate(request, completion)
        served = self._settle(state, tier, request_data, completion, verdict)
        backend = self.runtime.cache_backend
        if verdict.passed and backend is not None:
            await backend.astore_accepted(request_data, response, tier.name)
        # An exhausted cascade serves its best answer, which may be an earlier tier's response.
        return None if served is completion else served.raw

    # ------------------------------------------------------------------ sync path (post_call_rules)
    def log_pre_api_call(self, model: Any, messages: Any, kwargs: Any) -> None:
        """Remembers the sync call about to be made, for :meth:`post_call_rule` (never raises)."""
        try:
            details = kwargs if isinstance(kwargs, Mapping) else None
            params = cv.get(details, "litellm_params") or {}
            is_async = bool(cv.get(params, "acompletion") or cv.get(details, "acompletion"))
            _sync_call.set(None if is_async else details)
        except Exception:
            logger.exception("costrouter gate: cannot remember a sync call")

    def post_call_rule(self, text: str) -> bool:
        """The ``litellm.post_call_rules`` entry gating sync calls; ``False`` escalates.

        It is given only the answer's text; the call it belongs to is the one
        :meth:`log_pre_api_call` saw in the same context (its raw response holds the usage).
        """
        details = _sync_call.get()
        if details is None:
            return True
        _sync_call.set(None)
        target = self._target(details)
        if target is None:
            return True
        state, tier = target
        raw = details.get("original_response")
        try:
            body = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            body = None
        completion = cv.completion_from_response(body, model=tier.model) if body else None
        if completion is None or completion.text != (text or ""):
            logger.warning("costrouter gate: sync answer does not match the recorded call; not gated")
            return True
        verdict = tier.gate.evaluate(self._request(state, details), completion)
        try:
            self._settle(state, tier, details, completion, verdict, can_swap=False)
        except LowQualityError as exc:
            logger.info("%s", exc)
            return False
        return True
