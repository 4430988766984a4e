"""``build_router``: a ``litellm.Router`` over the tiers of a ``costrouter.yaml``.

One model group per tier and per extra model (``model_name`` = its name), each with the
deployment's per-token prices in ``litellm_params`` (deterministic costs, equal to the
ledger's), and ``model_info`` naming the tier and the configuration it belongs to (the hooks
act only on their own deployments). ``fallbacks`` chain the tiers: each tier falls back to the
more expensive ones after it, an extra model to the tiers priced above it, and the entry model
(``costrouter``) through :func:`~litellm_hooks._runtime.entry_chain`.

The retry policy retries rate limits, 5xx and timeouts ``retries`` times on the same tier and
never retries anything else (``DefaultRetries=0``): a quality rejection escalates at once. No
``allowed_fails`` is set, so rejections never put a tier in cooldown.
"""

from __future__ import annotations

from typing import Any

from langchain_costrouter.core.config import CostRouterConfig, TierSpec
from langchain_costrouter.core.ledger import LedgerBackend
from langchain_costrouter.core.pricing import PriceBook
from litellm_hooks._client import deployment_params
from litellm_hooks._convert import CONFIG_KEY, TIER_KEY
from litellm_hooks._runtime import config_fingerprint, entry_chain

__all__ = [
    "DEFAULT_ENTRY_MODEL",
    "DEFAULT_RETRIES",
    "build_model_list",
    "build_router",
    "fallback_chains",
    "retry_policy",
    "router_settings",
]

DEFAULT_ENTRY_MODEL = "costrouter"
DEFAULT_RETRIES = 2
_RETRIED = (
    "RateLimitErrorRetries",
    "InternalServerErrorRetries",
    "ServiceUnavailableErrorRetries",
    "TimeoutErrorRetries",
)


def _deployment(name: str, spec: TierSpec, prices: PriceBook, fingerprint: str, *, secrets: bool) -> dict[str, Any]:
    return {
        "model_name": name,
        "litellm_params": deployment_params(spec, prices, secrets=secrets),
        "model_info": {"id": f"costrouter-{fingerprint}-{name}", TIER_KEY: spec.name, CONFIG_KEY: fingerprint},
    }


def build_model_list(
    config: CostRouterConfig,
    *,
    secrets: bool = True,
    entry_model: str = DEFAULT_ENTRY_MODEL,
) -> list[dict[str, Any]]:
    """The ``model_list``: one deployment per tier and extra model, plus the entry model.

    Args:
        config: The configuration.
        secrets: Resolve API keys now (SDK); ``False`` writes ``os.environ/VAR`` references.
        entry_model: Name of the model group that asks for task routing (a copy of the first
            tier's deployment, so it works without the hooks too).
    """
    prices = PriceBook(config.price_overrides_map())
    fingerprint = config_fingerprint(config)
    specs = (*config.tiers, *config.models)
    out = [_deployment(s.name, s, prices, fingerprint, secrets=secrets) for s in specs]
    if entry_model not in {s.name for s in specs}:
        out.append(_deployment(entry_model, config.tiers[0], prices, fingerprint, secrets=secrets))
    return out


def fallback_chains(config: CostRouterConfig, *, entry_model: str = DEFAULT_ENTRY_MODEL) -> list[dict[str, list[str]]]:
    """``fallbacks``: every deployment to the more expensive tiers of its ladder."""
    from langchain_costrouter.core.config import RouteSpec
    from langchain_costrouter.core.routing import ladder_for

    prices = PriceBook(config.price_overrides_map())
    tiers = [t.name for t in config.tiers]
    out: list[dict[str, list[str]]] = []
    for i, name in enumerate(tiers[:-1]):
        out.append({name: tiers[i + 1 :]})
    for spec in config.models:
        ladder = ladder_for(config, RouteSpec(name=f"model:{spec.name}", model=spec.name), prices)
        if len(ladder) > 1:
            out.append({spec.name: list(ladder[1:])})
    chain = entry_chain(config)
    if entry_model not in tiers and len(chain) > 1:
        out.append({entry_model: list(chain[1:])})
    return out


def retry_policy(retries: int = DEFAULT_RETRIES) -> dict[str, int]:
    """Retries for rate limits, 5xx and timeouts; none for anything else (quality rejections)."""
    return {"DefaultRetries": 0, **dict.fromkeys(_RETRIED, retries)}


def router_settings(
    config: CostRouterConfig,
    *,
    retries: int = DEFAULT_RETRIES,
    entry_model: str = DEFAULT_ENTRY_MODEL,
) -> dict[str, Any]:
    """Router arguments shared by the SDK router and the proxy's ``router_settings``."""
    fallbacks = fallback_chains(config, entry_model=entry_model)
    longest = max([len(next(iter(f.values()))) for f in fallbacks] or [0])
    out: dict[str, Any] = {
        "fallbacks": fallbacks,
        "retry_policy": retry_policy(retries),
        "num_retries": retries,
        "max_fallbacks": max(5, longest + 1),
        "retry_after": 0,
    }
    if config.cache.enabled:
        # The Router passes ``caching=cache_responses`` to every call: without it, the
        # cascade's cache (``litellm.cache``, set by the hooks) is never read.
        out["cache_responses"] = True
    return out


def build_router(
    config: CostRouterConfig,
    *,
    hooks: Any = None,
    ledger: LedgerBackend | None = None,
    retries: int = DEFAULT_RETRIES,
    entry_model: str = DEFAULT_ENTRY_MODEL,
    install: bool = True,
    **router_kwargs: Any,
) -> Any:
    """A ``litellm.Router`` over the configured tiers, with the hooks installed.

    Args:
        config: The configuration.
        hooks: A :class:`~litellm_hooks.callbacks.CostRouterHooks` to install (built from the
            config, with ``ledger``, when omitted). Keep a reference to read its ledger.
        ledger: Ledger backend for the hooks built here (default: the config's).
        retries: Retries of rate limits, 5xx and timeouts on the same tier.
        entry_model: The model name that asks for task routing.
        install: Add the hooks to ``litellm.callbacks`` / ``litellm.post_call_rules``.
        **router_kwargs: More ``litellm.Router`` arguments (they win over the defaults).

    Returns:
        The ``litellm.Router``. Call it with ``model=<tier name>`` to start on a tier or
        ``model="costrouter"`` for task routing (async calls; see docs/litellm.md).
    """
    from litellm_hooks._litellm import litellm  # noqa: F401 - offline defaults before litellm.router
    from litellm_hooks.callbacks import CostRouterHooks

    if install:
        if hooks is None:
            hooks = CostRouterHooks(config, ledger=ledger, entry_model=entry_model)
        hooks.install()
    from litellm.router import Router
    from litellm.types.router import RetryPolicy

    settings = router_settings(config, retries=retries, entry_model=entry_model)
    settings["retry_policy"] = RetryPolicy(**settings["retry_policy"])
    settings.update(router_kwargs)
    return Router(model_list=build_model_list(config, entry_model=entry_model), **settings)
