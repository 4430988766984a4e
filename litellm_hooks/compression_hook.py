"""Prompt compression and batching for LiteLLM: a pre-call hook, an SDK helper, a batch runner.

:class:`CompressionHook` is a ``CustomLogger`` that compresses the user part of a prompt when
it pays (see :mod:`langchain_costrouter.core.compression`), recording each decision in the
ledger:

- **proxy** (``async_pre_call_hook``, before routing): when the requested model group is a
  configured tier/model or a priced model, the prompt is compressed for it and the request is
  marked, so later hooks do not compress it again;
- **SDK and proxy** (``async_pre_call_deployment_hook``, before each attempt): an unmarked
  request is compressed for the deployment actually called, so a cascade compresses only for the
  tiers where it pays (the compression cache makes the rewrite a one-time cost).

The compressor's own calls carry the ``costrouter_internal`` flag and are never compressed or
counted as user attempts. For code that calls ``litellm.completion`` itself,
:func:`compress_kwargs` / :func:`acompress_kwargs` rewrite the kwargs in place of the hook.
:func:`batch_runner` runs multi-question batches through LiteLLM (same format and ledger
records as the LangChain side).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.batching import BatchRunner
from langchain_costrouter.core.compression import CompressedMessages, PromptCompressor
from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.errors import ConfigError, PricingError
from langchain_costrouter.core.pricing import PriceBook
from litellm_hooks import _convert as cv
from litellm_hooks._client import LiteLLMModelClient
from litellm_hooks._litellm import CustomLogger

__all__ = ["COMPRESSED_FLAG", "CompressionHook", "acompress_kwargs", "batch_runner", "compress_kwargs"]

logger = logging.getLogger(__name__)

COMPRESSED_FLAG = "costrouter_compressed"
"""Metadata flag of a request whose prompt the proxy hook already compressed."""


def _compressor_for(config: CostRouterConfig, prices: PriceBook, accountant: CostAccountant | None) -> PromptCompressor:
    name = config.compression.model or config.tiers[0].name
    try:
        spec = config.deployment(name)
    except KeyError:
        raise ConfigError("compression.model", f"unknown model {name!r}") from None
    return PromptCompressor(LiteLLMModelClient(spec, prices), prices, config=config.compression, accountant=accountant)


def _target(config: CostRouterConfig | None, prices: PriceBook, name: Any) -> str | None:
    """The priced model string of a tier name or model string; ``None`` when unknown."""
    if not isinstance(name, str) or not name:
        return None
    if config is not None:
        try:
            return config.deployment(name).model
        except KeyError:
            pass
    try:
        prices.price(name)
    except PricingError:
        return None
    return name


def _messages(kwargs: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    messages = kwargs.get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, Mapping) for m in messages):
        return None
    return [dict(m) for m in messages]


def _request_id(kwargs: Mapping[str, Any]) -> str | None:
    return cv.trace_id(kwargs) or cv.call_id(kwargs)


def compress_kwargs(
    kwargs: dict[str, Any], compressor: PromptCompressor, *, target_model: str | None = None
) -> CompressedMessages | None:
    """Compresses ``kwargs["messages"]`` for ``target_model`` (default ``kwargs["model"]``) in place.

    Use before ``litellm.completion(**kwargs)``. Never raises: on any problem the messages are
    left as they were and ``None`` is returned.
    """
    messages = _messages(kwargs)
    target = target_model or kwargs.get("model")
    if messages is None or not isinstance(target, str) or not compressor.config.enabled:
        return None
    try:
        result = compressor.compress_messages(
            messages,
            target_model=target,
            request_id=_request_id(kwargs),
            tenant=cv.tenant_of(kwargs, "default"),
        )
    except Exception as exc:
        logger.warning("compression skipped after an error: %s", exc)
        return None
    kwargs["messages"] = [dict(m) for m in result.messages]
    return result


async def acompress_kwargs(
    kwargs: dict[str, Any], compressor: PromptCompressor, *, target_model: str | None = None
) -> CompressedMessages | None:
    """Async :func:`compress_kwargs` (before ``litellm.acompletion(**kwargs)``)."""
    messages = _messages(kwargs)
    target = target_model or kwargs.get("model")
    if messages is None or not isinstance(target, str) or not compressor.config.enabled:
        return None
    try:
        result = await compressor.acompress_messages(
            messages,
            target_model=target,
            request_id=_request_id(kwargs),
            tenant=cv.tenant_of(kwargs, "default"),
        )
    except Exception as exc:
        logger.warning("compression skipped after an error: %s", exc)
        return None
    kwargs["messages"] = [dict(m) for m in result.messages]
    return result


def _mark(data: dict[str, Any]) -> None:
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
        data["metadata"] = metadata
    metadata[COMPRESSED_FLAG] = True


class CompressionHook(CustomLogger):
    """Compresses prompts before LiteLLM sends them, when it pays.

    Args:
        compressor: The compressor (its client calls the compression model).
        config: The configuration, to resolve tier names to priced models (optional).
    """

    def __init__(self, compressor: PromptCompressor, *, config: CostRouterConfig | None = None) -> None:
        super().__init__()
        self.compressor = compressor
        self.config = config

    @classmethod
    def from_config(
        cls,
        config: CostRouterConfig,
        *,
        accountant: CostAccountant | None = None,
        prices: PriceBook | None = None,
    ) -> CompressionHook:
        """The hook ``config.compression`` describes; the compressor is called through LiteLLM.

        Args:
            config: The configuration (``compression.model`` names the compressing tier/model).
            accountant: Records the decisions (e.g. ``CostRouterHooks``' runtime accountant).
            prices: Prices (default: the accountant's, else the config's overrides + bundled map).
        """
        book = prices or (accountant.prices if accountant is not None else PriceBook(config.price_overrides_map()))
        return cls(_compressor_for(config, book, accountant), config=config)

    def _skip(self, kwargs: Mapping[str, Any]) -> bool:
        return (
            not self.compressor.config.enabled
            or cv.is_internal(kwargs)
            or bool(cv.metadata_of(kwargs).get(COMPRESSED_FLAG))
        )

    async def async_pre_call_hook(
        self,
        user_api_key_dict: Any,
        cache: Any,
        data: dict[str, Any],
        call_type: Any,
    ) -> dict[str, Any] | None:
        """Proxy: compresses for the requested model group when it is known and priced."""
        if self._skip(data):
            return None
        target = _target(self.config, self.compressor.prices, data.get("model"))
        if target is None:
            return None  # e.g. the routing entry model: the deployment hook decides per attempt
        result = await acompress_kwargs(data, self.compressor, target_model=target)
        if result is None:
            return None
        _mark(data)
        return data

    async def async_pre_call_deployment_hook(self, kwargs: dict[str, Any], call_type: Any) -> dict[str, Any] | None:
        """SDK and proxy: compresses for the deployment about to be called."""
        if self._skip(kwargs):
            return None
        tier = cv.tier_of(kwargs)
        target = _target(self.config, self.compressor.prices, tier or kwargs.get("model"))
        if target is None:
            return None
        result = await acompress_kwargs(kwargs, self.compressor, target_model=target)
        return kwargs if result is not None else None


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
