"""The response cache inside ChatCostRouter: lookup before the cascade, store after a pass.

A request is looked up in the scope of its route's ladder (the answer of any tier of that
ladder that passed its gate may serve it), its tenant, system prompt, earlier turns, tools and
sampling parameters. Only answers accepted by a gate, or by an ungated last tier, are stored;
flagged best-effort answers, errors, refusals, tool calls and partial streams never are.
"""

from __future__ import annotations

import time
from typing import Any

from langchain_core.messages import AIMessage

from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.cache import CacheHit, CacheScope, ResponseCache, record_cache_hit
from langchain_costrouter.core.cascade import CascadeResult, CascadeRun
from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.gates.base import AlwaysPass

__all__ = ["CacheGlue"]


class CacheGlue:
    """Connects a :class:`ResponseCache` to cascade runs."""

    def __init__(self, cache: ResponseCache, accountant: CostAccountant, config: CostRouterConfig) -> None:
        self.cache = cache
        self.accountant = accountant
        self.namespace = config.cache.namespace

    def scope(self, run: CascadeRun) -> CacheScope:
        """The cache scope of a run (its route's ladder stands for the model)."""
        ladder = "|".join(t.model for t in run.ladder)
        return CacheScope.from_request(
            run.request, model=f"costrouter:{ladder}", namespace=f"{self.namespace}:{run.request.tenant}"
        )

    def lookup(self, run: CascadeRun) -> tuple[CacheHit, float] | None:
        """A hit for the run's request, with the lookup latency in ms."""
        t0 = time.perf_counter()
        hit = self.cache.lookup(self.scope(run), run.request.last_user_text, request_id=run.request.request_id)
        return None if hit is None else (hit, (time.perf_counter() - t0) * 1000)

    async def alookup(self, run: CascadeRun) -> tuple[CacheHit, float] | None:
        """Async :meth:`lookup`."""
        t0 = time.perf_counter()
        hit = await self.cache.alookup(self.scope(run), run.request.last_user_text, request_id=run.request.request_id)
        return None if hit is None else (hit, (time.perf_counter() - t0) * 1000)

    def served_message(self, run: CascadeRun, hit: CacheHit, latency_ms: float) -> AIMessage:
        """Records the hit in the ledger and builds the answer message."""
        records = record_cache_hit(
            self.accountant,
            hit,
            request_id=run.request.request_id,
            tenant=run.request.tenant,
            task=run.decision.route,
            latency_ms=latency_ms,
        )
        trail: dict[str, Any] = {
            "request_id": run.request.request_id,
            "tier": hit.tier,
            "model": hit.model,
            "accepted": True,
            "flag": None,
            "route": run.decision.to_dict(),
            "attempts": [],
            "escalations": 0,
            "cache": {
                "kind": hit.kind,
                "similarity": round(hit.similarity, 4),
                "cached_query": hit.cached_query,
                "age_s": round(hit.age_s, 3),
            },
            "total_cost_usd": sum(r.cost_usd for r in records),
            "baseline_cost_usd": sum(r.baseline_cost_usd for r in records),
        }
        model_name = str(dict(hit.message).get("model_name") or hit.model.split("/", 1)[-1])
        return AIMessage(
            content=hit.text,
            response_metadata={"model_name": model_name, "finish_reason": "stop", "costrouter": trail},
            usage_metadata={"input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
        )

    def _storable(self, run: CascadeRun, result: CascadeResult) -> dict[str, Any] | None:
        if not result.accepted or result.flag is not None:
            return None
        last = result.attempts[-1]
        tier = run.engine.tiers[result.answered_by]
        if last.outcome == "streamed" and not isinstance(tier.gate, AlwaysPass):
            return None  # streamed straight through without its gate: not vouched for
        c = result.completion
        meta = dict(getattr(c.raw, "response_metadata", None) or {})
        return {
            "model": c.model,
            "tier": result.answered_by,
            "usage": c.usage,
            "gate_passed": True,
            "finish_reason": c.finish_reason,
            "tool_calls": c.tool_calls,
            "refusal": c.refusal,
            "message": {"model_name": meta.get("model_name")},
            "request_id": run.request.request_id,
        }

    def store(self, run: CascadeRun, result: CascadeResult) -> None:
        """Stores an accepted answer (the cache itself refuses what must never be cached)."""
        kwargs = self._storable(run, result)
        if kwargs is not None:
            self.cache.store(self.scope(run), run.request.last_user_text, result.completion.text, **kwargs)

    async def astore(self, run: CascadeRun, result: CascadeResult) -> None:
        """Async :meth:`store`."""
        kwargs = self._storable(run, result)
        if kwargs is not None:
            await self.cache.astore(self.scope(run), run.request.last_user_text, result.completion.text, **kwargs)
