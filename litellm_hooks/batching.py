"""Batching through LiteLLM: a :class:`~langchain_costrouter.core.batching.BatchRunner` on a configured deployment."""

from __future__ import annotations

from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.batching import BatchRunner
from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.errors import ConfigError
from langchain_costrouter.core.pricing import PriceBook
from litellm_hooks._client import LiteLLMModelClient

__all__ = ["batch_runner"]


def batch_runner(
    config: CostRouterConfig,
    *,
    tier: str | None = None,
    accountant: CostAccountant | None = None,
    system_prompt: str | None = None,
) -> BatchRunner:
    """A :class:`BatchRunner` calling a configured deployment through LiteLLM.

    Args:
        config: The configuration (``batching`` settings).
        tier: Tier or model name (default: ``batching.model``, else the cheapest tier).
        accountant: Records each item's share of every call (default: prices only).
        system_prompt: The shared system prompt.

    Raises:
        ConfigError: the tier or model is not in the configuration.
    """
    name = tier or config.batching.model or config.tiers[0].name
    try:
        spec = config.deployment(name)
    except KeyError:
        raise ConfigError("batching.model", f"unknown tier or model {name!r}") from None
    prices = accountant.prices if accountant is not None else PriceBook(config.price_overrides_map())
    return BatchRunner(
        LiteLLMModelClient(spec, prices),
        prices=prices,
        accountant=accountant,
        config=config.batching,
        system_prompt=system_prompt,
    )
