"""Calibrating the learned gate: fit it, pick its threshold, measure it by cross-validation.

:func:`calibrate` fits a :class:`LearnedGate` on recorded answers of a cheap model (with the
premium model's answers for comparison) and picks the threshold that keeps ``target_quality``
of the premium model's quality at the lowest cost. It reports K-fold cross-validated figures
honestly: in every outer fold the gate, its feature scaling and projection, *and its
threshold* (chosen on inner-CV scores of the training folds only) are fitted without the
held-out items, which are then replayed with that fold's gate. Policies are replayed and
priced by :mod:`.policy_eval` (re-exported here).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # scikit-learn's dependency

from langchain_costrouter.core.errors import DataError, GateError
from langchain_costrouter.core.gates.features import FeatureMatrix, FeatureSpec, extract_features
from langchain_costrouter.core.gates.learned import GateModel, LearnedGate
from langchain_costrouter.core.pricing import ModelPrice, PriceBook
from langchain_costrouter.offline._arrays import FloatArray, IntArray
from langchain_costrouter.offline.data import RoutedDataset
from langchain_costrouter.offline.policy_eval import (
    HEURISTIC_MIN_CHARS,
    HEURISTIC_MIN_OVERLAP,
    ItemCosts,
    PolicyReport,
    PolicyResult,
    SweepPoint,
    apgr,
    choose_threshold,
    evaluate_escalation,
    evaluate_policies,
    item_costs,
    threshold_sweep,
)

__all__ = [
    "CalibrationResult",
    "FoldFit",
    "FoldResult",
    "ItemCosts",
    "PolicyReport",
    "PolicyResult",
    "SweepPoint",
    "apgr",
    "calibrate",
    "choose_threshold",
    "evaluate_escalation",
    "evaluate_policies",
    "fit_fold",
    "item_costs",
    "kfold_indices",
    "threshold_sweep",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FoldResult:
    """One outer cross-validation fold: fitted and thresholded on ``n_train``, replayed on ``n_test``."""

    fold: int
    n_train: int
    n_test: int
    threshold: float
    auc: float
    quality_vs_premium: float
    cost_vs_premium: float
    premium_call_rate: float


@dataclass(frozen=True, slots=True)
class CalibrationResult:
    """What :func:`calibrate` produced.

    Attributes:
        gate: The gate fitted on all items, with the threshold chosen on its CV scores.
        threshold: ``gate.threshold``.
        target_quality: The requested share of premium quality.
        target_met: Whether the cross-validated quality reached the target.
        cv: The learned gate's pooled cross-validated result.
        cv_auc: ROC-AUC of the out-of-fold scores against the cheap answers' quality (>= 0.5 binarised).
        folds: Per outer fold results.
        report: Every policy compared on the same items (learned = cross-validated).
        oof_scores: Out-of-fold P(good) of every item (each from a gate that never saw it).
        fold_of: The outer fold each item was held out in.
        seconds: Wall time of the calibration.
    """

    gate: LearnedGate
    threshold: float
    target_quality: float
    target_met: bool
    cv: PolicyResult
    cv_auc: float
    folds: tuple[FoldResult, ...]
    report: PolicyReport
    oof_scores: FloatArray = field(repr=False)
    fold_of: IntArray = field(repr=False)
    seconds: float = 0.0


def kfold_indices(labels: FloatArray, folds: int, seed: int = 0) -> list[tuple[IntArray, IntArray]]:
    """Stratified K-fold splits (stratified on ``labels >= 0.5``); the test parts partition the items.

    Raises:
        DataError: Fewer than 2 folds or fewer items of a class than folds.
    """
    from sklearn.model_selection import StratifiedKFold

    y = (np.asarray(labels) >= 0.5).astype(int)
    if folds < 2:
        msg = f"cross-validation needs at least 2 folds, got {folds}"
        raise DataError(msg)
    if min(int(y.sum()), int(len(y) - y.sum())) < folds:
        msg = f"too few good or bad cheap answers ({int(y.sum())} good of {len(y)}) for {folds} folds"
        raise DataError(msg)
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(np.asarray(tr, np.intp), np.asarray(te, np.intp)) for tr, te in skf.split(np.zeros(len(y)), y)]


def _auc(scores: FloatArray, labels: FloatArray) -> float:
    y = np.asarray(labels) >= 0.5
    if y.all() or not y.any():
        return float("nan")
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, scores))


def _oof_scores(
    feats: FeatureMatrix, labels: FloatArray, spec: FeatureSpec, splits: Sequence[tuple[IntArray, IntArray]], c: float
) -> FloatArray:
    out = np.full(len(labels), np.nan)
    for tr, te in splits:
        model = GateModel.fit(feats.take(tr), labels[tr], spec, C=c)
        out[te] = model.predict_proba(feats.take(te))
    return out


@dataclass(frozen=True, slots=True)
class FoldFit:
    """What every fold's gate is fitted on: all items' features, qualities and costs, and the rule.

    Attributes:
        feats: Features of every item's cheap answer (extracted once).
        q_cheap: Quality of every cheap answer.
        q_premium: Quality of every premium answer.
        costs: Cost of every item on each model.
        spec: The features used.
        target: Share of premium quality a threshold must keep.
        folds: Inner cross-validation folds of the threshold choice.
        seed: Seed of the outer folds (the inner ones use ``seed + 1``).
        c: Inverse L2 regularisation of the logistic regression.
        margin_z: Standard errors a threshold must clear the target by.
    """

    feats: FeatureMatrix
    q_cheap: FloatArray
    q_premium: FloatArray
    costs: ItemCosts
    spec: FeatureSpec
    target: float
    folds: int
    seed: int
    c: float
    margin_z: float

    @classmethod
    def prepare(  # noqa: PLR0917 - the knobs calibrate and fit_fold_gates share, each call on one line
        cls,
        data: RoutedDataset,
        cheap: str,
        premium: str,
        prices: PriceBook | Mapping[str, ModelPrice] | None,
        spec: FeatureSpec | None,
        target_quality: float,
        folds: int,
        seed: int,
        C: float,  # noqa: N803 - scikit-learn's name
        margin_z: float,
    ) -> FoldFit:
        """Prices the items and extracts the cheap answers' features (``spec`` or the default)."""
        sp = spec or FeatureSpec()
        q_cheap, q_premium = data.quality_of(cheap), data.quality_of(premium)
        costs = item_costs(data, cheap, premium, prices)
        feats = extract_features(data.prompts, data.answers(cheap), sp)
        return cls(feats, q_cheap, q_premium, costs, sp, target_quality, folds, seed, C, margin_z)

    def gate(self, idx: IntArray) -> GateModel:
        """The gate fitted on the items ``idx``."""
        return GateModel.fit(self.feats.take(idx), self.q_cheap[idx], self.spec, C=self.c)

    def threshold(self, idx: IntArray) -> float:
        """Threshold for a gate fitted on ``idx``, chosen on inner-CV scores of ``idx`` only."""
        q_cheap = self.q_cheap[idx]
        inner = kfold_indices(q_cheap, self.folds, self.seed + 1)
        scores = _oof_scores(self.feats.take(idx), q_cheap, self.spec, inner, self.c)
        sub = ItemCosts(self.costs.cheap_usd[idx], self.costs.premium_usd[idx])
        return choose_threshold(scores, q_cheap, self.q_premium[idx], sub, self.target, margin_z=self.margin_z)


