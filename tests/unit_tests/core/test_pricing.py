from __future__ import annotations

import pytest

from langchain_costrouter.core.config import CostRouterConfig, TierSpec
from langchain_costrouter.core.errors import UnknownModelPriceError
from langchain_costrouter.core.pricing import ModelPrice, PriceBook, litellm_price_map
from langchain_costrouter.core.usage import Usage


def test_plain_usage_matches_hand_calculation() -> None:
    book = PriceBook({"my/model": ModelPrice.per_million(0.5, 1.5)})
    usage = Usage.from_openai({"prompt_tokens": 1200, "completion_tokens": 300})
    # 1200 * 0.5/1e6 + 300 * 1.5/1e6
    assert book.cost_usd("my/model", usage) == pytest.approx(0.0006 + 0.00045)


def test_cached_prompt_tokens_priced_at_cache_rate() -> None:
    price = ModelPrice.per_million(2.0, 8.0, cache_read=0.5, cache_write=2.5)
    usage = Usage.from_openai(
        {
            "prompt_tokens": 10_000,
            "completion_tokens": 500,
            "prompt_tokens_details": {"cached_tokens": 6_000, "cache_creation_tokens": 1_000},
        }
    )
    cost = price.cost(usage)
    assert cost.input_usd == pytest.approx(3_000 * 2.0 / 1e6)
    assert cost.cached_usd == pytest.approx(6_000 * 0.5 / 1e6)
    assert cost.cache_write_usd == pytest.approx(1_000 * 2.5 / 1e6)
    assert cost.output_usd == pytest.approx(500 * 8.0 / 1e6)
    assert cost.total_usd == pytest.approx(0.006 + 0.003 + 0.0025 + 0.004)


def test_anthropic_style_cache_fields_and_deepseek_hits() -> None:
    u = Usage.from_openai({"prompt_tokens": 100, "completion_tokens": 10, "cache_read_input_tokens": 40})
    assert (u.cached_tokens, u.input_tokens) == (40, 100)
    d = Usage.from_openai({"prompt_tokens": 100, "completion_tokens": 1, "prompt_cache_hit_tokens": 64})
    assert d.cached_tokens == 64


def test_reasoning_tokens_priced_at_reasoning_rate_when_set() -> None:
    usage = Usage.from_openai(
        {"prompt_tokens": 100, "completion_tokens": 1_000, "completion_tokens_details": {"reasoning_tokens": 800}}
    )
    same = ModelPrice.per_million(1.0, 4.0)
    apart = ModelPrice.per_million(1.0, 4.0, reasoning=10.0)
    assert same.cost(usage).total_usd == pytest.approx((100 * 1 + 1_000 * 4) / 1e6)
    assert apart.cost(usage).total_usd == pytest.approx((100 * 1 + 200 * 4 + 800 * 10) / 1e6)


def test_litellm_bundled_prices_read_from_the_wheel() -> None:
    # (that this never imports litellm is checked in a fresh interpreter by test_imports.py)
    book = PriceBook()
    p = book.price("gpt-4-1106-preview")
    entry = litellm_price_map()["gpt-4-1106-preview"]
    assert (p.input, p.output) == (entry["input_cost_per_token"], entry["output_cost_per_token"])
    assert p.source == "litellm:gpt-4-1106-preview"


def test_bare_name_resolved_through_a_provider_prefix_and_says_which() -> None:
    p = PriceBook().price("mistralai/Mixtral-8x7B-Instruct-v0.1")
    assert p.source.startswith("litellm:") and p.source.endswith("/mistralai/Mixtral-8x7B-Instruct-v0.1")
    assert p.input > 0


def test_prefixed_name_falls_back_to_bare_key() -> None:
    assert PriceBook().price("openai/gpt-4o-mini").source == "litellm:gpt-4o-mini"


def test_deepseek_v4_flash_price_is_the_base_price_not_off_peak() -> None:
    entries = {k: v for k, v in litellm_price_map().items() if k.endswith("deepseek-v4-flash")}
    assert entries, "the bundled map should know deepseek-v4-flash"
    key, entry = next(iter(sorted(entries.items())))
    p = PriceBook().price(key)
    assert p.input == entry["input_cost_per_token"]
    assert p.output == entry["output_cost_per_token"]


def test_unknown_model_raises_never_zero() -> None:
    with pytest.raises(UnknownModelPriceError) as info:
        PriceBook().price("acme/totally-made-up-model-9000")
    assert info.value.model == "acme/totally-made-up-model-9000"
    # The hint names keys the config really has (it once named a 'pricing.overrides' that does not exist).
    msg = str(info.value)
    assert "pricing.overrides" not in msg
    assert "'price_overrides' entry keyed by 'acme/totally-made-up-model-9000'" in msg
    assert "tiers[i].price" in msg
    assert "price_overrides" in CostRouterConfig.model_fields
    assert "price" in TierSpec.model_fields
    cfg = CostRouterConfig.from_dict(
        {
            "tiers": [{"name": "t", "model": "acme/totally-made-up-model-9000"}],
            "price_overrides": {"acme/totally-made-up-model-9000": {"input": 1, "output": 2}},
        }
    )
    assert PriceBook(cfg.price_overrides_map()).price("acme/totally-made-up-model-9000").input == pytest.approx(1e-6)


def test_override_wins_over_map() -> None:
    book = PriceBook({"gpt-4o-mini": ModelPrice.per_million(9, 9)})
    assert book.price("openai/gpt-4o-mini").source == "override"
    assert book.price("gpt-4o-mini").input == pytest.approx(9e-6)


def test_estimate_is_an_upper_bound_on_output() -> None:
    p = ModelPrice.per_million(1.0, 2.0)
    assert p.estimate(1_000, 500) == pytest.approx((1_000 * 1 + 500 * 2) / 1e6)
