"""Calibration and offline policy replay: clean CV, threshold choice, costs, the CLI."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from langchain_costrouter.cli import main
from langchain_costrouter.core.errors import DataError, UnknownModelPriceError
from langchain_costrouter.core.gates.features import FeatureMatrix
from langchain_costrouter.core.gates.learned import GateModel, LearnedGate
from langchain_costrouter.core.pricing import ModelPrice
from langchain_costrouter.core.tokens import count_message_tokens, count_tokens
from langchain_costrouter.offline import gate_calibration as calibration
from langchain_costrouter.offline.gate_calibration import (
    ItemCosts,
    apgr,
    calibrate,
    choose_threshold,
    evaluate_escalation,
    item_costs,
    kfold_indices,
    threshold_sweep,
)
from tests.unit_tests._gate_synth import CHEAP, PREMIUM, make_items

PRICES = {CHEAP: ModelPrice.per_million(0.5, 1.0), PREMIUM: ModelPrice.per_million(10.0, 30.0)}


def test_kfold_test_parts_partition_and_are_disjoint_from_training() -> None:
    labels = np.array([1.0] * 70 + [0.0] * 30)
    splits = kfold_indices(labels, 5, seed=3)
    seen = np.concatenate([te for _, te in splits])
    assert sorted(seen.tolist()) == list(range(100))
    for tr, te in splits:
        assert not set(tr.tolist()) & set(te.tolist())
        assert len(tr) + len(te) == 100
        assert labels[te].mean() == pytest.approx(0.7, abs=0.06)  # stratified
    with pytest.raises(DataError):
        kfold_indices(np.array([1.0] * 10 + [0.0] * 2), 5)


def test_item_costs_price_tiktoken_counts() -> None:
    data = make_items(4)
    costs = item_costs(data, CHEAP, PREMIUM, PRICES)
    p, a = data.prompts[0], data.answers(PREMIUM)[0]
    n_in = count_message_tokens([{"role": "user", "content": p}])
    expected = n_in * 10e-6 + count_tokens(a) * 30e-6
    assert costs.premium_usd[0] == pytest.approx(expected)
    assert np.all(costs.cheap_usd < costs.premium_usd)
    with pytest.raises(UnknownModelPriceError):
        item_costs(data, CHEAP, PREMIUM, {CHEAP: PRICES[CHEAP]})


def _toy() -> tuple[np.ndarray, np.ndarray, np.ndarray, ItemCosts]:
    scores = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8, 0.9, 0.95])
    q_cheap = np.array([0, 0, 1, 0, 1, 1, 1, 1], dtype=float)
    q_premium = np.array([1, 1, 1, 1, 1, 0, 1, 1], dtype=float)
    costs = ItemCosts(np.full(8, 0.1), np.full(8, 1.0))
    return scores, q_cheap, q_premium, costs


def test_choose_threshold_is_the_cheapest_cut_reaching_the_target() -> None:
    scores, qc, qp, costs = _toy()
    # premium quality 7/8; escalating the two lowest gives 7/8 too -> 100 % at 2 premium calls.
    t = choose_threshold(scores, qc, qp, costs, 1.0)
    assert 0.2 < t < 0.3
    r = evaluate_escalation("x", scores < t, qc, qp, costs)
    assert r.quality_vs_premium == pytest.approx(1.0)
    assert r.premium_call_rate == pytest.approx(2 / 8)
    assert r.cost_usd == pytest.approx(0.8 + 2.0)
    assert r.cost_vs_premium == pytest.approx(2.8 / 8)
    # A lower target never needs a higher threshold; an unreachable one escalates everything.
    assert choose_threshold(scores, qc, qp, costs, 0.8) <= t
    assert choose_threshold(scores, qc, qp, costs, 0.5) == 0.0
    assert choose_threshold(scores, qc, qp, costs, 1.2) == 1.0
    # A safety margin (in standard errors of the quality gap) never lowers the threshold.
    assert choose_threshold(scores, qc, qp, costs, 0.8, margin_z=1.0) >= choose_threshold(scores, qc, qp, costs, 0.8)


def test_policy_replay_baselines_and_apgr() -> None:
    scores, qc, qp, costs = _toy()
    premium = evaluate_escalation("p", np.ones(8, bool), qc, qp, costs, cascade=False)
    assert premium.cost_vs_premium == 1.0 and premium.quality_vs_premium == 1.0 and premium.pgr == 1.0
    cheap = evaluate_escalation("c", np.zeros(8, bool), qc, qp, costs)
    assert cheap.pgr == 0.0 and cheap.cost_vs_premium == pytest.approx(0.1)
    assert apgr(scores, qc, qp) > apgr(-scores, qc, qp)
    rng = np.random.default_rng(0)
    rand = np.mean([apgr(rng.random(8), qc, qp) for _ in range(2000)])
    assert rand == pytest.approx(0.5, abs=0.03)
    sweep = threshold_sweep(scores, qc, qp, costs)
    rates = [s.premium_call_rate for s in sweep]
    assert rates == sorted(rates) and rates[0] == 0.0 and rates[-1] == 1.0


@pytest.fixture
def fit_spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, int]]]:
    """Records, for every model used to score rows during CV, how many scored rows it was fitted on."""
    trained_on: dict[int, set[bytes]] = {}
    keep: list[GateModel] = []
    overlaps: list[tuple[int, int]] = []
    real_fit = GateModel.fit.__func__  # type: ignore[attr-defined]
    real_predict = GateModel.predict_proba

    def key_rows(feats: FeatureMatrix) -> list[bytes]:
        assert feats.prompt_emb is not None
        return [feats.prompt_emb[i].tobytes() for i in range(len(feats))]

    def fit(cls: type[GateModel], feats: FeatureMatrix, *args: Any, **kwargs: Any) -> GateModel:
        model = real_fit(cls, feats, *args, **kwargs)
        keep.append(model)
        trained_on[id(model)] = set(key_rows(feats))
        return model

    def predict(self: GateModel, feats: FeatureMatrix) -> np.ndarray:
        rows = key_rows(feats)
        overlaps.append((len(rows), len(trained_on[id(self)] & set(rows))))
        return real_predict(self, feats)

    monkeypatch.setattr(GateModel, "fit", classmethod(fit))
    monkeypatch.setattr(GateModel, "predict_proba", predict)
    yield overlaps


def test_cv_never_scores_an_item_with_a_gate_fitted_on_it(fit_spy: list[tuple[int, int]]) -> None:
    data = make_items(150, seed=7)
    res = calibrate(data, CHEAP, PREMIUM, 0.95, 3, PRICES)
    assert fit_spy, "calibration scored nothing"
    assert all(overlap == 0 for _, overlap in fit_spy)
    # Every item scored once held out by the outer folds, and once by the inner CV of each of the
    # two outer training sets it belongs to.
    assert sum(n for n, _ in fit_spy) == 150 + 3 * 100
    assert sorted(np.unique(res.fold_of).tolist()) == [0, 1, 2]
    assert sum(f.n_test for f in res.folds) == 150


def test_calibrate_end_to_end_on_synthetic_data(tmp_path: Path) -> None:
    data = make_items(400, seed=8)
    res = calibrate(data, CHEAP, PREMIUM, 0.95, 4, PRICES)
    rep = res.report
    names = [p.name for p in rep.policies]
    assert names == ["always_cheap", "always_premium", "heuristic", "learned_cv", "oracle", "random_at_learned_rate"]
    learned, rand = rep.policy("learned_cv"), rep.policy("random_at_learned_rate")
    assert learned.premium_call_rate == pytest.approx(rand.premium_call_rate)
    assert learned.quality > rand.quality + 0.05
    assert learned.apgr is not None and learned.apgr > 0.6
    assert res.cv_auc > 0.75
    assert 0.0 <= res.threshold <= 1.0
    assert rep.policy("always_premium").cost_vs_premium == 1.0
    assert rep.policy("oracle").quality >= learned.quality
    assert np.all((res.oof_scores >= 0) & (res.oof_scores <= 1))
    meta = res.gate.training
    assert meta["data_sha256"] == data.sha256
    assert meta["cheap_model"] == CHEAP and meta["premium_model"] == PREMIUM
    assert meta["cv"]["quality_vs_premium"] == pytest.approx(learned.quality_vs_premium)
    loaded = LearnedGate.load(res.gate.save(tmp_path / "gate.json"))
    assert loaded.threshold == res.threshold
    assert loaded.training["cv"]["premium_call_rate"] == pytest.approx(learned.premium_call_rate)


def test_numeric_quality_calibrates() -> None:
    data = make_items(200, seed=9, numeric=True)
    res = calibrate(data, CHEAP, PREMIUM, 0.9, 3, PRICES)
    assert res.gate.training["quality_kind"] == "numeric"
    assert res.report.policy("learned_cv").quality > res.report.policy("random_at_learned_rate").quality


def test_calibrate_rejects_bad_arguments() -> None:
    data = make_items(60)
    with pytest.raises(DataError):
        calibrate(data, CHEAP, CHEAP, prices=PRICES)
    with pytest.raises(DataError):
        calibrate(data, CHEAP, PREMIUM, target_quality=0.0, prices=PRICES)
    with pytest.raises(DataError):
        calibrate(data, CHEAP, "nobody", prices={**PRICES, "nobody": PRICES[PREMIUM]})
    assert calibration.__all__  # the evaluator is re-exported from the calibration module


def _csv(path: Path, n: int) -> Path:
    data = make_items(n, seed=10)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["prompt", CHEAP, PREMIUM, f"{CHEAP}_response", f"{PREMIUM}_response"])
        for i in range(n):
            w.writerow(
                [
                    data.prompts[i],
                    bool(data.quality_of(CHEAP)[i]),
                    bool(data.quality_of(PREMIUM)[i]),
                    data.answers(CHEAP)[i],
                    data.answers(PREMIUM)[i],
                ]
            )
    return path


def test_cli_writes_gate_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _csv(tmp_path / "d.csv", 160)
    out, report = tmp_path / "gate.json", tmp_path / "report.json"
    argv = ["calibrate", "--data", str(data), "--cheap", CHEAP, "--premium", PREMIUM, "--out", str(out)]
    prices = ["--prices", f"{CHEAP}=0.5,1", f"{PREMIUM}=10,30"]
    assert main([*argv, "--folds", "3", "--report", str(report), *prices]) == 0
    printed = capsys.readouterr().out
    assert "learned_cv" in printed and "always_premium" in printed
    gate = LearnedGate.load(out)
    rep = json.loads(report.read_text(encoding="utf-8"))
    assert rep["threshold"] == gate.threshold
    assert {p["name"] for p in rep["policies"]} >= {"learned_cv", "oracle", "heuristic"}
    assert rep["training"]["prices_per_million"][PREMIUM]["output"] == pytest.approx(30.0)


def test_cli_refuses_unknown_prices_and_bad_price_syntax(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _csv(tmp_path / "d.csv", 30)
    argv = ["calibrate", "--data", str(data), "--cheap", CHEAP, "--premium", PREMIUM, "--out", str(tmp_path / "g")]
    assert main(argv) == 2
    assert "no price known" in capsys.readouterr().err
    assert main([*argv, "--prices", f"{CHEAP}=abc"]) == 2
    assert "--prices" in capsys.readouterr().err
    assert not (tmp_path / "g").exists()
