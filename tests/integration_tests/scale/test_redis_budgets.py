"""Budgets in the machine's Redis: atomic across processes' clients, fail open / fail closed."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import redis

from langchain_costrouter.core.budgets.redis_store import RedisBudgets
from langchain_costrouter.core.config import BudgetConfig
from langchain_costrouter.core.errors import BudgetUnavailableError, SpendLimitExceededError
from langchain_costrouter.testing.tcp_relay import TcpRelay

NOON = datetime(2026, 12, 4, 12, tzinfo=UTC).timestamp()


def cfg(prefix: str, **kw: object) -> BudgetConfig:
    return BudgetConfig.model_validate({"backend": "redis", "key_prefix": prefix, **kw})


def store(url: str, prefix: str, **kw: object) -> RedisBudgets:
    return RedisBudgets(cfg(prefix, **kw), redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1))


def test_replicas_share_one_budget_and_never_pass_it(redis_url: str, redis_prefix: str) -> None:
    limits = {"tenants": {"acme": {"daily_usd": 1.0}}}
    replicas = [store(redis_url, redis_prefix, **limits) for _ in range(3)]
    settled: list[float] = []
    lock = threading.Lock()

    def client(b: RedisBudgets) -> None:
        for _ in range(60):
            try:
                r = b.reserve("acme", None, 0.02)
            except SpendLimitExceededError:
                continue
            b.settle(r, 0.015)  # actual below the estimate
            with lock:
                settled.append(0.015)

    threads = [threading.Thread(target=client, args=(replicas[i % 3],)) for i in range(9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spent, held = replicas[0].spent("acme")[next(iter(replicas[0].spent("acme")))]
    assert held == 0.0
    assert spent == pytest.approx(sum(settled))
    assert spent <= 1.0 + 1e-9
    assert spent >= 1.0 - 0.02 - 1e-9, "the budget is used up to the last estimate"


def test_refusal_names_the_budget_and_settle_is_idempotent(redis_url: str, redis_prefix: str) -> None:
    b = store(redis_url, redis_prefix, tenants={"*": {"monthly_usd": 0.5}}, keys={"k": {"daily_usd": 10}})
    r = b.reserve("bob", "k", 0.4)
    b.settle(r, 0.3)
    b.settle(r, 0.3)  # a retried settle counts once
    b.charge("bob", "k", 0.1)  # an overhead without a reservation
    with pytest.raises(SpendLimitExceededError) as info:
        b.reserve("bob", "k", 0.2)
    e = info.value
    assert e.budget.startswith("tenant 'bob' monthly")
    assert e.spent_usd == pytest.approx(0.4) and e.limit_usd == 0.5 and e.reserved_usd == 0.0


def test_expired_holds_of_a_crashed_replica_are_released(redis_url: str, redis_prefix: str) -> None:
    now = [NOON]
    b = RedisBudgets(
        cfg(redis_prefix, tenants={"a": {"daily_usd": 1.0}}, reservation_ttl_s=30),
        redis.Redis.from_url(redis_url),
        clock=lambda: now[0],
    )
    b.reserve("a", None, 0.9)  # never settled
    with pytest.raises(SpendLimitExceededError):
        b.reserve("a", None, 0.2)
    now[0] += 31
    b.reserve("a", None, 0.2)


@pytest.mark.parametrize("mode", ["open", "closed"])
def test_redis_down_fails_open_or_closed_as_configured(redis_url: str, redis_prefix: str, mode: str) -> None:
    port = int(redis_url.rsplit(":", 1)[1].split("/", maxsplit=1)[0])
    with TcpRelay("127.0.0.1", port) as relay:
        url = f"redis://127.0.0.1:{relay.port}/0"
        b = store(url, redis_prefix, tenants={"a": {"daily_usd": 1.0}}, on_store_down=mode)
        first = b.reserve("a", None, 0.1)
        relay.cut()
        if mode == "closed":
            with pytest.raises(BudgetUnavailableError, match="on_store_down is 'closed'"):
                b.reserve("a", None, 0.1)
            b.settle(first, 0.1)
            assert b.owed == 1
        else:
            r = b.reserve("a", None, 0.1)
            assert not r.checked and b.unchecked == 1
            b.settle(first, 0.1)
            b.settle(r, 0.1)
            assert b.owed == 2
        relay.restore()
        b.reserve("a", None, 0.0)  # the next call that reaches Redis sends what is owed
        assert b.owed == 0
        spent, _ = next(iter(b.spent("a").values()))
    assert spent == pytest.approx(0.1 if mode == "closed" else 0.2)
