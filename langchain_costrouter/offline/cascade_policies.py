"""Figures of the cascade benchmark: per-item outcomes of escalation policies in one table.

The benchmark (``costrouter bench cascade``, :mod:`langchain_costrouter.offline.cascade_bench`) sends
every item of a recorded data set through the real pipeline once per policy. This module holds
the framework-neutral parts around that run:

- :func:`resolve_prices`: the price of each CSV model name (``--prices`` overrides first, then
  LiteLLM's bundled map under the bare name or a known provider prefix), saying which key was
  used; an unknown price raises, it is never $0.
- :func:`fit_fold_gates`: one learned gate per cross-validation fold, fitted and thresholded on
  the other folds only, exactly as :func:`~langchain_costrouter.offline.gate_calibration.calibrate`
  does for its cross-validated figures (same splits, same inner threshold selection).
- :class:`PolicyOutcome` / :func:`policy_rows`: per-item escalation, served quality and cost of
  each policy, summarised relative to always-premium (quality, cost, premium-call rate, PGR, APGR).
- :func:`recorded_policies`: the oracle and random escalation, which need no new calls: they are
  computed from the recorded qualities and the per-item costs the pipeline measured.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from langchain_costrouter.core.errors import DataError
from langchain_costrouter.core.gates.features import FeatureSpec
from langchain_costrouter.core.gates.learned import LearnedGate
from langchain_costrouter.core.pricing import ModelPrice, PriceBook
from langchain_costrouter.offline._arrays import FloatArray, IntArray
from langchain_costrouter.offline.data import RoutedDataset
from langchain_costrouter.offline.gate_calibration import FoldFit, fit_fold, kfold_indices
from langchain_costrouter.offline.policy_eval import apgr, pgr

__all__ = [
    "PREMIUM_POLICY",
    "BenchRow",
    "FoldGate",
    "PolicyOutcome",
    "PriceResolution",
    "fit_fold_gates",
    "policy_rows",
    "recorded_policies",
    "resolve_prices",
    "rows_to_json",
]

logger = logging.getLogger(__name__)


PREMIUM_POLICY = "always_premium"
"""The policy every other one is compared with."""


# --------------------------------------------------------------------------- prices
@dataclass(frozen=True, slots=True)
class PriceResolution:
    """The price used for one model name of the data, and where it came from.

    Attributes:
        model: The model name as written in the data.
        price: The per-token price.
        how: Human-readable origin: an override, or the LiteLLM map key (bare name or with
            which provider prefix).
    """

    model: str
    price: ModelPrice
    how: str

    @property
    def input_per_million(self) -> float:
        """Dollars per million input tokens."""
        return self.price.input * 1e6

    @property
    def output_per_million(self) -> float:
        """Dollars per million output tokens."""
        return self.price.output * 1e6


def _describe(model: str, price: ModelPrice) -> str:
    src = price.source
    if not src.startswith("litellm:"):
        return f"override ({src})"
    key = src.removeprefix("litellm:")
    if key == model:
        return f"LiteLLM price map, bare name {key!r}"
    if key.lower().endswith("/" + model.lower()):
        return f"LiteLLM price map, provider prefix {key[: -len(model) - 1]!r} (key {key!r})"
    return f"LiteLLM price map, key {key!r}"


def resolve_prices(
    models: Iterable[str], overrides: Mapping[str, ModelPrice] | None = None
) -> dict[str, PriceResolution]:
    """Resolves the price of each model name of a data set.

    Args:
        models: Model names as written in the data (``gpt-4-1106-preview``,
            ``mistralai/Mixtral-8x7B-Instruct-v0.1``).
        overrides: Prices that win over the bundled map (e.g. from ``--prices``).

    Raises:
        UnknownModelPriceError: A model has no override and no entry in the bundled map,
            under its bare name or any known provider prefix.
    """
    book = PriceBook(overrides)
    out: dict[str, PriceResolution] = {}
    for m in models:
        price = book.price(m)
        out[m] = PriceResolution(m, price, _describe(m, price))
        logger.info("price of %s: %s", m, out[m].how)
    return out


# --------------------------------------------------------------------------- fold gates
@dataclass(frozen=True, slots=True)
class FoldGate:
    """A learned gate that never saw the items it scores.

    Attributes:
        fold: Index of the outer fold.
        train: Items the gate (and its threshold) was fitted on.
        test: Items it is evaluated on.
        gate: The fitted gate, thresholded on inner cross-validation of ``train``.
    """

    fold: int
    train: IntArray = field(repr=False)
    test: IntArray = field(repr=False)
    gate: LearnedGate = field(repr=False)

    @property
    def threshold(self) -> float:
        """The gate's threshold."""
        return self.gate.threshold


