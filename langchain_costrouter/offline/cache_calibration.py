"""Precision-first calibration of the guard on labelled query pairs.

A pair file is JSON lines with ``a``, ``b`` and ``same_answer`` (the fow-cache format); the
GPTCache mock file (a JSON list of ``origin`` / ``similar``) is converted to all-positive pairs.

:func:`score_pairs` scores every pair once (similarity, structural checks, unexplained content
counts, verifier features). :func:`calibrate` then either

- ``method="verifier"`` (default): fits the :class:`~.verifier.PairVerifier` on the pairs no
  hard veto refuses (each pair file and each class weighted equally) and picks its threshold
  from *out-of-fold* probabilities (inner k-fold): the lowest threshold whose false-hit rate
  is provably under the target, i.e. the upper end of a one-sided 95 % Wilson interval over
  all different-answer pairs stays under it; or
- ``method="budget"``: searches the hand guard's grid of ``(similarity_threshold,
  strict_words, max_unexplained)`` with the same rule.

Precision first: with too few different-answer pairs to prove the target, nothing is fitted
and the result says ``feasible=False``. :func:`cross_validate` runs the whole procedure on k-1
folds and measures the held-out fold, so its figures are the honest ones.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from langchain_costrouter.core.cache.features import extract
from langchain_costrouter.core.cache.guard import (
    GuardPolicy,
    over_question_budget,
    structural_reasons,
    synonyms_with,
    unexplained_counts,
    within_budget,
)
from langchain_costrouter.core.cache.scope import CacheScope, query_of
from langchain_costrouter.core.cache.shadow import wilson_upper
from langchain_costrouter.core.cache.textform import semantic_form
from langchain_costrouter.core.cache.verifier import HARD_VETOES, PAIR_FEATURES, fit_verifier, pair_features
from langchain_costrouter.core.cache.wordnet import LEXICON_NAME
from langchain_costrouter.core.embeddings import Embedder
from langchain_costrouter.core.errors import DataError

__all__ = [
    "CalibrationResult",
    "LabelledPair",
    "ScoredPair",
    "calibrate",
    "calibrate_budget",
    "cross_validate",
    "evaluate",
    "leave_one_out",
    "load_pairs",
    "score_pairs",
    "wilson_upper",
]

logger = logging.getLogger(__name__)

THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.025 * i, 3) for i in range(19))  # 0.50 .. 0.95
STRICT_WORDS: tuple[int, ...] = (3, 4, 5, 6, 8, 12)
MAX_UNEXPLAINED: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
# Candidates under this cosine never reach the verifier. 0.4 rather than 0.5: heavier rewordings
# then reach the verifier, which refuses the traps among them (held-out comparison in BENCHMARKS.md).
DEFAULT_MIN_SIMILARITY = 0.4
# Out-of-fold probabilities are averaged over this many fold shufflings before the threshold is
# read off the highest-scoring negatives: one shuffling makes that order statistic noisy.
DEFAULT_REPEATS = 5


@dataclass(frozen=True, slots=True)
class LabelledPair:
    """Two queries and whether one's answer serves the other.

    For conversation pairs (``a`` and ``b`` given as OpenAI-format message lists), ``a`` / ``b``
    hold the last user turns and ``a_messages`` / ``b_messages`` the whole conversations: the
    cache keys everything before the last user turn exactly, as it does for real requests.
    """

    a: str
    b: str
    same_answer: bool
    category: str = ""
    source: str = ""
    a_messages: tuple[Mapping[str, Any], ...] = ()
    b_messages: tuple[Mapping[str, Any], ...] = ()

    def scope(self, side: str, namespace: str, model: str = "bench") -> CacheScope:
        """The cache scope of side ``a`` or ``b`` (its conversation's earlier turns, if any)."""
        messages = self.a_messages if side == "a" else self.b_messages
        return CacheScope.build(namespace=namespace, model=model, messages=messages)


@dataclass(frozen=True, slots=True)
class ScoredPair:
    """A pair with everything the guard needs, computed once."""

    pair: LabelledPair
    similarity: float
    structural: str
    counts: tuple[tuple[int, int], tuple[int, int]]
    reasons: tuple[str, ...] = ()
    features: Any = None
    lexicon: str = ""
    other_scope: bool = False
    question: bool = False

    def vetoed(self, policy: GuardPolicy) -> bool:
        """Whether the scope, a hard structural check or the similarity floor refuses the pair."""
        if self.other_scope or self.similarity < policy.similarity_threshold:
            return True
        return policy.structural and any(r in policy.vetoes for r in self.reasons)

    def served(self, policy: GuardPolicy) -> bool:
        """Whether ``policy`` serves ``b`` from ``a``'s entry (no judge)."""
        if policy.verifier is not None:
            if self.vetoed(policy) or over_question_budget(self.question, self.counts, policy):
                return False
            return policy.verifier.probability(policy.verifier.pick(self.features)) >= policy.verifier.threshold
        if self.other_scope or self.similarity < policy.similarity_threshold:
            return False
        if policy.structural and self.structural:
            return False
        return within_budget(self.counts, policy)


@dataclass(frozen=True, slots=True)
class Metrics:
    """Recall on same-answer pairs, false-hit rate on different-answer pairs, precision."""

    recall: float
    false_hit_rate: float
    precision: float
    hits: int
    false_hits: int
    positives: int
    negatives: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "recall": self.recall,
            "false_hit_rate": self.false_hit_rate,
            "precision": self.precision,
            "hits": self.hits,
            "false_hits": self.false_hits,
            "positives": self.positives,
            "negatives": self.negatives,
        }


