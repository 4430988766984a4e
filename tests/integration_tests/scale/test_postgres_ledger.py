"""The Postgres ledger against the machine's Postgres: batching, outbox, exactly-once replay."""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from langchain_costrouter.core.config import LedgerConfig
from langchain_costrouter.core.errors import ConfigError
from langchain_costrouter.core.ledger import CostRecord, PostgresLedger, ledger_from_config
from langchain_costrouter.core.ledger.outbox import Outbox
from langchain_costrouter.testing.tcp_relay import TcpRelay
from tests.unit_tests.ledger.test_properties import RECORDS, as_stored


def _ledger(url: str, table: str, outbox: Path, **kw: object) -> PostgresLedger:
    return PostgresLedger(url, table=table, outbox_dir=outbox, flush_interval_s=0.05, **kw)  # type: ignore[arg-type]


def _relay_url(url: str, port: int) -> str:
    return url.replace("127.0.0.1:5432", f"127.0.0.1:{port}")


def _rows(url: str, table: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute(f'SELECT request_id FROM "{table}" ORDER BY id')]


def test_round_trip_in_time_order(pg_url: str, pg_table: str, tmp_path: Path) -> None:
    led = _ledger(pg_url, pg_table, tmp_path / "outbox")
    recs = [
        CostRecord(request_id=f"r{i}", model="m", ts=1000.0 + i, cost_usd=i / 1000, extra={"i": i}) for i in range(50)
    ]
    led.write_many(recs[25:])
    for r in recs[:25]:
        led.write(r)
    assert led.records() == recs
    assert led.count() == 50
    assert [r.request_id for r in led.records(since=1010, until=1012)] == ["r10", "r11"]
    led.close()
    assert not list((tmp_path / "outbox").glob("outbox-*.sqlite")), "an empty outbox is deleted at close"


def test_records_wait_in_the_outbox_while_postgres_is_unreachable(pg_url: str, pg_table: str, tmp_path: Path) -> None:
    with TcpRelay("127.0.0.1", 5432) as relay:
        led = _ledger(_relay_url(pg_url, relay.port), pg_table, tmp_path / "outbox", connect_timeout_s=1)
        led.write(CostRecord(request_id="before", model="m"))
        assert led.flush(10)
        relay.cut()
        t0 = time.perf_counter()
        for i in range(20):
            led.write(CostRecord(request_id=f"during{i}", model="m"))
        assert time.perf_counter() - t0 < 2.0, "writes must not wait for Postgres"
        time.sleep(0.5)
        assert led.waiting == 20
        assert led.failures >= 1
        relay.restore()
        assert led.flush(30)
        led.close()
    got = _rows(pg_url, pg_table)
    assert sorted(got) == sorted(["before", *(f"during{i}" for i in range(20))])


def test_killed_connections_lose_nothing_and_double_nothing(pg_url: str, pg_table: str, tmp_path: Path) -> None:
    app = f"costrouter-test-{pg_table}"
    led = _ledger(pg_url, pg_table, tmp_path / "outbox", application_name=app)
    killed = 0
    with psycopg.connect(pg_url, autocommit=True) as admin:
        for i in range(400):
            led.write(CostRecord(request_id=f"r{i}", model="m"))
            if i % 50 == 25:
                killed += admin.execute(
                    "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s", (app,)
                ).fetchone()[0]  # type: ignore[index]
    assert led.flush(30)
    led.close()
    got = _rows(pg_url, pg_table)
    assert killed > 0
    assert len(got) == 400 == len(set(got))


def test_orphaned_outbox_is_adopted_and_shipped_exactly_once(pg_url: str, pg_table: str, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    # A process that stopped: its outbox holds 3 records, one of which already reached Postgres
    # (it died between the commit and the delete).
    shipped = CostRecord(request_id="shipped", model="m")
    first = _ledger(pg_url, pg_table, outbox)
    first.write(shipped)
    assert first.flush(10)
    first.close()
    box = Outbox.create(outbox)
    box.put([shipped, CostRecord(request_id="o1", model="m"), CostRecord(request_id="o2", model="m")])
    box._lock_fh.close()  # type: ignore[union-attr]  # the process is gone: its lock is released
    box._lock_fh = None
    led = _ledger(pg_url, pg_table, outbox)
    assert led.flush(10)
    led.close()
    assert sorted(_rows(pg_url, pg_table)) == ["o1", "o2", "shipped"]
    assert not list(outbox.glob("outbox-*.sqlite"))


def test_an_outbox_in_use_is_not_adopted(pg_url: str, pg_table: str, tmp_path: Path) -> None:
    with TcpRelay("127.0.0.1", 5432) as relay:
        relay.cut()
        a = _ledger(_relay_url(pg_url, relay.port), pg_table, tmp_path / "o", connect_timeout_s=1)
        a.write(CostRecord(request_id="a", model="m"))
        b = _ledger(pg_url, pg_table, tmp_path / "o")
        assert b.flush(10)
        assert _rows(pg_url, pg_table) == []  # b did not steal a's live outbox
        b.close()
        relay.restore()
        assert a.flush(30)
        a.close()
    assert _rows(pg_url, pg_table) == ["a"]


def test_config_builds_the_backend_from_url_env(
    pg_url: str, pg_table: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = LedgerConfig(backend="postgres", table=pg_table, outbox_dir=str(tmp_path / "o"), url_env="MY_PG_URL")
    with pytest.raises(ConfigError, match="MY_PG_URL"):
        ledger_from_config(cfg)
    monkeypatch.setenv("MY_PG_URL", pg_url)
    led = ledger_from_config(cfg)
    assert isinstance(led, PostgresLedger)
    led.write(CostRecord(request_id="x", model="m"))
    assert led.count() == 1
    led.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(records=st.lists(RECORDS, min_size=1, max_size=3))
def test_postgres_stores_any_record_and_never_blocks_the_others(
    pg_url: str, pg_table: str, records: list[CostRecord]
) -> None:
    good = CostRecord(request_id="good", model="m", cost_usd=0.5)
    with tempfile.TemporaryDirectory() as d:
        led = _ledger(pg_url, pg_table, Path(d))
        led.write_many([*records, good])
        assert led.flush(20)
        back = {r.record_id: r.to_dict() for r in led.records()}
        led.close()
    assert led.rejected == 0
    assert back[good.record_id] == good.to_dict()
    for r in records:
        got, want = back[r.record_id], as_stored(r)
        if not math.isfinite(r.ts):
            assert math.isfinite(got.pop("ts")) and math.isfinite(want.pop("ts"))
        assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)


def test_postgres_sql_report_equals_the_one_pass_report(pg_url: str, pg_table: str, tmp_path: Path) -> None:
    from langchain_costrouter.core.report import build_report
    from langchain_costrouter.core.report_sql import build_report_sql
    from tests.unit_tests._ledger_samples import PREMIUM_MODEL, sample_records, ts
    from tests.unit_tests.ledger.test_report_sql import approx_equal, random_records

    records = sample_records() + random_records(400, seed=11)
    led = _ledger(pg_url, pg_table, tmp_path / "o")
    led.write_many(records)
    assert led.flush(20)
    for since, until in ((None, None), (ts(3, 0), None), (ts(2, 11), ts(4, 0))):
        for kwargs in ({}, {"premium_model": PREMIUM_MODEL}):
            want = build_report(records, since=since, until=until, **kwargs).to_dict()
            approx_equal(build_report_sql(led, since=since, until=until, **kwargs).to_dict(), want)
    led.close()
