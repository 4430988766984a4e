"""Pure parts of the cascade benchmark: prices, fold gates, policy figures, CLI option parsing."""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import numpy as np
import pytest

from langchain_costrouter.cli.bench_cascade import parse_prices, resolve_or_explain, settings_from_args
from langchain_costrouter.core.errors import ConfigError, DataError, UnknownModelPriceError
from langchain_costrouter.core.pricing import ModelPrice
from langchain_costrouter.offline.cascade_bench import load_bench_data
from langchain_costrouter.offline.cascade_policies import (
    PolicyOutcome,
    fit_fold_gates,
    policy_rows,
    recorded_policies,
    resolve_prices,
    rows_to_json,
)
from langchain_costrouter.offline.gate_calibration import calibrate
from langchain_costrouter.offline.plots import CASCADE_PLOT_SUFFIXES, checked_plot_path, write_cascade_plot
from tests.unit_tests._gate_synth import CHEAP, PREMIUM, make_items

PRICES = {CHEAP: ModelPrice.per_million(0.5, 1.0), PREMIUM: ModelPrice.per_million(10.0, 30.0)}
MIXTRAL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
GPT4 = "gpt-4-1106-preview"


# --------------------------------------------------------------------------- prices
def test_prices_resolve_bare_names_and_provider_prefixes_and_say_which() -> None:
    res = resolve_prices([GPT4, MIXTRAL])
    assert res[GPT4].price.source == f"litellm:{GPT4}"
    assert "bare name" in res[GPT4].how
    assert res[GPT4].input_per_million == pytest.approx(10.0)
    assert res[GPT4].output_per_million == pytest.approx(30.0)
    # Not a key of the map under its bare name: found with a provider prefix, which is named.
    src = res[MIXTRAL].price.source
    assert src.startswith("litellm:") and src.endswith("/" + MIXTRAL) and src != f"litellm:{MIXTRAL}"
    prefix = src.removeprefix("litellm:").removesuffix("/" + MIXTRAL)
    assert f"provider prefix {prefix!r}" in res[MIXTRAL].how


def test_price_override_wins_and_unknown_model_raises() -> None:
    override = ModelPrice.per_million(1.0, 2.0, source="--prices")
    res = resolve_prices([GPT4], {GPT4: override})
    assert res[GPT4].price is override
    assert res[GPT4].how == "override (--prices)"
    with pytest.raises(UnknownModelPriceError) as exc:
        resolve_prices(["acme/never-priced-model-7"])
    assert exc.value.model == "acme/never-priced-model-7"


def _args(**kw: object) -> argparse.Namespace:
    base: dict[str, object] = {
        "cheap": CHEAP,
        "premium": PREMIUM,
        "prices": [],
        "gate_file": None,
        "folds": 5,
        "seed": 0,
        "target_quality": 0.95,
        "margin_z": 1.0,
        "concurrency": 8,
        "overhead_requests": 0,
        "ledger_out": None,
        "no_progress": True,
    }
    base.update(kw)
    return argparse.Namespace(**base)


def test_cli_price_parsing_and_the_unknown_price_message() -> None:
    prices = parse_prices([f"{CHEAP}=0.5,1", f"{PREMIUM}=10,30"])
    assert prices[CHEAP].input == pytest.approx(0.5e-6)
    assert prices[PREMIUM].output == pytest.approx(30e-6)
    assert prices[PREMIUM].source == "--prices"
    with pytest.raises(ConfigError) as bad:
        parse_prices(["gpt-4=abc"])
    assert bad.value.field == "--prices"
    with pytest.raises(ConfigError) as unknown:
        resolve_or_explain(settings_from_args(_args(prices=[f"{PREMIUM}=10,30"])))
    assert unknown.value.field == "--prices"
    assert repr(CHEAP) in str(unknown.value) and f"--prices '{CHEAP}=IN,OUT'" in str(unknown.value)
    resolve_or_explain(settings_from_args(_args(prices=[f"{CHEAP}=1,1", f"{PREMIUM}=10,30"])))


@pytest.mark.parametrize(("option", "value"), [("concurrency", 0), ("overhead_requests", -1), ("target_quality", 0.0)])
def test_cli_rejects_out_of_range_options(option: str, value: float) -> None:
    with pytest.raises(ConfigError) as exc:
        settings_from_args(_args(**{option: value}))
    assert exc.value.field == "--" + option.replace("_", "-")


