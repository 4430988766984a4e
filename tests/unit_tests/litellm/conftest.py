"""Fixtures of the LiteLLM adapter unit tests (no sockets: configs point at an unused port)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.ledger import MemoryLedger

BASE = "http://127.0.0.1:9/v1"


def config_dict(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "tiers": [
            {
                "name": "cheap",
                "model": "openai/cheap-m",
                "api_base": BASE,
                "price": {"input": 0.1, "output": 0.4},
                "gate": {"type": "heuristic", "min_chars": 20},
            },
            {
                "name": "mid",
                "model": "openai/mid-m",
                "api_base": BASE,
                "price": {"input": 1.0, "output": 4.0},
                "gate": {"type": "heuristic", "min_chars": 20},
            },
            {"name": "premium", "model": "openai/prem-m", "api_base": BASE, "price": {"input": 5.0, "output": 20.0}},
        ],
        "models": [
            {"name": "translator", "model": "openai/trans-m", "api_base": BASE, "price": {"input": 0.5, "output": 2.0}},
        ],
        "routing": {
            "type": "rules",
            "routes": [
                {"name": "translate", "model": "translator", "keywords": ["translate"]},
                {"name": "hard", "tier": "mid", "keywords": ["prove"]},
            ],
        },
        "ledger": {"backend": "memory"},
    }
    data.update(extra)
    return data


@pytest.fixture
def config() -> CostRouterConfig:
    return CostRouterConfig.from_dict(config_dict())


@pytest.fixture
def hooks(config: CostRouterConfig) -> Iterator[Any]:
    from litellm_hooks import CostRouterHooks

    h = CostRouterHooks(config, ledger=MemoryLedger())
    yield h
    h.close()
