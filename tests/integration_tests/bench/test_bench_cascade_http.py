"""``costrouter bench cascade`` / ``costrouter demo`` over real HTTP to the replay server on loopback.

Every pipeline policy goes ChatCostRouter -> ChatOpenAI -> HTTP -> replay server; these tests
check the figures against the ledger the run wrote and against the offline evaluator, which
counts the same tokens with the same tiktoken encoding (cl100k_base for both bundled models).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from langchain_costrouter.cli import main
from langchain_costrouter.cli._render import fmt_usd
from langchain_costrouter.core.gates.heuristic import HeuristicGate
from langchain_costrouter.core.ledger import SQLiteLedger
from langchain_costrouter.core.pricing import ModelPrice, PriceBook
from langchain_costrouter.core.types import ChatRequest, Completion
from langchain_costrouter.offline.cascade_bench import CascadeBenchSettings, load_bench_data, run_cascade_bench
from langchain_costrouter.offline.cascade_policies import fit_fold_gates
from langchain_costrouter.offline.data import RoutedDataset, bundled_data_path
from langchain_costrouter.offline.gate_calibration import calibrate
from langchain_costrouter.offline.policy_eval import HEURISTIC_MIN_CHARS, HEURISTIC_MIN_OVERLAP, item_costs
from tests.unit_tests._gate_synth import CHEAP as SYN_CHEAP
from tests.unit_tests._gate_synth import PREMIUM as SYN_PREMIUM
from tests.unit_tests._gate_synth import make_items

pytestmark = pytest.mark.server

CHEAP = "mistralai/Mixtral-8x7B-Instruct-v0.1"
PREMIUM = "gpt-4-1106-preview"
POLICIES = {"always_cheap", "always_premium", "heuristic", "learned", "oracle", "random_at_learned_rate"}
REQUIRED = {"policy", "quality", "quality_vs_premium", "cost_usd", "cost_vs_premium", "premium_call_rate"}
SYN_PRICES = [f"{SYN_CHEAP}=0.5,1", f"{SYN_PREMIUM}=10,30"]


def _bench(*extra: str, data: Path | None = None, cheap: str = CHEAP, premium: str = PREMIUM) -> list[str]:
    return [
        "bench",
        "cascade",
        "--data",
        str(data or bundled_data_path()),
        "--cheap",
        cheap,
        "--premium",
        premium,
        "--no-progress",
        "--concurrency",
        "16",
        *extra,
    ]


def _write_csv(data: RoutedDataset, path: Path) -> Path:
    models = data.models
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["prompt", *models, *(f"{m}_response" for m in models)])
        for i, p in enumerate(data.prompts):
            w.writerow(
                [p, *(repr(float(data.quality_of(m)[i])) for m in models), *(data.answers(m)[i] for m in models)]
            )
    return path


def _rows(path: Path) -> dict[str, dict[str, Any]]:
    rows = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(rows, list)
    return {r["policy"]: r for r in rows}


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("bench")
    paths = {"json": out / "cascade.json", "plot": out / "cascade.png", "ledger": out / "ledger.sqlite"}
    rc = main(
        _bench(
            "--limit",
            "60",
            "--overhead-requests",
            "10",
            "--json",
            str(paths["json"]),
            "--plot",
            str(paths["plot"]),
            "--ledger",
            str(paths["ledger"]),
        )
    )
    assert rc == 0
    return paths


def test_json_has_every_policy_and_sane_invariants(cli_run: dict[str, Path]) -> None:
    rows = _rows(cli_run["json"])
    assert set(rows) == POLICIES
    for r in rows.values():
        assert set(r) >= REQUIRED, r
        assert r["n_items"] == 60
    prem, cheap, learned = rows["always_premium"], rows["always_cheap"], rows["learned"]
    assert prem["quality_vs_premium"] == 1.0 and prem["cost_vs_premium"] == 1.0 and prem["premium_call_rate"] == 1.0
    assert cheap["premium_call_rate"] == 0.0 and cheap["cost_usd"] < prem["cost_usd"] / 5
    assert rows["oracle"]["quality"] >= learned["quality"]
    assert rows["oracle"]["quality"] >= prem["quality"]
    assert cheap["cost_usd"] <= learned["cost_usd"] <= cheap["cost_usd"] + prem["cost_usd"]
    assert rows["random_at_learned_rate"]["premium_call_rate"] == pytest.approx(learned["premium_call_rate"])
    assert 0.0 < learned["premium_call_rate"] < 1.0


def test_costs_are_the_ledger_sums(cli_run: dict[str, Path]) -> None:
    rows = _rows(cli_run["json"])
    ledger = SQLiteLedger(cli_run["ledger"])
    try:
        records = ledger.records()
    finally:
        ledger.close()
    by_tenant: dict[str, float] = {}
    calls: dict[str, int] = {}
    for r in records:
        by_tenant[r.tenant] = by_tenant.get(r.tenant, 0.0) + r.cost_usd
        calls[r.tenant] = calls.get(r.tenant, 0) + 1
    for policy in ("always_cheap", "always_premium", "heuristic", "learned"):
        assert rows[policy]["cost_usd"] == pytest.approx(by_tenant[policy], rel=1e-12)
        assert rows[policy]["calls"] == calls[policy]  # one record per model call, nothing else
    assert calls["always_premium"] == calls["always_cheap"] == 60
    assert calls["heuristic"] == 60 + round(60 * rows["heuristic"]["premium_call_rate"])


def test_plot_is_a_png(cli_run: dict[str, Path]) -> None:
    assert cli_run["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pipeline_agrees_with_the_offline_evaluator() -> None:
    n = 150
    res = run_cascade_bench(
        bundled_data_path(), CascadeBenchSettings(CHEAP, PREMIUM, overhead_requests=5, progress=False), limit=n
    )
    data = load_bench_data(bundled_data_path(), CHEAP, PREMIUM, limit=n)
    assert res.answer_mismatches == 0
    offline = item_costs(data, CHEAP, PREMIUM)
    # Same prompt and answer tokens (tiktoken cl100k_base on both sides), same prices.
    np.testing.assert_allclose(res.outcomes["always_cheap"].cost_usd, offline.cheap_usd, rtol=1e-9)
    np.testing.assert_allclose(res.outcomes["always_premium"].cost_usd, offline.premium_usd, rtol=1e-9)
    # Heuristic gate: the pipeline escalated exactly the items the gate fails offline.
    gate = HeuristicGate(1.0, min_chars=HEURISTIC_MIN_CHARS, min_overlap=HEURISTIC_MIN_OVERLAP)
    fails = [
        not gate.evaluate(ChatRequest(({"role": "user", "content": p},)), Completion(a, CHEAP)).passed
        for p, a in zip(data.prompts, data.answers(CHEAP), strict=True)
    ]
    assert res.outcomes["heuristic"].escalated.astype(bool).tolist() == fails
    # Learned gate: each fold's gate, replayed offline on its held-out items, makes the same calls.
    esc = np.zeros(n, dtype=bool)
    for fg in fit_fold_gates(data, CHEAP, PREMIUM):
        p = fg.gate.predict_proba_batch([data.prompts[i] for i in fg.test], [data.answers(CHEAP)[i] for i in fg.test])
        esc[fg.test] = p < fg.threshold
    learned = res.outcomes["learned"]
    assert learned.escalated.astype(bool).tolist() == esc.tolist()
    expected_cost = offline.cheap_usd.sum() + offline.premium_usd[esc].sum()
    assert learned.cost_usd.sum() == pytest.approx(expected_cost, rel=1e-9)
    # ... and so the pipeline reproduces `costrouter calibrate`'s cross-validated figures.
    cv = calibrate(data, CHEAP, PREMIUM).cv
    row = res.row("learned")
    assert row.quality == pytest.approx(cv.quality)
    assert row.premium_call_rate == pytest.approx(cv.premium_call_rate)
    assert row.cost_vs_premium == pytest.approx(cv.cost_vs_premium, rel=1e-6)


def test_unknown_price_is_an_error_not_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _write_csv(make_items(30, seed=1), tmp_path / "other.csv")
    rc = main(_bench(data=data, cheap=SYN_CHEAP, premium=SYN_PREMIUM))
    err = capsys.readouterr().err
    assert rc == 2
    assert f"no price known for model {SYN_CHEAP!r}" in err
    assert f"--prices '{SYN_CHEAP}=IN,OUT'" in err


def test_price_overrides_scale_costs_on_other_data(tmp_path: Path) -> None:
    # Data in the same format but never seen: other models, graded (numeric) qualities.
    data = _write_csv(make_items(60, seed=5, numeric=True), tmp_path / "numeric.csv")
    runs = {}
    for name, premium_price in (("base", "10,30"), ("double", "20,60")):
        out = tmp_path / f"{name}.json"
        args = ["--prices", SYN_PRICES[0], f"{SYN_PREMIUM}={premium_price}", "--overhead-requests", "0"]
        assert main(_bench(*args, "--json", str(out), data=data, cheap=SYN_CHEAP, premium=SYN_PREMIUM)) == 0
        runs[name] = _rows(out)
    base, double = runs["base"], runs["double"]
    assert double["always_premium"]["cost_usd"] == pytest.approx(2 * base["always_premium"]["cost_usd"], rel=1e-9)
    assert double["always_cheap"]["cost_usd"] == pytest.approx(base["always_cheap"]["cost_usd"], rel=1e-9)
    for policy in ("heuristic", "learned", "oracle"):
        b, d = base[policy], double[policy]
        assert d["quality"] == b["quality"]  # prices change no decision
        premium_part = b["cost_usd"] - base["always_cheap"]["cost_usd"]
        assert d["cost_usd"] == pytest.approx(base["always_cheap"]["cost_usd"] + 2 * premium_part, rel=1e-9)


def test_gate_file_is_evaluated_as_is(tmp_path: Path) -> None:
    book = PriceBook({SYN_CHEAP: ModelPrice.per_million(0.5, 1.0), SYN_PREMIUM: ModelPrice.per_million(10.0, 30.0)})
    gate = calibrate(make_items(200, seed=7), SYN_CHEAP, SYN_PREMIUM, 0.95, 3, book).gate
    gate_path = gate.save(tmp_path / "gate.json")
    items = make_items(50, seed=8)
    out = tmp_path / "r.json"
    args = ["--prices", *SYN_PRICES, "--gate-file", str(gate_path), "--json", str(out), "--overhead-requests", "0"]
    assert main(_bench(*args, data=_write_csv(items, tmp_path / "new.csv"), cheap=SYN_CHEAP, premium=SYN_PREMIUM)) == 0
    learned = _rows(out)["learned"]
    assert learned["threshold"] == f"{gate.threshold:.3f}"
    scores = gate.predict_proba_batch(list(items.prompts), list(items.answers(SYN_CHEAP)))
    assert learned["premium_call_rate"] == pytest.approx(float(np.mean(scores < gate.threshold)))


def test_demo_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    rc = main(["demo", "--limit", "60", "--out", str(out), "--overhead-requests", "5", "--no-progress"])
    text = capsys.readouterr().out
    assert rc == 0
    for name in ("cascade.png", "demo-report.png", "cascade.json", "demo-ledger.sqlite"):
        assert (out / name).is_file(), name
    assert "Cascade benchmark: 60 questions" in text
    assert "The ledger" in text and "The learned gate kept" in text
    columns = ("policy", "via", "quality", "% of premium quality", "cost", "% of premium cost", "premium calls", "APGR")
    for column in columns:
        assert f"\n  {column}  " in text, column  # every column is defined under the table
    rows = _rows(out / "cascade.json")
    assert set(rows) == POLICIES
    # The last line is the saving in money, from the table's own figures.
    learned, premium = rows["learned"]["cost_usd"], rows["always_premium"]["cost_usd"]
    assert text.strip().splitlines()[-1] == (
        f"On this traffic: {fmt_usd(learned * 1000 / 60)} per 1,000 requests instead of {fmt_usd(premium * 1000 / 60)}."
    )
    assert text.count("always-premium baseline of") == 1  # the ledger's estimate explained, not a second table
