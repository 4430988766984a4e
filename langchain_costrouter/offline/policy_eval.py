"""Offline replay of escalation policies on recorded answers of a cheap and a premium model.

A cascade calls the cheap model, lets a gate judge the answer and calls the premium model only
when the gate fails it. On a data set with both models' recorded answers (:mod:`.data`) every
policy can be replayed exactly:

- quality per item: the cheap answer's quality when accepted, else the premium answer's;
- cost per item: the cheap call, plus the premium call when escalated. Tokens are counted with
  tiktoken (prompt as one user message, the recorded answer as output) and priced by
  :class:`PriceBook` (overridable per model); an unknown price raises, never prices at $0.

:func:`evaluate_policies` compares always-cheap, always-premium, the seed-like heuristic gate,
the learned gate, the oracle and random escalation at the learned gate's premium-call rate,
with a threshold sweep (cost-quality curve) of the learned gate.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from langchain_costrouter.core.errors import DataError
from langchain_costrouter.core.pricing import ModelPrice, PriceBook
from langchain_costrouter.core.tokens import count_message_tokens, count_tokens
from langchain_costrouter.core.usage import Usage
from langchain_costrouter.offline._arrays import BoolArray, FloatArray, IntArray
from langchain_costrouter.offline.data import RoutedDataset

__all__ = [
    "HEURISTIC_MIN_CHARS",
    "HEURISTIC_MIN_OVERLAP",
    "ItemCosts",
    "PolicyReport",
    "PolicyResult",
    "SweepPoint",
    "apgr",
    "choose_threshold",
    "evaluate_escalation",
    "evaluate_policies",
    "item_costs",
    "pgr",
    "threshold_sweep",
]

logger = logging.getLogger(__name__)


# Parameters of the seed-like heuristic baseline ("accept an answer of at least 300 characters
# that repeats at least half of the question's words"); about the seed's reference point.
HEURISTIC_MIN_CHARS = 300
HEURISTIC_MIN_OVERLAP = 0.5


@dataclass(frozen=True, slots=True)
class ItemCosts:
    """Dollar cost of each item's cheap call and premium call (same order as the data)."""

    cheap_usd: FloatArray
    premium_usd: FloatArray


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """Replayed outcome of one escalation policy over a data set.

    Attributes:
        name: Policy name (``always_cheap``, ``learned_cv``...).
        quality: Mean quality of the answers served.
        quality_vs_premium: ``quality`` / quality of always-premium.
        cost_usd: Total cost (cheap calls plus premium calls).
        cost_vs_premium: ``cost_usd`` / cost of always-premium.
        premium_call_rate: Share of items sent to the premium model.
        pgr: Performance gap recovered, ``(quality - cheap) / (premium - cheap)``.
        apgr: Average PGR over premium-call rates 0..1 (policies with a score to sweep), else None.
        threshold: The gate threshold used, when there is a single one.
    """

    name: str
    quality: float
    quality_vs_premium: float
    cost_usd: float
    cost_vs_premium: float
    premium_call_rate: float
    pgr: float
    apgr: float | None = None
    threshold: float | None = None


@dataclass(frozen=True, slots=True)
class SweepPoint:
    """One point of a threshold sweep (the cost-quality curve)."""

    threshold: float
    premium_call_rate: float
    quality: float
    quality_vs_premium: float
    cost_usd: float
    cost_vs_premium: float


@dataclass(frozen=True, slots=True)
class PolicyReport:
    """Every policy's replayed result and the learned gate's threshold sweep."""

    cheap: str
    premium: str
    n_items: int
    policies: tuple[PolicyResult, ...]
    sweep: tuple[SweepPoint, ...] = ()

    def policy(self, name: str) -> PolicyResult:
        """The result of policy ``name``.

        Raises:
            KeyError: No such policy in the report.
        """
        for p in self.policies:
            if p.name == name:
                return p
        raise KeyError(name)


def item_costs(
    data: RoutedDataset,
    cheap: str,
    premium: str,
    prices: PriceBook | Mapping[str, ModelPrice] | None = None,
) -> ItemCosts:
    """Prices every item's cheap and premium call from tiktoken counts of prompt and answer.

    Raises:
        UnknownModelPriceError: A model has no price (no override, not in the bundled map).
        DataError: A model is not in the data.
    """
    book = prices if isinstance(prices, PriceBook) else PriceBook(prices)
    p_cheap, p_premium = book.price(cheap), book.price(premium)
    prompt_tokens = np.array(
        [count_message_tokens([{"role": "user", "content": p}]) for p in data.prompts], dtype=np.int64
    )

    def cost(model_price: ModelPrice, answers: Sequence[str]) -> FloatArray:
        return np.array(
            [
                model_price.cost(Usage(int(pt), count_tokens(a))).total_usd
                for pt, a in zip(prompt_tokens, answers, strict=True)
            ],
            dtype=np.float64,
        )

    return ItemCosts(cost(p_cheap, data.answers(cheap)), cost(p_premium, data.answers(premium)))


