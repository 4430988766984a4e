"""LiteLLM adapters of langchain-costrouter: ``costrouter.yaml`` for ``litellm.Router`` and the proxy.

Public API (imported lazily: ``import litellm_hooks`` imports neither LiteLLM nor LangChain)::

    from litellm_hooks import CostRouterHooks, build_router

    hooks = CostRouterHooks.from_config("costrouter.yaml")
    router = build_router(hooks.config, hooks=hooks)
    await router.acompletion(model="costrouter", messages=[{"role": "user", "content": "..."}])

- :func:`build_router`: a ``litellm.Router`` (one model group per tier, fallbacks chaining the
  tiers, retries for rate limits and 5xx only, per-deployment prices).
- :class:`CostRouterHooks`: the hooks of one configuration (:class:`QualityGateHook`,
  :class:`TaskRoutingHook`, :class:`CostLogger`), sharing the core's gates, router, prices and
  ledger.
- :func:`render_proxy_config`: the LiteLLM proxy YAML (``costrouter litellm-config``).
- :class:`LiteLLMModelClient`: the core's model client over LiteLLM (judge gates).
"""

from __future__ import annotations

from langchain_costrouter.core.lazy import lazy_attributes

__all__ = [
    "CostLogger",
    "CostRouterHooks",
    "LiteLLMModelClient",
    "QualityGateHook",
    "TaskRoutingHook",
    "TierSkippedError",
    "build_model_list",
    "build_router",
    "proxy_hooks",
    "render_proxy_config",
    "router_settings",
]

_LOCATIONS = {
    "CostLogger": "litellm_hooks.cost_logger",
    "CostRouterHooks": "litellm_hooks.callbacks",
    "LiteLLMModelClient": "litellm_hooks._client",
    "QualityGateHook": "litellm_hooks.hooks",
    "TaskRoutingHook": "litellm_hooks.routing_hook",
    "TierSkippedError": "litellm_hooks.routing_hook",
    "build_model_list": "litellm_hooks.router",
    "build_router": "litellm_hooks.router",
    "proxy_hooks": "litellm_hooks.callbacks",
    "render_proxy_config": "litellm_hooks.proxy_config",
    "router_settings": "litellm_hooks.router",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LOCATIONS, globals(), __all__)
