"""Building ``ChatCostRouter`` from bad input raises the package's typed one-line errors, never
pydantic's ``ValidationError`` (a multi-line message that names no fix)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from langchain_costrouter import ChatCostRouter
from langchain_costrouter.core.errors import ConfigError, UnknownModelPriceError

LOCAL = "http://127.0.0.1:9/v1"
TIER = {"name": "a", "model": "openai/x", "api_base": LOCAL, "price": {"input": 1, "output": 1}}


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"config": {"tiers": []}}, ConfigError, "config.tiers"),
        ({"config": {"tiers": [{**TIER, "price": {"input": float("inf"), "output": 1}}]}}, ConfigError, None),
        ({"config": {"tiers": [{"name": "a", "model": "acme/unknown-zz", "api_base": LOCAL}]}}, ConfigError, None),
        ({"config": 5}, ConfigError, "config"),
        ({"config": {"tiers": [TIER]}, "tier_models": 5}, ConfigError, "tier_models"),
        ({"config": {"tiers": [TIER]}, "start": "zz"}, ConfigError, None),
    ],
)
def test_bad_construction_is_a_typed_one_line_error(kwargs: dict[str, Any], error: type, field: str | None) -> None:
    with pytest.raises(error) as info:
        ChatCostRouter(**kwargs)
    assert not isinstance(info.value, ValidationError)
    assert "\n" not in str(info.value)
    if field is not None:
        assert info.value.field == field


def test_an_unpriced_tier_names_the_price_keys() -> None:
    with pytest.raises((ConfigError, UnknownModelPriceError)) as info:
        ChatCostRouter.from_config({"tiers": [{"name": "a", "model": "acme/unknown-zz", "api_base": LOCAL}]})
    assert "price_overrides" in str(info.value) and "pricing.overrides" not in str(info.value)