def pgr(q: float, q_cheap: float, q_premium: float) -> float:
    """Performance gap recovered: ``(q - q_cheap) / (q_premium - q_cheap)`` (NaN without a gap)."""
    gap = q_premium - q_cheap
    return float((q - q_cheap) / gap) if abs(gap) > 1e-12 else float("nan")


def evaluate_escalation(
    name: str,
    escalate: BoolArray | FloatArray,
    q_cheap: FloatArray,
    q_premium: FloatArray,
    costs: ItemCosts,
    *,
    cascade: bool = True,
    threshold: float | None = None,
    apgr_value: float | None = None,
) -> PolicyResult:
    """Replays one policy given, per item, whether (or with which probability) it escalates.

    Args:
        name: Policy name.
        escalate: Per item, True/1 to call the premium model (a probability gives expected values).
        q_cheap: Quality of the cheap answers.
        q_premium: Quality of the premium answers.
        costs: Per-item call costs.
        cascade: The cheap model is always called first (False: escalated items skip it, as
            for the always-premium baseline).
        threshold: The threshold to report.
        apgr_value: The APGR to report.
    """
    e = np.asarray(escalate, dtype=np.float64)
    q = float(np.mean((1 - e) * q_cheap + e * q_premium))
    cheap_part = costs.cheap_usd if cascade else (1 - e) * costs.cheap_usd
    cost = float(np.sum(cheap_part + e * costs.premium_usd))
    base_q, base_c = float(np.mean(q_premium)), float(np.sum(costs.premium_usd))
    return PolicyResult(
        name=name,
        quality=q,
        quality_vs_premium=q / base_q if base_q > 0 else float("nan"),
        cost_usd=cost,
        cost_vs_premium=cost / base_c if base_c > 0 else float("nan"),
        premium_call_rate=float(np.mean(e)),
        pgr=pgr(q, float(np.mean(q_cheap)), base_q),
        apgr=apgr_value,
        threshold=threshold,
    )


def _ordered_curve(scores: FloatArray, q_cheap: FloatArray, q_premium: FloatArray) -> tuple[IntArray, FloatArray]:
    """Items sorted by score (ascending: escalated first) and quality after escalating the first k."""
    order = np.argsort(scores, kind="stable")
    gain = np.concatenate([[0.0], np.cumsum((q_premium - q_cheap)[order])])
    return order, (float(np.sum(q_cheap)) + gain) / len(scores)


def choose_threshold(
    scores: FloatArray,
    q_cheap: FloatArray,
    q_premium: FloatArray,
    costs: ItemCosts,
    target_quality: float,
    *,
    margin_z: float = 0.0,
) -> float:
    """The lowest-cost threshold whose replay keeps ``target_quality`` of premium quality.

    Escalating the ``k`` lowest-scoring items is tried for every ``k`` (only between distinct
    scores); the cheapest one reaching the target wins and its threshold is the midpoint between
    the last escalated and the first accepted score (1.0 when everything must escalate).

    With ``margin_z > 0`` a cut must clear the target by ``margin_z`` standard errors of the
    paired per-item gap ``served quality - target x premium quality``: a threshold picked
    exactly at the target on one sample lands below it on new items about half of the time,
    and the standard error shrinks as the data grows.
    """
    n = len(scores)
    if n == 0:
        msg = "cannot choose a threshold on zero items"
        raise DataError(msg)
    order, quality = _ordered_curve(scores, q_cheap, q_premium)
    s = scores[order]
    cost = float(np.sum(costs.cheap_usd)) + np.concatenate([[0.0], np.cumsum(costs.premium_usd[order])])
    gap = quality - target_quality * float(np.mean(q_premium))
    if margin_z > 0:
        t = target_quality
        kept = (q_cheap - t * q_premium)[order] ** 2
        escalated = (q_premium * (1 - t))[order] ** 2
        second = (float(np.sum(kept)) + np.concatenate([[0.0], np.cumsum(escalated - kept)])) / n
        se = np.sqrt(np.maximum(second - gap**2, 0.0) / n)
        gap = gap - margin_z * se
    valid = np.ones(n + 1, dtype=bool)
    valid[1:n] = s[1:] > s[:-1]  # a cut must fall between two distinct scores
    ok = np.flatnonzero(valid & (gap >= -1e-12))
    if ok.size == 0:
        return 1.0
    k = int(ok[np.argmin(cost[ok])])
    if k == 0:
        return 0.0
    if k == n:
        return 1.0
    return float((s[k - 1] + s[k]) / 2)


