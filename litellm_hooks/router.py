"""``build_router``: a ``litellm.Router`` whose models are the cascade's entry points.

One deployment per entry point, each served by the cascade's custom provider
(:mod:`litellm_hooks.handler`): ``costrouter`` (the entry model: task-routed) and one per tier
and extra model (``model="premium"`` starts the cascade on that tier). The Router neither retries
nor falls back on them: the cascade does both (``cascade.retries``; the route's ladder), records
every attempt, and reports the request's total cost as LiteLLM's ``response_cost``.
:func:`tier_model_list` is the plain deployment list of the tiers (no cascade), for comparisons.
"""

from __future__ import annotations

from typing import Any

from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.ledger import LedgerBackend
from langchain_costrouter.core.pricing import PriceBook
from litellm_hooks._client import deployment_params
from litellm_hooks.handler import PROVIDER, ROUTE_TARGET, TIER_TARGET
from litellm_hooks.hooks import config_fingerprint

__all__ = [
    "ALLOWED_PARAMS",
    "DEFAULT_ENTRY_MODEL",
    "build_model_list",
    "build_router",
    "router_settings",
    "tier_model_list",
]

DEFAULT_ENTRY_MODEL = "costrouter"

ALLOWED_PARAMS = (
    "reasoning_effort", "user", "verbosity", "thinking", "web_search_options", "safety_identifier",
    "prompt_cache_key", "store", "prediction", "audio", "modalities", "service_tier",
)  # fmt: skip
"""OpenAI parameters LiteLLM would refuse for a custom provider; the cascade passes them to the tiers."""


def _entry(name: str, target: str, fingerprint: str) -> dict[str, Any]:
    return {
        "model_name": name,
        "litellm_params": {
            "model": f"{PROVIDER}/{fingerprint}:{target}",
            "allowed_openai_params": list(ALLOWED_PARAMS),
        },
        "model_info": {"id": f"costrouter-{fingerprint}-{name}"},
    }


def build_model_list(config: CostRouterConfig, *, entry_model: str = DEFAULT_ENTRY_MODEL) -> list[dict[str, Any]]:
    """The ``model_list``: the entry model plus one cascade entry per tier and extra model."""
    fingerprint = config_fingerprint(config)
    specs = (*config.tiers, *config.models)
    out = [_entry(s.name, f"{TIER_TARGET}{s.name}", fingerprint) for s in specs]
    if entry_model not in {s.name for s in specs}:
        out.insert(0, _entry(entry_model, ROUTE_TARGET, fingerprint))
    return out


def tier_model_list(config: CostRouterConfig, *, secrets: bool = True) -> list[dict[str, Any]]:
    """Plain deployments of the tiers and extra models (no cascade), e.g. for a baseline proxy."""
    prices = PriceBook(config.price_overrides_map())
    return [
        {"model_name": s.name, "litellm_params": deployment_params(s, prices, secrets=secrets)}
        for s in (*config.tiers, *config.models)
    ]


def router_settings(config: CostRouterConfig) -> dict[str, Any]:
    """Router arguments shared by the SDK router and the proxy's ``router_settings``."""
    return {"num_retries": 0, "retry_after": 0}


def build_router(
    config: CostRouterConfig,
    *,
    hooks: Any = None,
    ledger: LedgerBackend | None = None,
    entry_model: str = DEFAULT_ENTRY_MODEL,
    install: bool = True,
    **router_kwargs: Any,
) -> Any:
    """A ``litellm.Router`` over the cascade's entry points, with the hooks installed.

    Args:
        config: The configuration.
        hooks: A :class:`~litellm_hooks.hooks.CostRouterHooks` built from ``config`` (built
            here, with ``ledger``, when omitted; keep a reference to read its ledger).
        ledger: Ledger backend for the hooks built here (default: the config's).
        entry_model: The model name that asks for task routing.
        install: Install the hooks (register the cascade with LiteLLM).
        **router_kwargs: More ``litellm.Router`` arguments (they win over the defaults).

    Returns:
        The ``litellm.Router``. Call it with ``model="costrouter"`` for task routing or
        ``model=<tier name>`` to start on a tier; sync, async and streaming calls alike.
    """
    from litellm.router import Router

    from litellm_hooks.hooks import CostRouterHooks

    if hooks is None:
        hooks = CostRouterHooks(config, ledger=ledger, entry_model=entry_model)
    if install:
        hooks.install()
    settings = router_settings(config)
    settings.update(router_kwargs)
    return Router(model_list=build_model_list(config, entry_model=entry_model), **settings)
