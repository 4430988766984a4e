"""The report's quality section aggregated by Postgres equals the one-pass report's."""

from __future__ import annotations

from pathlib import Path

from langchain_costrouter.core.ledger import PostgresLedger
from langchain_costrouter.core.report import build_report
from langchain_costrouter.core.report_sql import build_report_sql
from tests.integration_tests.scale.conftest import pg_table, pg_url
from tests.unit_tests.monitor.test_quality_report import DAY2, _rounded, records

__all__ = ["pg_table", "pg_url"]  # fixtures used below


def test_postgres_aggregates_the_same_quality_section(pg_url: str, pg_table: str, tmp_path: Path) -> None:
    recs = records()
    led = PostgresLedger(pg_url, table=pg_table, outbox_dir=tmp_path / "outbox", flush_interval_s=0.05)
    led.write_many(recs)
    assert led.flush(20)
    try:
        for since in (None, DAY2 - 3600):
            want = build_report(recs, since=since).quality
            got = build_report_sql(led, since=since).quality
            assert want is not None and got is not None
            assert _rounded(got.to_dict()) == _rounded(want.to_dict())
    finally:
        led.close()