@dataclass
class CalibrationResult:
    """The chosen policy, how it does on the calibration pairs, and the search log.

    ``fhr_upper_bound`` is the one-sided 95 % Wilson bound of the out-of-fold false-hit rate
    (whatever ``confidence`` the threshold was chosen at); ``oof_false_hits`` is that count.
    """

    policy: GuardPolicy
    metrics: Metrics
    target_false_hit_rate: float
    fhr_upper_bound: float
    feasible: bool
    grid: list[dict[str, Any]] = field(default_factory=list)
    confidence: float = 0.95
    oof_false_hits: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``calibrate-cache --out`` writes)."""
        return {
            "policy": self.policy.to_dict(),
            "metrics": self.metrics.to_dict(),
            "target_false_hit_rate": self.target_false_hit_rate,
            "fhr_upper_bound_95": self.fhr_upper_bound,
            "confidence": self.confidence,
            "oof_false_hits": self.oof_false_hits,
            "feasible": self.feasible,
        }


def load_pairs(path: str | Path) -> list[LabelledPair]:
    """Reads a pairs file of ``a`` / ``b`` / ``same_answer`` rows, or GPTCache's mock JSON.

    Rows come as JSON lines or as a JSON array; GPTCache's mock data (``origin`` / ``similar``)
    are all same-answer pairs. ``a`` and ``b`` are queries, or conversations (lists of
    OpenAI-format messages ending with a user turn); the label's kind is ``category`` (or
    ``subtype``).

    Raises:
        DataError: a missing, empty, binary or non-UTF-8 file, bad or truncated JSON, or a row
            without the required keys (always one line naming the file and what to fix).
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        msg = f"cannot read pairs file {p}: {exc.strerror or exc}"
        raise DataError(msg) from None
    if b"\x00" in raw[:4096]:
        msg = f"{p}: a binary file, not JSON lines or a JSON array of pairs"
        raise DataError(msg)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        msg = f"{p}: not UTF-8 text (byte {exc.start}); save the pairs file as UTF-8"
        raise DataError(msg) from None
    if not text.strip():
        msg = f"{p}: empty file, no pairs"
        raise DataError(msg)
    stripped = text.lstrip()
    if stripped.startswith("["):
        return _from_mock(p, stripped)
    out: list[LabelledPair] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            msg = f"{p}:{n}: not JSON ({exc.msg})"
            raise DataError(msg) from None
        out.append(_pair(row, p, n))
    if not out:
        msg = f"{p}: no pairs"
        raise DataError(msg)
    return out


def _pair(row: Any, p: Path, n: int) -> LabelledPair:
    """One ``a`` / ``b`` / ``same_answer`` row (``n``: its line or item number, for errors)."""
    if not isinstance(row, dict) or not {"a", "b", "same_answer"} <= row.keys():
        msg = f"{p}:{n}: a pair needs keys 'a', 'b' and 'same_answer'"
        raise DataError(msg)
    label = _bool(row["same_answer"], p, n)
    a, a_messages = _side(row["a"], p, n)
    b, b_messages = _side(row["b"], p, n)
    category = str(row.get("category") or row.get("subtype") or "")
    return LabelledPair(a, b, label, category, p.name, a_messages, b_messages)


