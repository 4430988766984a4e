"""State the LiteLLM hooks share: the core runtime, each request's route and attempts.

LiteLLM calls the hooks once per *attempt* (a deployment call: first try, retry or fallback),
in different objects and sometimes different threads. :class:`HookRuntime` is what they have in
common: one :class:`~langchain_costrouter.core.runtime.CostRouterRuntime` (prices, ledger,
accountant, router, gates) and a small store of :class:`RequestState` keyed by LiteLLM's
``litellm_trace_id``, which LiteLLM keeps across the retries and fallbacks of one request. The
store is bounded and expires entries, so a long-running proxy does not grow.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_costrouter.core.cascade import TierRuntime
from langchain_costrouter.core.config import CostRouterConfig, RouteSpec
from langchain_costrouter.core.gates.base import GateVerdict
from langchain_costrouter.core.ledger import CostRecord, LedgerBackend, RecordOutcome
from langchain_costrouter.core.routing import RouteDecision, ladder_for
from langchain_costrouter.core.runtime import CostRouterRuntime
from langchain_costrouter.core.types import ChatRequest, Completion
from langchain_costrouter.core.usage import Usage
from litellm_hooks._convert import config_id_of

if TYPE_CHECKING:
    from litellm_hooks.cache_hook import CostRouterLiteLLMCache

__all__ = ["HookRuntime", "RequestState", "config_fingerprint", "entry_chain"]

logger = logging.getLogger(__name__)

SOURCE = "litellm"
MAX_REQUESTS = 20_000
TTL_S = 900.0


@dataclass(slots=True)
class RequestState:
    """What the hooks know about one request across its attempts.

    Attributes:
        request_id: The ledger's request id (LiteLLM's trace id).
        decision: The task route, once the routing hook (or the first gate) decided it.
        tried: Tier/model names attempted, in order; a tier's index is its escalation step.
        recorded: Attempt ids (``litellm_call_id``) already written to the ledger.
        attempts: The trail served in response metadata.
        spent_usd: Dollars recorded so far (attempts and overheads).
        chain: The deployments the requested model group falls back through, in order.
        visited_tiers: Tiers the routing hook let through, in order.
        visited_groups: Model groups the routing hook let through.
        best: The best-scoring rejected answer so far: (score, step, tier name, completion),
            served when every tier fails (``on_exhausted: best``), as the cascade does.
    """

    request_id: str
    decision: RouteDecision | None = None
    tried: list[str] = field(default_factory=list)
    recorded: set[str] = field(default_factory=set)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    spent_usd: float = 0.0
    baseline_usd: float = 0.0
    chain: tuple[str, ...] = ()
    visited_tiers: list[str] = field(default_factory=list)
    visited_groups: set[str] = field(default_factory=set)
    created: float = field(default_factory=time.monotonic)
    best: tuple[float, int, str, Completion] | None = None

    def remember(self, score: float, tier: str, completion: Completion) -> None:
        """Keeps a rejected answer when it scores at least as well as the best so far."""
        step = self.step(tier)
        if self.best is None or (score, step) >= self.best[:2]:
            self.best = (score, step, tier, completion)

    def step(self, tier: str) -> int:
        """The escalation step of ``tier`` in this request (registering it when new)."""
        if tier not in self.tried:
            self.tried.append(tier)
        return self.tried.index(tier)


class HookRuntime:
    """The core runtime plus per-request state, shared by every hook of one configuration.

    Args:
        config: The configuration.
        ledger: A ledger backend replacing the one the config names.
    """

    def __init__(self, config: CostRouterConfig, *, ledger: LedgerBackend | None = None) -> None:
        from litellm_hooks._client import judge_client_factory

        self.config = config
        self.core = CostRouterRuntime(config, ledger=ledger, judge_clients=judge_client_factory(config))
        self.accountant = self.core.accountant
        self.tiers: dict[str, TierRuntime] = self.core.engine.tiers
        self.fingerprint = config_fingerprint(config)
        self.instance_id = uuid.uuid4().hex[:12]
        self.entry_chain = entry_chain(config)
        # The cascade's response cache backend (set by CostRouterHooks when ``cache.enabled``).
        self.cache_backend: CostRouterLiteLLMCache | None = None
        self._states: OrderedDict[str, RequestState] = OrderedDict()
        self._foreign_configs: set[str] = set()
        self._lock = threading.Lock()

    @property
    def ledger(self) -> LedgerBackend:
        """The ledger every attempt is written to."""
        return self.core.ledger

    # ------------------------------------------------------------------ deployments
    def owns(self, kwargs: Mapping[str, Any]) -> bool:
        """Whether the attempt was made on a deployment built from this configuration."""
        seen = config_id_of(kwargs)
        if seen == self.fingerprint:
            return True
        if seen is not None and seen not in self._foreign_configs:
            self._foreign_configs.add(seen)
            logger.warning(
                "deployments built from another costrouter config (%s, hooks have %s) are ignored by these hooks; "
                "build the router and the hooks from the same config",
                seen,
                self.fingerprint,
            )
        return False

    def natural_ladder(self, name: str) -> tuple[str, ...]:
        """The deployments a request that starts on ``name`` falls back through (itself first)."""
        tiers = tuple(t.name for t in self.config.tiers)
        if name in tiers:
            return tiers[tiers.index(name) :]
        route = RouteSpec(name=f"model:{name}", model=name)
        return ladder_for(self.config, route, self.core.prices)

    # ------------------------------------------------------------------ requests
    def state(self, request_id: str) -> RequestState:
        """The state of ``request_id`` (created on first use)."""
        now = time.monotonic()
        with self._lock:
            st = self._states.get(request_id)
            if st is None:
                st = RequestState(request_id)
                self._states[request_id] = st
                self._evict(now)
            return st

    def peek(self, request_id: str) -> RequestState | None:
        """The state of ``request_id`` if the hooks saw it."""
        with self._lock:
            return self._states.get(request_id)

    def _evict(self, now: float) -> None:
        while self._states:
            oldest = next(iter(self._states.values()))
            if len(self._states) <= MAX_REQUESTS and now - oldest.created < TTL_S:
                break
            self._states.popitem(last=False)

    def visit(self, state: RequestState, group: str, tier: str) -> None:
        """Notes that the routing hook let an attempt of ``group`` (tier ``tier``) through."""
        with self._lock:
            state.visited_groups.add(group)
            if tier not in state.visited_tiers:
                state.visited_tiers.append(tier)

    def route(self, request: ChatRequest) -> RouteDecision:
        """The core router's decision for ``request``."""
        return self.core.router.route(request)

    # ------------------------------------------------------------------ ledger
    def record_overheads(self, state: RequestState, tier: TierRuntime, step: int, verdict: GateVerdict) -> float:
        """Writes a gate's side calls (a judge) and returns their cost."""
        total = 0.0
        for call in verdict.overhead:
            rec = self.accountant.record(
                request_id=state.request_id,
                model=call.model,
                usage=call.usage,
                kind="judge" if call.kind == "judge" else "embedding",
                outcome="overhead",
                tier=tier.name,
                escalation_step=step,
                task=state.decision.route if state.decision else None,
                latency_ms=call.latency_ms,
                cost_usd=call.cost_usd,
                source=SOURCE,
                strict=False,
            )
            total += rec.cost_usd
        with self._lock:
            state.spent_usd += total
        return total

    def record_attempt(
        self,
        state: RequestState,
        tier: TierRuntime,
        *,
        attempt_id: str | None,
        outcome: RecordOutcome,
        tenant: str,
        completion: Completion | None = None,
        usage: Usage | None = None,
        latency_ms: float = 0.0,
        gate_score: float | None = None,
        error: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> CostRecord:
        """Prices and writes one attempt of ``state``'s request on ``tier``."""
        with self._lock:
            step = state.step(tier.name)
            if attempt_id is not None:
                state.recorded.add(attempt_id)
        rec = self.accountant.record(
            request_id=state.request_id,
            model=tier.model,
            usage=completion.usage if completion is not None else (usage or Usage()),
            outcome=outcome,
            tenant=tenant,
            task=state.decision.route if state.decision else None,
            tier=tier.name,
            escalation_step=step,
            latency_ms=latency_ms,
            gate_score=gate_score,
            error=error,
            source=SOURCE,
            extra=extra,
            strict=False,
        )
        with self._lock:
            state.spent_usd += rec.cost_usd
            state.baseline_usd += rec.baseline_cost_usd
            state.attempts.append(
                {
                    "step": step,
                    "tier": tier.name,
                    "model": tier.model,
                    "outcome": outcome,
                    "score": None if gate_score is None else round(gate_score, 4),
                    "cost_usd": rec.cost_usd,
                    "error": error,
                }
            )
        return rec

    def record_best(
        self, state: RequestState, tier: TierRuntime, completion: Completion, verdict: GateVerdict, tenant: str
    ) -> None:
        """Every tier failed its gate and the last answer is served (``on_exhausted: best``).

        Like the cascade, the always-premium baseline of the request is counted once, on a
        zero-cost ``served`` record flagged ``exhausted``.
        """
        rec = self.accountant.record(
            request_id=state.request_id,
            model=tier.model,
            usage=Usage(),
            baseline_usage=completion.usage,
            cost_usd=0.0,
            outcome="served",
            tenant=tenant,
            task=state.decision.route if state.decision else None,
            tier=tier.name,
            escalation_step=state.step(tier.name),
            gate_score=verdict.score,
            source=SOURCE,
            extra={"flag": "exhausted"},
            strict=False,
        )
        with self._lock:
            state.baseline_usd += rec.baseline_cost_usd

    def claim(self, state: RequestState, attempt_id: str | None) -> bool:
        """Marks ``attempt_id`` as recorded; ``False`` when a hook already recorded it."""
        if attempt_id is None:
            return True
        with self._lock:
            if attempt_id in state.recorded:
                return False
            state.recorded.add(attempt_id)
            return True

    def already_recorded(self, request_id: str | None, attempt_id: str | None) -> bool:
        """Whether a hook already wrote the attempt ``attempt_id`` of ``request_id``."""
        if request_id is None or attempt_id is None:
            return False
        st = self.peek(request_id)
        with self._lock:
            return st is not None and attempt_id in st.recorded

    def trail(self, state: RequestState, tier: str) -> dict[str, Any]:
        """The request's trail for response metadata (``_hidden_params["costrouter"]``)."""
        with self._lock:
            attempts = list(state.attempts)
            escalations = max(0, state.tried.index(tier)) if tier in state.tried else 0
            return {
                "request_id": state.request_id,
                "tier": tier,
                "route": state.decision.to_dict() if state.decision else None,
                "attempts": attempts,
                "escalations": escalations,
                "total_cost_usd": state.spent_usd,
                "baseline_cost_usd": state.baseline_usd,
            }

    def close(self) -> None:
        """Flushes and closes the ledger."""
        self.core.close()


def entry_chain(config: CostRouterConfig) -> tuple[str, ...]:
    """The deployments a request for the entry model falls back through, in order.

    The first tier (the entry deployment), then every extra model a route starts on, then the
    tiers again: every route's ladder is a subsequence of it, so the routing hook can skip what
    a request does not use (a tier is never called twice). Without model routes it is simply
    the tier ladder.
    """
    tiers = [t.name for t in config.tiers]
    routed = (
        [r.model for r in config.routing.routes if r.model is not None and r.model not in tiers]
        if config.routing.type != "none"
        else []
    )
    specialists = list(dict.fromkeys(routed))
    if not specialists:
        return tuple(tiers)
    return (tiers[0], *specialists, *tiers)


def config_fingerprint(config: CostRouterConfig) -> str:
    """A short stable id of a configuration, stamped on the deployments built from it."""
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:16]
