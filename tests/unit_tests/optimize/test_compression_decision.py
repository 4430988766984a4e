"""The pay-off arithmetic against hand calculations, and the compressor's safety rails."""

from __future__ import annotations

import math

import pytest

from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.compression import PromptCompressor, decide_compression, prefix_discount_per_token
from langchain_costrouter.core.compression_cache import CompressionCache
from langchain_costrouter.core.config import CompressionConfig
from langchain_costrouter.core.pricing import PriceBook
from langchain_costrouter.core.tokens import count_tokens

from .conftest import PRICES, FakeClient

TARGET, CHEAP = PRICES["target"], PRICES["cheap"]
PROSE = " ".join(
    f"Paragraph {i} explains, at considerable and frankly unnecessary length, how the team "
    "gathered requirements, argued about naming things, and eventually agreed to ship anyway."
    for i in range(60)
)
LONG = PROSE + "\n\nSummarize the above in two sentences."


def test_decision_matches_hand_calculation() -> None:
    d = decide_compression(
        tokens_before=3000,
        tokens_after_estimate=1700,
        call_input_tokens=3100,
        call_output_tokens=1400,
        target_price=TARGET,
        compressor_price=CHEAP,
        min_tokens=1000,
    )
    saved = 1300 * 10.0 / 1e6  # 0.013
    call = 3100 * 0.5 / 1e6 + 1400 * 1.5 / 1e6  # 0.00155 + 0.0021 = 0.00365
    assert d.compress
    assert math.isclose(d.saved_usd, saved)
    assert math.isclose(d.call_cost_usd, call)
    assert d.lost_prefix_discount_usd == 0.0
    assert math.isclose(d.net_usd, saved - call)
    assert "saves" in d.reason


def test_lost_prefix_discount_can_flip_the_decision() -> None:
    kwargs = {
        "tokens_before": 3000,
        "tokens_after_estimate": 1700,
        "call_input_tokens": 3100,
        "call_output_tokens": 1400,
        "target_price": TARGET,
        "compressor_price": CHEAP,
    }
    # 2,000 tokens that were served from the prefix cache at $2.5/M instead of $10/M.
    d = decide_compression(**kwargs, cached_tokens_at_risk=2000)  # type: ignore[arg-type]
    lost = 2000 * (10.0 - 2.5) / 1e6  # 0.015 > 0.013 saved
    assert math.isclose(d.lost_prefix_discount_usd, lost)
    assert not d.compress
    # A configured discount share overrides the cache-read price: 10% of $10/M.
    assert math.isclose(prefix_discount_per_token(TARGET, 0.1), 1e-6)
    d2 = decide_compression(**kwargs, cached_tokens_at_risk=2000, prefix_cache_discount=0.1)  # type: ignore[arg-type]
    assert math.isclose(d2.lost_prefix_discount_usd, 0.002)
    assert d2.compress


def test_cheap_target_does_not_pay() -> None:
    d = decide_compression(
        tokens_before=3000,
        tokens_after_estimate=1700,
        call_input_tokens=3100,
        call_output_tokens=1400,
        target_price=CHEAP,  # saving 1300 * 0.5/M = 0.00065 < call 0.00365
        compressor_price=CHEAP,
    )
    assert not d.compress
    assert d.net_usd < 0


def test_cache_hit_costs_nothing_and_threshold_wins() -> None:
    common = {
        "tokens_after_estimate": 500,
        "call_input_tokens": 900,
        "call_output_tokens": 400,
        "target_price": TARGET,
        "compressor_price": CHEAP,
        "min_tokens": 1000,
    }
    hit = decide_compression(tokens_before=1200, cache_hit=True, **common)  # type: ignore[arg-type]
    assert hit.call_cost_usd == 0.0
    assert hit.compress
    small = decide_compression(tokens_before=800, **common)  # type: ignore[arg-type]
    assert not small.compress
    assert "min_tokens" in small.reason


