"""A small learned pair verifier: does the cached query's answer serve the new query?

The hand guard explained every differing word or refused. The verifier instead scores a
candidate pair from features that describe *how* the two texts differ, and a logistic
regression fitted by ``costrouter calibrate-cache`` (see :mod:`.calibration`) weighs them:

- overall closeness: embedding cosine, word and content-word Jaccard (on light stems),
  character 3-gram Jaccard, length ratio;
- how much is left unexplained: content words of one text that the other does not explain
  (same stem, a spelling variant, a listed synonym), as counts and as a share;
- the *shape* of the difference: an inserted qualifier ("gift" -> "gift card") and a slot
  change inside an otherwise identical question ("puppy" -> "kitten") are how different
  questions look; a wholesale rewording at a good cosine is how a paraphrase looks;
- soft trap detectors (scope words, question type, third persons) as features;
- the hand budget's margin: unexplained words beyond one per content word past the first five.

Hard trap detectors (negation, opposites, numbers, dates, named entities, swapped roles) are
vetoes, never features: a number mismatch is never served, whatever the score.

The fitted model is plain JSON (feature names, standardisation, coefficients, threshold);
scoring is a dot product, so serving needs neither scikit-learn nor pickle.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from langchain_costrouter.core.cache.align import ALIGNMENT_FEATURES, alignment_features
from langchain_costrouter.core.cache.features import TextFeatures, stem
from langchain_costrouter.core.errors import DataError

__all__ = ["BASE_FEATURES", "HARD_VETOES", "PAIR_FEATURES", "PairVerifier", "fit_verifier", "pair_features"]

logger = logging.getLogger(__name__)

# Structural reasons that always refuse a candidate.
HARD_VETOES: tuple[str, ...] = (
    "negation",
    "opposite",
    "numbers",
    "dates",
    "entities",
    "roles",
    "question_form",
    "symbols",
    "identifiers",
)

BASE_FEATURES: tuple[str, ...] = (
    "similarity",
    "word_jaccard",
    "content_jaccard",
    "char3_jaccard",
    "unexplained_max",
    "unexplained_min",
    "unexplained_share",
    "insertion",
    "slot_change",
    "length_ratio",
    "all_explained",
    "scope_mismatch",
    "question_type_mismatch",
    "person_mismatch",
    "log_content_words",
    "unexplained_excess",
)
# Every feature this version can compute; a fitted verifier uses any subset, by name (a policy
# fitted before the alignment features existed keeps working).
PAIR_FEATURES: tuple[str, ...] = BASE_FEATURES + ALIGNMENT_FEATURES

Counts = tuple[tuple[int, int], tuple[int, int]]
# Content words of a text that are its slots: beyond them, each extra word may be reworded.
_FREE_WORDS = 5


def _jaccard(x: frozenset[str] | set[str], y: frozenset[str] | set[str]) -> float:
    union = len(x | y)
    return len(x & y) / union if union else 1.0


@lru_cache(maxsize=65536)
def _stems(words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(stem(w) for w in words)


@lru_cache(maxsize=65536)
def _char3(words: tuple[str, ...]) -> frozenset[str]:
    text = " " + re.sub(r"\s+", " ", " ".join(words)) + " "
    return frozenset(text[i : i + 3] for i in range(len(text) - 2))


def pair_features(
    a: TextFeatures,
    b: TextFeatures,
    similarity: float,
    reasons: Sequence[str],
    counts: Counts,
    *,
    names: Sequence[str] = PAIR_FEATURES,
    known: Callable[[str], bool] | None = None,
    synonyms: Callable[[str], frozenset[str]] | None = None,
) -> npt.NDArray[np.float64]:
    """The feature vector of a pair (symmetric in ``a`` and ``b``), in the order of ``names``.

    Args:
        a: Features of one text.
        b: Features of the other.
        similarity: Cosine similarity of their embeddings.
        reasons: Structural differences found (:func:`.guard.structural_reasons`).
        counts: ``(unexplained, content words)`` of each text (:func:`.guard.unexplained_counts`).
        names: The features wanted (default: all of :data:`PAIR_FEATURES`); the word
            alignment is computed only when one of its features is wanted.
        known: Vocabulary test for spelling variants (the embedder's ``known_word``).
        synonyms: Listed synonyms of a word (used by the alignment).
    """
    values = dict(zip(BASE_FEATURES, _base_features(a, b, similarity, reasons, counts), strict=True))
    if any(n in ALIGNMENT_FEATURES for n in names):
        extra = alignment_features(a, b, known=known, synonyms=synonyms or (lambda _: frozenset()))
        values.update(zip(ALIGNMENT_FEATURES, extra, strict=True))
    return np.array([values[n] for n in names], dtype=np.float64)


def _base_features(
    a: TextFeatures, b: TextFeatures, similarity: float, reasons: Sequence[str], counts: Counts
) -> list[float]:
    (ma, na), (mb, nb) = counts
    mx, mn = max(ma, mb), min(ma, mb)
    share = max(ma / max(1, na), mb / max(1, nb))
    la, lb = len(a.words), len(b.words)
    return [
        similarity,
        _jaccard(_stems(a.words), _stems(b.words)),
        _jaccard(_stems(a.content), _stems(b.content)),
        _jaccard(_char3(a.words), _char3(b.words)),
        float(mx),
        float(mn),
        share,
        float(mn == 0 and mx > 0),
        float(mx > 0 and share <= 0.5),
        min(la, lb) / max(1, la, lb),
        float(mx == 0),
        float("scope" in reasons),
        float("question_type" in reasons),
        float("person" in reasons),
        math.log1p(min(na, nb)),
        float(max(ma - max(0, na - _FREE_WORDS), mb - max(0, nb - _FREE_WORDS))),
    ]


@dataclass(frozen=True, slots=True)
class PairVerifier:
    """A fitted logistic regression over :data:`PAIR_FEATURES`, stored as JSON.

    Attributes:
        features: Feature names, in order (must match :data:`PAIR_FEATURES`).
        mean: Standardisation means.
        scale: Standardisation scales.
        coef: Coefficients on the standardised features.
        intercept: The intercept.
        threshold: Serve when the probability is at least this (chosen precision-first).
    """

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float = 0.5

    def __post_init__(self) -> None:
        n = len(self.features)
        unknown = [f for f in self.features if f not in PAIR_FEATURES]
        if unknown or not n or not (len(self.mean) == len(self.scale) == len(self.coef) == n):
            msg = f"verifier features {list(self.features)} do not match this version's {list(PAIR_FEATURES)}"
            raise DataError(msg)

    def pick(self, full: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """This verifier's columns of rows computed for all of :data:`PAIR_FEATURES`."""
        idx = [PAIR_FEATURES.index(f) for f in self.features]
        out: npt.NDArray[np.float64] = np.atleast_2d(full)[:, idx]
        return out

    def probabilities(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Probabilities that each row's pair shares an answer."""
        z = (np.atleast_2d(x) - np.asarray(self.mean)) / np.asarray(self.scale)
        logit = z @ np.asarray(self.coef) + self.intercept
        out: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-np.clip(logit, -50, 50)))
        return out

    def probability(self, x: npt.NDArray[np.float64]) -> float:
        """The probability for one feature vector."""
        return float(self.probabilities(x)[0])

    def with_threshold(self, threshold: float) -> PairVerifier:
        """A copy with another threshold."""
        return PairVerifier(self.features, self.mean, self.scale, self.coef, self.intercept, float(threshold))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "kind": "logistic_regression",
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "threshold": self.threshold,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PairVerifier:
        """Reads :meth:`to_dict` output.

        Raises:
            DataError: missing keys or features of another version.
        """
        try:
            return cls(
                features=tuple(str(f) for f in data["features"]),
                mean=tuple(float(v) for v in data["mean"]),
                scale=tuple(float(v) for v in data["scale"]),
                coef=tuple(float(v) for v in data["coef"]),
                intercept=float(data["intercept"]),
                threshold=float(data.get("threshold", 0.5)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            msg = f"malformed verifier in the cache policy: {exc!r}"
            raise DataError(msg) from None


def fit_verifier(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.bool_],
    weights: npt.NDArray[np.float64] | None = None,
    *,
    c: float = 1.0,
    features: Sequence[str] = PAIR_FEATURES,
) -> PairVerifier:
    """Fits the logistic regression (scikit-learn, imported here only).

    Args:
        x: Feature rows, one column per name of ``features``.
        y: True where the pair shares an answer.
        weights: Sample weights (e.g. equal weight per pair file and per class).
        c: Inverse L2 regularisation strength.
        features: The names of ``x``'s columns.

    Raises:
        DataError: ``y`` holds a single class.
    """
    from sklearn.linear_model import LogisticRegression

    if len(set(y.tolist())) < 2:
        msg = "the verifier needs both same-answer and different-answer pairs to fit"
        raise DataError(msg)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=c, max_iter=5000)
    model.fit((x - mean) / scale, y, sample_weight=weights)
    return PairVerifier(
        features=tuple(features),
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        coef=tuple(float(v) for v in model.coef_[0]),
        intercept=float(model.intercept_[0]),
    )
