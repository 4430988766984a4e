"""langchain-tests' standard unit suite for ChatCostRouter (no network: construction only)."""

from __future__ import annotations

from typing import Any

from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_costrouter import ChatCostRouter, CostRouterConfig

CONFIG = CostRouterConfig.from_dict(
    {
        "tiers": [
            {
                "name": "cheap",
                "model": "openai/gpt-4o-mini",
                "api_base": "http://127.0.0.1:9/v1",
                "gate": {"type": "heuristic", "min_chars": 10},
            },
            {"name": "premium", "model": "openai/gpt-4o", "api_base": "http://127.0.0.1:9/v1"},
        ],
        "ledger": {"backend": "memory"},
    }
)


class TestChatCostRouterUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatCostRouter]:
        return ChatCostRouter

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"config": CONFIG}