def _compressor(accountant: CostAccountant, prices: PriceBook, **cfg: object) -> tuple[PromptCompressor, FakeClient]:
    client = FakeClient("cheap", cfg.pop("reply", None))
    config = CompressionConfig(enabled=True, model=None, min_tokens=200, target_ratio=0.5, **cfg)  # type: ignore[arg-type]
    return PromptCompressor(client, prices, config=config, accountant=accountant, cache=CompressionCache()), client


def test_compresses_when_it_pays_and_records_both_sides(accountant: CostAccountant, prices: PriceBook) -> None:
    comp, client = _compressor(accountant, prices)
    out = comp.compress_text(LONG, target_model="target", request_id="r1")
    assert out.applied
    assert out.cache == "miss"
    assert out.text.endswith("Summarize the above in two sentences.")
    assert out.tokens_after == count_tokens(out.text)
    assert out.tokens_after < out.decision.tokens_before * 0.75
    [rec] = accountant.ledger.records(request_id="r1")
    assert (rec.kind, rec.outcome, rec.model) == ("compression", "overhead", "cheap")
    assert rec.extra["compress"] is True
    for key in ("saved_usd", "call_cost_usd", "lost_prefix_discount_usd", "tokens_before", "tokens_after_estimate"):
        assert key in rec.extra
    assert rec.cost_usd == pytest.approx(prices.cost_usd("cheap", rec.usage))
    assert rec.baseline_cost_usd == 0.0
    assert len(client.calls) == 1


def test_same_text_is_compressed_once(accountant: CostAccountant, prices: PriceBook) -> None:
    comp, client = _compressor(accountant, prices)
    first = comp.compress_text(LONG, target_model="target")
    second = comp.compress_text(LONG, target_model="target")
    assert len(client.calls) == 1
    assert second.cache == "hit"
    assert second.text == first.text
    assert second.call_cost_usd == 0.0


def test_skips_when_it_does_not_pay(accountant: CostAccountant, prices: PriceBook) -> None:
    comp, client = _compressor(accountant, prices)
    out = comp.compress_text(LONG, target_model="cheap", request_id="r2")
    assert not out.applied
    assert out.text == LONG
    assert client.calls == []
    [rec] = accountant.ledger.records(request_id="r2")
    assert rec.cost_usd == 0.0
    assert rec.extra["compress"] is False


def test_lost_placeholder_falls_back_to_the_original(accountant: CostAccountant, prices: PriceBook) -> None:
    comp, client = _compressor(accountant, prices, reply="A short rewrite without any placeholder.")
    out = comp.compress_text(LONG, target_model="target", request_id="r3")
    assert not out.applied
    assert out.text == LONG
    assert out.fallback_reason is not None
    assert "lost" in out.fallback_reason
    [rec] = accountant.ledger.records(request_id="r3")
    assert rec.cost_usd > 0  # the failed call was paid for and is on the ledger
    again = comp.compress_text(LONG, target_model="target")
    assert len(client.calls) == 1  # the failure is cached too: never paid twice
    assert again.text == LONG


def test_system_prompt_and_earlier_turns_stay_byte_stable(accountant: CostAccountant, prices: PriceBook) -> None:
    comp, _ = _compressor(accountant, prices)
    system = "You are a careful assistant. " * 100
    messages = [
        {"role": "system", "content": system},
        {"role": "user", "content": PROSE},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": LONG},
    ]
    out = comp.compress_messages(messages, target_model="target")
    assert out.messages[0]["content"] == system
    assert out.messages[1]["content"] == PROSE
    assert out.messages[3]["content"] != LONG
    assert out.tokens_saved > 0
    assert len(out.outcomes) == 1


def test_scope_user_counts_prefix_cache_loss(accountant: CostAccountant, prices: PriceBook) -> None:
    comp, _ = _compressor(accountant, prices, scope="user")
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": PROSE},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": LONG},
    ]
    out = comp.compress_messages(messages, target_model="target", cached_prefix_tokens=5000)
    first, last = out.outcomes
    assert first.decision.cached_tokens_at_risk > 0
    assert first.decision.lost_prefix_discount_usd > 0
    assert last.decision.cached_tokens_at_risk < first.decision.cached_tokens_at_risk
