"""Turns calls into priced ledger records: the one place where a cost is computed.

:class:`CostAccountant` joins a :class:`PriceBook`, a :class:`LedgerBackend` and the premium
(baseline) model. Every adapter (the cascade, the LangChain callback, the LiteLLM logger, the
cache, compression, batching) records through it, so costs and baselines are computed the same
way everywhere.

Records the ledger refuses (it is down, locked or deleted) stay in memory and go out with the
next write, on :meth:`CostAccountant.flush` or :meth:`CostAccountant.close`, and at the latest
when the interpreter exits (an exit hook flushes every accountant still holding records, before
ledgers with writer threads are closed).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any, Required, TypedDict, Unpack

from langchain_costrouter.core._exit import FLUSH, at_exit
from langchain_costrouter.core.errors import LedgerError, PricingError
from langchain_costrouter.core.ledger import (
    CostRecord,
    LedgerBackend,
    MemoryLedger,
    RecordKind,
    RecordOutcome,
    repair_record,
)
from langchain_costrouter.core.pricing import PriceBook
from langchain_costrouter.core.usage import Usage

__all__ = ["CostAccountant", "RecordFields"]

logger = logging.getLogger(__name__)

_ANSWER_OUTCOMES = frozenset({"accepted", "served", "unrated"})


class RecordFields(TypedDict, total=False):
    """The keyword arguments of :meth:`CostAccountant.build` / :meth:`CostAccountant.record`."""

    request_id: Required[str]
    model: Required[str]
    usage: Required[Usage]
    kind: RecordKind
    outcome: RecordOutcome
    tenant: str | None
    task: str | None
    tier: str | None
    latency_ms: float
    cache_hit: str | None
    escalation_step: int
    gate_score: float | None
    error: str | None
    source: str
    cost_usd: float | None
    baseline_usage: Usage | None
    extra: Mapping[str, Any] | None
    strict: bool


class CostAccountant:
    """Prices calls and writes them to the ledger.

    Args:
        prices: Resolves model names to prices.
        ledger: Where records go (defaults to an in-memory ledger).
        premium_model: The always-premium baseline model (a key ``prices`` can resolve).
        tenant: Default tenant tag for records that do not name one.
    """

    def __init__(
        self,
        prices: PriceBook,
        ledger: LedgerBackend | None = None,
        *,
        premium_model: str | None = None,
        tenant: str = "default",
    ) -> None:
        self.prices = prices
        self.ledger: LedgerBackend = ledger if ledger is not None else MemoryLedger()
        self.premium_model = premium_model
        self.tenant = tenant
        self._pending: list[CostRecord] = []
        self._pending_lock = threading.Lock()
        at_exit(self._flush_at_exit, FLUSH)

    def cost_usd(self, model: str, usage: Usage) -> float:
        """Dollar cost of ``usage`` on ``model``; raises ``UnknownModelPriceError``."""
        return self.prices.cost_usd(model, usage)

    def premium_cost_usd(self, usage: Usage) -> float:
        """What the same tokens would cost on the premium model (0 without one)."""
        if self.premium_model is None:
            return 0.0
        # The premium model never answered from a provider prompt cache in the baseline app.
        return self.prices.cost_usd(self.premium_model, usage)

    def estimate_usd(self, model: str, input_tokens: int, max_output_tokens: int) -> float:
        """Upper-bound cost of a call before it is made."""
        return self.prices.price(model).estimate(input_tokens, max_output_tokens)

    def build(
        self,
        *,
        request_id: str,
        model: str,
        usage: Usage,
        kind: RecordKind = "completion",
        outcome: RecordOutcome = "unrated",
        tenant: str | None = None,
        task: str | None = None,
        tier: str | None = None,
        latency_ms: float = 0.0,
        cache_hit: str | None = None,
        escalation_step: int = 0,
        gate_score: float | None = None,
        error: str | None = None,
        source: str = "core",
        cost_usd: float | None = None,
        baseline_usage: Usage | None = None,
        extra: Mapping[str, Any] | None = None,
        strict: bool = True,
    ) -> CostRecord:
        """Prices a call into a record (without writing it).

        Args:
            cost_usd: A known cost (e.g. a provider-reported one); computed from ``usage`` if
                ``None``.
            baseline_usage: The tokens the always-premium app would have spent for this
                record when they differ from ``usage`` (a cache hit spends none but replaces
                a whole call). Only answers (accepted/served/unrated) count for the baseline.
            strict: Raise on an unknown price. With ``strict=False`` (logging callbacks) the
                record is kept with cost 0, baseline 0 (it claims no savings) and
                ``extra["price_error"]`` set, so it is visible in reports instead of being lost.

        A value no ledger can store (a NaN or infinite cost from an infinite price, a lone
        surrogate in a tenant id) is repaired here by
        :func:`~langchain_costrouter.core.ledger.repair_record` and flagged in ``extra``.
        """
        extra_d = dict(extra or {})
        try:
            cost = self.cost_usd(model, usage) if cost_usd is None else cost_usd
        except PricingError as exc:
            if strict:
                raise
            logger.warning("unpriced call recorded with cost 0: %s", exc)
            extra_d["price_error"] = str(exc)
            cost = 0.0
        b_usage = baseline_usage if baseline_usage is not None else usage
        try:
            premium = self.premium_cost_usd(b_usage)
        except PricingError as exc:
            if strict:
                raise
            extra_d["baseline_price_error"] = str(exc)
            premium = 0.0
        baseline = premium if outcome in _ANSWER_OUTCOMES and kind in {"completion", "cache_hit", "batch"} else 0.0
        if "price_error" in extra_d:
            baseline = 0.0  # an unpriced call claims no savings: its $0 cost is unknown, not free
        rec = CostRecord(
            request_id=request_id,
            model=model,
            kind=kind,
            outcome=outcome,
            ts=time.time(),
            tenant=tenant or self.tenant,
            task=task,
            tier=tier,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_tokens=usage.cached_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            cost_usd=cost,
            premium_cost_usd=premium,
            baseline_cost_usd=baseline,
            latency_ms=latency_ms,
            cache_hit=cache_hit,
            escalation_step=escalation_step,
            gate_score=gate_score,
            error=error,
            source=source,
            extra=extra_d,
        )
        fixed, repaired = repair_record(rec)
        if repaired:
            logger.warning("cost record of %s repaired: %s", model, ", ".join(repaired))
        return fixed

    def record(self, **kwargs: Unpack[RecordFields]) -> CostRecord:
        """Builds (see :meth:`build`) and writes a record; returns it."""
        rec = self.build(**kwargs)
        self.write(rec)
        return rec

    @property
    def pending(self) -> int:
        """Records kept in memory because the ledger refused them (written on the next success)."""
        with self._pending_lock:
            return len(self._pending)

    def write(self, record: CostRecord) -> None:
        """Writes a built record; never drops it.

        When the ledger fails, the record is kept in memory and written with the next record
        that goes through (or by :meth:`flush`); the failure is logged, not raised, so a ledger
        outage never fails a user's request.
        """
        with self._pending_lock:
            batch, self._pending = [*self._pending, record], []
        try:
            self.ledger.write_many(batch)
        except Exception as exc:
            with self._pending_lock:
                self._pending = batch + self._pending
            logger.error("ledger write failed, %d record(s) kept in memory: %s", len(batch), exc)

    def flush(self) -> None:
        """Writes records kept in memory after a ledger failure.

        Raises:
            LedgerError: the ledger still refuses them (they stay pending).
        """
        with self._pending_lock:
            batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            self.ledger.write_many(batch)
        except Exception as exc:
            with self._pending_lock:
                self._pending = batch + self._pending
            msg = f"ledger still failing, {len(batch)} record(s) pending: {exc}"
            raise LedgerError(msg) from exc

    def close(self) -> None:
        """Flushes records kept in memory (logging, not raising, if that fails) and closes the ledger."""
        try:
            self.flush()
        except LedgerError as exc:
            logger.error("%s", exc)
        finally:
            self.ledger.close()

    def _flush_at_exit(self) -> None:
        if not self.pending:
            return
        try:
            self.flush()
        except LedgerError as exc:
            logger.error("at exit: %s; these records are lost", exc)
