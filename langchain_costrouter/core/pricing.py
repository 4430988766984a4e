"""Prices and costs of model calls, deterministic and offline.

Prices come from overrides (the config) first, then from the price map LiteLLM bundles in its
wheel, read as a file: the core never imports ``litellm`` and never fetches a remote map.
Only the base per-token fields are used (``input_cost_per_token``, ``output_cost_per_token``,
``cache_read_input_token_cost``, ``cache_creation_input_token_cost``,
``output_cost_per_reasoning_token``), so a cost never depends on the time of day
(``deepseek-v4-flash`` carries off-peak prices in that map) or on a service tier.

An unknown model without an override raises :class:`UnknownModelPriceError`: never a silent $0.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_costrouter.core.errors import PricingError, UnknownModelPriceError
from langchain_costrouter.core.usage import Usage

__all__ = [
    "KNOWN_PROVIDER_PREFIXES",
    "CostBreakdown",
    "ModelPrice",
    "PriceBook",
    "litellm_package_dir",
    "litellm_price_map",
]

PER_MILLION = 1_000_000.0

# Tried in this order when a bare model name (``gpt-4-1106-preview``, ``mistralai/Mixtral...``)
# is not a key of the map: first-party APIs first, then the large open-weight hosts.
KNOWN_PROVIDER_PREFIXES: tuple[str, ...] = (
    "openai",
    "anthropic",
    "gemini",
    "deepseek",
    "mistral",
    "dashscope",
    "together_ai",
    "fireworks_ai",
    "deepinfra",
    "groq",
    "anyscale",
    "perplexity",
    "nebius",
    "azure",
    "bedrock",
)


@functools.cache
def litellm_package_dir() -> Path:
    """Folder of the installed ``litellm`` package, found without importing it."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        msg = "litellm is not installed: its bundled price map is needed (or give price overrides)"
        raise PricingError(msg)
    return Path(next(iter(spec.submodule_search_locations)))


_MAP_LOCK = threading.Lock()
_MAP: dict[str, dict[str, Any]] | None = None


def litellm_price_map() -> Mapping[str, Mapping[str, Any]]:
    """The price map bundled with LiteLLM (``model_prices_and_context_window_backup.json``)."""
    global _MAP  # noqa: PLW0603 - process-wide read-only cache of a 4 MB file
    with _MAP_LOCK:
        if _MAP is None:
            path = litellm_package_dir() / "model_prices_and_context_window_backup.json"
            with path.open(encoding="utf-8") as fh:
                raw = json.load(fh)
            raw.pop("sample_spec", None)
            _MAP = {k: v for k, v in raw.items() if isinstance(v, dict)}
        return _MAP


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """Dollar prices per token of one model.

    ``cache_read``, ``cache_write`` and ``reasoning`` fall back to ``input``, ``input`` and
    ``output`` when the provider does not price them apart.
    """

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None
    source: str = "override"

    @classmethod
    def per_million(
        cls,
        input: float,  # noqa: A002 - mirrors the config field name
        output: float,
        *,
        cache_read: float | None = None,
        cache_write: float | None = None,
        reasoning: float | None = None,
        source: str = "override",
    ) -> ModelPrice:
        """Builds a price from dollars per million tokens."""

        def conv(v: float | None) -> float | None:
            return None if v is None else v / PER_MILLION

        return cls(
            input / PER_MILLION,
            output / PER_MILLION,
            conv(cache_read),
            conv(cache_write),
            conv(reasoning),
            source,
        )

    def cost(self, usage: Usage) -> CostBreakdown:
        """Prices ``usage``; cached, cache-write and reasoning tokens at their own rates."""
        cache_read = self.input if self.cache_read is None else self.cache_read
        cache_write = self.input if self.cache_write is None else self.cache_write
        reasoning = self.output if self.reasoning is None else self.reasoning
        plain_in = max(0, usage.input_tokens - usage.cached_tokens - usage.cache_write_tokens)
        plain_out = max(0, usage.output_tokens - usage.reasoning_tokens)
        return CostBreakdown(
            input_usd=plain_in * self.input,
            cached_usd=usage.cached_tokens * cache_read,
            cache_write_usd=usage.cache_write_tokens * cache_write,
            output_usd=plain_out * self.output,
            reasoning_usd=usage.reasoning_tokens * reasoning,
        )

    def estimate(self, input_tokens: int, max_output_tokens: int) -> float:
        """Upper-bound estimate before a call: uncached input plus ``max_output_tokens``."""
        return input_tokens * self.input + max_output_tokens * self.output


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """Dollar cost of one call, by kind of token."""

    input_usd: float = 0.0
    cached_usd: float = 0.0
    cache_write_usd: float = 0.0
    output_usd: float = 0.0
    reasoning_usd: float = 0.0

    @property
    def total_usd(self) -> float:
        """The whole cost in dollars."""
        return self.input_usd + self.cached_usd + self.cache_write_usd + self.output_usd + self.reasoning_usd


