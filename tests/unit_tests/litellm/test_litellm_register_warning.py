"""Custom-priced deployments start without LiteLLM's "register_model ... custom pricing" warning.

LiteLLM registered each custom-priced deployment under its id and again under its model key (the
entry model copied the first tier, so that one registered twice more) and warned at every
registration of a model outside its map that had input/output prices but no cache prices. The
Router and the proxy now reach the tiers through the cascade's own provider (no custom-priced
deployment is registered at start-up), and the parameters of a deployment called directly (judge
and compression clients) carry both cache prices, as the ledger resolves them.
"""

from __future__ import annotations

import logging

import pytest

from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.pricing import PriceBook
from litellm_hooks import build_router
from litellm_hooks._client import deployment_params

LOCAL = "http://127.0.0.1:9/v1"


def _config() -> CostRouterConfig:
    return CostRouterConfig.from_dict(
        {
            "tiers": [
                {
                    "name": "cheap",
                    "model": "openai/house-cheap-7b",
                    "api_base": LOCAL,
                    "price": {"input": 0.1, "output": 0.2},
                },
                {
                    "name": "premium",
                    "model": "openai/house-premium-70b",
                    "api_base": LOCAL,
                    "price": {"input": 1.0, "output": 2.0, "cache_read": 0.25},
                },
            ],
            "ledger": {"backend": "memory"},
        }
    )


def test_building_the_router_logs_no_register_model_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="LiteLLM"):
        build_router(_config())
    assert [r.getMessage() for r in caplog.records if "register_model" in r.getMessage()] == []


def test_cache_prices_are_the_ledgers() -> None:
    cfg = _config()
    book = PriceBook(cfg.price_overrides_map())
    cheap = deployment_params(cfg.tiers[0], book)
    premium = deployment_params(cfg.tiers[1], book)
    # Unset cache prices are the input price, as PriceBook charges them (LiteLLM would say $0).
    assert cheap["cache_read_input_token_cost"] == cheap["input_cost_per_token"] == pytest.approx(0.1e-6)
    assert cheap["cache_creation_input_token_cost"] == pytest.approx(0.1e-6)
    assert premium["cache_read_input_token_cost"] == pytest.approx(0.25e-6)