# --------------------------------------------------------------------------- data
def _write_csv(path: Path, rows: list[tuple[str, str, str, str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["prompt", CHEAP, PREMIUM, f"{CHEAP}_response", f"{PREMIUM}_response"])
        w.writerows(rows)
    return path


def test_load_bench_data_drops_rows_the_replay_server_cannot_serve(tmp_path: Path) -> None:
    rows = [
        ("q1", "True", "True", "a1", "b1"),
        ("q2", "False", "True", "a2", "b2"),
        ("q1", "False", "False", "other", "other"),  # repeated prompt: the server serves row 1
        ("q3", "True", "True", "", "b3"),  # no cheap recording
        ("q4", "0.25", "1", "a4", "b4"),  # numeric qualities are fine
    ]
    data = load_bench_data(_write_csv(tmp_path / "d.csv", rows), CHEAP, PREMIUM)
    assert data.prompts == ("q1", "q2", "q4")
    assert data.quality_of(CHEAP).tolist() == [1.0, 0.0, 0.25]
    assert load_bench_data(tmp_path / "d.csv", CHEAP, PREMIUM, limit=2).prompts == ("q1", "q2")
    with pytest.raises(DataError):
        load_bench_data(tmp_path / "d.csv", CHEAP, CHEAP)
    with pytest.raises(DataError):
        load_bench_data(tmp_path / "d.csv", CHEAP, PREMIUM, limit=0)


# --------------------------------------------------------------------------- fold gates
def test_fold_gates_reproduce_calibrate_cross_validation() -> None:
    data = make_items(240, seed=4)
    gates = fit_fold_gates(data, CHEAP, PREMIUM, prices=PRICES, folds=4, seed=2)
    ref = calibrate(data, CHEAP, PREMIUM, 0.95, 4, PRICES, seed=2)
    assert [g.threshold for g in gates] == pytest.approx([f.threshold for f in ref.folds], abs=1e-9)
    for g in gates:
        assert not set(g.train.tolist()) & set(g.test.tolist())
        assert (ref.fold_of[g.test] == g.fold).all()  # same outer splits
        scores = g.gate.predict_proba_batch([data.prompts[i] for i in g.test], [data.answers(CHEAP)[i] for i in g.test])
        assert scores == pytest.approx(ref.oof_scores[g.test], abs=1e-9)
    assert sorted(np.concatenate([g.test for g in gates]).tolist()) == list(range(240))


# --------------------------------------------------------------------------- figures
def _outcome(
    name: str, esc: list[float], qc: np.ndarray, qp: np.ndarray, cc: np.ndarray, pc: np.ndarray
) -> PolicyOutcome:
    e = np.asarray(esc, dtype=np.float64)
    cheap_first = name != "always_premium"
    cost = (cc if cheap_first else 0.0) + e * pc
    return PolicyOutcome(name, "pipeline", e, np.where(e > 0, qp, qc), np.asarray(cost, dtype=np.float64))


def test_policy_rows_are_relative_to_always_premium() -> None:
    qc = np.array([1.0, 0.0, 0.0, 1.0])
    qp = np.array([1.0, 1.0, 0.0, 0.0])
    cc = np.full(4, 0.001)
    pc = np.full(4, 0.01)
    outs = [
        _outcome("always_premium", [1, 1, 1, 1], qc, qp, cc, pc),
        _outcome("always_cheap", [0, 0, 0, 0], qc, qp, cc, pc),
        _outcome("gate", [0, 1, 0, 0], qc, qp, cc, pc),
    ]
    rows = {r.policy: r for r in policy_rows(outs, qc, qp)}
    prem, cheap, gate = rows["always_premium"], rows["always_cheap"], rows["gate"]
    assert (prem.quality_vs_premium, prem.cost_vs_premium, prem.premium_call_rate) == (1.0, 1.0, 1.0)
    assert cheap.quality_vs_premium == pytest.approx(1.0)  # both 50 %
    assert cheap.cost_vs_premium == pytest.approx(0.1)
    assert gate.quality == pytest.approx(0.75)
    assert gate.cost_usd == pytest.approx(4 * 0.001 + 0.01)
    assert gate.premium_call_rate == pytest.approx(0.25)
    assert math.isnan(gate.pgr)  # no gap between cheap and premium quality
    with pytest.raises(DataError):
        policy_rows(outs[1:], qc, qp)
    with pytest.raises(DataError):
        PolicyOutcome("x", "pipeline", np.zeros(3), np.zeros(4), np.zeros(4))


def test_oracle_and_random_from_recordings() -> None:
    rng = np.random.default_rng(0)
    qc = (rng.random(500) < 0.6).astype(float)
    qp = (rng.random(500) < 0.85).astype(float)
    cc, pc = rng.random(500) * 1e-4, rng.random(500) * 1e-2
    oracle, random = recorded_policies(qc, qp, cc, pc, random_rate=0.3)
    assert np.array_equal(oracle.escalated > 0, qp > qc)
    assert np.array_equal(oracle.quality, np.maximum(qc, qp))
    assert oracle.cost_usd.sum() == pytest.approx(cc.sum() + pc[qp > qc].sum())
    assert random.quality.mean() == pytest.approx(0.7 * qc.mean() + 0.3 * qp.mean())
    assert random.cost_usd.sum() == pytest.approx(cc.sum() + 0.3 * pc.sum())
    premium = PolicyOutcome("always_premium", "pipeline", np.ones(500), qp, pc)
    rows = {r.policy: r for r in policy_rows([premium, oracle, random], qc, qp)}
    assert rows["random_at_learned_rate"].apgr == 0.5
    assert rows["oracle"].quality >= rows["always_premium"].quality
    assert rows["random_at_learned_rate"].premium_call_rate == pytest.approx(0.3)
    data = rows_to_json(list(rows.values()))
    for obj in data:
        assert {"policy", "quality", "quality_vs_premium", "cost_usd", "cost_vs_premium", "premium_call_rate"} <= set(
            obj
        )
    assert data[0]["apgr"] is None  # NaN/None become JSON null


def test_plot_file_suffix_is_checked_before_anything_is_drawn(tmp_path: Path) -> None:
    assert checked_plot_path(tmp_path / "c.SVG", CASCADE_PLOT_SUFFIXES) == (tmp_path / "c.SVG", ".svg")
    with pytest.raises(ConfigError, match=r"--plot.*\.png/\.svg/\.pdf.*c\.html"):
        write_cascade_plot(None, tmp_path / "c.html")  # type: ignore[arg-type]  # never drawn
    assert not (tmp_path / "c.html").exists()
