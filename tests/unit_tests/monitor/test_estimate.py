"""Stratified loss estimates and their intervals."""

from __future__ import annotations

import random

import pytest

from langchain_costrouter.core.monitor.estimate import Tally, combine, z_value


def test_z_value() -> None:
    assert z_value(0.95) == pytest.approx(1.959964, abs=1e-5)
    with pytest.raises(ValueError, match="confidence"):
        z_value(1.0)


def test_full_census_has_no_sampling_error() -> None:
    est = combine([Tally(population=50, graded=50, loss=5)])
    assert est.value == pytest.approx(0.1)
    assert est.lo == pytest.approx(0.1)
    assert est.hi == pytest.approx(0.1)


def test_zero_losses_in_a_small_sample_still_bound_above() -> None:
    est = combine([Tally(population=1000, graded=10, loss=0)])
    assert est.value == 0.0
    assert est.hi > 0.1  # ten clean samples do not prove a tiny error rate


def test_ungraded_stratum_is_counted_at_its_least_informed_rate() -> None:
    graded_only = combine([Tally(100, 100, 10)])
    with_blind = combine([Tally(100, 100, 10), Tally(100, 0, 0)])
    assert with_blind.value == pytest.approx((10 + 50) / 200)
    assert with_blind.hi - with_blind.lo > graded_only.hi - graded_only.lo


def test_denominator_spreads_the_loss_over_all_requests() -> None:
    est = combine([Tally(40, 40, 4)], denominator=100)
    assert est.value == pytest.approx(0.04)
    # a denominator below the population is raised to it (a rate never exceeds the stratum's)
    assert combine([Tally(40, 40, 4)], denominator=10).value == pytest.approx(0.1)


def test_stratified_estimate_weights_strata_by_population() -> None:
    est = combine([Tally(900, 30, 3), Tally(100, 50, 25)])
    assert est.value == pytest.approx((900 * 0.1 + 100 * 0.5) / 1000)


def test_interval_covers_the_realised_rate_about_95_percent_of_the_time() -> None:
    rng = random.Random(7)
    covered = 0
    sims = 400
    for _ in range(sims):
        # two strata sampled at different rates, as the monitor does (full, then shadow_rate)
        pops = [(300, 0.08, 0.1), (60, 0.3, 1.0)]
        tallies = []
        realised_loss = 0.0
        for n, p, rate in pops:
            losses = [1.0 if rng.random() < p else 0.0 for _ in range(n)]
            realised_loss += sum(losses)
            sample = [x for x in losses if rng.random() < rate]
            tallies.append(Tally(n, len(sample), sum(sample)))
        est = combine(tallies)
        covered += est.lo <= realised_loss / 360 <= est.hi
    assert 0.92 * sims <= covered <= sims
