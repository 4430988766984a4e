"""The quality section of the report: numbers by hand, intervals, alarms, CLI table, JSON and plot."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from langchain_costrouter.cli import main
from langchain_costrouter.core.ledger import CostRecord, SQLiteLedger
from langchain_costrouter.core.monitor.estimate import Tally, combine
from langchain_costrouter.core.monitor.quality import quality_report
from langchain_costrouter.core.report import build_report

DAY1 = datetime(2026, 12, 1, 12, tzinfo=UTC).timestamp()
DAY2 = datetime(2026, 12, 2, 12, tzinfo=UTC).timestamp()


def answer(
    rid: str, tier: str, ts: float, *, route: str = "math", tenant: str = "acme", gate: str = "learned"
) -> CostRecord:
    return CostRecord(
        rid, f"{tier}-m", outcome="accepted", ts=ts, tenant=tenant, task=route, tier=tier, cost_usd=0.001,
        source="cascade", extra={"gate": gate},
    )  # fmt: skip


def shadow(
    rid: str, grade: float, rate: float, ts: float, *, route: str = "math", tenant: str = "acme", **x: Any
) -> CostRecord:
    extra = {"grade": grade, "rate": rate, "grader": "agreement", "shadow_tier": "premium", "target": 0.9, **x}
    return CostRecord(
        rid, "premium-m", kind="shadow", outcome="overhead", ts=ts, tenant=tenant, task=route, tier="cheap",
        cost_usd=0.01, source="monitor", extra=extra,
    )  # fmt: skip


def records() -> list[CostRecord]:
    out = []
    # day 1: 10 requests, 8 accepted on cheap, 4 shadowed at rate 0.5 (1 disagreement), 2 premium answers
    for i in range(8):
        out.append(answer(f"a{i}", "cheap", DAY1))
    out += [answer(f"p{i}", "premium", DAY1, gate="none") for i in range(2)]
    out += [shadow("a0", 0.0, 0.5, DAY1), shadow("a1", 1.0, 0.5, DAY1), shadow("a2", 1.0, 0.5, DAY1)]
    out.append(shadow("a3", 1.0, 0.5, DAY1))
    # day 2, another tenant: 5 accepted, all shadowed, all wrong; the controller raised an alarm
    for i in range(5):
        out.append(answer(f"b{i}", "cheap", DAY2, tenant="zeta"))
        out.append(shadow(f"b{i}", 0.0, 1.0, DAY2, tenant="zeta", alarm="target cannot be held"))
    return out


def test_numbers_match_the_estimator_by_hand() -> None:
    q = quality_report(records())
    assert q is not None
    assert q.target == 0.9 and q.grader == "agreement"
    assert q.shadow_usd == pytest.approx(0.09)
    day1 = next(r for r in q.breakdowns["day"] if r.key == "2026-12-01")
    assert (day1.requests, day1.accepted, day1.graded) == (10, 8, 4)
    assert day1.error_rate.value == pytest.approx(0.25)
    expected = combine([Tally(8, 4, 1)], denominator=10).complement()
    assert day1.quality_vs_premium.value == pytest.approx(1 - 8 * 0.25 / 10)
    assert (day1.quality_vs_premium.lo, day1.quality_vs_premium.hi) == pytest.approx((expected.lo, expected.hi))
    zeta = next(r for r in q.breakdowns["tenant"] if r.key == "zeta")
    assert zeta.quality_vs_premium.value == 0.0 and zeta.below_target
    assert q.totals.requests == 15 and q.totals.accepted == 13
    assert q.totals.quality_vs_premium.value == pytest.approx(1 - (2 + 5) / 15)
    assert any("math|cheap: target cannot be held" in a for a in q.alarms)
    assert any(a.startswith("tenant zeta: quality vs premium 0.0%") for a in q.alarms)


def test_no_grades_no_quality_section() -> None:
    recs = [answer("a", "cheap", DAY1)]
    assert quality_report(recs) is None
    assert build_report(recs).quality is None


def test_report_counts_shadow_spend_as_overhead() -> None:
    rep = build_report(records())
    assert rep.totals.overhead.shadow_usd == pytest.approx(0.09)
    assert rep.quality is not None
    assert rep.to_dict()["quality"]["totals"]["requests"] == 15


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite"
    led = SQLiteLedger(path)
    led.write_many(records())
    led.close()
    return path


def test_cli_table_json_alarm_and_plot(
    ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert main(["report", "--ledger", str(ledger), "--plot", str(tmp_path / "q.png")]) == 0
    out = capsys.readouterr().out
    assert "Realised quality" in out and "tenant zeta" in out and "quality alarm" in out
    assert "quality alarm: tenant zeta" in caplog.text
    assert (tmp_path / "q.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["report", "--ledger", str(ledger), "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    t = data["quality"]["totals"]
    assert t["quality_vs_premium"] == pytest.approx(1 - 7 / 15)
    lo, hi = t["quality_vs_premium_ci"]
    assert lo <= t["quality_vs_premium"] <= hi
    assert {r["key"] for r in data["quality"]["breakdowns"]["tenant"]} == {"acme", "zeta"}
    assert main(["report", "--ledger", str(ledger), "--plot", str(tmp_path / "q.html")]) == 0
    assert "Realised quality" in (tmp_path / "q.html").read_text()


def test_the_database_aggregates_the_same_quality_section(ledger: Path) -> None:
    from langchain_costrouter.core.report_sql import build_report_sql

    led = SQLiteLedger(ledger)
    try:
        by_sql = build_report_sql(led)
    finally:
        led.close()
    one_pass = build_report(records())
    assert by_sql.quality is not None and one_pass.quality is not None
    assert _rounded(by_sql.quality.to_dict()) == _rounded(one_pass.quality.to_dict())
    assert by_sql.totals.overhead.shadow_usd == pytest.approx(0.09)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value
