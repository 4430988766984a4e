"""Aggregation of ledger records into a report, checked against hand-computed figures."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import FrozenInstanceError, replace
from pathlib import Path

import pytest

from langchain_costrouter.cli._render import fmt_usd, render_report
from langchain_costrouter.core.errors import LedgerError
from langchain_costrouter.core.ledger import CostRecord, SQLiteLedger
from langchain_costrouter.core.report import LedgerReport, build_report, read_ledger
from tests.unit_tests._ledger_samples import CHEAP_MODEL, MID_MODEL, PREMIUM_MODEL, sample_records, ts

approx = pytest.approx


@pytest.fixture
def report() -> LedgerReport:
    return build_report(sample_records(), premium_model=PREMIUM_MODEL)


def rows(report: LedgerReport, dim: str) -> dict[str | None, tuple[float, float, int, int]]:
    return {r.key: (r.cost_usd, r.baseline_usd, r.calls, r.requests) for r in report.breakdowns[dim]}


def test_totals_count_every_overhead(report: LedgerReport) -> None:
    t = report.totals
    assert t.requests == 7
    assert t.records == 13
    assert t.calls == 11  # 13 records minus the cache hit and G's zero-cost bookkeeping record
    assert t.cost_usd == approx(0.01741)
    assert t.baseline_usd == approx(0.051)
    assert t.savings_usd == approx(0.051 - 0.01741)
    assert t.savings_pct == approx(100 * (0.051 - 0.01741) / 0.051)


def test_overhead_split_excludes_served_best_effort_answer(report: LedgerReport) -> None:
    o = report.totals.overhead
    assert o.rejected_usd == approx(0.001)  # A's rejected attempt only: G's was served
    assert o.judge_usd == approx(0.0002)
    assert o.embedding_usd == approx(0.00001)
    assert o.compression_usd == approx(0.0003)
    assert o.error_usd == 0.0
    assert report.totals.overhead_usd == approx(0.00151)


def test_cache_errors_unpriced_and_rates(report: LedgerReport) -> None:
    t = report.totals
    assert t.cache_hits == 1
    assert t.cache_savings_usd == approx(0.006)
    assert t.errors == 1
    assert t.unpriced == 1
    assert t.unpriced_baseline == 0
    assert t.answered == 7
    assert t.escalation_rate == approx(2 / 7)
    assert t.premium_call_share == approx(1 / 8)
    assert t.premium == PREMIUM_MODEL


def test_tokens_by_kind(report: LedgerReport) -> None:
    tokens = {k.kind: k for k in report.totals.tokens}
    assert set(tokens) == {"completion", "judge", "embedding", "compression", "cache_hit"}
    c = tokens["completion"]
    assert (c.records, c.input_tokens, c.output_tokens, c.total_tokens) == (9, 640, 320, 960)
    assert (tokens["compression"].input_tokens, tokens["compression"].output_tokens) == (500, 100)
    assert tokens["judge"].total_tokens == 205


def test_days_are_utc_dates_with_midnight_boundaries(report: LedgerReport, utc_minus_8: None) -> None:
    days = rows(report, "day")
    assert list(days) == ["2026-11-02", "2026-11-03", "2026-11-04"]
    assert days["2026-11-02"][:2] == approx((0.0137, 0.020))
    assert days["2026-11-03"][:2] == approx((0.00271, 0.024))
    assert days["2026-11-04"][:2] == approx((0.001, 0.007))
    assert [days[d][3] for d in days] == [2, 4, 1]


@pytest.fixture
def utc_minus_8(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A local time zone where 00:00 UTC is still the previous day: buckets must not move."""
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_breakdowns_by_model_tier_task_tenant(report: LedgerReport) -> None:
    models = rows(report, "model")
    assert models[PREMIUM_MODEL] == approx((0.012, 0.012, 1, 1))
    # cheap: A .001 + judge .0002, B .0005, compression .0003, F .0004, G .001 (+ 0 error, 0 bookkeeping)
    assert models[CHEAP_MODEL][:2] == approx((0.0034, 0.020))
    assert models[CHEAP_MODEL][2:] == (7, 5)  # D's failed call counts as a call, G's bookkeeping not
    assert models[MID_MODEL][:2] == approx((0.002, 0.009))
    assert next(iter(models)) == PREMIUM_MODEL  # sorted by decreasing cost

    tiers = rows(report, "tier")
    assert tiers["cheap"][:2] == approx((0.0031, 0.020))  # judge record sits on the tier it judged
    assert tiers[None][:2] == approx((0.00031, 0.010))

    tasks = rows(report, "task")
    assert tasks["math"][:2] == approx((0.0162, 0.028))
    assert tasks["chat"][:2] == approx((0.00051, 0.018))
    assert tasks[None][:2] == approx((0.0007, 0.005))

    tenants = {r.key: r for r in report.breakdowns["tenant"]}
    assert tenants["alice"].cost_usd == approx(0.0152)
    assert tenants["alice"].savings_usd == approx(0.025 - 0.0152)
    assert tenants["bob"].savings_pct == approx(100 * (0.014 - 0.00051) / 0.014)
    assert tenants["carol"].requests == 2


