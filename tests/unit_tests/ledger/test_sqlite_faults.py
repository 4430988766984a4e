"""Issue 14's ledger findings, each reproduced against a real SQLite file."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.ledger import CostRecord, SQLiteLedger, repair_record
from langchain_costrouter.core.pricing import ModelPrice, PriceBook
from langchain_costrouter.core.report import build_report
from langchain_costrouter.core.usage import Usage

BOOK = PriceBook({"cheap": ModelPrice.per_million(0.1, 0.4), "premium": ModelPrice.per_million(2.0, 8.0)})


def test_lone_surrogate_tenant_is_repaired_alone_and_later_writes_go_through(tmp_path: Path) -> None:
    led = SQLiteLedger(tmp_path / "l.sqlite")
    acc = CostAccountant(BOOK, led, premium_model="premium")
    acc.record(request_id="bad", model="cheap", usage=Usage(10, 1), tenant="acme\udc80")
    for i in range(3):
        acc.record(request_id=f"ok{i}", model="cheap", usage=Usage(10, 1), tenant="acme")
    assert acc.pending == 0
    rows = {r.request_id: r for r in led.records()}
    assert set(rows) == {"bad", "ok0", "ok1", "ok2"}
    assert rows["bad"].tenant == "acme?"
    assert rows["bad"].extra["repaired"] == ["tenant"]


def test_raw_bad_record_written_directly_does_not_block_the_batch(tmp_path: Path) -> None:
    led = SQLiteLedger(tmp_path / "l.sqlite")
    bad = CostRecord(request_id="r\ud800", model="m", tenant="\udfff", cost_usd=float("nan"), input_tokens=2**70)
    good = CostRecord(request_id="g", model="m", cost_usd=0.25)
    led.write_many([bad, good])
    back = {r.request_id: r for r in led.records()}
    assert back["g"] == good
    fixed = back["r?"]
    assert fixed.cost_usd == 0.0 and fixed.input_tokens == 2**63 - 1
    assert "price_error" in fixed.extra
    assert led.repaired == 1 and led.rejected == 0


def test_infinite_price_gives_a_flagged_zero_cost_not_a_stuck_ledger(tmp_path: Path) -> None:
    # What a `price: {input: .inf}` override became before configs refused infinite prices.
    book = PriceBook({"cheap": ModelPrice.per_million(float("inf"), 1.0)})
    led = SQLiteLedger(tmp_path / "l.sqlite")
    acc = CostAccountant(book, led, premium_model="cheap")
    rec = acc.record(request_id="inf", model="cheap", usage=Usage(0, 5))  # 0 x inf = NaN
    acc.record(request_id="after", model="cheap", usage=Usage(0, 5))
    assert acc.pending == 0
    assert rec.cost_usd == 0.0 and "non-finite cost_usd" in rec.extra["price_error"]
    assert [r.request_id for r in led.records()] == ["inf", "after"]
    # the report counts such records as unpriced instead of summing NaN
    report = build_report(led.records())
    assert report.totals.unpriced == 2
    assert report.totals.cost_usd == 0.0


def test_deleted_ledger_file_is_recreated_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "l.sqlite"
    led = SQLiteLedger(path)
    led.write(CostRecord(request_id="before", model="m"))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with caplog.at_level(logging.WARNING):
        led.write(CostRecord(request_id="after", model="m"))
    assert "deleted or replaced" in caplog.text
    assert led.reopened == 1
    led.close()
    # the record written after the deletion is in the file now at the path
    con = sqlite3.connect(path)
    assert [r[0] for r in con.execute("SELECT request_id FROM cost_records")] == ["after"]
    con.close()


def test_replaced_ledger_file_is_reopened(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    led = SQLiteLedger(path)
    led.write(CostRecord(request_id="a", model="m"))
    other = SQLiteLedger(tmp_path / "other.sqlite")
    other.write(CostRecord(request_id="o", model="m"))
    other.close()
    (tmp_path / "other.sqlite").replace(path)
    led.write(CostRecord(request_id="b", model="m"))
    assert [r.request_id for r in SQLiteLedger(path).records()] == ["o", "b"]


def test_same_record_written_twice_is_stored_once(tmp_path: Path) -> None:
    led = SQLiteLedger(tmp_path / "l.sqlite")
    rec = CostRecord(request_id="r", model="m", cost_usd=1.0)
    led.write(rec)
    led.write_many([rec, rec])
    assert led.count() == 1


def test_ledger_written_before_record_ids_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    from langchain_costrouter.core.ledger.sqlite import _SCHEMA

    old_schema = _SCHEMA.replace(",\n    record_id TEXT", "")
    con.executescript(old_schema)
    old_row = CostRecord(request_id="old", model="m", ts=1.0, tenant="t", input_tokens=1, cost_usd=0.5)
    cols = [c for c in CostRecord.__dataclass_fields__ if c != "record_id"]
    values = [json.dumps({}) if c == "extra" else getattr(old_row, c) for c in cols]
    con.execute(f"INSERT INTO cost_records ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", values)
    con.commit()
    con.close()
    led = SQLiteLedger(path)
    led.write(CostRecord(request_id="new", model="m"))
    recs = led.records()
    assert [r.request_id for r in recs] == ["old", "new"]
    assert recs[0].record_id == "sqlite-1"
    assert len({r.record_id for r in recs}) == 2


_EXIT_SCRIPT = """
import sys
from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.errors import LedgerError
from langchain_costrouter.core.ledger import SQLiteLedger
from langchain_costrouter.core.pricing import ModelPrice, PriceBook
from langchain_costrouter.core.usage import Usage


class FailsTwice(SQLiteLedger):
    fails = 2

    def write_many(self, records):
        if self.fails:
            self.fails -= 1
            raise LedgerError("database is locked")
        super().write_many(records)


led = FailsTwice(sys.argv[1])
acc = CostAccountant(PriceBook({"m": ModelPrice.per_million(1, 1)}), led)
acc.record(request_id="a", model="m", usage=Usage(1, 1))
acc.record(request_id="b", model="m", usage=Usage(1, 1))
assert acc.pending == 2
# no flush, no close: the interpreter exits with two records in memory
"""


def test_pending_records_reach_the_ledger_at_interpreter_exit(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(_EXIT_SCRIPT), encoding="utf-8")
    out = subprocess.run([sys.executable, str(script), str(path)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert sorted(r.request_id for r in SQLiteLedger(path).records()) == ["a", "b"]


def test_accountant_close_flushes_then_closes() -> None:
    from tests.unit_tests.core.test_ledger import _FlakyLedger

    led = _FlakyLedger()
    acc = CostAccountant(BOOK, led)
    acc.record(request_id="a", model="cheap", usage=Usage(1, 1))
    led.fail = False
    acc.close()
    assert [r.request_id for r in led.records()] == ["a"]


def test_repair_leaves_a_clean_record_untouched() -> None:
    rec = CostRecord(request_id="r", model="m", tenant="t", cost_usd=0.1, extra={"a": [1, 2.5, "x"]})
    fixed, repaired = repair_record(rec)
    assert fixed is rec and repaired == ()
