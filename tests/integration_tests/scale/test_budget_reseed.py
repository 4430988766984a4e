"""Redis budgets after Redis lost its data: detected, re-seeded from the Postgres ledger, or warned about."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from langchain_costrouter.core.budgets import SpendSource
from langchain_costrouter.core.budgets.redis_store import RedisBudgets
from langchain_costrouter.core.config import BudgetConfig
from langchain_costrouter.core.errors import BudgetUnavailableError, LedgerError, SpendLimitExceededError
from langchain_costrouter.core.ledger.base import CostRecord
from langchain_costrouter.core.ledger.postgres import PostgresLedger

NOON = datetime(2026, 12, 4, 12, tzinfo=UTC).timestamp()
LIMITS = {"tenants": {"acme": {"daily_usd": 1.0}}}


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def store(url: str, prefix: str, clock: Clock, source: SpendSource | None = None, **kw: object) -> RedisBudgets:
    cfg = BudgetConfig.model_validate({"backend": "redis", "key_prefix": prefix, **LIMITS, **kw})
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    return RedisBudgets(cfg, client, clock=clock, spent_since=source)


def lose_data(url: str, prefix: str) -> None:
    """What a Redis restarted without persistence shows: every budget key is gone."""
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    assert keys, "the budget keys existed"
    client.delete(*keys)


@pytest.fixture
def ledger(pg_url: str, pg_table: str, tmp_path: Path) -> Iterator[PostgresLedger]:
    led = PostgresLedger(pg_url, table=pg_table, outbox_dir=tmp_path / "outbox", flush_interval_s=0.05)
    yield led
    led.close()


def spend(b: RedisBudgets, ledger: PostgresLedger | None, clock: Clock, usd: float, tenant: str = "acme") -> None:
    """One paid call: reserved, recorded in the ledger, settled."""
    r = b.reserve(tenant, None, usd)
    if ledger is not None:
        ledger.write(CostRecord(request_id=f"r{clock.t}", model="m", tenant=tenant, ts=clock.t, cost_usd=usd))
    b.settle(r, usd)


def test_spent_since_sums_one_tenant_since_the_window_start(ledger: PostgresLedger) -> None:
    day = datetime(2026, 12, 4, tzinfo=UTC).timestamp()
    ledger.write_many(
        [
            CostRecord(request_id="a", model="m", tenant="acme", ts=day + 10, cost_usd=0.25),
            CostRecord(request_id="b", model="m", tenant="acme", ts=day + 20, cost_usd=0.5),
            CostRecord(request_id="c", model="m", tenant="acme", ts=day - 10, cost_usd=7.0),  # the day before
            CostRecord(request_id="d", model="m", tenant="other", ts=day + 10, cost_usd=3.0),
        ]
    )
    assert ledger.spent_since("tenant", "acme", day) == pytest.approx(0.75)  # its own outbox is shipped first
    assert ledger.spent_since("tenant", "nobody", day) == 0.0
    assert ledger.spent_since("key", "acme", day) is None, "records do not name the API key"


def test_lost_spend_is_reseeded_from_the_postgres_ledger(
    redis_url: str, redis_prefix: str, ledger: PostgresLedger
) -> None:
    clock = Clock(NOON)
    b = store(redis_url, redis_prefix, clock, ledger.spent_since)
    for _ in range(3):
        clock.t += 60
        spend(b, ledger, clock, 0.25)  # $0.75 of the $1.00 settled
    assert ledger.flush(10.0)
    seeded = b.reseeded  # a new store checks the day once (0.0 then)

    lose_data(redis_url, redis_prefix)
    clock.t += 60
    with pytest.raises(SpendLimitExceededError) as refused:
        b.reserve("acme", None, 0.5)  # $0.75 + $0.50 > $1.00: refused although Redis forgot the $0.75
    assert refused.value.spent_usd == pytest.approx(0.75)
    assert b.resets == 1
    assert b.reseeded == seeded + 1

    late = store(redis_url, redis_prefix, clock, ledger.spent_since)  # a replica started after the loss
    r = late.reserve("acme", None, 0.2)
    late.settle(r, 0.2)
    assert late.reseeded == 0, "the window is seeded once, by whichever replica came first"
    assert late.spent("acme") == {"tenant:acme:day:2026-12-04": (pytest.approx(0.95), 0.0)}
    with pytest.raises(SpendLimitExceededError):
        late.reserve("acme", None, 0.1)


def test_a_replica_started_after_the_loss_reseeds_and_keeps_later_settlements(
    redis_url: str, redis_prefix: str, ledger: PostgresLedger
) -> None:
    clock = Clock(NOON)
    old = store(redis_url, redis_prefix, clock, ledger.spent_since)
    spend(old, ledger, clock, 0.6)
    clock.t += 1
    pending = old.reserve("acme", None, 0.1)
    lose_data(redis_url, redis_prefix)
    ledger.write(CostRecord(request_id="late", model="m", tenant="acme", ts=clock.t, cost_usd=0.1))
    old.settle(pending, 0.1)  # settled into the empty Redis: $0.10 there, $0.70 in the ledger
    assert ledger.flush(10.0)

    new = store(redis_url, redis_prefix, clock, ledger.spent_since)
    with pytest.raises(SpendLimitExceededError) as refused:
        new.reserve("acme", None, 0.35)
    assert refused.value.spent_usd == pytest.approx(0.7), "max(Redis, ledger): nothing counted twice"
    assert new.reseeded == 1


def test_no_ledger_reads_while_redis_keeps_its_data(redis_url: str, redis_prefix: str) -> None:
    asked: list[tuple[str, str, float]] = []

    def source(scope: str, owner: str, since: float) -> float:
        asked.append((scope, owner, since))
        return 0.0

    clock = Clock(NOON)
    b = store(redis_url, redis_prefix, clock, source)
    spend(b, None, clock, 0.4)  # a new store: its epoch is younger than the day, so the day is checked once
    assert asked == [("tenant", "acme", datetime(2026, 12, 4, tzinfo=UTC).timestamp())]
    for _ in range(3):
        spend(b, None, clock, 0.1)
    other = store(redis_url, redis_prefix, clock, source)
    spend(other, None, clock, 0.1)
    clock.t += 86_400  # the next day began after the epoch: Redis saw all of it
    spend(b, None, clock, 0.9)
    with pytest.raises(SpendLimitExceededError):
        other.reserve("acme", None, 0.2)
    assert len(asked) == 1
    assert b.resets == other.resets == 0


def test_without_a_spend_source_the_loss_is_logged_naming_the_windows(
    redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(NOON)
    b = store(redis_url, redis_prefix, clock, keys={"k1": {"monthly_usd": 5.0}})
    spend(b, None, clock, 0.5)
    b.reserve("acme", "k1", 0.1)
    lose_data(redis_url, redis_prefix)
    with caplog.at_level(logging.WARNING, logger="langchain_costrouter.core.budgets.redis_store"):
        r = b.reserve("acme", "k1", 0.1)  # the store answers: the call goes on, counted from now
        b.settle(r, 0.1)
        b.reserve("acme", "k1", 0.1)
    lost = [rec.getMessage() for rec in caplog.records if "lost its data" in rec.getMessage()]
    assert len(lost) == 1, "one warning per loss"
    assert "tenant 'acme' daily (2026-12-04)" in lost[0]
    assert "key 'k1' monthly (2026-12)" in lost[0]
    assert "--appendonly yes" in lost[0]
    assert b.resets == 1


def test_a_ledger_that_cannot_answer_follows_on_store_down(redis_url: str, redis_prefix: str) -> None:
    def broken(scope: str, owner: str, since: float) -> float:
        raise LedgerError("cannot read the postgres ledger 'cost_records': connection refused")

    clock = Clock(NOON)
    closed = store(redis_url, redis_prefix, clock, broken, on_store_down="closed")
    with pytest.raises(BudgetUnavailableError, match="re-seed"):
        closed.reserve("acme", None, 0.1)
    opened = store(redis_url, redis_prefix, clock, broken, on_store_down="open")
    r = opened.reserve("acme", None, 0.1)
    assert r.checked
    opened.settle(r, 0.1)
    assert opened.spent("acme") == {"tenant:acme:day:2026-12-04": (pytest.approx(0.1), 0.0)}


@pytest.mark.server
def test_replicas_with_a_postgres_ledger_keep_the_budget_across_a_redis_that_lost_its_data(
    redis_url: str, redis_prefix: str, pg_url: str, pg_table: str, tmp_path: Path
) -> None:
    from langchain_costrouter import ChatCostRouter, CostRouterConfig
    from langchain_costrouter.testing.server import LocalOpenAIServer, ModelScript, Script

    answer = "The capital of France is Paris, on the river Seine."
    with LocalOpenAIServer(Script(models={"cheap": ModelScript(reply=answer)}), port=0) as srv:

        def replica(i: int) -> ChatCostRouter:
            cfg = CostRouterConfig.from_dict(
                {
                    "tiers": [
                        {
                            "name": "cheap",
                            "model": "openai/cheap",
                            "api_base": srv.base_url,
                            "price": {"input": 100.0, "output": 400.0},
                            "max_tokens": 40,
                        }
                    ],
                    "ledger": {
                        "backend": "postgres",
                        "url": pg_url,
                        "table": pg_table,
                        "outbox_dir": str(tmp_path / f"outbox{i}"),
                    },
                    "budget": {
                        "backend": "redis",
                        "redis_url": redis_url,
                        "key_prefix": redis_prefix,
                        "tenants": {"acme": {"daily_usd": 0.1}},
                    },
                }
            )
            return ChatCostRouter(config=cfg)

        replicas = [replica(0), replica(1)]
        try:
            served = 0
            for i in range(40):
                try:
                    replicas[i % 2].invoke("What is the capital of France?", config={"metadata": {"tenant": "acme"}})
                    served += 1
                except SpendLimitExceededError:
                    break
            else:
                pytest.fail("the budget was never reached")
            assert served > 2
            for llm in replicas:
                assert llm.runtime.ledger.flush(10.0)  # type: ignore[attr-defined]

            lose_data(redis_url, redis_prefix)
            for llm in replicas:  # both replicas: the budget is still used up
                with pytest.raises(SpendLimitExceededError, match="tenant 'acme' daily"):
                    llm.invoke("What is the capital of France?", config={"metadata": {"tenant": "acme"}})
            spent = replicas[0].runtime.ledger.spent_since("tenant", "acme", 0.0)  # type: ignore[attr-defined]
            assert spent <= 0.1 + 1e-9
        finally:
            for llm in replicas:
                llm.close()


def test_threads_that_all_meet_the_loss_warn_once(
    redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    clock = Clock(NOON)
    b = store(redis_url, redis_prefix, clock)
    spend(b, None, clock, 0.01)
    lose_data(redis_url, redis_prefix)
    go = threading.Barrier(8)

    def client() -> None:
        go.wait()
        b.settle(b.reserve("acme", None, 0.01), 0.01)

    with caplog.at_level(logging.WARNING, logger="langchain_costrouter.core.budgets.redis_store"):
        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sum("lost its data" in r.getMessage() for r in caplog.records) == 1
    assert b.resets == 1
    assert b.spent("acme") == {"tenant:acme:day:2026-12-04": (pytest.approx(0.08), 0.0)}