def fit_fold_gates(
    data: RoutedDataset,
    cheap: str,
    premium: str,
    *,
    prices: PriceBook | Mapping[str, ModelPrice] | None = None,
    folds: int = 5,
    seed: int = 0,
    target_quality: float = 0.95,
    margin_z: float = 1.0,
    spec: FeatureSpec | None = None,
    C: float = 0.1,  # noqa: N803 - scikit-learn's name
) -> tuple[FoldGate, ...]:
    """One learned gate per outer fold, for honest (held-out) figures.

    The procedure is the one :func:`~langchain_costrouter.offline.gate_calibration.calibrate` uses for
    its cross-validated figures: stratified outer folds (``seed``); in each, the threshold is
    the lowest-cost one reaching ``target_quality`` (with ``margin_z``) on inner cross-validated
    scores of the training folds (``seed + 1``), and the gate is then fitted on every training
    item. Features are extracted once.

    Raises:
        DataError: Too few items of a class for the folds.
        GateError: A gate cannot be fitted.
    """
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # scikit-learn's dependency

    # Small SVDs and regressions: BLAS threads only contend (3x slower on 2 busy cores).
    with threadpool_limits(limits=1, user_api="blas"):
        fit = FoldFit.prepare(data, cheap, premium, prices, spec, target_quality, folds, seed, C, margin_z)
        return _fit_fold_gates(data, cheap, premium, fit)


def _fit_fold_gates(data: RoutedDataset, cheap: str, premium: str, fit: FoldFit) -> tuple[FoldGate, ...]:
    out = []
    for i, (tr, te) in enumerate(kfold_indices(fit.q_cheap, fit.folds, fit.seed)):
        model, thr = fit_fold(fit, tr)
        training = {
            "data_source": data.source,
            "data_sha256": data.sha256,
            "cheap_model": cheap,
            "premium_model": premium,
            "fold": i,
            "folds": fit.folds,
            "seed": fit.seed,
            "n_train": len(tr),
            "target_quality": fit.target,
            "margin_z": fit.margin_z,
        }
        out.append(FoldGate(i, tr, te, LearnedGate(model, thr, training=training)))
        logger.info("fold %d: gate fitted on %d items, threshold %.3f", i, len(tr), thr)
    return tuple(out)


# --------------------------------------------------------------------------- outcomes and rows
PolicySource = Literal["pipeline", "recorded"]


@dataclass(frozen=True, slots=True)
class PolicyOutcome:
    """What one policy did to every item (arrays aligned with the data).

    Attributes:
        name: Policy name (``always_cheap``, ``learned``...).
        source: ``pipeline`` (every item went through the router, costs from its ledger) or
            ``recorded`` (derived from recorded answers and the pipeline's per-item costs).
        escalated: 1 where the premium model was called (a probability for random escalation).
        quality: Quality of the answer served (an expectation for random escalation).
        cost_usd: Cost of each item (every call it made).
        scores: The gate's score of each cheap answer, when the policy has a gate.
        apgr: A fixed APGR (random escalation: 0.5); else computed from ``scores``.
        threshold: The gate threshold(s), for display.
        calls: Model calls made through the pipeline.
    """

    name: str
    source: PolicySource
    escalated: FloatArray = field(repr=False)
    quality: FloatArray = field(repr=False)
    cost_usd: FloatArray = field(repr=False)
    scores: FloatArray | None = field(default=None, repr=False)
    apgr: float | None = None
    threshold: str | None = None
    calls: int = 0

    def __post_init__(self) -> None:
        n = len(self.quality)
        for what, arr in (("escalated", self.escalated), ("cost_usd", self.cost_usd), ("scores", self.scores)):
            if arr is not None and len(arr) != n:
                msg = f"policy {self.name!r}: {what} has {len(arr)} items, quality has {n}"
                raise DataError(msg)