def _side(value: Any, p: Path, n: int) -> tuple[str, tuple[Mapping[str, Any], ...]]:
    """A pair side: a query string, or a conversation (its last user turn and its messages)."""
    if isinstance(value, str):
        return value, ()
    if isinstance(value, list) and value and all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in value):
        query = query_of(value)
        if query:
            return query, tuple(dict(m) for m in value)
        msg = f"{p}:{n}: a conversation must end with a user message"
        raise DataError(msg)
    msg = f"{p}:{n}: 'a' and 'b' must be strings or lists of messages with a 'role', got {type(value).__name__}"
    raise DataError(msg)


def _bool(value: Any, p: Path, n: int) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false", "1", "0"}:
        return value.lower() in {"true", "1"}
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    msg = f"{p}:{n}: same_answer must be a boolean, got {value!r}"
    raise DataError(msg)


def _from_mock(p: Path, text: str) -> list[LabelledPair]:
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"{p}: not JSON ({exc.msg})"
        raise DataError(msg) from None
    if not isinstance(rows, list) or not rows:
        msg = f"{p}: expected a non-empty JSON array of pairs"
        raise DataError(msg)
    out = []
    for i, row in enumerate(rows):
        if isinstance(row, dict) and "a" in row:  # a JSON array of a / b / same_answer rows
            out.append(_pair(row, p, i))
            continue
        if not isinstance(row, dict) or not {"origin", "similar"} <= row.keys():
            msg = f"{p}: item {i} needs 'a', 'b' and 'same_answer', or 'origin' and 'similar' (GPTCache mock format)"
            raise DataError(msg)
        out.append(LabelledPair(str(row["origin"]), str(row["similar"]), True, "gptcache_mock", p.name))
    return out


def score_pairs(
    pairs: Sequence[LabelledPair], embedder: Embedder, *, lexicon: str = LEXICON_NAME, batch: int = 512
) -> list[ScoredPair]:
    """Similarity, structural verdict and features of every pair (``b`` looked up, ``a`` stored).

    Texts are compared in their :func:`.textform.semantic_form`, as the cache compares them;
    ``lexicon`` (``""`` or ``"wordnet-3.1"``) names the synonyms of the word alignment and is
    recorded in the policy that :func:`calibrate` fits on these pairs.
    """
    known: Callable[[str], bool] | None = getattr(embedder, "known_word", None)
    synonyms = synonyms_with(lexicon)
    forms = [(semantic_form(p.a, known), semantic_form(p.b, known)) for p in pairs]
    sims: list[float] = []
    for start in range(0, len(pairs), batch):
        chunk = forms[start : start + batch]
        va = embedder.embed([a for a, _ in chunk])
        vb = embedder.embed([b for _, b in chunk])
        sims.extend(float(x) for x in np.sum(va * vb, axis=1))
    out = []
    for pair, (a, b), sim in zip(pairs, forms, sims, strict=True):
        fb, fa = extract(b), extract(a)
        reasons = structural_reasons(fb, fa, known)
        counts = unexplained_counts(fb, fa, known)
        feats = pair_features(fb, fa, sim, reasons, counts, known=known, synonyms=synonyms)
        other = pair.scope("a", "pair").key != pair.scope("b", "pair").key
        question = bool(fa.form or fb.form)
        first = reasons[0] if reasons else ""
        out.append(ScoredPair(pair, sim, first, counts, reasons, feats, lexicon, other, question))
    return out


def evaluate(scored: Iterable[ScoredPair], policy: GuardPolicy) -> Metrics:
    """Recall / false-hit rate / precision of ``policy`` on scored pairs."""
    tp = fp = pos = neg = 0
    for s in scored:
        hit = s.served(policy)
        if s.pair.same_answer:
            pos += 1
            tp += hit
        else:
            neg += 1
            fp += hit
    return Metrics(
        recall=tp / pos if pos else 0.0,
        false_hit_rate=fp / neg if neg else 0.0,
        precision=tp / (tp + fp) if tp + fp else 1.0,
        hits=tp + fp,
        false_hits=fp,
        positives=pos,
        negatives=neg,
    )


def z_of(confidence: float) -> float:
    """The one-sided normal quantile of ``confidence`` (0.95 -> 1.645, 0.80 -> 0.842).

    Raises:
        DataError: ``confidence`` outside (0.5, 1).
    """
    if not 0.5 < confidence < 1.0:
        msg = f"confidence must be in (0.5, 1), got {confidence}"
        raise DataError(msg)
    return NormalDist().inv_cdf(confidence)


