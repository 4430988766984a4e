"""The pay-off arithmetic of prompt compression, as a pure function of tokens and prices.

See :mod:`langchain_costrouter.core.compression` for the formula; this module makes no call
and counts no token, so every figure can be checked by hand.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from langchain_costrouter.core.pricing import ModelPrice

__all__ = ["CompressionDecision", "decide_compression", "prefix_discount_per_token"]


@dataclass(frozen=True, slots=True)
class CompressionDecision:
    """Whether compressing one text pays, with both sides of the arithmetic (dollars).

    Attributes:
        tokens_before: Tokens of the text as written (target model's encoding).
        tokens_after_estimate: Expected tokens after the rewrite (protected spans kept whole).
        saved_usd: ``(tokens_before - tokens_after_estimate)`` at the target's input price.
        call_cost_usd: Expected cost of the compression call (0 on a cache hit).
        lost_prefix_discount_usd: Prefix-cache discount the rewrite would forfeit.
        compress: Whether to compress.
        reason: Why, in words.
        call_input_tokens: Prompt tokens of the compression call.
        call_output_tokens: Expected completion tokens of the compression call.
        cached_tokens_at_risk: Prompt tokens that would lose their prefix-cache discount.
        cache_hit: The compression was already cached (no call needed).
    """

    tokens_before: int
    tokens_after_estimate: int
    saved_usd: float
    call_cost_usd: float
    lost_prefix_discount_usd: float
    compress: bool
    reason: str
    call_input_tokens: int = 0
    call_output_tokens: int = 0
    cached_tokens_at_risk: int = 0
    cache_hit: bool = False

    @property
    def net_usd(self) -> float:
        """Expected saving net of the overheads (negative: compression would cost money)."""
        return self.saved_usd - self.call_cost_usd - self.lost_prefix_discount_usd

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what goes into the ledger record's ``extra``)."""
        d = asdict(self)
        d["net_usd"] = self.net_usd
        return d


def prefix_discount_per_token(target: ModelPrice, discount: float = 0.0) -> float:
    """Dollars a prefix-cache hit saves per prompt token of the target model.

    Args:
        target: The answering model's price.
        discount: Share of the input price a cache hit saves; 0 takes it from the price's
            cache-read rate (no cache-read rate: nothing is saved).
    """
    if discount > 0:
        return target.input * discount
    if target.cache_read is None:
        return 0.0
    return max(0.0, target.input - target.cache_read)


def decide_compression(
    *,
    tokens_before: int,
    tokens_after_estimate: int,
    call_input_tokens: int,
    call_output_tokens: int,
    target_price: ModelPrice,
    compressor_price: ModelPrice,
    min_tokens: int = 0,
    cached_tokens_at_risk: int = 0,
    prefix_cache_discount: float = 0.0,
    min_net_saving_usd: float = 0.0,
    cache_hit: bool = False,
) -> CompressionDecision:
    """Weighs a compression (see the module docstring for the formula); makes no call."""
    saved_tokens = max(0, tokens_before - tokens_after_estimate)
    saved = saved_tokens * target_price.input
    call_cost = 0.0 if cache_hit else call_input_tokens * compressor_price.input
    call_cost += 0.0 if cache_hit else call_output_tokens * compressor_price.output
    lost = max(0, cached_tokens_at_risk) * prefix_discount_per_token(target_price, prefix_cache_discount)
    overhead = call_cost + lost + min_net_saving_usd
    if tokens_before < min_tokens:
        compress, reason = False, f"{tokens_before} tokens < min_tokens {min_tokens}"
    elif saved_tokens == 0:
        compress, reason = False, "nothing compressible (protected spans only)"
    elif saved > overhead:
        compress = True
        reason = f"saves ${saved:.6f} > call ${call_cost:.6f} + lost prefix discount ${lost:.6f}"
    else:
        compress = False
        reason = f"saves ${saved:.6f} <= call ${call_cost:.6f} + lost prefix discount ${lost:.6f}"
        if min_net_saving_usd:
            reason += f" + margin ${min_net_saving_usd:.6f}"
    return CompressionDecision(
        tokens_before=tokens_before,
        tokens_after_estimate=tokens_after_estimate,
        saved_usd=saved,
        call_cost_usd=call_cost,
        lost_prefix_discount_usd=lost,
        compress=compress,
        reason=reason,
        call_input_tokens=call_input_tokens,
        call_output_tokens=call_output_tokens,
        cached_tokens_at_risk=max(0, cached_tokens_at_risk),
        cache_hit=cache_hit,
    )
