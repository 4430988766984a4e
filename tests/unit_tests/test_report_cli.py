"""``costrouter report`` end to end on a real SQLite ledger file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from langchain_costrouter.cli import main
from langchain_costrouter.core.ledger import SQLiteLedger
from tests.unit_tests._ledger_samples import PREMIUM_MODEL, sample_records

approx = pytest.approx
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite"
    led = SQLiteLedger(path)
    led.write_many(sample_records())
    led.close()
    return path


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["report", *argv, "--json", "-"]) == 0
    out = capsys.readouterr().out
    data: dict[str, Any] = json.loads(out)  # stdout holds nothing but the JSON
    return data


def test_json_numbers_match_hand_calculation(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = run_json(capsys, "--ledger", str(ledger))
    t = d["totals"]
    assert d["ledger"] == str(ledger)
    assert (t["requests"], t["records"], t["calls"], t["errors"], t["unpriced"]) == (7, 13, 11, 1, 1)
    assert t["cost_usd"] == approx(0.01741)
    assert t["baseline_usd"] == approx(0.051)
    assert t["savings_usd"] == approx(0.03359)
    assert t["overhead_usd"] == approx(0.00151)
    assert t["overhead"]["rejected_usd"] == approx(0.001)
    assert t["cache_hits"] == 1
    assert t["cache_savings_usd"] == approx(0.006)
    assert t["escalation_rate"] == approx(2 / 7)
    assert t["premium"] == PREMIUM_MODEL  # inferred from the records
    days = {r["key"]: r for r in d["breakdowns"]["day"]}
    assert days["2026-11-03"]["cost_usd"] == approx(0.00271)
    assert days["2026-11-03"]["baseline_usd"] == approx(0.024)
    assert {r["key"] for r in d["breakdowns"]["tenant"]} == {"alice", "bob", "carol"}


def test_date_window_until_is_inclusive_of_its_day(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = run_json(capsys, "--ledger", str(ledger), "--since", "2026-11-03", "--until", "2026-11-03")
    assert [r["key"] for r in d["breakdowns"]["day"]] == ["2026-11-03"]
    assert d["totals"]["cost_usd"] == approx(0.00271)
    assert d["window"]["until"] == "2026-11-04T00:00:00+00:00"
    d = run_json(capsys, "--ledger", str(ledger), "--since", "2026-11-03T12:00:00+00:00")
    assert d["totals"]["requests"] == 3  # E, F, G
    assert d["totals"]["cost_usd"] == approx(0.0017)


def test_config_gives_ledger_path_and_premium_tier(
    ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "costrouter.yaml"
    cfg.write_text(
        "version: 1\n"
        "tiers:\n"
        "  - {name: cheap, model: openai/gpt-4o-mini, price: {input: 0.15, output: 0.6}}\n"
        "  - {name: mid, model: openai/gpt-4.1-mini, price: {input: 0.4, output: 1.6}}\n"
        "  - {name: premium, model: openai/gpt-4o, price: {input: 2.5, output: 10}}\n"
        f"ledger: {{path: {ledger.name}}}\n",  # relative to the config file
        encoding="utf-8",
    )
    d = run_json(capsys, "--config", str(cfg))
    assert d["ledger"] == str(ledger.resolve())
    assert d["totals"]["premium"] == "premium"
    assert d["totals"]["premium_call_share"] == approx(1 / 8)


def test_terminal_tables_and_json_file(ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_json = tmp_path / "report.json"
    assert main(["report", "--ledger", str(ledger), "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "Spend by tier" in out
    assert "Savings" in out
    assert json.loads(out_json.read_text(encoding="utf-8"))["totals"]["requests"] == 7


def test_plot_png(ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "spend.png"
    assert main(["report", "--ledger", str(ledger), "--plot", str(png)]) == 0
    data = png.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 10_000
    assert "chart written" in capsys.readouterr().out


def test_plot_html_is_self_contained(ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "spend.html"
    assert main(["report", "--ledger", str(ledger), "--plot", str(page), "--json", "-"]) == 0
    json.loads(capsys.readouterr().out)  # the chart message went to stderr
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "<svg" in text
    assert "2026-11-03" in text
    for external in ('src="http', "src='http", 'href="http', "<link", "<script", "url(http"):
        assert external not in text  # nothing is fetched from elsewhere


def test_empty_ledger_is_a_friendly_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.sqlite"
    SQLiteLedger(path).close()
    png = tmp_path / "empty.png"
    assert main(["report", "--ledger", str(path), "--plot", str(png)]) == 0
    assert "No records" in capsys.readouterr().out
    assert png.read_bytes().startswith(PNG_MAGIC)
    d = run_json(capsys, "--ledger", str(path))
    assert d["totals"]["requests"] == 0
    assert d["totals"]["savings_pct"] is None


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--since", "yesterday"], "--since"),
        (["--until", "2026-13-01"], "--until"),
        (["--since", "2026-11-04", "--until", "2026-11-02"], "--until"),
        (["--plot", "chart.pdf"], "--plot"),
    ],
)
def test_bad_options_exit_2(ledger: Path, argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--ledger", str(ledger), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("costrouter report: error:")
    assert needle in err
    assert len(err.strip().splitlines()) == 1


def test_missing_ledger_exits_2_naming_the_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.sqlite"
    assert main(["report", "--ledger", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err
    assert "not found" in err
    assert not missing.exists()


def test_not_a_ledger_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a database, " * 200, encoding="utf-8")
    assert main(["report", "--ledger", str(bogus)]) == 2
    assert str(bogus) in capsys.readouterr().err


def test_missing_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err


def test_unwritable_plot_exits_2(ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "no-such-dir" / "chart.png"
    assert main(["report", "--ledger", str(ledger), "--plot", str(target)]) == 2
    err = capsys.readouterr().err
    assert "--plot" in err
    assert str(target) in err
