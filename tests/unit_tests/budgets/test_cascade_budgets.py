"""Tenant budgets in the cascade: reserved before each tier call, settled with the attempt's cost."""

from __future__ import annotations

from typing import Any

import pytest

from langchain_costrouter.core.budgets import MemoryBudgets
from langchain_costrouter.core.errors import SpendLimitExceededError
from langchain_costrouter.core.runtime import CostRouterRuntime
from langchain_costrouter.core.types import ChatRequest
from tests.unit_tests.core.test_cascade import GOOD, REQ, _config, scripted


def _runtime(**budget: Any) -> CostRouterRuntime:
    return CostRouterRuntime(_config(budget=budget))


def test_each_tier_call_is_reserved_and_settled_at_its_actual_cost() -> None:
    rt = _runtime(tenants={"acme": {"daily_usd": 1.0}})
    budgets = rt.engine.budgets
    assert isinstance(budgets, MemoryBudgets)
    req = ChatRequest(messages=REQ.messages, tenant="acme")
    res = rt.engine.run(req, scripted({"cheap": "no", "mid": GOOD}))
    assert res.answered_by == "mid"
    ((spent, held),) = budgets.spent("acme").values()
    assert held == 0.0
    assert spent == pytest.approx(res.total_cost_usd)
    assert spent == pytest.approx(sum(r.cost_usd for r in rt.ledger.records()))


def test_spent_budget_refuses_the_request_before_any_call() -> None:
    rt = _runtime(tenants={"acme": {"daily_usd": 0.00001}})
    calls: list[str] = []

    def call(tier: Any, request: ChatRequest) -> Any:
        calls.append(tier.name)
        return scripted({"cheap": GOOD})(tier, request)

    with pytest.raises(SpendLimitExceededError, match="tenant 'acme' daily") as info:
        rt.engine.run(ChatRequest(messages=REQ.messages, tenant="acme"), call)
    assert calls == [] and rt.ledger.count() == 0
    assert info.value.next_tier == "cheap" and info.value.limit_usd == 0.00001
    # another tenant is not limited
    assert rt.engine.run(ChatRequest(messages=REQ.messages, tenant="bob"), call).answered_by == "cheap"


def test_budget_reached_mid_cascade_serves_the_paid_best_answer() -> None:
    rt = _runtime(tenants={"acme": {"daily_usd": 0.0008}}, on_exceeded="best")
    # cheap (~$0.00003 reserved ~$0.00004) passes, mid's estimate (~$0.0004) passes, premium's (~$0.004) cannot
    res = rt.engine.run(ChatRequest(messages=REQ.messages, tenant="acme"), scripted({"cheap": "no", "mid": "nope"}))
    assert res.flag == "budget" and not res.accepted
    assert [a.tier for a in res.attempts] == ["cheap", "mid"]
    ((spent, held),) = rt.engine.budgets.spent("acme").values()  # type: ignore[union-attr]
    assert held == 0.0 and spent == pytest.approx(res.total_cost_usd)
