"""Token usage, normalised from the shapes providers and frameworks report.

One :class:`Usage` shape is used everywhere in the core. ``input_tokens`` counts *all* prompt
tokens (cached and cache-write included) and ``output_tokens`` all completion tokens
(reasoning included), as OpenAI reports them; the breakdown fields say which part of those
totals is priced differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Usage"]


def _int(value: Any) -> int:
    if value is None or isinstance(value, bool):
        return 0
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def _get(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one call.

    Attributes:
        input_tokens: All prompt tokens, including cached and cache-write tokens.
        output_tokens: All completion tokens, including reasoning tokens.
        cached_tokens: Prompt tokens served from the provider's prompt cache.
        cache_write_tokens: Prompt tokens written to the provider's prompt cache.
        reasoning_tokens: Completion tokens spent on hidden reasoning.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_tokens + other.cached_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )

    @classmethod
    def from_openai(cls, usage: Any) -> Usage:
        """Reads an OpenAI-style ``usage`` object or dict.

        Understands ``prompt_tokens_details.cached_tokens``,
        ``completion_tokens_details.reasoning_tokens``, Anthropic-style
        ``cache_read_input_tokens`` / ``cache_creation_input_tokens`` (as LiteLLM passes them
        through, where ``prompt_tokens`` already includes them) and DeepSeek's
        ``prompt_cache_hit_tokens``.
        """
        if usage is None:
            return cls()
        prompt = _int(_get(usage, "prompt_tokens"))
        completion = _int(_get(usage, "completion_tokens"))
        p_details = _get(usage, "prompt_tokens_details")
        c_details = _get(usage, "completion_tokens_details")
        cached = _int(_get(p_details, "cached_tokens"))
        cached = cached or _int(_get(usage, "cache_read_input_tokens"))
        cached = cached or _int(_get(usage, "prompt_cache_hit_tokens"))
        write = _int(_get(p_details, "cache_creation_tokens"))
        write = write or _int(_get(usage, "cache_creation_input_tokens"))
        reasoning = _int(_get(c_details, "reasoning_tokens"))
        return cls.clamped(prompt, completion, cached, write, reasoning)

    @classmethod
    def from_langchain(cls, usage_metadata: Any) -> Usage:
        """Reads LangChain's ``UsageMetadata`` dict (``input_tokens``, ``output_tokens``...)."""
        if not usage_metadata:
            return cls()
        prompt = _int(_get(usage_metadata, "input_tokens"))
        completion = _int(_get(usage_metadata, "output_tokens"))
        in_details = _get(usage_metadata, "input_token_details")
        out_details = _get(usage_metadata, "output_token_details")
        cached = _int(_get(in_details, "cache_read"))
        write = _int(_get(in_details, "cache_creation"))
        reasoning = _int(_get(out_details, "reasoning"))
        return cls.clamped(prompt, completion, cached, write, reasoning)

    @classmethod
    def clamped(cls, prompt: int, completion: int, cached: int, write: int, reasoning: int) -> Usage:
        """Usage whose detail counts never exceed the totals they are part of."""
        return cls(
            input_tokens=prompt,
            output_tokens=completion,
            cached_tokens=min(cached, prompt),
            cache_write_tokens=min(write, max(0, prompt - cached)),
            reasoning_tokens=min(reasoning, completion),
        )

    def to_langchain(self) -> dict[str, Any]:
        """Renders LangChain's ``UsageMetadata`` dict shape (plain dict, no import)."""
        out: dict[str, Any] = {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
        }
        if self.cached_tokens or self.cache_write_tokens:
            out["input_token_details"] = {
                "cache_read": self.cached_tokens,
                "cache_creation": self.cache_write_tokens,
            }
        if self.reasoning_tokens:
            out["output_token_details"] = {"reasoning": self.reasoning_tokens}
        return out

    def to_openai(self) -> dict[str, Any]:
        """Renders an OpenAI ``usage`` dict."""
        return {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
        }
