"""In-process budgets: reserve, settle, charge, windows and expiry of holds."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from langchain_costrouter.core.budgets import MemoryBudgets, budgets_from_config, windows_for
from langchain_costrouter.core.config import BudgetConfig, CostRouterConfig
from langchain_costrouter.core.errors import BudgetExceededError, ConfigError, SpendLimitExceededError

NOON = datetime(2026, 12, 4, 12, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, t: float = NOON) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def cfg(**kw: object) -> BudgetConfig:
    return BudgetConfig.model_validate(kw)


def test_reserve_refuses_what_settled_plus_in_flight_cannot_cover() -> None:
    b = MemoryBudgets(cfg(tenants={"acme": {"daily_usd": 1.0}}), clock=Clock())
    r1 = b.reserve("acme", None, 0.4)
    r2 = b.reserve("acme", None, 0.4)
    with pytest.raises(SpendLimitExceededError) as info:
        b.reserve("acme", None, 0.4)
    err = info.value
    assert isinstance(err, BudgetExceededError)
    assert err.budget == "tenant 'acme' daily (2026-12-04)"
    assert (err.limit_usd, err.spent_usd, err.reserved_usd, err.estimate_usd) == (1.0, 0.0, 0.8, 0.4)
    assert "tenant 'acme' daily" in str(err) and "$1.000000" in str(err)
    b.settle(r1, 0.1)  # the call cost less than its estimate: the rest is free again
    b.settle(r2, 0.1)
    assert b.spent("acme") == {"tenant:acme:day:2026-12-04": (pytest.approx(0.2), 0.0)}
    b.reserve("acme", None, 0.79)


def test_other_tenants_and_star_limits() -> None:
    b = MemoryBudgets(cfg(tenants={"acme": {"daily_usd": 1.0}, "*": {"daily_usd": 0.1}}), clock=Clock())
    b.reserve("acme", None, 0.5)
    with pytest.raises(SpendLimitExceededError, match="tenant 'bob'"):
        b.reserve("bob", None, 0.2)
    b.reserve("carol", None, 0.1)


def test_key_and_monthly_budgets_both_apply() -> None:
    clock = Clock()
    b = MemoryBudgets(cfg(tenants={"acme": {"monthly_usd": 1.0}}, keys={"k1": {"daily_usd": 0.5}}), clock=clock)
    b.settle(b.reserve("acme", "k1", 0.5), 0.5)
    with pytest.raises(SpendLimitExceededError, match="key 'k1' daily"):
        b.reserve("acme", "k1", 0.1)
    clock.t += 86_400  # next day: the key's daily budget is fresh, the tenant's month is not
    b.settle(b.reserve("acme", "k1", 0.5), 0.5)
    with pytest.raises(SpendLimitExceededError, match="tenant 'acme' monthly"):
        b.reserve("acme", "k2", 0.01)


def test_charge_counts_overheads_without_a_reservation() -> None:
    b = MemoryBudgets(cfg(tenants={"acme": {"daily_usd": 1.0}}), clock=Clock())
    b.charge("acme", None, 0.95)
    with pytest.raises(SpendLimitExceededError):
        b.reserve("acme", None, 0.1)


def test_a_reservation_never_settled_is_released_after_its_ttl() -> None:
    clock = Clock()
    b = MemoryBudgets(cfg(tenants={"acme": {"daily_usd": 1.0}}, reservation_ttl_s=60), clock=clock)
    b.reserve("acme", None, 0.9)
    with pytest.raises(SpendLimitExceededError):
        b.reserve("acme", None, 0.2)
    clock.t += 61
    b.reserve("acme", None, 0.2)


def test_concurrent_reservations_never_pass_the_limit() -> None:
    b = MemoryBudgets(cfg(tenants={"acme": {"daily_usd": 1.0}}), clock=Clock())
    taken: list[float] = []

    def worker() -> None:
        for _ in range(200):
            try:
                r = b.reserve("acme", None, 0.01)
            except SpendLimitExceededError:
                continue
            taken.append(r.usd)
            b.settle(r, 0.01)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(taken) <= 1.0 + 1e-9
    assert len(taken) >= 99


def test_no_limits_means_no_store_and_windows_follow_utc() -> None:
    assert budgets_from_config(BudgetConfig()) is None
    c = cfg(tenants={"a": {"daily_usd": 1, "monthly_usd": 5}})
    late = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()
    assert [w.id for w in windows_for(c, "a", None, late)] == ["tenant:a:day:2026-12-31", "tenant:a:month:2026-12"]
    assert [w.id for w in windows_for(c, "a", None, late + 1)] == ["tenant:a:day:2027-01-01", "tenant:a:month:2027-01"]


def test_config_keys_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    base = {"tiers": [{"name": "t", "model": "openai/gpt-4o-mini"}]}
    with pytest.raises(ConfigError, match=r"budget\.tenants\.acme\.daily_usd"):
        CostRouterConfig.from_dict({**base, "budget": {"tenants": {"acme": {"daily_usd": -1}}}})
    with pytest.raises(ConfigError, match="on_store_down"):
        CostRouterConfig.from_dict({**base, "budget": {"on_store_down": "maybe"}})
    monkeypatch.delenv("COSTROUTER_REDIS_URL", raising=False)
    with pytest.raises(ConfigError, match="COSTROUTER_REDIS_URL"):
        budgets_from_config(cfg(backend="redis", tenants={"a": {"daily_usd": 1}}))