def _from_map_entry(entry: Mapping[str, Any], key: str) -> ModelPrice | None:
    inp = entry.get("input_cost_per_token")
    out = entry.get("output_cost_per_token")
    if not isinstance(inp, int | float) or not isinstance(out, int | float):
        return None

    def opt(name: str) -> float | None:
        v = entry.get(name)
        return float(v) if isinstance(v, int | float) else None

    return ModelPrice(
        float(inp),
        float(out),
        cache_read=opt("cache_read_input_token_cost"),
        cache_write=opt("cache_creation_input_token_cost"),
        reasoning=opt("output_cost_per_reasoning_token"),
        source=f"litellm:{key}",
    )


class PriceBook:
    """Resolves model names to prices and prices usage.

    Args:
        overrides: Prices that win over the bundled map, keyed by model string (exact, or
            without its provider prefix).
        use_litellm_map: Look models up in LiteLLM's bundled map when no override matches.
    """

    def __init__(
        self,
        overrides: Mapping[str, ModelPrice] | None = None,
        *,
        use_litellm_map: bool = True,
    ) -> None:
        self._overrides = dict(overrides or {})
        self._use_map = use_litellm_map
        self._resolved: dict[str, ModelPrice] = {}
        self._lock = threading.Lock()

    @staticmethod
    def candidates(model: str) -> list[str]:
        """Map keys tried for ``model``, in order."""
        out = [model]
        if "/" in model:
            head, tail = model.split("/", 1)
            if head in KNOWN_PROVIDER_PREFIXES or head in {"openai", "litellm_proxy", "hosted_vllm"}:
                out.append(tail)
        out.extend(f"{p}/{model}" for p in KNOWN_PROVIDER_PREFIXES if not model.startswith(f"{p}/"))
        return list(dict.fromkeys(out))

    def price(self, model: str) -> ModelPrice:
        """The price of ``model``.

        Raises:
            UnknownModelPriceError: Neither an override nor the bundled map knows it.
        """
        cached = self._resolved.get(model)
        if cached is not None:
            return cached
        tried = self.candidates(model)
        found: ModelPrice | None = None
        for key in tried:
            if key in self._overrides:
                found = self._overrides[key]
                break
        if found is None and self._use_map:
            table = litellm_price_map()
            lowered: dict[str, str] | None = None
            for key in tried:
                real_key: str | None = key if key in table else None
                if real_key is None:
                    if lowered is None:
                        lowered = _lower_index(table)
                    real_key = lowered.get(key.lower())
                if real_key is not None:
                    found = _from_map_entry(table[real_key], real_key)
                    if found is not None:
                        break
        if found is None:
            raise UnknownModelPriceError(model, tried)
        with self._lock:
            self._resolved[model] = found
        return found

    def cost(self, model: str, usage: Usage) -> CostBreakdown:
        """Prices ``usage`` of ``model``."""
        return self.price(model).cost(usage)

    def cost_usd(self, model: str, usage: Usage) -> float:
        """Dollar cost of ``usage`` of ``model``."""
        return self.price(model).cost(usage).total_usd

    def known(self, models: Iterable[str]) -> dict[str, ModelPrice]:
        """Resolves every model, raising on the first unknown one."""
        return {m: self.price(m) for m in models}


_LOWER: dict[str, str] | None = None


def _lower_index(table: Mapping[str, Any]) -> dict[str, str]:
    global _LOWER  # noqa: PLW0603 - built once per process from the read-only map
    if _LOWER is None:
        _LOWER = {k.lower(): k for k in table}
    return _LOWER