def calibrate_budget(
    scored: Sequence[ScoredPair],
    *,
    max_false_hit_rate: float = 0.01,
    source: str = "calibrated",
    confidence: float = 0.95,
) -> CalibrationResult:
    """The hand guard's grid setting with the highest recall whose false-hit rate is provably under target.

    Ties prefer the stricter setting (higher threshold, fewer unexplained words). When no
    setting qualifies (too few negatives to prove the target), the one with the lowest
    upper bound is returned with ``feasible=False``.
    """
    grid: list[dict[str, Any]] = []
    best: tuple[tuple[float, ...], GuardPolicy, Metrics, float] | None = None
    fallback: tuple[tuple[float, ...], GuardPolicy, Metrics, float] | None = None
    for thr in THRESHOLDS:
        for sw in STRICT_WORDS:
            for mu in MAX_UNEXPLAINED:
                if mu == 0.0 and sw != STRICT_WORDS[0]:
                    continue  # the budget is off: strict_words does not matter
                pol = GuardPolicy(similarity_threshold=thr, max_unexplained=mu, strict_words=sw, source=source)
                m = evaluate(scored, pol)
                ub = wilson_upper(m.false_hits, m.negatives, z_of(confidence))
                grid.append({"threshold": thr, "strict_words": sw, "max_unexplained": mu, "upper": ub} | m.to_dict())
                strictness = (thr, -mu, sw)
                if ub <= max_false_hit_rate:
                    key = (m.recall, *strictness)
                    if best is None or key > best[0]:
                        best = (key, pol, m, ub)
                fkey = (-ub, m.recall, *strictness)
                if fallback is None or fkey > fallback[0]:
                    fallback = (fkey, pol, m, ub)
    chosen = best or fallback
    assert chosen is not None  # the grid is never empty
    _, pol, m, ub = chosen
    return CalibrationResult(pol, m, max_false_hit_rate, ub, best is not None, grid)


def cross_validate(
    scored: Sequence[ScoredPair],
    *,
    folds: int = 5,
    max_false_hit_rate: float = 0.01,
    seed: int = 0,
    method: str = "verifier",
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
    margin: int = 0,
    confidence: float = 0.95,
    features: Sequence[str] = PAIR_FEATURES,
    repeats: int = DEFAULT_REPEATS,
    question_budget: int | None = None,
) -> dict[str, Any]:
    """K-fold estimate: calibrate on k-1 folds, measure on the held-out fold, pool the counts.

    Folds are stratified by label and category so every fold holds every kind of trap.
    """
    fold_of = _folds(scored, folds, seed)
    tp = fp = pos = neg = 0
    chosen = []
    per_source: dict[str, list[int]] = {}
    for f in range(folds):
        train = [s for s, k in zip(scored, fold_of, strict=True) if k != f]
        test = [s for s, k in zip(scored, fold_of, strict=True) if k == f]
        res = calibrate(
            train,
            max_false_hit_rate=max_false_hit_rate,
            method=method,
            min_similarity=min_similarity,
            seed=seed + 1 + f,
            margin=margin,
            confidence=confidence,
            features=features,
            repeats=repeats,
            question_budget=question_budget,
        )
        m = evaluate(test, res.policy)
        for s in test:
            c = per_source.setdefault(s.pair.source or "-", [0, 0, 0, 0])  # tp, pos, fp, neg
            hit = s.served(res.policy)
            c[0 if s.pair.same_answer else 2] += int(hit)
            c[1 if s.pair.same_answer else 3] += 1
        tp += m.hits - m.false_hits
        fp += m.false_hits
        pos += m.positives
        neg += m.negatives
        chosen.append(res.policy.to_dict())
    return {
        "folds": folds,
        "by_source": {
            k: {
                "recall": v[0] / v[1] if v[1] else None,
                "false_hit_rate": v[2] / v[3] if v[3] else None,
                "false_hits": v[2],
                "negatives": v[3],
            }
            for k, v in sorted(per_source.items())
        },
        "recall": tp / pos if pos else 0.0,
        "false_hit_rate": fp / neg if neg else 0.0,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "false_hits": fp,
        "negatives": neg,
        "policies": chosen,
    }


