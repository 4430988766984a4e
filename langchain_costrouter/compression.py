"""Prompt compression for LangChain chains: an LCEL runnable over the core's compressor.

- :class:`CompressPrompt` goes before any chat model in a chain::

      chain = prompt | CompressPrompt(compressor, target_model="openai/gpt-4o") | llm

- :func:`maybe_compress_messages` / :func:`amaybe_compress_messages` compress a list of
  LangChain messages for one target model (every decision lands in the ledger).
  ``ChatCostRouter`` does not need them: with ``compression.enabled`` its request pipeline
  compresses per tier, where it pays (the compression cache makes the rewrite a one-time cost).
- :func:`build_compressor` builds the :class:`PromptCompressor` a config describes
  (``compression.model`` names the tier or extra model that compresses).

Only the content of the compressed user messages changes; every other message (the system
prompt first) is passed through as the same object, so its bytes stay identical.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Unpack

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import BaseMessage, HumanMessage, convert_to_messages, convert_to_openai_messages
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import Runnable, RunnableConfig

from langchain_costrouter._tiers import LangChainModelClient, build_tier_model
from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.compression import CompressedMessages, MessagesOptions, PromptCompressor
from langchain_costrouter.core.compression_cache import CompressionCache
from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.errors import ConfigError
from langchain_costrouter.core.pricing import PriceBook

__all__ = ["CompressPrompt", "amaybe_compress_messages", "build_compressor", "maybe_compress_messages"]

logger = logging.getLogger(__name__)


def build_compressor(
    config: CostRouterConfig,
    *,
    models: Mapping[str, BaseChatModel] | None = None,
    accountant: CostAccountant | None = None,
    prices: PriceBook | None = None,
    cache: CompressionCache | None = None,
) -> PromptCompressor:
    """The compressor ``config.compression`` describes.

    Args:
        config: The configuration; ``compression.model`` names a tier or extra model
            (default: the cheapest tier).
        models: Chat models by tier name (``ChatCostRouter.models``); built from the config
            when missing.
        accountant: Records decisions and compression calls.
        prices: Prices (default: the accountant's, else the config's overrides plus the
            bundled map).
        cache: A shared compression cache (default: one from ``compression.cache_*``).

    Raises:
        ConfigError: ``compression.model`` is not a tier or model of the config.
    """
    name = config.compression.model or config.tiers[0].name
    try:
        spec = config.deployment(name)
    except KeyError:
        raise ConfigError("compression.model", f"unknown model {name!r}") from None
    chat = (models or {}).get(name) or build_tier_model(spec, field="compression.model")
    book = prices or (accountant.prices if accountant is not None else PriceBook(config.price_overrides_map()))
    return PromptCompressor(
        LangChainModelClient(chat, spec.model),
        book,
        config=config.compression,
        cache=cache,
        accountant=accountant,
    )


def _as_dicts(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    converted = convert_to_openai_messages(list(messages))
    return list(converted) if isinstance(converted, list) else [converted]


def _apply(messages: Sequence[BaseMessage], result: CompressedMessages) -> list[BaseMessage]:
    out = list(messages)
    if len(result.messages) != len(out):  # a message converted to several: leave all as they were
        return out
    for i, (msg, new) in enumerate(zip(messages, result.messages, strict=True)):
        content = new.get("content")
        if isinstance(content, str) and isinstance(msg.content, str) and content != msg.content:
            out[i] = msg.model_copy(update={"content": content})
    return out


def maybe_compress_messages(
    messages: Sequence[BaseMessage], *, compressor: PromptCompressor | None, **options: Unpack[MessagesOptions]
) -> tuple[list[BaseMessage], CompressedMessages | None]:
    """Compresses ``messages`` for ``options["target_model"]`` when it pays; never raises.

    Args:
        messages: The chat messages as the caller built them.
        compressor: ``None`` (or a disabled config) passes the messages through unchanged.
        **options: ``target_model`` (the model string that will answer: prices the saving),
            ``request_id`` (the cascade's, so the decision sits with the attempts), ``tenant``,
            ``cached_prefix_tokens`` (leading tokens the provider is expected to serve from its
            prefix cache; default: every message before the last user message).

    Returns:
        The messages to send (unchanged objects except compressed user messages) and what
        happened (``None`` when compression is off or failed).
    """
    if compressor is None or not compressor.config.enabled:
        return list(messages), None
    try:
        result = compressor.compress_messages(_as_dicts(messages), **options)
    except Exception as exc:  # compression is an optimisation: never fail the request for it
        return _skipped(messages, exc)
    return _apply(messages, result), result


async def amaybe_compress_messages(
    messages: Sequence[BaseMessage], *, compressor: PromptCompressor | None, **options: Unpack[MessagesOptions]
) -> tuple[list[BaseMessage], CompressedMessages | None]:
    """Async :func:`maybe_compress_messages`."""
    if compressor is None or not compressor.config.enabled:
        return list(messages), None
    try:
        result = await compressor.acompress_messages(_as_dicts(messages), **options)
    except Exception as exc:
        return _skipped(messages, exc)
    return _apply(messages, result), result


def _skipped(messages: Sequence[BaseMessage], exc: Exception) -> tuple[list[BaseMessage], None]:
    logger.warning("compression skipped after an error: %s", exc)
    return list(messages), None


def _to_messages(value: LanguageModelInput) -> list[BaseMessage]:
    if isinstance(value, PromptValue):
        return value.to_messages()
    if isinstance(value, str):
        return [HumanMessage(content=value)]
    return convert_to_messages(value)


class CompressPrompt(Runnable[LanguageModelInput, list[BaseMessage]]):
    """An LCEL step that compresses the prompt for ``target_model`` when it pays.

    Input: a string, a prompt value or messages. Output: the messages to send on.

    Args:
        compressor: The compressor (see :func:`build_compressor`).
        target_model: The model string of the chat model that follows (prices the saving).
        tenant: Ledger tenant of the decisions.
    """

    def __init__(self, compressor: PromptCompressor, *, target_model: str, tenant: str | None = None) -> None:
        self.compressor = compressor
        self.target_model = target_model
        self.tenant = tenant

    def _run(self, value: LanguageModelInput) -> list[BaseMessage]:
        messages, _ = maybe_compress_messages(
            _to_messages(value), compressor=self.compressor, target_model=self.target_model, tenant=self.tenant
        )
        return messages

    async def _arun(self, value: LanguageModelInput) -> list[BaseMessage]:
        messages, _ = await amaybe_compress_messages(
            _to_messages(value), compressor=self.compressor, target_model=self.target_model, tenant=self.tenant
        )
        return messages

    def invoke(
        self,
        input: LanguageModelInput,  # noqa: A002 - LangChain's Runnable signature
        config: RunnableConfig | None = None,
        **kwargs: Any,
    ) -> list[BaseMessage]:
        """Compresses one prompt."""
        return self._call_with_config(self._run, input, config, run_type="prompt")

    async def ainvoke(
        self,
        input: LanguageModelInput,  # noqa: A002
        config: RunnableConfig | None = None,
        **kwargs: Any,
    ) -> list[BaseMessage]:
        """Async :meth:`invoke`."""
        return await self._acall_with_config(self._arun, input, config, run_type="prompt")
