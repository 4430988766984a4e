"""LangChain callbacks that write every chat-model call to the cost ledger.

:class:`CostCallbackHandler` works with any LangChain chat model (``ChatOpenAI``, ...): on each
LLM end it prices the answer's ``usage_metadata`` under its ``response_metadata["model_name"]``
and writes a record; on an error it writes an error record, so no call goes unaccounted.
Answers of :class:`~langchain_costrouter.ChatCostRouter` are already in the ledger (one record
per attempt, written by the cascade); the handler only adds them to its running totals.

:func:`get_cost_callback` mirrors LangChain's ``get_usage_metadata_callback``::

    with get_cost_callback(premium_model="openai/gpt-4o") as cb:
        chain.invoke(...)
    print(cb.total_cost_usd, cb.savings_usd)

A call on a model without a known price is never counted as free: its record is flagged
(``extra["price_error"]``, cost and baseline $0), it is left out of ``baseline_cost_usd`` and
``savings_usd`` (no savings are claimed for it), and ``cb.unpriced_calls`` /
``cb.unpriced_models`` say how many and which. Its tokens still count in ``usage_by_model``,
as ``get_openai_callback`` counts tokens of models it cannot price. Pass ``strict_pricing=True``
to raise :class:`~langchain_costrouter.core.errors.UnknownModelPriceError` from the call instead
(after its record is written).

Otherwise a logging callback never raises into the request: failures are logged and counted in
``cb.errors``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.tracers.context import register_configure_hook

from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.errors import UnknownModelPriceError
from langchain_costrouter.core.ledger import LedgerBackend, MemoryLedger, ledger_from_config
from langchain_costrouter.core.pricing import PriceBook
from langchain_costrouter.core.usage import Usage

__all__ = ["CostCallbackHandler", "get_cost_callback"]

logger = logging.getLogger(__name__)


class CostCallbackHandler(BaseCallbackHandler):
    """Records the tokens and dollars of every chat-model call.

    Args:
        accountant: Prices and writes records (built from the other arguments if omitted).
        ledger: The ledger to write to (default: in memory).
        prices: Price book (default: LiteLLM's bundled map).
        premium_model: Baseline model for savings (``None``: no baseline).
        tenant: Tenant tag (a call's ``metadata={"tenant": ...}`` wins).
        strict_pricing: Raise :class:`UnknownModelPriceError` from a call whose model has no
            known price (its record is written first) instead of flagging it.

    Attributes:
        total_cost_usd: Dollars spent by the priced calls seen (cascade attempts included).
        baseline_cost_usd: What an always-premium app would have paid for the same answers
            (priced calls only).
        usage_by_model: Tokens per model name (unpriced calls included).
        calls: Number of LLM calls seen; ``errors`` of them failed or could not be recorded.
        unpriced_calls: Calls whose model has no known price: recorded at $0 with
            ``extra["price_error"]``, left out of the baseline and the savings.
        unpriced_models: The models of those calls.
    """

    raise_error = False
    run_inline = True

    def __init__(
        self,
        accountant: CostAccountant | None = None,
        *,
        ledger: LedgerBackend | None = None,
        prices: PriceBook | None = None,
        premium_model: str | None = None,
        tenant: str = "default",
        strict_pricing: bool = False,
    ) -> None:
        super().__init__()
        self.strict_pricing = strict_pricing
        self.raise_error = strict_pricing  # LangChain re-raises a handler's error only when set
        self.accountant = accountant or CostAccountant(
            prices or PriceBook(),
            ledger if ledger is not None else MemoryLedger(),
            premium_model=premium_model,
            tenant=tenant,
        )
        self._lock = threading.Lock()
        self._starts: dict[UUID, tuple[float, str | None, str | None]] = {}
        self.total_cost_usd = 0.0
        self.baseline_cost_usd = 0.0
        self.usage_by_model: dict[str, Usage] = {}
        self.calls = 0
        self.errors = 0
        self.unpriced_calls = 0
        self.unpriced_models: set[str] = set()

    @classmethod
    def from_config(cls, config: CostRouterConfig, *, strict_pricing: bool = False) -> CostCallbackHandler:
        """A handler writing to the config's ledger with its prices and premium baseline."""
        accountant = CostAccountant(
            PriceBook(config.price_overrides_map()),
            ledger_from_config(config.ledger),
            premium_model=config.premium.model,
            tenant=config.ledger.tenant,
        )
        return cls(accountant, strict_pricing=strict_pricing)

    @property
    def savings_usd(self) -> float:
        """Baseline minus actual spend, over priced calls (unpriced ones claim nothing)."""
        return self.baseline_cost_usd - self.total_cost_usd

    def __repr__(self) -> str:
        return (
            f"CostCallbackHandler(calls={self.calls}, total_cost_usd={self.total_cost_usd:.6f}, "
            f"baseline_cost_usd={self.baseline_cost_usd:.6f}, unpriced_calls={self.unpriced_calls})"
        )

    # ------------------------------------------------------------------ events
    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            meta = metadata or {}
            params = kwargs.get("invocation_params") or {}
            model = meta.get("ls_model_name") or params.get("model") or params.get("model_name")
            tenant = meta.get("tenant") or meta.get("costrouter_tenant") or meta.get("user_id")
            with self._lock:
                self._starts[run_id] = (time.perf_counter(), model, tenant)
        except Exception:  # a logging callback never raises into the request
            logger.exception("cost callback failed on start")

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        try:
            self._on_end(response, run_id)
        except UnknownModelPriceError:
            raise  # strict_pricing: the record is written, the caller asked to be told
        except Exception:
            with self._lock:
                self.errors += 1
            logger.exception("cost callback failed to record a call")

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        try:
            with self._lock:
                t0, model, tenant = self._starts.pop(run_id, (time.perf_counter(), None, None))
                self.calls += 1
            self.accountant.record(
                request_id=str(run_id),
                model=model or "unknown",
                usage=Usage(),
                outcome="error",
                tenant=tenant,
                latency_ms=(time.perf_counter() - t0) * 1000,
                error=type(error).__name__,
                source="langchain",
                cost_usd=0.0,
                strict=False,
            )
        except Exception:
            with self._lock:
                self.errors += 1
            logger.exception("cost callback failed to record an error")

    def _on_end(self, response: LLMResult, run_id: UUID) -> None:
        with self._lock:
            t0, start_model, tenant = self._starts.pop(run_id, (time.perf_counter(), None, None))
        latency_ms = (time.perf_counter() - t0) * 1000
        llm_model = (response.llm_output or {}).get("model_name")
        missing: list[str] = []
        for generations in response.generations:
            for gen in generations:
                message = gen.message if isinstance(gen, ChatGeneration) else None
                if not isinstance(message, AIMessage):
                    continue
                meta: Mapping[str, Any] = message.response_metadata or {}
                model = str(meta.get("model_name") or llm_model or start_model or "unknown")
                usage = Usage.from_langchain(message.usage_metadata)
                trail = meta.get("costrouter")
                if isinstance(trail, Mapping):
                    self._add_routed(trail, model, usage)
                    continue
                rec = self.accountant.record(
                    request_id=str(run_id),
                    model=model,
                    usage=usage,
                    outcome="unrated",
                    tenant=tenant,
                    latency_ms=latency_ms,
                    source="langchain",
                    strict=False,
                )
                unpriced = "price_error" in rec.extra
                with self._lock:
                    self.calls += 1
                    self.total_cost_usd += rec.cost_usd
                    self.baseline_cost_usd += rec.baseline_cost_usd
                    self.usage_by_model[model] = self.usage_by_model.get(model, Usage()) + usage
                    if unpriced:
                        self.unpriced_calls += 1
                        self.unpriced_models.add(model)
                if unpriced:
                    missing.append(model)
        if missing and self.strict_pricing:
            raise UnknownModelPriceError(missing[0])

    def _add_routed(self, trail: Mapping[str, Any], model: str, usage: Usage) -> None:
        """A ChatCostRouter answer: its attempts are in the ledger already; update totals only."""
        baseline = float(trail.get("baseline_cost_usd") or 0.0)
        with self._lock:
            self.calls += 1
            self.total_cost_usd += float(trail.get("total_cost_usd") or 0.0)
            self.baseline_cost_usd += baseline
            self.usage_by_model[model] = self.usage_by_model.get(model, Usage()) + usage


_cost_callback_var: ContextVar[CostCallbackHandler | None] = ContextVar("costrouter_cost_callback", default=None)
register_configure_hook(_cost_callback_var, inheritable=True)


@contextmanager
def get_cost_callback(
    handler: CostCallbackHandler | None = None,
    **kwargs: Any,
) -> Generator[CostCallbackHandler, None, None]:
    """Records every chat-model call made inside the ``with`` block.

    Args:
        handler: A handler to use (default: a new one built with ``kwargs``).
        **kwargs: Arguments of :class:`CostCallbackHandler` (``ledger``, ``premium_model``...).

    Yields:
        The handler, whose totals grow as calls end.
    """
    cb = handler or CostCallbackHandler(**kwargs)
    token = _cost_callback_var.set(cb)
    try:
        yield cb
    finally:
        _cost_callback_var.reset(token)
