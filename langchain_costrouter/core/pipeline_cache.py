"""The response cache's place in the request pipeline: one scope, lookup, hit and store rule.

A request is looked up in the scope of its route's ladder (an answer that passed its gate on any
tier of that ladder may serve it), its namespace and tenant, and every part of the request that
can change the answer (the cache's key function). Only answers accepted by their gate, or by
an ungated last tier that was not streamed past its gate, are offered to the cache, which
refuses what must never be cached (refusals, errors, truncations, tool calls). A cache failure
is logged and counted, never raised into a request.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.cache.engine import ResponseCache
from langchain_costrouter.core.cache.entries import CacheHit, CacheLookup, record_cache_hit
from langchain_costrouter.core.cache.scope import CacheScope, cache_scope
from langchain_costrouter.core.cache.shadow import ShadowCandidate
from langchain_costrouter.core.cascade import CascadeResult, CascadeRun
from langchain_costrouter.core.gates.base import AlwaysPass
from langchain_costrouter.core.types import Completion
from langchain_costrouter.core.usage import Usage

__all__ = ["CacheStep", "Found"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Found:
    """A lookup's outcome and how long it took."""

    lookup: CacheLookup
    latency_ms: float

    @property
    def hit(self) -> CacheHit | None:
        """The answer to serve, if any."""
        return self.lookup.hit

    @property
    def shadow(self) -> ShadowCandidate | None:
        """A candidate to compare with the fresh answer (``cache.semantic: shadow`` / ``auto``)."""
        return self.lookup.shadow


class CacheStep:
    """Connects a :class:`ResponseCache` to cascade runs.

    Args:
        cache: The engine.
        accountant: Records hits (at $0, with the premium baseline they saved).
        namespace: The config's ``cache.namespace``; the request's tenant refines it.
    """

    def __init__(self, cache: ResponseCache, accountant: CostAccountant, namespace: str) -> None:
        self.cache = cache
        self.accountant = accountant
        self.namespace = namespace
        self.enabled = True
        self.errors = 0

    def scope(self, run: CascadeRun) -> CacheScope:
        """The run's scope: the cache's key function on the request, its ladder and namespace."""
        return cache_scope(run.request, ladder=[t.model for t in run.ladder], namespace=self.namespace)

    def _failed(self, what: str, exc: Exception) -> None:
        self.errors += 1
        logger.warning("response cache %s failed; the request goes on without it", what, exc_info=exc)

    def lookup(self, run: CascadeRun) -> Found:
        """What the cache has for the run's request (a miss when the lookup fails)."""
        t0 = time.perf_counter()
        try:
            found = self.cache.find(self.scope(run), run.request.last_user_text, request_id=run.request.request_id)
        except Exception as exc:
            self._failed("lookup", exc)
            return Found(CacheLookup(), 0.0)
        return Found(found, (time.perf_counter() - t0) * 1000)

    async def alookup(self, run: CascadeRun) -> Found:
        """Async :meth:`lookup`."""
        t0 = time.perf_counter()
        try:
            found = await self.cache.afind(
                self.scope(run), run.request.last_user_text, request_id=run.request.request_id
            )
        except Exception as exc:
            self._failed("lookup", exc)
            return Found(CacheLookup(), 0.0)
        return Found(found, (time.perf_counter() - t0) * 1000)

    def served(self, run: CascadeRun, hit: CacheHit, latency_ms: float) -> CascadeResult:
        """Records a hit in the ledger and returns it as the run's result."""
        records = record_cache_hit(
            self.accountant,
            hit,
            request_id=run.request.request_id,
            tenant=run.request.tenant,
            task=run.decision.route,
            latency_ms=latency_ms,
        )
        message = dict(hit.message)
        completion = Completion(
            text=hit.text,
            model=hit.model,
            usage=Usage(),
            finish_reason="stop",
            raw={"cache": True, **message},
        )
        return CascadeResult(
            run.request.request_id,
            completion,
            hit.tier or hit.model,
            (),
            run.decision,
            sum(r.cost_usd for r in records),
            True,
            baseline_cost_usd=sum(r.baseline_cost_usd for r in records),
            cache={
                "kind": hit.kind,
                "similarity": round(hit.similarity, 4),
                "cached_query": hit.cached_query,
                "age_s": round(hit.age_s, 3),
            },
        )

    @staticmethod
    def storable(run: CascadeRun, result: CascadeResult) -> bool:
        """Whether the result may be offered to the cache (a gate vouched for it)."""
        if not result.accepted or result.flag is not None or result.cache is not None or not result.attempts:
            return False
        last = result.attempts[-1]
        tier = run.engine.tiers[result.answered_by]
        # streamed straight through without its gate: not vouched for
        return not (last.outcome == "streamed" and not isinstance(tier.gate, AlwaysPass))

    def _store_kwargs(self, run: CascadeRun, result: CascadeResult) -> dict[str, Any]:
        c = result.completion
        spec = run.engine.config.deployment(result.answered_by)
        return {
            "model": c.model,
            "tier": result.answered_by,
            "usage": c.usage,
            "gate_passed": True,
            "finish_reason": c.finish_reason,
            "tool_calls": c.tool_calls,
            "refusal": c.refusal,
            "message": {"model_name": spec.provider_model},
            "request_id": run.request.request_id,
        }

    def store(self, run: CascadeRun, result: CascadeResult, shadow: ShadowCandidate | None = None) -> None:
        """Offers an accepted answer to the cache (never raises); a shadow candidate is compared with it."""
        try:
            self.cache.observe_shadow(shadow, result.completion.text)
            self.cache.store(
                self.scope(run), run.request.last_user_text, result.completion.text, **self._store_kwargs(run, result)
            )
        except Exception as exc:
            self._failed("store", exc)

    async def astore(self, run: CascadeRun, result: CascadeResult, shadow: ShadowCandidate | None = None) -> None:
        """Async :meth:`store`."""
        try:
            await self.cache.aobserve_shadow(shadow, result.completion.text)
            await self.cache.astore(
                self.scope(run), run.request.last_user_text, result.completion.text, **self._store_kwargs(run, result)
            )
        except Exception as exc:
            self._failed("store", exc)