def fit_fold(fit: FoldFit, train: IntArray) -> tuple[GateModel, float]:
    """One outer fold's gate, fitted on ``train``, and its threshold.

    The threshold is chosen on inner cross-validated scores of ``train`` only: the held-out
    fold is never seen.
    """
    return fit.gate(train), fit.threshold(train)


# Small SVDs and regressions: BLAS threads only contend (measured 3x slower on 2 busy cores).
@threadpool_limits.wrap(limits=1, user_api="blas")  # type: ignore[untyped-decorator]  # threadpoolctl is untyped
def calibrate(  # noqa: PLR0917 - positional order of the documented API (data, cheap, premium, target, folds, prices)
    data: RoutedDataset,
    cheap: str,
    premium: str,
    target_quality: float = 0.95,
    folds: int = 5,
    prices: PriceBook | Mapping[str, ModelPrice] | None = None,
    *,
    spec: FeatureSpec | None = None,
    C: float = 0.1,  # noqa: N803 - scikit-learn's name
    seed: int = 0,
    margin_z: float = 1.0,
    heuristic_min_chars: int = HEURISTIC_MIN_CHARS,
    heuristic_min_overlap: float = HEURISTIC_MIN_OVERLAP,
) -> CalibrationResult:
    """Fits a learned gate for ``cheap`` and picks its threshold for ``target_quality``.

    Args:
        data: Items with both models' recorded answers and qualities.
        cheap: The model whose answers the gate judges.
        premium: The model called when the gate fails an answer.
        target_quality: Share of always-premium quality to keep (0.95 = 95 %).
        folds: Outer (and inner) cross-validation folds.
        prices: A price book, or per-model price overrides (default: LiteLLM's bundled map).
        spec: Features to use (default :class:`FeatureSpec`).
        C: Inverse L2 regularisation of the logistic regression.
        seed: Seed of the fold shuffles.
        margin_z: Thresholds must clear the target by this many standard errors of the
            quality gap on the items they are chosen on (0: exactly at the target, which new
            items miss about half of the time; 1: about 84 % one-sided confidence).
        heuristic_min_chars: Parameter of the seed-like heuristic baseline.
        heuristic_min_overlap: Parameter of the seed-like heuristic baseline.

    Returns:
        The final gate (fitted on all items, threshold chosen on its out-of-fold scores) and
        honest cross-validated figures of the same procedure.

    Raises:
        DataError: Unknown models, too few items, or a target outside (0, 1.5].
        UnknownModelPriceError: A model has no price.
        GateError: The gate cannot be fitted (e.g. every cheap answer has the same quality).
    """
    t0 = time.perf_counter()
    if not 0.0 < target_quality <= 1.5:
        msg = f"target_quality must be in (0, 1.5], got {target_quality}"
        raise DataError(msg)
    if cheap == premium:
        msg = f"cheap and premium models must differ (both {cheap!r})"
        raise DataError(msg)
    fit = FoldFit.prepare(data, cheap, premium, prices, spec, target_quality, folds, seed, C, margin_z)
    feats, qc, qp, costs = fit.feats, fit.q_cheap, fit.q_premium, fit.costs
    t_feat = time.perf_counter() - t0
    splits = kfold_indices(qc, folds, seed)
    oof = np.full(len(data), np.nan)
    escalate = np.zeros(len(data), dtype=bool)
    fold_of = np.full(len(data), -1, dtype=np.intp)
    fold_results = []
    for i, (tr, te) in enumerate(splits):
        model, thr = fit_fold(fit, tr)
        oof[te] = model.predict_proba(feats.take(te))
        escalate[te] = oof[te] < thr
        fold_of[te] = i
        sub = ItemCosts(costs.cheap_usd[te], costs.premium_usd[te])
        r = evaluate_escalation(f"fold{i}", escalate[te], qc[te], qp[te], sub, threshold=thr)
        fold_results.append(
            FoldResult(
                i,
                len(tr),
                len(te),
                thr,
                _auc(oof[te], qc[te]),
                r.quality_vs_premium,
                r.cost_vs_premium,
                r.premium_call_rate,
            )
        )
    if np.isnan(oof).any():  # pragma: no cover - the test folds partition the items
        msg = "cross-validation left items unscored"
        raise GateError(msg)
    threshold = choose_threshold(oof, qc, qp, costs, target_quality, margin_z=margin_z)
    final = GateModel.fit(feats, qc, fit.spec, C=C)
    report = evaluate_policies(
        data,
        cheap,
        premium,
        learned_scores=oof,
        learned_escalate=escalate,
        costs=costs,
        heuristic_min_chars=heuristic_min_chars,
        heuristic_min_overlap=heuristic_min_overlap,
    )
    cv = report.policy("learned_cv")
    auc = _auc(oof, qc)
    seconds = time.perf_counter() - t0
    training = {
        "data_source": data.source,
        "data_sha256": data.sha256,
        "n_items": len(data),
        "cheap_model": cheap,
        "premium_model": premium,
        "quality_kind": data.quality_kind.get(cheap, "binary"),
        "target_quality": target_quality,
        "folds": folds,
        "seed": seed,
        "margin_z": margin_z,
        "threshold_rule": (
            "lowest-cost threshold reaching target_quality x premium quality + margin_z standard errors, "
            "on out-of-fold scores"
        ),
        "cv": {
            "quality_vs_premium": cv.quality_vs_premium,
            "cost_vs_premium": cv.cost_vs_premium,
            "premium_call_rate": cv.premium_call_rate,
            "quality": cv.quality,
            "apgr": cv.apgr,
            "auc": auc,
            "fold_thresholds": [f.threshold for f in fold_results],
        },
        "prices_per_million": {
            m: {"input": book_price.input * 1e6, "output": book_price.output * 1e6, "source": book_price.source}
            for m, book_price in _prices(prices, cheap, premium).items()
        },
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    gate = LearnedGate(final, threshold, training=training)
    logger.info(
        "calibrated gate in %.1fs (features %.1fs): CV quality %.1f%% of premium at %.1f%% cost, %.1f%% premium calls",
        seconds,
        t_feat,
        100 * cv.quality_vs_premium,
        100 * cv.cost_vs_premium,
        100 * cv.premium_call_rate,
    )
    return CalibrationResult(
        gate=gate,
        threshold=threshold,
        target_quality=target_quality,
        target_met=cv.quality_vs_premium >= target_quality,
        cv=cv,
        cv_auc=auc,
        folds=tuple(fold_results),
        report=report,
        oof_scores=oof,
        fold_of=fold_of,
        seconds=seconds,
    )


def _prices(prices: PriceBook | Mapping[str, ModelPrice] | None, *models: str) -> dict[str, ModelPrice]:
    book = prices if isinstance(prices, PriceBook) else PriceBook(prices)
    return {m: book.price(m) for m in models}