def threshold_sweep(
    scores: FloatArray,
    q_cheap: FloatArray,
    q_premium: FloatArray,
    costs: ItemCosts,
    thresholds: Sequence[float] | None = None,
) -> tuple[SweepPoint, ...]:
    """The cost-quality curve of a scored gate: one point per threshold (default 0.00..1.00 by 0.05)."""
    grid = np.linspace(0.0, 1.0, 21) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    out = []
    for t in grid:
        r = evaluate_escalation("sweep", scores < t, q_cheap, q_premium, costs, threshold=float(t))
        out.append(
            SweepPoint(float(t), r.premium_call_rate, r.quality, r.quality_vs_premium, r.cost_usd, r.cost_vs_premium)
        )
    return tuple(out)


def apgr(scores: FloatArray, q_cheap: FloatArray, q_premium: FloatArray) -> float:
    """Average performance gap recovered: the mean PGR over premium-call rates from 0 to 1.

    Escalating in order of increasing score, PGR is integrated (trapezoids) over the share of
    premium calls; random escalation scores 0.5, a perfect gate close to 1 (above 1 when the
    cheap model is sometimes better than the premium one).
    """
    _, quality = _ordered_curve(np.asarray(scores, dtype=np.float64), q_cheap, q_premium)
    qc, qp = float(np.mean(q_cheap)), float(np.mean(q_premium))
    if abs(qp - qc) < 1e-12:
        return float("nan")
    recovered = (quality - qc) / (qp - qc)
    x = np.linspace(0.0, 1.0, len(recovered))
    return float(np.sum((recovered[1:] + recovered[:-1]) / 2 * np.diff(x)))


def _heuristic_escalations(data: RoutedDataset, cheap: str, min_chars: int, min_overlap: float) -> BoolArray:
    from langchain_costrouter.core.gates.heuristic import HeuristicGate
    from langchain_costrouter.core.types import ChatRequest, Completion

    gate = HeuristicGate(1.0, min_chars=min_chars, min_overlap=min_overlap)
    return np.array(
        [
            not gate.evaluate(ChatRequest(({"role": "user", "content": p},)), Completion(a, cheap)).passed
            for p, a in zip(data.prompts, data.answers(cheap), strict=True)
        ],
        dtype=bool,
    )


def evaluate_policies(
    data: RoutedDataset,
    cheap: str,
    premium: str,
    *,
    learned_scores: FloatArray,
    learned_escalate: BoolArray,
    costs: ItemCosts,
    learned_threshold: float | None = None,
    heuristic_min_chars: int = HEURISTIC_MIN_CHARS,
    heuristic_min_overlap: float = HEURISTIC_MIN_OVERLAP,
) -> PolicyReport:
    """Replays every reference policy on the same items.

    Args:
        data: The items.
        cheap: Cheap model name (in ``data``).
        premium: Premium model name (in ``data``).
        learned_scores: The learned gate's P(good) per item (cross-validated for honest figures).
        learned_escalate: Whether the learned policy escalated each item.
        costs: Per-item call costs (:func:`item_costs`).
        learned_threshold: The learned gate's threshold to report.
        heuristic_min_chars: The seed-like heuristic gate accepts answers at least this long...
        heuristic_min_overlap: ...that repeat at least this share of the question's words.

    Returns:
        ``always_cheap``, ``always_premium``, ``heuristic``, ``learned_cv``, ``oracle`` and
        ``random_at_learned_rate`` results, and the learned gate's threshold sweep.
    """
    qc, qp = data.quality_of(cheap), data.quality_of(premium)
    n = len(data)
    learned = evaluate_escalation(
        "learned_cv",
        learned_escalate,
        qc,
        qp,
        costs,
        threshold=learned_threshold,
        apgr_value=apgr(learned_scores, qc, qp),
    )
    heur = _heuristic_escalations(data, cheap, heuristic_min_chars, heuristic_min_overlap)
    policies = (
        evaluate_escalation("always_cheap", np.zeros(n, bool), qc, qp, costs),
        evaluate_escalation("always_premium", np.ones(n, bool), qc, qp, costs, cascade=False),
        evaluate_escalation("heuristic", heur, qc, qp, costs),
        learned,
        evaluate_escalation("oracle", qp > qc, qc, qp, costs),
        evaluate_escalation(
            "random_at_learned_rate", np.full(n, learned.premium_call_rate), qc, qp, costs, apgr_value=0.5
        ),
    )
    return PolicyReport(cheap, premium, n, policies, threshold_sweep(learned_scores, qc, qp, costs))
