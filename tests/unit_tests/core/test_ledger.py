from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.errors import LedgerError
from langchain_costrouter.core.ledger import CostRecord, MemoryLedger, SQLiteLedger
from langchain_costrouter.core.pricing import ModelPrice, PriceBook
from langchain_costrouter.core.usage import Usage

BOOK = PriceBook({"cheap": ModelPrice.per_million(0.1, 0.4), "premium": ModelPrice.per_million(2.0, 8.0)})


def test_sqlite_round_trip_and_wal(tmp_path: Path) -> None:
    led = SQLiteLedger(tmp_path / "l.sqlite")
    rec = CostRecord(request_id="r1", model="cheap", input_tokens=5, cost_usd=0.5, extra={"k": [1, 2]})
    led.write(rec)
    (back,) = led.records()
    assert back == rec
    mode = sqlite3.connect(tmp_path / "l.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    led.close()


async def test_1000_concurrent_async_records_none_lost(tmp_path: Path) -> None:
    led = SQLiteLedger(tmp_path / "l.sqlite")
    acc = CostAccountant(BOOK, led, premium_model="premium")

    async def one(i: int) -> float:
        await asyncio.sleep(0)
        rec = await asyncio.to_thread(
            acc.record, request_id=f"r{i}", model="cheap", usage=Usage(100 + i, 10), outcome="accepted"
        )
        return rec.cost_usd

    costs = await asyncio.gather(*(one(i) for i in range(1000)))
    assert led.count() == 1000
    records = led.records()
    assert {r.request_id for r in records} == {f"r{i}" for i in range(1000)}
    expected = sum((100 + i) * 0.1e-6 + 10 * 0.4e-6 for i in range(1000))
    assert sum(r.cost_usd for r in records) == pytest.approx(expected)
    assert sum(costs) == pytest.approx(expected)
    # every answer's baseline is the same tokens on the premium model
    assert sum(r.baseline_cost_usd for r in records) == pytest.approx(
        sum((100 + i) * 2e-6 + 10 * 8e-6 for i in range(1000))
    )


def test_threads_and_two_connections_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    a, b = SQLiteLedger(path), SQLiteLedger(path)

    def writer(led: SQLiteLedger, prefix: str) -> None:
        for i in range(200):
            led.write(CostRecord(request_id=f"{prefix}{i}", model="m"))

    threads = [threading.Thread(target=writer, args=(led, f"{n}-")) for n, led in enumerate([a, b, a, b])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert a.count() == 800 == b.count()


def test_unwritable_path_is_a_ledger_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(LedgerError, match="cannot open ledger"):
        SQLiteLedger(blocker / "sub" / "l.sqlite")


class _FlakyLedger(MemoryLedger):
    def __init__(self) -> None:
        super().__init__()
        self.fail = True

    def write_many(self, records):  # type: ignore[no-untyped-def]
        if self.fail:
            raise LedgerError("disk full")
        super().write_many(records)


def test_ledger_outage_keeps_records_and_flushes_later() -> None:
    led = _FlakyLedger()
    acc = CostAccountant(BOOK, led)
    acc.record(request_id="a", model="cheap", usage=Usage(10, 1))
    acc.record(request_id="b", model="cheap", usage=Usage(10, 1))
    assert acc.pending == 2 and led.count() == 0
    led.fail = False
    acc.record(request_id="c", model="cheap", usage=Usage(10, 1))
    assert acc.pending == 0
    assert [r.request_id for r in led.records()] == ["a", "b", "c"]


def test_strict_false_keeps_unpriced_call_visible() -> None:
    acc = CostAccountant(BOOK, MemoryLedger(), premium_model="premium")
    rec = acc.record(request_id="x", model="who/knows", usage=Usage(10, 1), strict=False)
    assert rec.cost_usd == 0.0
    assert "no price known" in rec.extra["price_error"]
    from langchain_costrouter.core.errors import UnknownModelPriceError

    with pytest.raises(UnknownModelPriceError):
        acc.record(request_id="y", model="who/knows", usage=Usage(10, 1))


def test_rejected_attempts_and_overheads_have_no_baseline() -> None:
    acc = CostAccountant(BOOK, MemoryLedger(), premium_model="premium")
    rej = acc.build(request_id="r", model="cheap", usage=Usage(100, 10), outcome="rejected")
    judge = acc.build(request_id="r", model="cheap", usage=Usage(50, 1), kind="judge", outcome="overhead")
    ok = acc.build(request_id="r", model="premium", usage=Usage(100, 10), outcome="accepted")
    assert rej.baseline_cost_usd == 0 and judge.baseline_cost_usd == 0
    assert rej.premium_cost_usd == pytest.approx(100 * 2e-6 + 10 * 8e-6)
    assert ok.baseline_cost_usd == ok.cost_usd
