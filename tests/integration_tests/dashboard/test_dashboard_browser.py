"""``costrouter dashboard`` in a real headless browser (Debian's Chromium driven by Playwright).

The test writes a ledger, starts the real command on a free loopback port, loads the page and
checks every figure it shows against ``costrouter report --json`` over the same ledger.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from langchain_costrouter.core.ledger import SQLiteLedger
from langchain_costrouter.dashboard import DashboardServer
from tests.unit_tests._ledger_samples import sample_records

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make test installs it)"),
]
approx = pytest.approx


def _cli(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", "import sys; from langchain_costrouter.cli import main; sys.exit(main())", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120, **kwargs)


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite"
    led = SQLiteLedger(path)
    led.write_many(sample_records())
    led.close()
    return path


@pytest.fixture
def dashboard(ledger: Path) -> Iterator[str]:
    """The real ``costrouter dashboard`` process on a free port; yields its URL."""
    cmd = [sys.executable, "-c", "import sys; from langchain_costrouter.cli import main; sys.exit(main())"]
    proc = subprocess.Popen(
        [*cmd, "dashboard", "--ledger", str(ledger), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert match, line + (proc.stderr.read() if proc.stderr else "")
        yield match.group(0)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


def _report(ledger: Path) -> dict[str, Any]:
    out = _cli("report", "--ledger", str(ledger), "--json", "-")
    assert out.returncode == 0, out.stderr
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def _load(browser: Any, url: str) -> Any:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("body[data-ready='true']", timeout=20_000)
    assert errors == []
    return page


def test_page_shows_the_report_figures(browser: Any, dashboard: str, ledger: Path) -> None:
    report = _report(ledger)
    t = report["totals"]
    page = _load(browser, dashboard)

    def tile(name: str) -> tuple[float | None, str]:
        node = page.get_by_test_id(name)
        raw = node.get_attribute("data-value")
        return (float(raw) if raw else None), node.locator(".value").inner_text()

    expected = {
        "spend": t["cost_usd"],
        "baseline": t["baseline_usd"],
        "savings": t["savings_usd"],
        "requests": t["requests"],
        "escalation-rate": t["escalation_rate"],
        "premium-share": t["premium_call_share"],
        "cache-hit-rate": t["cache_hits"] / t["answered"],
        "cache-savings": t["cache_savings_usd"],
        "overhead": t["overhead_usd"],
    }
    for name, value in expected.items():
        shown, _text = tile(name)
        assert shown == approx(value), name
    # What a person reads, formatted as the CLI formats it.
    assert tile("spend")[1] == "$0.0174"
    assert tile("savings")[1] == "$0.0336"
    assert tile("requests")[1] == "7"
    assert tile("escalation-rate")[1] == f"{100 * t['escalation_rate']:.1f}%"
    assert page.get_by_test_id("savings").locator(".sub").inner_text().startswith(f"{t['savings_pct']:.1f}%")

    # Charts: spend and baseline by day are the report's day breakdown.
    day = page.evaluate(
        "() => { const c = window.costrouterDashboard.charts['chart-day'];"
        " return {labels: c.data.labels, sets: c.data.datasets.map(d => d.data)}; }"
    )
    days = report["breakdowns"]["day"]
    assert day["labels"] == [r["key"] for r in days]
    assert day["sets"][0] == approx([r["baseline_usd"] for r in days])
    assert day["sets"][1] == approx([r["cost_usd"] for r in days])

    # Every breakdown table (route/task, tier, model, tenant): one row per report row, same money.
    for dim in ("task", "tier", "model", "tenant"):
        rows = report["breakdowns"][dim]
        table = page.get_by_test_id(f"table-{dim}")
        shown = table.locator("tbody tr")
        assert shown.count() == len(rows), dim
        for i, r in enumerate(rows):
            row = shown.nth(i)
            assert row.get_attribute("data-key") == (r["key"] or "")
            for col in ("cost_usd", "baseline_usd", "savings_usd"):
                cell = row.locator(f"td[data-col='{col}']")
                assert float(cell.get_attribute("data-value") or "nan") == approx(r[col]), (dim, r["key"], col)
    assert page.locator("#quality").is_hidden()  # this ledger's report has no quality section
    page.close()


def test_page_follows_new_ledger_records(browser: Any, dashboard: str, ledger: Path) -> None:
    page = _load(browser, dashboard)
    before = float(page.get_by_test_id("spend").get_attribute("data-value") or "nan")
    led = SQLiteLedger(ledger)
    led.write_many([dataclasses.replace(sample_records()[1], request_id="new-request")])
    led.close()
    page.evaluate("() => window.costrouterReload()")  # what the 15 s timer calls
    page.wait_for_function(f"() => Number(document.querySelector('[data-testid=spend]').dataset.value) > {before}")
    assert float(page.get_by_test_id("spend").get_attribute("data-value") or "nan") == approx(
        _report(ledger)["totals"]["cost_usd"]
    )
    page.close()


def test_read_only_and_loopback_only(dashboard: str) -> None:
    with urllib.request.urlopen(dashboard + "api/report", timeout=10) as resp:
        assert resp.status == 200
        assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    for method in ("POST", "PUT", "DELETE"):
        req = urllib.request.Request(dashboard + "api/report", method=method, data=b"{}")
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(req, timeout=10)
        assert exc.value.code == 405
    port = dashboard.rsplit(":", 1)[1].strip("/")
    req = urllib.request.Request(dashboard + "api/report", headers={"Host": f"evil.example:{port}"})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req, timeout=10)
    assert exc.value.code == 403
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(dashboard + "static/../../etc/passwd", timeout=10)
    assert exc.value.code == 404


def test_quality_section_appears_when_the_report_has_one(browser: Any, ledger: Path) -> None:
    base = _report(ledger)
    quality = {
        "target": 0.95,
        "by_route": [{"route": "chat", "realised_vs_premium": 0.97, "ci": [0.93, 0.99], "samples": 40}],
    }
    with DashboardServer(lambda: {**base, "quality": quality}, port=0) as server:
        page = _load(browser, server.url)
        assert page.locator("#quality").is_visible()
        assert page.get_by_test_id("quality-target").locator(".value").inner_text() == "95.0%"
        cells = page.get_by_test_id("quality-by_route").locator("tbody td").all_inner_texts()
        assert cells == ["chat", "0.970", "0.930 - 0.990", "40"]
        page.close()


def test_a_broken_ledger_is_one_line_in_the_page(browser: Any, tmp_path: Path) -> None:
    def broken() -> dict[str, Any]:
        raise OSError("ledger vanished")

    with DashboardServer(broken, port=0) as server:
        page = browser.new_page()
        page.goto(server.url)
        page.wait_for_selector("body[data-ready='error']", timeout=20_000)
        assert "Cannot read the ledger: OSError: ledger vanished" in page.locator("#status").inner_text()
        page.close()
