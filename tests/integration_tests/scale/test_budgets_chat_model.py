"""Two ChatCostRouter instances (two replicas) share one tenant budget in Redis, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from langchain_costrouter import ChatCostRouter, CostRouterConfig
from langchain_costrouter.core.errors import SpendLimitExceededError
from langchain_costrouter.core.ledger import MemoryLedger
from langchain_costrouter.testing.server import LocalOpenAIServer, ModelScript, Script

pytestmark = pytest.mark.server

ANSWER = "The capital of France is Paris, on the river Seine."


@pytest.fixture(scope="module")
def server() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(Script(models={"cheap": ModelScript(reply=ANSWER)}), port=0) as srv:
        yield srv


def _router(server: LocalOpenAIServer, budget: dict[str, Any]) -> ChatCostRouter:
    cfg = CostRouterConfig.from_dict(
        {
            "tiers": [
                {
                    "name": "cheap",
                    "model": "openai/cheap",
                    "api_base": server.base_url,
                    "price": {"input": 100.0, "output": 400.0},
                    "max_tokens": 40,
                }
            ],
            "ledger": {"backend": "memory"},
            "budget": budget,
        }
    )
    return ChatCostRouter(config=cfg, ledger=MemoryLedger())


def test_replicas_share_a_tenant_budget(server: LocalOpenAIServer, redis_url: str, redis_prefix: str) -> None:
    budget = {
        "backend": "redis",
        "redis_url": redis_url,
        "key_prefix": redis_prefix,
        "tenants": {"acme": {"daily_usd": 0.1}},
    }
    replicas = [_router(server, budget), _router(server, budget)]
    served = refused = 0
    for i in range(30):
        try:
            replicas[i % 2].invoke("What is the capital of France?", config={"metadata": {"tenant": "acme"}})
            served += 1
        except SpendLimitExceededError as exc:
            assert "tenant 'acme' daily" in str(exc)
            refused += 1
    spent = sum(r.cost_usd for llm in replicas for r in llm.ledger.records())  # type: ignore[attr-defined]
    assert served > 0 and refused > 0
    assert spent <= 0.1 + 1e-9
    store = replicas[0]._runtime.engine.budgets  # type: ignore[attr-defined]
    ((settled, held),) = store.spent("acme").values()
    assert held == 0.0 and settled == pytest.approx(spent)
    # a tenant without a budget entry is not limited
    replicas[1].invoke("What is the capital of France?", config={"metadata": {"tenant": "bob"}})
