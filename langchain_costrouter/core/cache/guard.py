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

With a fitted :class:`~.verifier.PairVerifier` in the policy (what ``calibrate-cache`` ships),
steps 2-3 become: the hard structural checks (``policy.vetoes``) refuse outright, then the
verifier's probability decides (the judge band then applies to that probability);
``similarity_threshold`` is only the floor under which candidates are not considered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from langchain_costrouter.core.cache.features import TextFeatures, extract, stem, typo_variant
from langchain_costrouter.core.cache.lexicon import NEGATION_PREFIXES, SYNONYM_GROUPS
from langchain_costrouter.core.cache.verifier import HARD_VETOES, PairVerifier, pair_features

__all__ = [
    "FalseHitGuard",
    "GuardDecision",
    "GuardPolicy",
    "structural_mismatch",
    "structural_reasons",
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
        judge_band: Candidates with ``|similarity - threshold| <= judge_band`` (with a verifier:
            ``|probability - verifier threshold| <= judge_band``) that pass the structural
            checks go to the judge, when one is configured.
        source: Where the values come from (``default``, ``calibrated:<file>``...).
        verifier: A fitted pair verifier; when set it replaces the content budget.
        vetoes: Structural reasons that refuse a candidate outright in verifier mode.
    """

    similarity_threshold: float = 0.8
    max_unexplained: float = 0.0
    strict_words: int = 5
    structural: bool = True
    judge_band: float = 0.0
    source: str = "default"
    verifier: PairVerifier | None = None
    vetoes: tuple[str, ...] = HARD_VETOES

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = {k: v for k, v in asdict(self).items() if k not in {"verifier", "vetoes"}}
        out["vetoes"] = list(self.vetoes)
        out["verifier"] = self.verifier.to_dict() if self.verifier is not None else None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GuardPolicy:
        """Reads :meth:`to_dict` output (unknown keys are ignored)."""
        known = set(cls.__dataclass_fields__)
        kw = {k: v for k, v in data.items() if k in known}
        if isinstance(kw.get("verifier"), dict):
            kw["verifier"] = PairVerifier.from_dict(kw["verifier"])
        if "vetoes" in kw:
            kw["vetoes"] = tuple(str(v) for v in kw["vetoes"] or ())
        return cls(**kw)


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
        y_stems = {stem(v) for v in y}
        for w in x:
            if len(w) < 4:
                continue
            for p in NEGATION_PREFIXES:
                if p + w in y or stem(p + w) in y_stems:
                    return True
    return False


def _roles_swapped(a: TextFeatures, b: TextFeatures) -> bool:
    shared = {t for _, t in a.relations} & {t for _, t in b.relations}
    if {r for r in a.relations if r[1] in shared} != {r for r in b.relations if r[1] in shared}:
        return True
    return any((y, x) in b.entity_links for x, y in a.entity_links)


def structural_reasons(a: TextFeatures, b: TextFeatures, known: Callable[[str], bool] | None = None) -> tuple[str, ...]:
    """Every structural difference found between two texts (empty when none), in check order."""
    out: list[str] = []
    if a.polarity % 2 != b.polarity % 2:
        out.append("negation")
    if _antonym_swap(a, b) or _prefix_negation(a, b):
        out.append("opposite")
    if a.numbers != b.numbers:
        out.append("numbers")
    if any(
        not any(typo_variant(d, w, known) for w in y.words if w[:1] == d[:1])
        for x, y in ((a, b), (b, a))
        for d in x.dates - y.dates
    ):
        out.append("dates")
    if any(
        not y.mentions(e) and not any(e == stem(w) for w in y.words) for x, y in ((a, b), (b, a)) for e in x.entities
    ):
        out.append("entities")
    if a.scope != b.scope:
        out.append("scope")
    if a.wh and b.wh and not (a.wh & b.wh):
        out.append("question_type")
    if any(not y.mentions(p) for x, y in ((a, b), (b, a)) for p in x.persons):
        out.append("person")
    if _roles_swapped(a, b):
        out.append("roles")
    return tuple(out)


def structural_mismatch(a: TextFeatures, b: TextFeatures, known: Callable[[str], bool] | None = None) -> str:
    """The first structural difference between two texts, or ``""`` when none is found."""
    reasons = structural_reasons(a, b, known)
    return reasons[0] if reasons else ""


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

    def check(self, query: str, cached_query: str, similarity: float) -> GuardDecision:  # noqa: PLR0911
        """The decision for one candidate."""
        p = self.policy
        low = p.similarity_threshold - (p.judge_band if p.verifier is None else 0.0)
        if similarity < low:
            return GuardDecision("miss", "similarity", similarity)
        a, b = extract(query), extract(cached_query)
        if p.verifier is not None:
            return self._verify(a, b, similarity, p.verifier)
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

    def _verify(self, a: TextFeatures, b: TextFeatures, similarity: float, verifier: PairVerifier) -> GuardDecision:
        p = self.policy
        reasons = structural_reasons(a, b, self.known_word) if p.structural else ()
        veto = next((r for r in reasons if r in p.vetoes), "")
        if veto:
            return GuardDecision("miss", veto, similarity)
        counts = unexplained_counts(a, b, self.known_word)
        share = max(m for m, _ in counts)
        prob = verifier.probability(pair_features(a, b, similarity, reasons, counts))
        details = {"probability": prob, "accept": prob >= verifier.threshold}
        if p.judge_band > 0 and abs(prob - verifier.threshold) <= p.judge_band:
            return GuardDecision("judge", "", similarity, share, details)
        if prob < verifier.threshold:
            return GuardDecision("miss", "verifier", similarity, share, details)
        return GuardDecision("hit", "", similarity, share, details)