def test_negative_savings_when_overheads_exceed_baseline() -> None:
    recs = [
        CostRecord("x", CHEAP_MODEL, "completion", "rejected", ts(5), cost_usd=0.004),
        CostRecord("x", "judge", "judge", "overhead", ts(5), cost_usd=0.002),
        CostRecord("x", PREMIUM_MODEL, "completion", "accepted", ts(5), cost_usd=0.01, baseline_cost_usd=0.01),
    ]
    t = build_report(recs).totals
    assert t.savings_usd == approx(-0.006)
    assert t.savings_pct == approx(-60.0)


def test_premium_model_is_inferred_when_not_given() -> None:
    t = build_report(sample_records()).totals
    assert t.premium == PREMIUM_MODEL
    assert t.premium_call_share == approx(1 / 8)


def test_premium_tier_and_provider_prefix_match() -> None:
    assert build_report(sample_records(), premium_tier="mid").totals.premium_call_share == approx(1 / 8)
    assert build_report(sample_records(), premium_model="gpt-4o-mini").totals.premium_call_share == approx(5 / 8)


def test_window_filters_records() -> None:
    rep = build_report(sample_records(), since=ts(3, 0), until=ts(4, 0))
    assert rep.totals.requests == 4
    assert rep.totals.cost_usd == approx(0.00271)
    assert [r.key for r in rep.breakdowns["day"]] == ["2026-11-03"]
    assert rep.first_ts == ts(3, 0)
    assert rep.to_dict()["window"]["since"] == "2026-11-03T00:00:00+00:00"


def test_empty_ledger_gives_empty_report() -> None:
    rep = build_report([])
    assert rep.empty
    assert rep.totals.cost_usd == 0.0
    assert rep.totals.savings_pct is None
    assert rep.totals.escalation_rate is None
    assert rep.totals.premium_call_share is None
    assert all(rows == () for rows in rep.breakdowns.values())
    d = json.loads(json.dumps(rep.to_dict()))
    assert d["totals"]["requests"] == 0


def test_report_is_frozen_and_json_ready(report: LedgerReport) -> None:
    with pytest.raises(FrozenInstanceError):
        report.totals.cost_usd = 0.0  # type: ignore[misc]
    d = json.loads(json.dumps(report.to_dict()))
    assert d["totals"]["overhead"]["judge_usd"] == approx(0.0002)
    assert d["totals"]["tokens"]["completion"]["input_tokens"] == 640
    assert [r["key"] for r in d["breakdowns"]["day"]] == ["2026-11-02", "2026-11-03", "2026-11-04"]


def test_unsorted_input_and_unpriced_baseline() -> None:
    recs = list(reversed(sample_records()))
    recs.append(replace(recs[0], request_id="H", extra={"baseline_price_error": "no premium price"}))
    rep = build_report(recs)
    assert rep.first_ts == ts(2, 10)
    assert rep.totals.unpriced_baseline == 1


def test_read_ledger_missing_file_names_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.sqlite"
    with pytest.raises(LedgerError, match=re.escape(str(missing))):
        read_ledger(missing)
    assert not missing.exists()  # a report never creates a ledger


def test_read_ledger_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    led = SQLiteLedger(path)
    led.write_many(sample_records())
    led.close()
    recs = read_ledger(path, since=ts(4, 0))
    assert [r.request_id for r in recs] == ["G", "G"]
    assert recs[1].extra == {"flag": "budget"}


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0, "$0"), (0.000123456, "$0.000123"), (0.0123456, "$0.0123"), (1234.5, "$1,234.50"), (-0.5, "-$0.5000")],
)
def test_fmt_usd(value: float, text: str) -> None:
    assert fmt_usd(value) == text


def test_render_report_prints_tables(report: LedgerReport) -> None:
    from rich.console import Console

    console = Console(record=True, width=160)
    render_report(console, report, source="ledger.sqlite")
    out = console.export_text()
    for needle in ("Spend by model", "Spend by day (UTC)", "2026-11-03", PREMIUM_MODEL, "$0.0174", "rejected"):
        assert needle in out
    empty = Console(record=True, width=100)
    render_report(empty, build_report([]))
    assert "No records" in empty.export_text()


def test_core_report_imports_no_renderer() -> None:
    code = (
        "import sys, langchain_costrouter.core.report as r; "
        "bad = [m for m in ('rich', 'matplotlib', 'langchain_core', 'litellm') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == ""


def test_streamed_ledger_gives_the_same_report(tmp_path: Path) -> None:
    """``iter_ledger`` reads the SQLite file in batches; the report equals the in-memory one."""
    from langchain_costrouter.core.report import iter_ledger

    path = tmp_path / "ledger.sqlite"
    led = SQLiteLedger(path)
    led.write_many(sample_records())
    led.close()
    in_memory = build_report(read_ledger(path), premium_model=PREMIUM_MODEL).to_dict()
    streamed = build_report(iter_ledger(path), premium_model=PREMIUM_MODEL).to_dict()
    assert streamed == in_memory and streamed["totals"]["records"] == len(sample_records())
    # one pass over a generator is enough, and a window applies while streaming
    since = ts(3, 9)  # keeps 7 of the 13 records
    window = build_report(iter_ledger(path, since=since), since=since, premium_model=PREMIUM_MODEL)
    assert window.totals.records == 7
    assert window.to_dict() == build_report(sample_records(), since=since, premium_model=PREMIUM_MODEL).to_dict()
    with pytest.raises(LedgerError, match="not found"):
        iter_ledger(tmp_path / "missing.sqlite")  # checked before any record is read
