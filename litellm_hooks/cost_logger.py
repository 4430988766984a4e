"""``CostLogger``: a LiteLLM ``CustomLogger`` writing every call to the cost ledger.

It completes what the gate hook records. The gate writes the answers it judged (accepted and
rejected, with their true cost); the logger writes the rest:

- answers nobody gated: streams (a stream is never gated, see docs/litellm.md), and calls made
  without the gate hook installed, as ``served``;
- answers LiteLLM served from its cache (``cache_hit``), at no cost, with the premium baseline
  of the call they replaced;
- failed attempts (rate limits, 5xx, timeouts...), as ``error`` with their tokens if any;
- optionally (``record_foreign=True``) calls of deployments that are not part of the
  configuration, as ``unrated``, priced by the price book or, failing that, by LiteLLM.

It skips what is not a paid call of its own: judge calls (the gate records them as overhead),
quality rejections (already recorded), tiers skipped by the routing hook and budget refusals
(no call was made). A logging callback never raises into the request: every failure is logged
and counted in :attr:`CostLogger.errors`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Mapping
from typing import Any

from langchain_costrouter.core.errors import BudgetExceededError, LowQualityError, PricingError, RoutingError
from langchain_costrouter.core.faults import classify_error
from langchain_costrouter.core.ledger import new_request_id
from litellm_hooks import _convert as cv
from litellm_hooks._litellm import CustomLogger
from litellm_hooks._runtime import SOURCE, HookRuntime

__all__ = ["CostLogger"]

logger = logging.getLogger(__name__)

_NOT_CALLS = (LowQualityError, RoutingError, BudgetExceededError)


def _ms(start: Any, end: Any) -> float:
    if isinstance(start, dt.datetime) and isinstance(end, dt.datetime):
        return max(0.0, (end - start).total_seconds() * 1000)
    if isinstance(start, int | float) and isinstance(end, int | float):
        return max(0.0, (end - start) * 1000)
    return 0.0


class CostLogger(CustomLogger):
    """Writes LiteLLM calls to the ledger through the core's accountant.

    Args:
        runtime: The shared hook runtime (prices, accountant, request state).
        record_foreign: Also record calls of deployments outside the configuration.

    Attributes:
        calls: Records written.
        errors: Events that could not be recorded (logged, never raised).
    """

    def __init__(self, runtime: HookRuntime, *, record_foreign: bool = False) -> None:
        super().__init__()
        self.runtime = runtime
        # LiteLLM de-duplicates loggers by class and public attributes: keep each instance distinct.
        self.costrouter_instance = runtime.instance_id
        self.record_foreign = record_foreign
        self._lock = threading.Lock()
        self.calls = 0
        self.errors = 0

    def _count(self, *, failed: bool = False) -> None:
        with self._lock:
            if failed:
                self.errors += 1
            else:
                self.calls += 1

    # ------------------------------------------------------------------ LiteLLM events
    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._safe(self._success, kwargs, response_obj, start_time, end_time)

    async def async_log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._safe(self._success, kwargs, response_obj, start_time, end_time)

    def log_failure_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._safe(self._failure, kwargs, response_obj, start_time, end_time)

    async def async_log_failure_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._safe(self._failure, kwargs, response_obj, start_time, end_time)

    def _safe(self, fn: Any, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        try:
            if isinstance(kwargs, Mapping) and not cv.is_internal(kwargs):
                fn(kwargs, response_obj, _ms(start_time, end_time))
        except Exception:  # a logging callback never raises into the request
            self._count(failed=True)
            logger.exception("costrouter CostLogger could not record a LiteLLM call")

    # ------------------------------------------------------------------ recording
    def _ours(self, kwargs: Mapping[str, Any]) -> str | None:
        tier = cv.tier_of(kwargs)
        if tier is None or tier not in self.runtime.tiers or not self.runtime.owns(kwargs):
            return None
        return tier

    def _success(self, kwargs: Mapping[str, Any], response: Any, latency_ms: float) -> None:
        rt = self.runtime
        tier = self._ours(kwargs)
        if kwargs.get("cache_hit") is True and (tier is not None or self.record_foreign):
            self._cache_hit(kwargs, response, latency_ms, tier)
            return
        if tier is None:
            self._foreign(kwargs, response, latency_ms, error=None)
            return
        request_id = cv.trace_id(kwargs) or cv.call_id(kwargs) or new_request_id()
        state = rt.state(request_id)
        if not rt.claim(state, cv.attempt_key(kwargs)):
            return  # the gate hook recorded this answer
        stream = cv.is_stream(kwargs)
        rt.record_attempt(
            state,
            rt.tiers[tier],
            attempt_id=None,
            outcome="served",
            tenant=cv.tenant_of(kwargs, rt.config.ledger.tenant),
            usage=cv.usage_of(response),
            latency_ms=latency_ms,
            extra={"gate": "not run", "stream": stream},
        )
        self._count()

    def _cache_hit(self, kwargs: Mapping[str, Any], response: Any, latency_ms: float, tier: str | None) -> None:
        """An answer LiteLLM served from its cache: no call paid, a whole premium call saved."""
        rt = self.runtime
        usage = cv.usage_of(response)
        model = rt.tiers[tier].model if tier is not None else str(kwargs.get("model") or "unknown")
        rt.accountant.record(
            request_id=cv.trace_id(kwargs) or cv.call_id(kwargs) or new_request_id(),
            model=model,
            usage=usage,
            kind="cache_hit",
            outcome="served",
            tenant=cv.tenant_of(kwargs, rt.config.ledger.tenant),
            tier=tier,
            latency_ms=latency_ms,
            cache_hit=str(cv.metadata_of(kwargs).get(cv.CACHE_HIT_KIND_KEY) or "litellm"),
            cost_usd=0.0,
            baseline_usage=usage,
            source=SOURCE,
            strict=False,
        )
        self._count()

    def _failure(self, kwargs: Mapping[str, Any], response: Any, latency_ms: float) -> None:
        exc = kwargs.get("exception")
        if isinstance(exc, _NOT_CALLS):
            return
        rt = self.runtime
        err = classify_error(exc) if isinstance(exc, BaseException) else None
        error = f"{err.kind}: {type(exc).__name__}" if err is not None else "unknown"
        tier = self._ours(kwargs)
        if tier is None:
            self._foreign(kwargs, response, latency_ms, error=error)
            return
        request_id = cv.trace_id(kwargs) or cv.call_id(kwargs) or new_request_id()
        if rt.already_recorded(request_id, cv.attempt_key(kwargs)):
            return  # a gate rejection (sync rule) the gate hook recorded with its cost
        state = rt.state(request_id)
        rt.record_attempt(
            state,
            rt.tiers[tier],
            attempt_id=None,
            outcome="error",
            tenant=cv.tenant_of(kwargs, rt.config.ledger.tenant),
            usage=cv.usage_of(response),
            latency_ms=latency_ms,
            error=error,
            extra={"status": err.status} if err is not None and err.status else None,
        )
        self._count()

    def _foreign(self, kwargs: Mapping[str, Any], response: Any, latency_ms: float, *, error: str | None) -> None:
        if not self.record_foreign:
            return
        acct = self.runtime.accountant
        model = str(kwargs.get("model") or "unknown")
        provider = kwargs.get("custom_llm_provider")
        if isinstance(provider, str) and provider and not model.startswith(provider + "/"):
            model = f"{provider}/{model}"
        usage = cv.usage_of(response)
        cost: float | None = None
        if error is not None:
            cost = 0.0
        else:
            try:
                acct.cost_usd(model, usage)
            except PricingError:
                litellm_cost = kwargs.get("response_cost")
                cost = float(litellm_cost) if isinstance(litellm_cost, int | float) else None
        acct.record(
            request_id=cv.trace_id(kwargs) or cv.call_id(kwargs) or new_request_id(),
            model=model,
            usage=usage,
            outcome="error" if error is not None else "unrated",
            tenant=cv.tenant_of(kwargs, self.runtime.config.ledger.tenant),
            latency_ms=latency_ms,
            error=error,
            cost_usd=cost,
            source=SOURCE,
            strict=False,
        )
        self._count()
