"""The online loop on recorded answers: deterministic, blind to the quality columns, estimates cover."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from langchain_costrouter.core.gates.learned import LearnedGate
from langchain_costrouter.offline.cascade_policies import resolve_prices
from langchain_costrouter.offline.data import RoutedDataset, bundled_data_path, load_routellm_csv
from langchain_costrouter.offline.drift import agreement_dataset, split_by_proxy
from langchain_costrouter.offline.online_loop import OnlineSettings, run_online

CHEAP, PREMIUM = "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"


@pytest.fixture(scope="module")
def data() -> RoutedDataset:
    return load_routellm_csv(bundled_data_path(), [CHEAP, PREMIUM]).subset(list(range(300)))


@pytest.fixture(scope="module")
def gate(data: RoutedDataset) -> LearnedGate:
    agree = agreement_dataset(data, CHEAP, PREMIUM)
    return LearnedGate.fit(data.prompts[:150], data.answers(CHEAP)[:150], agree.quality_of(CHEAP)[:150], threshold=0.3)


def prices() -> dict:  # type: ignore[type-arg]
    return {m: r.price for m, r in resolve_prices([CHEAP, PREMIUM]).items()}


def test_the_monitor_never_sees_the_quality_columns(data: RoutedDataset, gate: LearnedGate) -> None:
    part = data.subset(list(range(150, 300)))
    settings = OnlineSettings(target_quality=0.9, shadow_rate=0.3, monitor={"min_graded": 10}, seed=4)
    a = run_online(part, CHEAP, PREMIUM, gate, prices=prices(), settings=settings)
    rng = np.random.default_rng(0)
    scrambled = dataclasses.replace(
        part, quality={m: rng.permutation(q) for m, q in part.quality.items()}
    )  # same answers, other quality columns
    b = run_online(scrambled, CHEAP, PREMIUM, gate, prices=prices(), settings=settings)
    assert np.array_equal(a.thresholds, b.thresholds)
    assert np.array_equal(a.escalated, b.escalated)
    assert a.estimate == b.estimate
    assert np.allclose(a.cost_usd, b.cost_usd)
    assert not np.array_equal(a.quality, b.quality)  # only the scoring afterwards used them


def test_recalibration_raises_a_too_loose_threshold(data: RoutedDataset, gate: LearnedGate) -> None:
    part = data.subset(list(range(150, 300)))
    fixed = run_online(
        part, CHEAP, PREMIUM, gate, prices=prices(), settings=OnlineSettings(0.9, 0.3, recalibrate=False, seed=1)
    )
    online = run_online(
        part,
        CHEAP,
        PREMIUM,
        gate,
        prices=prices(),
        settings=OnlineSettings(0.9, 0.3, monitor={"min_graded": 10}, seed=1),
    )
    assert float(np.mean(fixed.agreement)) < 0.9  # threshold 0.3 accepts too much
    assert online.thresholds[-1] > 0.3 + 0.1
    assert float(np.mean(online.agreement)) > float(np.mean(fixed.agreement))
    assert float(np.sum(online.shadow_usd)) > 0 and np.all(online.cost_usd >= online.shadow_usd)
    lo, hi = fixed.estimate[1], fixed.estimate[2]
    assert lo <= float(np.mean(fixed.agreement)) <= hi  # the monitor's interval covers what was served


def test_split_by_proxy_partitions_the_items(data: RoutedDataset) -> None:
    low, high = split_by_proxy(data, "numbers")
    assert sorted(low + high) == list(range(len(data)))
    assert low and high