def _folds(scored: Sequence[ScoredPair], folds: int, seed: int) -> list[int]:
    """Fold numbers stratified by label and category (or file), so every fold holds every kind."""
    rng = random.Random(seed)
    buckets: dict[tuple[bool, str], list[int]] = {}
    for i, s in enumerate(scored):
        buckets.setdefault((s.pair.same_answer, s.pair.category or s.pair.source), []).append(i)
    fold_of = [0] * len(scored)
    offset = 0
    for key in sorted(buckets):
        idx = buckets[key]
        rng.shuffle(idx)
        for j, i in enumerate(idx):
            fold_of[i] = (j + offset) % folds
        offset += len(idx)
    return fold_of


def _weights(pairs: Sequence[ScoredPair]) -> np.ndarray:
    """Each pair file and, inside the fit, each class weigh the same."""
    w = np.ones(len(pairs))
    sources = [s.pair.source for s in pairs]
    labels = np.asarray([s.pair.same_answer for s in pairs])
    n_src = len(set(sources))
    for src in set(sources):
        mask = np.asarray([x == src for x in sources])
        w[mask] *= len(pairs) / (n_src * mask.sum())
    for lab in (False, True):
        mask = labels == lab
        if mask.any():
            w[mask] *= w.sum() / (2 * w[mask].sum())
    return w


def _threshold(
    neg_scores: np.ndarray, negatives: int, target: float, margin: int = 0, z: float = 1.645
) -> tuple[float, int] | None:
    """The lowest threshold whose false hits keep the Wilson upper bound (at ``z``) under ``target``.

    ``margin`` false hits fewer than the bound allows are kept as slack for unseen data.
    """
    if wilson_upper(0, negatives, z) > target:
        return None
    allowed = 0
    while allowed + 1 <= len(neg_scores) and wilson_upper(allowed + 1, negatives, z) <= target:
        allowed += 1
    allowed = max(0, allowed - margin)
    ranked = np.sort(neg_scores)[::-1]
    if allowed >= len(ranked):
        return 0.0, allowed
    return float(np.nextafter(ranked[allowed], 1.0)), allowed


