"""LiteLLM adapters of langchain-costrouter: ``costrouter.yaml`` for ``litellm.Router`` and the proxy.

Public API (imported lazily: ``import litellm_hooks`` imports neither LiteLLM nor LangChain)::

    from litellm_hooks import CostRouterHooks, build_router

    hooks = CostRouterHooks.from_config("costrouter.yaml")
    router = build_router(hooks.config, hooks=hooks)
    await router.acompletion(model="costrouter", messages=[{"role": "user", "content": "..."}])

- :func:`build_router`: a ``litellm.Router`` whose models are the cascade's entry points
  (``costrouter`` for task routing, one per tier to start there), served by the core's request
  pipeline through a LiteLLM custom provider: the same routing, cache, compression, retries,
  gates, budget, ledger and metadata as ``ChatCostRouter``.
- :class:`CostRouterHooks`: the cascade of one configuration (its runtime, the custom provider
  registration, the proxy's response headers, an optional logger of other calls).
- :func:`render_proxy_config`: the LiteLLM proxy YAML (``costrouter litellm-config``).
- :class:`LiteLLMModelClient`: the core's model client over LiteLLM (judges, compression, batching).
"""

from __future__ import annotations

from langchain_costrouter._version import __version__
from langchain_costrouter.core.lazy import lazy_attributes

__all__ = [
    "CostLogger",
    "CostRouterHooks",
    "LiteLLMModelClient",
    "__version__",
    "batch_runner",
    "build_model_list",
    "build_router",
    "render_proxy_config",
]

_LOCATIONS = {
    "CostLogger": "litellm_hooks.cost_logger",
    "CostRouterHooks": "litellm_hooks.hooks",
    "LiteLLMModelClient": "litellm_hooks._client",
    "batch_runner": "litellm_hooks.batching",
    "build_model_list": "litellm_hooks.router",
    "build_router": "litellm_hooks.router",
    "render_proxy_config": "litellm_hooks.proxy_config",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LOCATIONS, globals(), __all__)
