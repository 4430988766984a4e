"""LangChain chat models for configured tiers, and the core's ``ModelClient`` over any of them.

A tier with an ``api_base`` (any OpenAI-compatible server: vLLM, Ollama, the LiteLLM proxy,
the project's local servers) or a provider prefix whose API speaks the OpenAI protocol gets a
``ChatOpenAI``. Any other LangChain chat model can be passed in code
(``ChatCostRouter.from_config(..., tier_models={"premium": ChatAnthropic(...)})``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from langchain_costrouter._convert import completion_from_message
from langchain_costrouter.core.config import TierSpec
from langchain_costrouter.core.errors import ConfigError, MissingCredentialsError
from langchain_costrouter.core.types import Completion

__all__ = ["OPENAI_COMPATIBLE_PROVIDERS", "LangChainModelClient", "build_tier_model"]

# provider prefix -> (OpenAI-compatible base URL or None for OpenAI itself, default key variable)
OPENAI_COMPATIBLE_PROVIDERS: Mapping[str, tuple[str | None, str]] = {
    "openai": (None, "OPENAI_API_KEY"),
    "deepseek": ("https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
    "dashscope": ("https://dashscope-intl.aliyuncs.com/compatible-mode/v1", "DASHSCOPE_API_KEY"),
    "together_ai": ("https://api.together.xyz/v1", "TOGETHERAI_API_KEY"),
    "fireworks_ai": ("https://api.fireworks.ai/inference/v1", "FIREWORKS_AI_API_KEY"),
    "groq": ("https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    "mistral": ("https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
    "deepinfra": ("https://api.deepinfra.com/v1/openai", "DEEPINFRA_API_KEY"),
    "openrouter": ("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    "gemini": ("https://generativelanguage.googleapis.com/v1beta/openai/", "GEMINI_API_KEY"),
    "anthropic": ("https://api.anthropic.com/v1/", "ANTHROPIC_API_KEY"),
}


def build_tier_model(spec: TierSpec, *, field: str = "tiers") -> BaseChatModel:
    """A ``ChatOpenAI`` for a tier; reads its API key from the environment now.

    Raises:
        ConfigError: the provider is not OpenAI-compatible and the tier has no ``api_base``,
            or the key variable is unset for a remote provider.
    """
    provider = spec.model.split("/", 1)[0] if "/" in spec.model else "openai"
    base_url = spec.api_base
    key_env = spec.api_key_env
    if base_url is None:
        if provider not in OPENAI_COMPATIBLE_PROVIDERS:
            raise ConfigError(
                f"{field}.api_base",
                f"provider {provider!r} of {spec.model!r} is not OpenAI-compatible: set api_base "
                "or pass a LangChain chat model for this tier in tier_models",
            )
        base_url, default_env = OPENAI_COMPATIBLE_PROVIDERS[provider]
        key_env = key_env or default_env
    key = spec.api_key
    if key is None and key_env:
        resolved = spec.model_copy(update={"api_key_env": key_env}).resolve_api_key()
        key = resolved
    if key is None:
        if spec.api_base is None:
            raise MissingCredentialsError(f"{field}.api_key_env", spec.name, str(key_env))
        key = SecretStr("not-needed")  # local OpenAI-compatible servers ignore the key
    kwargs: dict[str, Any] = dict(spec.model_kwargs)
    return ChatOpenAI(
        model=spec.provider_model if provider in OPENAI_COMPATIBLE_PROVIDERS else spec.model,
        base_url=base_url,
        api_key=key,
        max_tokens=spec.max_tokens,
        timeout=spec.timeout_s,
        max_retries=0,  # the cascade retries, recording every attempt
        stream_usage=True,
        **kwargs,
    )


class LangChainModelClient:
    """The core's :class:`~langchain_costrouter.core.client.ModelClient` over a chat model."""

    def __init__(self, chat_model: BaseChatModel, model: str) -> None:
        self.chat_model = chat_model
        self._model = model

    @property
    def model(self) -> str:
        return self._model

    @staticmethod
    def _messages(messages: Sequence[Mapping[str, Any]]) -> list[BaseMessage]:
        from langchain_core.messages import convert_to_messages

        return convert_to_messages([dict(m) for m in messages])

    def complete(self, messages: Sequence[Mapping[str, Any]], **params: Any) -> Completion:
        msg = self.chat_model.invoke(self._messages(messages), **params)
        return completion_from_message(msg, model=self._model)

    async def acomplete(self, messages: Sequence[Mapping[str, Any]], **params: Any) -> Completion:
        msg = await self.chat_model.ainvoke(self._messages(messages), **params)
        return completion_from_message(msg, model=self._model)
