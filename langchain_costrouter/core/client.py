"""The model-client protocol the core calls models through (judge, compression, batching).

Adapters implement it: the LangChain layer over any ``BaseChatModel``, the LiteLLM layer over
``litellm.completion``, tests over the local OpenAI-compatible server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from langchain_costrouter.core.types import Completion

__all__ = ["ModelClient"]


@runtime_checkable
class ModelClient(Protocol):
    """Calls one model with OpenAI-format messages."""

    @property
    def model(self) -> str:
        """The model string (as priced)."""
        ...

    def complete(self, messages: Sequence[Mapping[str, Any]], **params: Any) -> Completion:
        """One synchronous call."""
        ...

    async def acomplete(self, messages: Sequence[Mapping[str, Any]], **params: Any) -> Completion:
        """One asynchronous call."""
        ...
