"""``costrouter bench replicas`` in small: two real proxy replicas on a bench-owned Postgres database
and a private Redis, with Redis restarted and ledger connections killed mid-run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
import pytest

from langchain_costrouter.cli import main as cli_main
from langchain_costrouter.offline.replicas_bench import check
from tests.integration_tests.scale.conftest import missing

pytestmark = [pytest.mark.server, pytest.mark.proxy]

KEYS = {
    "requests",
    "ledger_records",
    "lost_records",
    "duplicate_records",
    "budget_limit_usd",
    "budget_spent_usd",
    "in_flight_max",
    "max_request_cost_usd",
    "cross_replica_cache_hits",
    "throughput_rps",
    "throughput_vs_single",
}


def _databases(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'costrouter_bench_%'")}


def test_bench_replicas_with_faults_keeps_every_invariant(pg_url: str, tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:
        missing("redis-server", "not on PATH")
    before = _databases(pg_url)
    out = tmp_path / "replicas.json"
    argv = ["bench", "replicas", "--replicas", "2", "--clients", "10", "--requests", "60", "--faults"]
    rc = cli_main([*argv, "--postgres-url", pg_url, "--json", str(out), "--no-progress"])
    res = json.loads(out.read_text())
    assert set(res) == KEYS
    assert check(res, {"budget_refusals": 1}) == [], res
    assert rc == 0  # the CLI's own check, with the budget's refusals counted
    assert res["requests"] == 60 and res["ledger_records"] > 0
    assert res["lost_records"] == 0 and res["duplicate_records"] == 0
    assert res["budget_spent_usd"] <= res["budget_limit_usd"] + res["in_flight_max"] * res["max_request_cost_usd"]
    assert res["cross_replica_cache_hits"] > 0
    assert _databases(pg_url) == before  # the bench dropped its database