@dataclass(frozen=True, slots=True)
class BenchRow:
    """One line of the comparison table (fractions, not percentages)."""

    policy: str
    source: PolicySource
    quality: float
    quality_vs_premium: float
    cost_usd: float
    cost_vs_premium: float
    premium_call_rate: float
    pgr: float
    apgr: float | None
    threshold: str | None
    n_items: int
    calls: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN becomes ``None``)."""
        d: dict[str, Any] = {}
        for k in self.__slots__:
            v = getattr(self, k)
            d[k] = None if isinstance(v, float) and math.isnan(v) else v
        return d


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


def policy_rows(outcomes: Sequence[PolicyOutcome], q_cheap: FloatArray, q_premium: FloatArray) -> tuple[BenchRow, ...]:
    """Summarises every policy relative to :data:`PREMIUM_POLICY` (which must be among them).

    PGR is ``(quality - cheap quality) / (premium quality - cheap quality)`` on the recorded
    qualities; APGR is the policy's fixed value, else the average PGR of escalating items in
    increasing order of ``scores`` (:func:`~langchain_costrouter.offline.policy_eval.apgr`).

    Raises:
        DataError: No always-premium outcome, or arrays of the wrong length.
    """
    base = next((o for o in outcomes if o.name == PREMIUM_POLICY), None)
    if base is None:
        msg = f"the benchmark needs a {PREMIUM_POLICY!r} policy to compare with"
        raise DataError(msg)
    base_q, base_c = float(np.mean(base.quality)), float(np.sum(base.cost_usd))
    mean_c, mean_p = float(np.mean(q_cheap)), float(np.mean(q_premium))
    rows = []
    for o in outcomes:
        if len(o.quality) != len(q_cheap):
            msg = f"policy {o.name!r} has {len(o.quality)} items, the data {len(q_cheap)}"
            raise DataError(msg)
        q, c = float(np.mean(o.quality)), float(np.sum(o.cost_usd))
        a = o.apgr
        if a is None and o.scores is not None:
            a = apgr(o.scores, q_cheap, q_premium)
        rows.append(
            BenchRow(
                policy=o.name,
                source=o.source,
                quality=q,
                quality_vs_premium=_ratio(q, base_q),
                cost_usd=c,
                cost_vs_premium=_ratio(c, base_c),
                premium_call_rate=float(np.mean(o.escalated)),
                pgr=pgr(q, mean_c, mean_p),
                apgr=a,
                threshold=o.threshold,
                n_items=len(o.quality),
                calls=o.calls,
            )
        )
    return tuple(rows)


def recorded_policies(
    q_cheap: FloatArray,
    q_premium: FloatArray,
    cheap_cost: FloatArray,
    premium_cost: FloatArray,
    *,
    random_rate: float,
) -> tuple[PolicyOutcome, PolicyOutcome]:
    """The oracle and random escalation, from recorded qualities and measured per-item costs.

    Both call the cheap model on every item first (a cascade), then the premium model:

    - ``oracle``: exactly when the premium answer is better than the cheap one (the upper
      bound of any gate judging the cheap answer);
    - ``random_at_learned_rate``: on a random ``random_rate`` share of items, reported as the
      expectation (each item escalates with probability ``random_rate``); APGR 0.5.

    Args:
        q_cheap: Recorded quality of the cheap answers.
        q_premium: Recorded quality of the premium answers.
        cheap_cost: Per-item cost of the cheap call (as the pipeline's ledger recorded it).
        premium_cost: Per-item cost of the premium call (as the pipeline's ledger recorded it).
        random_rate: Premium-call rate of the random policy (the learned gate's).
    """
    e = (q_premium > q_cheap).astype(np.float64)
    oracle = PolicyOutcome(
        "oracle",
        "recorded",
        e,
        np.where(e > 0, q_premium, q_cheap),
        cheap_cost + e * premium_cost,
    )
    r = np.full(len(q_cheap), float(random_rate))
    random = PolicyOutcome(
        "random_at_learned_rate",
        "recorded",
        r,
        (1 - r) * q_cheap + r * q_premium,
        cheap_cost + r * premium_cost,
        apgr=0.5,
    )
    return oracle, random


def rows_to_json(rows: Sequence[BenchRow]) -> list[dict[str, Any]]:
    """The rows as a JSON-ready list (one object per policy)."""
    return [r.to_dict() for r in rows]
