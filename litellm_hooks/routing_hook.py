"""The task-routing hook: sends each request to the tier or model its task needs.

The core router (rules, embeddings or a learned classifier from ``routing:`` in the config)
decides a :class:`~langchain_costrouter.core.routing.RouteDecision` whose ``ladder`` lists the
deployments the request may use, cheapest first. The hook applies it at two points:

- **Proxy** (``async_pre_call_hook``, before the router picks a model group): a request for the
  entry model (``costrouter`` by default) is rewritten to the first deployment of its ladder,
  whose configured ``fallbacks`` are the rest of that ladder. No extra hop.
- **SDK and proxy** (``async_pre_call_deployment_hook``, before each attempt): an attempt on a
  deployment outside the request's ladder, out of ladder order, or over the per-request budget
  raises a typed error before any HTTP call. LiteLLM moves on to the next fallback, so an SDK
  call to the entry model walks the entry chain (the first tier, then every routed specialist,
  then the other tiers) and only the request's own ladder is actually called.

LiteLLM's sync ``Router.completion`` runs no deployment hook: sync calls are not task-routed
(they use the default ladder); see docs/litellm.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from langchain_costrouter.core.cascade import estimate_prompt_tokens
from langchain_costrouter.core.errors import BudgetExceededError, RoutingError
from langchain_costrouter.core.routing import RouteDecision
from litellm_hooks import _convert as cv
from litellm_hooks._litellm import CustomLogger
from litellm_hooks._runtime import HookRuntime, RequestState

__all__ = ["ROUTE_METADATA_KEY", "TaskRoutingHook", "TierSkippedError"]

logger = logging.getLogger(__name__)

ROUTE_METADATA_KEY = "costrouter_route"
"""Metadata key carrying the route decided by the proxy pre-call hook to the deployment hook."""


class TierSkippedError(RoutingError):
    """An attempt on a deployment that the request's route does not use (no call was made).

    Attributes:
        tier: The skipped tier/model.
        route: The request's route (``None`` when routing is off).
        reason: Why it was skipped.
    """

    def __init__(self, tier: str, route: str | None, reason: str) -> None:
        self.tier = tier
        self.route = route
        self.reason = reason
        super().__init__(f"tier {tier!r} skipped for route {route or 'default'!r}: {reason}")


def decision_from_dict(data: Mapping[str, Any]) -> RouteDecision:
    """Rebuilds a :class:`RouteDecision` from :meth:`RouteDecision.to_dict`."""
    return RouteDecision(
        route=data.get("route"),
        ladder=tuple(str(x) for x in data.get("ladder") or ()),
        method=str(data.get("method") or "default"),
        score=float(data.get("score") or 0.0),
        reason=str(data.get("reason") or ""),
    )


class TaskRoutingHook(CustomLogger):
    """Applies the core router's decision to LiteLLM requests.

    Args:
        runtime: The shared hook runtime.
        entry_model: The model name that asks for task routing.
    """

    def __init__(self, runtime: HookRuntime, *, entry_model: str = "costrouter") -> None:
        super().__init__()
        self.runtime = runtime
        # LiteLLM de-duplicates loggers by class and public attributes: keep each instance distinct.
        self.costrouter_instance = runtime.instance_id
        self.entry_model = entry_model

    def _decide(self, kwargs: Mapping[str, Any], request_id: str) -> RouteDecision:
        tenant = cv.tenant_of(kwargs, self.runtime.config.ledger.tenant)
        request = cv.request_from_kwargs(kwargs, request_id=request_id, tenant=tenant, task=None)
        return self.runtime.route(request)

    # ------------------------------------------------------------------ proxy: before routing
    async def async_pre_call_hook(
        self,
        user_api_key_dict: Any,
        cache: Any,
        data: dict[str, Any],
        call_type: Any,
    ) -> dict[str, Any] | None:
        """Proxy only: rewrites a request for the entry model to its ladder's first deployment.

        Raises:
            RoutingError: the router failed (a decision hook raises typed errors).
        """
        if data.get("model") != self.entry_model or not isinstance(data.get("messages"), list):
            return None
        decision = self._decide(data, str(data.get("litellm_call_id") or "proxy"))
        metadata = data.get("metadata")
        if not isinstance(metadata, dict):
            metadata = {}
            data["metadata"] = metadata
        metadata[ROUTE_METADATA_KEY] = decision.to_dict()
        data["model"] = decision.ladder[0]
        logger.debug("routed to %s (%s)", decision.ladder[0], decision.reason)
        return data

    # ------------------------------------------------------------------ SDK + proxy: each attempt
    def _state_for(self, kwargs: Mapping[str, Any], group: str, tier: str) -> RequestState:
        request_id = cv.trace_id(kwargs) or cv.call_id(kwargs) or ""
        rt = self.runtime
        state = rt.state(request_id)
        if state.decision is None:
            carried = cv.metadata_of(kwargs).get(ROUTE_METADATA_KEY)
            if isinstance(carried, Mapping):
                state.decision = decision_from_dict(carried)
                state.chain = rt.natural_ladder(state.decision.ladder[0])
            elif group == self.entry_model:
                state.decision = self._decide(kwargs, request_id)
                state.chain = rt.entry_chain
            else:
                ladder = rt.natural_ladder(tier)
                state.decision = RouteDecision(None, ladder, "direct", reason=f"model {group!r} requested")
                state.chain = ladder
        return state

    def _skip_reason(self, state: RequestState, group: str, tier: str) -> str | None:
        decision = state.decision
        if decision is None:
            return None
        ladder = decision.ladder
        if tier not in ladder:
            return "not in the route's ladder"
        if tier in state.visited_tiers and group not in state.visited_groups:
            return "already tried"
        position = ladder.index(tier)
        if any(t in state.visited_tiers for t in ladder[position + 1 :]):
            return "a more expensive tier of the route was already tried"
        chain = state.chain
        later = chain[chain.index(tier) + 1 :] if tier in chain else ()
        for earlier in ladder[:position]:
            if earlier not in state.visited_tiers and earlier in later:
                return f"{earlier!r} comes first in the route"
        return None

    def _check_budget(self, state: RequestState, tier: str, kwargs: Mapping[str, Any]) -> None:
        limit = self.runtime.config.budget.per_request_usd
        if limit is None:
            return
        spec = self.runtime.tiers[tier]
        request = cv.request_from_kwargs(kwargs, request_id=state.request_id, tenant="", task=None)
        max_out = int(request.params.get("max_tokens") or spec.spec.max_tokens)
        estimate = spec.price.estimate(estimate_prompt_tokens(request), max_out)
        if state.spent_usd + estimate > limit:
            raise BudgetExceededError(
                list(state.attempts), state.spent_usd, limit_usd=limit, next_tier=tier, estimate_usd=estimate
            )

    async def async_pre_call_deployment_hook(self, kwargs: dict[str, Any], call_type: Any) -> dict[str, Any] | None:
        """Skips attempts the route does not use and enforces the per-request budget.

        Raises:
            TierSkippedError: the deployment is not (or no longer) part of the request's route.
            BudgetExceededError: the budget cannot cover this attempt's estimated cost.
        """
        tier = cv.tier_of(kwargs)
        if tier is None or cv.is_internal(kwargs) or not self.runtime.owns(kwargs) or tier not in self.runtime.tiers:
            return None
        group = cv.model_group(kwargs) or tier
        state = self._state_for(kwargs, group, tier)
        reason = self._skip_reason(state, group, tier)
        if reason is not None:
            raise TierSkippedError(tier, state.decision.route if state.decision else None, reason)
        self._check_budget(state, tier, kwargs)
        self.runtime.visit(state, group, tier)
        return None
