"""``bench chaos`` at a small size: every sabotage kind, and the ledger still equals the server's bill."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from langchain_costrouter.offline.chaos_bench import ChaosSettings, run_chaos

pytestmark = pytest.mark.server


def test_chaos_run_loses_nothing_invents_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    settings = ChaosSettings(
        requests=100,
        fault_rate=0.2,
        cancel_rate=0.1,
        seed=7,
        timeout_s=1.5,
        ledger_busy_s=0.3,
        lock_s=1.0,
        cache_lock_s=6.0,
        workdir=tmp_path,
    )
    result = run_chaos(settings)
    d = result.to_dict()
    c = d["comparison"]
    # every sabotage kind fired mid-run, without an error of its own
    assert [e["event"] for e in d["sabotage"]] == ["ledger_deleted", "ledger_locked", "cache_locked"], d["sabotage"]
    assert all("error" not in e for e in d["sabotage"]), d["sabotage"]
    assert d["records_in_deleted_file"] > 0
    assert d["ledger_reopened"] == 1
    assert d["pending_after_close"] == 0
    assert d["cancelled"] > 0
    assert d["cache_store_failures"] > 0
    assert sum(d["faults_injected"].values()) > 0
    # the verdict
    assert c["lost"] == 0, c["lost_examples"]
    assert c["phantom"] == 0, c["phantom_examples"]
    assert c["duplicates"] == 0
    assert c["estimate_rule_breaks"] == 0, c["rule_break_examples"]
    assert c["pairs_exact"] > 100
    assert c["exact_ledger_usd"] == pytest.approx(c["exact_server_usd"], abs=1e-12)
    assert c["ok"] is True
    json.dumps(d)  # JSON-ready


def test_chaos_run_through_the_litellm_router_loses_nothing(tmp_path: Path) -> None:
    settings = ChaosSettings(
        requests=60,
        adapter="litellm",
        cancel_rate=0.1,
        seed=3,
        timeout_s=1.5,
        ledger_busy_s=0.3,
        lock_s=1.0,
        lock_cache_at=None,
        workdir=tmp_path,
    )
    d = run_chaos(settings).to_dict()
    c = d["comparison"]
    assert [e["event"] for e in d["sabotage"]] == ["ledger_deleted", "ledger_locked"], d["sabotage"]
    assert d["modes"]["stream"] > 0
    assert (c["lost"], c["phantom"], c["duplicates"], c["estimate_rule_breaks"]) == (0, 0, 0, 0), c
    assert c["pairs_exact"] > 50
    assert c["ok"] is True


def test_chaos_compare_finds_a_lost_and_a_phantom_record() -> None:
    from langchain_costrouter.core.ledger import CostRecord
    from langchain_costrouter.offline._chaos_compare import compare
    from langchain_costrouter.testing.server import BillLine

    def price(model: str, prompt: int, completion: int) -> float:
        return (prompt + 2 * completion) / 1e6

    lines = [
        BillLine(0, "q1", "cheap", False, "complete", 200, 10, 5),
        BillLine(1, "q1", "premium", False, "complete", 200, 10, 7),
        BillLine(2, "q2", "cheap", False, "error", 429, 0, 0, "429"),
    ]
    records = [
        CostRecord("r1", "openai/cheap", outcome="rejected", tenant="q1", input_tokens=10, output_tokens=5,
                   cost_usd=price("cheap", 10, 5), ts=1.0),
        CostRecord("r2", "openai/cheap", outcome="accepted", tenant="q2", input_tokens=3, output_tokens=3,
                   cost_usd=1e-5, ts=2.0),
    ]  # fmt: skip
    out = compare(lines, records, price)
    assert [(s.tag, s.model) for s in out.lost] == [("q1", "premium")]
    assert [r.tenant for r in out.phantom] == ["q2"]
    assert out.exact == 1
    assert out.ok is False
