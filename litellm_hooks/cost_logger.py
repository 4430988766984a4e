"""``CostLogger``: records the LiteLLM calls the cascade does not make (``record_foreign``).

The cascade records its own attempts (every tier call, retries, judges, cache hits) through the
request pipeline. An app that also calls other models through LiteLLM can have those calls in the
same ledger: with ``CostRouterHooks(config, record_foreign=True)`` this logger writes each of them
as ``unrated`` (answers) or ``error`` (failures), priced by the price book or, for a model it does
not know, by LiteLLM's own ``response_cost``; LiteLLM cache hits at $0. It skips the cascade's
entry calls and its internal calls. A logging callback never raises into the request: failures
are logged and counted in :attr:`CostLogger.errors`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Mapping
from typing import Any

from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.errors import PricingError
from langchain_costrouter.core.faults import classify_error
from langchain_costrouter.core.ledger import new_request_id
from langchain_costrouter.core.types import tenant_of
from litellm_hooks import _convert as cv
from litellm_hooks.handler import PROVIDER

__all__ = ["CostLogger"]

logger = logging.getLogger(__name__)

SOURCE = "litellm"


def _ms(start: Any, end: Any) -> float:
    if isinstance(start, dt.datetime) and isinstance(end, dt.datetime):
        return max(0.0, (end - start).total_seconds() * 1000)
    if isinstance(start, int | float) and isinstance(end, int | float):
        return max(0.0, (end - start) * 1000)
    return 0.0


def _base() -> type[Any]:
    from litellm.integrations.custom_logger import CustomLogger

    base: type[Any] = CustomLogger
    return base


class CostLogger(_base()):  # type: ignore[misc]
    """Writes LiteLLM calls outside the cascade to the ledger.

    Args:
        accountant: Prices and records (the cascade's, so both share one ledger).

    Attributes:
        calls: Records written.
        errors: Events that could not be recorded (logged, never raised).
    """

    def __init__(self, accountant: CostAccountant) -> None:
        super().__init__()
        self.accountant = accountant
        self._lock = threading.Lock()
        self.calls = 0
        self.errors = 0

    def _count(self, *, failed: bool = False) -> None:
        with self._lock:
            if failed:
                self.errors += 1
            else:
                self.calls += 1

    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._safe(kwargs, response_obj, _ms(start_time, end_time), failed=False)

    async def async_log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._safe(kwargs, response_obj, _ms(start_time, end_time), failed=False)

    def log_failure_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._safe(kwargs, response_obj, _ms(start_time, end_time), failed=True)

    async def async_log_failure_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._safe(kwargs, response_obj, _ms(start_time, end_time), failed=True)

    def _safe(self, kwargs: Any, response: Any, latency_ms: float, *, failed: bool) -> None:
        try:
            if isinstance(kwargs, Mapping) and not cv.is_internal(kwargs) and not _is_cascade(kwargs):
                self._record(kwargs, response, latency_ms, failed=failed)
                self._count()
        except Exception:  # a logging callback never raises into the request
            self._count(failed=True)
            logger.exception("costrouter CostLogger could not record a LiteLLM call")

    def _record(self, kwargs: Mapping[str, Any], response: Any, latency_ms: float, *, failed: bool) -> None:
        model = str(kwargs.get("model") or "unknown")
        provider = kwargs.get("custom_llm_provider")
        if isinstance(provider, str) and provider and not model.startswith(provider + "/"):
            model = f"{provider}/{model}"
        usage = cv.usage_of(response)
        cached = kwargs.get("cache_hit") is True
        cost: float | None = 0.0 if failed or cached else None
        if cost is None:
            try:
                self.accountant.cost_usd(model, usage)
            except PricingError:
                litellm_cost = kwargs.get("response_cost")
                cost = float(litellm_cost) if isinstance(litellm_cost, int | float) else None
        error = None
        if failed:
            exc = kwargs.get("exception")
            error = f"{classify_error(exc).kind}: {type(exc).__name__}" if isinstance(exc, BaseException) else "unknown"
        user = cv.get(kwargs.get("optional_params"), "user") or kwargs.get("user")
        tenant = tenant_of(
            cv.metadata_of(kwargs), user=user if isinstance(user, str) else None, default=self.accountant.tenant
        )
        self.accountant.record(
            request_id=str(kwargs.get("litellm_call_id") or new_request_id()),
            model=model,
            usage=usage,
            kind="cache_hit" if cached else "completion",
            outcome="error" if failed else ("served" if cached else "unrated"),
            tenant=tenant,
            latency_ms=latency_ms,
            cache_hit="litellm" if cached else None,
            error=error,
            cost_usd=cost,
            baseline_usage=usage if cached else None,
            source=SOURCE,
            strict=False,
        )


def _is_cascade(kwargs: Mapping[str, Any]) -> bool:
    """A call to one of the cascade's entry deployments (the cascade records it itself)."""
    provider = kwargs.get("custom_llm_provider") or cv.get(kwargs.get("litellm_params"), "custom_llm_provider")
    return provider == PROVIDER or str(kwargs.get("model") or "").startswith(f"{PROVIDER}/")
