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

import importlib
from typing import Any

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


def __getattr__(name: str) -> Any:
    module = _LOCATIONS.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
