"""The false-hit guard: a vector candidate is served only when nothing says its answer differs.

Precision first. A candidate found by embedding similarity must pass, in order:

1. the similarity threshold (calibrated, see :mod:`.calibration`);
2. structural checks, each a kind of meaning change embeddings miss: polarity (negators and
   negative predicates), opposites and negating prefixes, numbers/amounts/IDs, dates and times,
   named entities and code identifiers, scope words, question type, third persons and
   possessors, swapped directional roles ("from A to B" / "from B to A");
3. a content budget: content words of either text that the other text does not explain (same
   stem, a spelling variant, a listed synonym) are allowed only in longer texts: a text of
   ``n`` content words may leave ``max_unexplained * (n - strict_words)`` of them unexplained.
   A short question is its slots ("home" vs "car" insurance), so it gets no budget; a long
   statement may be reworded (both knobs calibrated);
4. optionally a judge (a cheap model) for candidates whose similarity lies within
   ``judge_band`` of the threshold.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from langchain_costrouter.core.cache.features import TextFeatures, extract, stem, typo_variant
from langchain_costrouter.core.cache.lexicon import NEGATION_PREFIXES, SYNONYM_GROUPS

__all__ = [
    "FalseHitGuard",
    "GuardDecision",
    "GuardPolicy",
    "structural_mismatch",
    "unexplained_counts",
    "within_budget",
]

logger = logging.getLogger(__name__)

Verdict = Literal["hit", "miss", "judge"]


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    """The calibrated knobs of the guard.

    Attributes:
        similarity_threshold: Minimum cosine similarity of a candidate.
        max_unexplained: Unexplained content words allowed per content word beyond
            ``strict_words`` (0 = every content word must be explained).
        strict_words: Texts with at most this many content words get no budget.
        structural: Run the structural checks (switching them off is for comparisons only).
        judge_band: Candidates with ``|similarity - threshold| <= judge_band`` that pass the
            structural checks go to the judge, when one is configured.
        source: Where the values come from (``default``, ``calibrated:<file>``...).
    """

    similarity_threshold: float = 0.8
    max_unexplained: float = 0.0
    strict_words: int = 5
    structural: bool = True
    judge_band: float = 0.0
    source: str = "default"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GuardPolicy:
        """Reads :meth:`to_dict` output (unknown keys are ignored)."""
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True, slots=True)
class GuardDecision:
    """Why a candidate is (not) served.

    Attributes:
        verdict: ``hit`` (serve), ``miss`` (do not serve) or ``judge`` (ask the judge).
        reason: The failed check (``similarity``, ``negation``, ``numbers``...), or ``""``.
        similarity: The candidate's cosine similarity.
        unexplained: Largest number of content words of one text left unexplained by the other.
    """

    verdict: Verdict
    reason: str = ""
    similarity: float = 0.0
    unexplained: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the candidate may be served without a judge."""
        return self.verdict == "hit"


def _antonym_swap(a: TextFeatures, b: TextFeatures) -> bool:
    only_a, only_b = a.opposites - b.opposites, b.opposites - a.opposites
    return any((g, 1 - side) in only_b for g, side in only_a)


def _prefix_negation(a: TextFeatures, b: TextFeatures) -> bool:
    only_a = set(a.words) - set(b.words)
    only_b = set(b.words) - set(a.words)
    for x, y in ((only_a, only_b), (only_b, only_a)):
        for w in x:
            if len(w) < 4:
                continue
            y_stems = {stem(v) for v in y}
            for p in NEGATION_PREFIXES:
                if p + w in y or stem(p + w) in y_stems:
                    return True
    return False


def structural_mismatch(  # noqa: PLR0911, PLR0912
    a: TextFeatures, b: TextFeatures, known: Callable[[str], bool] | None = None
) -> str:
    """The first structural difference between two texts, or ``""`` when none is found."""
    if a.polarity % 2 != b.polarity % 2:
        return "negation"
    if _antonym_swap(a, b) or _prefix_negation(a, b):
        return "opposite"
    if a.numbers != b.numbers:
        return "numbers"
    for x, y in ((a, b), (b, a)):
        for d in x.dates - y.dates:
            if not any(typo_variant(d, w, known) for w in y.words if w[:1] == d[:1]):
                return "dates"
    for x, y in ((a, b), (b, a)):
        if any(not y.mentions(e) and not any(e == stem(w) for w in y.words) for e in x.entities):
            return "entities"
    if a.scope != b.scope:
        return "scope"
    if a.wh and b.wh and not (a.wh & b.wh):
        return "question_type"
    for x, y in ((a, b), (b, a)):
        if any(not y.mentions(p) for p in x.persons):
            return "person"
    shared = {t for _, t in a.relations} & {t for _, t in b.relations}
    if {r for r in a.relations if r[1] in shared} != {r for r in b.relations if r[1] in shared}:
        return "roles"
    return ""


def _synonyms(word: str) -> frozenset[str]:
    s = stem(word)
    out: set[str] = set()
    for g in SYNONYM_GROUPS:
        if word in g or s in g:
            out |= g
    return frozenset(out)


def unexplained_counts(
    a: TextFeatures, b: TextFeatures, known: Callable[[str], bool] | None = None
) -> tuple[tuple[int, int], tuple[int, int]]:
    """``(unexplained, content words)`` of ``a`` against ``b``, and of ``b`` against ``a``."""
    out: list[tuple[int, int]] = []
    for x, y in ((a, b), (b, a)):
        missing = 0
        for w in x.content:
            if y.mentions(w):
                continue
            if any(y.mentions(s) for s in _synonyms(w)):
                continue
            if any(typo_variant(w, v, known) for v in y.content):
                continue
            missing += 1
        out.append((missing, len(x.content)))
    return out[0], out[1]


def within_budget(counts: tuple[tuple[int, int], tuple[int, int]], policy: GuardPolicy) -> bool:
    """Whether both texts stay within the policy's unexplained-content budget."""
    return all(m <= policy.max_unexplained * max(0, n - policy.strict_words) + 1e-9 for m, n in counts)


class FalseHitGuard:
    """Decides whether a cached query's answer may be served for a new query.

    Args:
        policy: The thresholds (see :class:`GuardPolicy`).
        known_word: Optional vocabulary test used to tell typos from different words.
    """

    def __init__(self, policy: GuardPolicy | None = None, *, known_word: Callable[[str], bool] | None = None) -> None:
        self.policy = policy or GuardPolicy()
        self.known_word = known_word

    def check(self, query: str, cached_query: str, similarity: float) -> GuardDecision:
        """The decision for one candidate."""
        p = self.policy
        low = p.similarity_threshold - p.judge_band
        if similarity < low:
            return GuardDecision("miss", "similarity", similarity)
        a, b = extract(query), extract(cached_query)
        if p.structural:
            reason = structural_mismatch(a, b, self.known_word)
            if reason:
                return GuardDecision("miss", reason, similarity)
        counts = unexplained_counts(a, b, self.known_word)
        share = max(m for m, _ in counts)
        if not within_budget(counts, p):
            return GuardDecision("miss", "content", similarity, share)
        if p.judge_band > 0 and abs(similarity - p.similarity_threshold) <= p.judge_band:
            return GuardDecision("judge", "", similarity, share)
        if similarity < p.similarity_threshold:
            return GuardDecision("miss", "similarity", similarity, share)
        return GuardDecision("hit", "", similarity, share)