def calibrate(
    scored: Sequence[ScoredPair],
    *,
    max_false_hit_rate: float = 0.01,
    source: str = "calibrated",
    method: str = "verifier",
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
    folds: int = 5,
    seed: int = 0,
    c: float = 1.0,
    margin: int = 0,
    confidence: float = 0.95,
    features: Sequence[str] = PAIR_FEATURES,
    repeats: int = DEFAULT_REPEATS,
    question_budget: int | None = None,
) -> CalibrationResult:
    """A precision-first policy for these pairs (see the module docstring).

    Args:
        scored: Pairs from :func:`score_pairs`.
        max_false_hit_rate: Target: the one-sided Wilson upper bound (at ``confidence``) of the
            out-of-fold false-hit rate over all different-answer pairs must stay under it.
        source: Recorded in the policy.
        method: ``verifier`` (learned pair verifier) or ``budget`` (hand content budget).
        min_similarity: Candidates under this cosine are never considered (verifier mode).
        folds: Inner folds whose out-of-fold probabilities choose the threshold.
        seed: Fold shuffling seed.
        c: Inverse regularisation strength of the verifier.
        margin: Out-of-fold false hits fewer than the bound allows (slack for unseen data).
        confidence: Confidence level of that upper bound (0.95 by default).
        features: Verifier features, by name (default: all of :data:`.verifier.PAIR_FEATURES`).
        repeats: Shufflings of the inner folds whose out-of-fold probabilities are averaged
            before the threshold is chosen.
        question_budget: Unexplained content words a question pair may have (``None``: any);
            see :attr:`.guard.GuardPolicy.question_budget`. Applied on top of the fitted verifier.

    Raises:
        DataError: an unknown ``method`` or feature, a ``confidence`` outside (0.5, 1) or
            ``repeats`` below 1.
    """
    if method == "budget":
        return calibrate_budget(scored, max_false_hit_rate=max_false_hit_rate, source=source, confidence=confidence)
    if method != "verifier":
        msg = f"unknown calibration method {method!r} (use 'verifier' or 'budget')"
        raise DataError(msg)
    z = z_of(confidence)
    if repeats < 1:
        msg = f"repeats must be at least 1, got {repeats}"
        raise DataError(msg)
    unknown = [f for f in features if f not in PAIR_FEATURES]
    if unknown or not features:
        msg = f"unknown verifier features {unknown} (known: {list(PAIR_FEATURES)})"
        raise DataError(msg)
    base = GuardPolicy(
        similarity_threshold=min_similarity, vetoes=HARD_VETOES, source=source, question_budget=question_budget
    )
    # The verifier and its threshold are fitted on every pair the vetoes let through; the question
    # budget is applied on top (it only refuses more), so statements keep a threshold learned from
    # the different-answer questions rather than none when the pairs hold no different-answer statement.
    eligible = [s for s in scored if not s.vetoed(base)]
    negatives = sum(not s.pair.same_answer for s in scored)
    labels = {s.pair.same_answer for s in eligible}
    bound = None if labels != {False, True} else _threshold(np.zeros(0), negatives, max_false_hit_rate, z=z)
    if bound is None:
        if labels != {False, True}:
            logger.warning("cannot fit the verifier: the pairs need both same-answer and different-answer examples")
        else:
            logger.warning(
                "cannot fit the verifier: %d different-answer pairs cannot show a false-hit rate <= %.3f at "
                "%.0f%% confidence (even 0 false hits bound it at %.4f); using the content budget",
                negatives,
                max_false_hit_rate,
                confidence * 100,
                wilson_upper(0, negatives, z),
            )
        res = calibrate_budget(scored, max_false_hit_rate=max_false_hit_rate, source=source)
        res.feasible = False
        return res
    idx = [PAIR_FEATURES.index(f) for f in features]
    x = np.stack([s.features for s in eligible])[:, idx]
    y = np.asarray([s.pair.same_answer for s in eligible])
    oof = np.zeros(len(eligible))
    for r in range(repeats):
        fold_of = _folds(eligible, max(2, min(folds, int((~y).sum()))), seed + 7919 * r)
        for f in sorted(set(fold_of)):
            tr = np.asarray([k != f for k in fold_of])
            if len(set(y[tr].tolist())) < 2:
                oof[~tr] += 1.0
                continue
            sub = [s for s, keep in zip(eligible, tr, strict=True) if keep]
            model = fit_verifier(x[tr], y[tr], _weights(sub), c=c, features=features)
            oof[~tr] += model.probabilities(x[~tr])
    oof /= repeats
    chosen = _threshold(oof[~y], negatives, max_false_hit_rate, margin, z)
    assert chosen is not None  # checked above with no scores
    thr, _ = chosen
    verifier = fit_verifier(x, y, _weights(eligible), c=c, features=features).with_threshold(thr)
    lexicon = scored[0].lexicon if scored else ""
    policy = GuardPolicy(
        similarity_threshold=min_similarity,
        verifier=verifier,
        source=source,
        lexicon=lexicon,
        question_budget=question_budget,
    )
    m = evaluate(scored, policy)
    oof_fp = int((oof[~y] >= thr).sum())
    ub = wilson_upper(oof_fp, negatives, z)
    return CalibrationResult(policy, m, max_false_hit_rate, ub, True, confidence=confidence, oof_false_hits=oof_fp)


def leave_one_out(
    scored: Mapping[str, Sequence[ScoredPair]],
    *,
    holdout: Mapping[str, Sequence[ScoredPair]] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Leave-one-dataset-out: calibrate without each pair file, measure on it.

    Every row is a policy fitted on all calibration files but one and measured on that one (and
    on every ``holdout`` file, which no policy ever sees). The last row, ``all``, is the policy
    fitted on every calibration file, measured on the holdout files: what shipping it would do on
    traffic nobody tuned for.

    Args:
        scored: Scored pairs per calibration file (at least two files).
        holdout: Scored pairs per file that is only ever measured.
        options: Passed to :func:`calibrate` (target, confidence, question budget...).

    Raises:
        DataError: fewer than two calibration files.
    """
    if len(scored) < 2:
        msg = "leave-one-dataset-out needs at least two --data files"
        raise DataError(msg)
    holdout = holdout or {}
    rows: list[dict[str, Any]] = []
    for left in [*scored, "all"]:
        train = [s for name, pairs in scored.items() if name != left for s in pairs]
        res = calibrate(train, source=f"without:{left}", **options)
        measured = {name: evaluate(pairs, res.policy).to_dict() for name, pairs in holdout.items()}
        if left != "all":
            measured = {left: evaluate(scored[left], res.policy).to_dict(), **measured}
        rows.append({"left_out": left, "feasible": res.feasible, "measured": measured})
    return {"calibration_files": list(scored), "holdout_files": list(holdout), "rows": rows}
