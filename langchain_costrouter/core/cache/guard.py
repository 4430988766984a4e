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
``similarity_threshold`` is only the floor under which candidates are not considered. The
verifier's word alignment also counts WordNet synonyms when the policy names that lexicon
(``policy.lexicon``, see :mod:`.wordnet`).

Both texts are compared in their :func:`~.textform.semantic_form` (shouting lowered,
misspellings corrected), the form the cache embeds.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any, Literal

from langchain_costrouter.core.cache.features import (
    TextFeatures,
    edit_distance,
    extract,
    negative_word,
    opposite_sides,
    stem,
    typo_variant,
)
from langchain_costrouter.core.cache.lexicon import FUNCTION_WORDS, NEGATION_PREFIXES, SYNONYM_GROUPS
from langchain_costrouter.core.cache.signals import forms_conflict, identifiers_differ, roles_swapped
from langchain_costrouter.core.cache.textform import semantic_form
from langchain_costrouter.core.cache.verifier import HARD_VETOES, PairVerifier, pair_features
from langchain_costrouter.core.cache.wordnet import LEXICON_NAME, wordnet
from langchain_costrouter.core.errors import DataError

__all__ = [
    "FalseHitGuard",
    "GuardDecision",
    "GuardPolicy",
    "over_question_budget",
    "structural_mismatch",
    "structural_reasons",
    "synonyms_of",
    "synonyms_with",
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
        lexicon: Extra synonyms the verifier's word alignment was fitted with: ``""`` (the
            listed ones only) or ``"wordnet-3.1"`` (also WordNet synonyms of the first senses).
        question_budget: In verifier mode, the most content words of either text of a question
            pair that the other may leave unexplained (``None``: no limit). A short question is
            its slots: "the future of engineering" / "the future of an IT engineer".
    """

    similarity_threshold: float = 0.8
    max_unexplained: float = 0.0
    strict_words: int = 5
    structural: bool = True
    judge_band: float = 0.0
    source: str = "default"
    verifier: PairVerifier | None = None
    vetoes: tuple[str, ...] = HARD_VETOES
    lexicon: str = ""
    question_budget: int | None = None

    def __post_init__(self) -> None:
        if self.lexicon not in {"", LEXICON_NAME}:
            msg = f"unknown cache guard lexicon {self.lexicon!r} (use '' or {LEXICON_NAME!r})"
            raise DataError(msg)

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


def _negated_in(word: str, x: TextFeatures) -> bool:
    return word in x.negated or stem(word) in x.negated


def _opposition(a: TextFeatures, b: TextFeatures) -> tuple[bool, int]:
    """Opposite words across the texts, and how many a negator cancels.

    "open" / "closed" is an opposite; "not open" / "closed" and "without streaming" /
    "non-streaming" say the same thing: the negator is spent on the opposite, so it no longer
    counts for the polarity check. Returns ``(an opposite stands, negators spent)``.
    """
    found = False
    spent = 0
    only_a, only_b = a.opposites - b.opposites, b.opposites - a.opposites
    for g, side in only_a:
        if (g, 1 - side) not in only_b:
            continue
        wa = [w for w in a.words if (g, side) in opposite_sides(w)]
        wb = [w for w in b.words if (g, 1 - side) in opposite_sides(w)]
        if any(_negated_in(w, a) for w in wa) == any(_negated_in(w, b) for w in wb):
            found = True
        elif not any(negative_word(w) for w in wa + wb):  # a negative predicate already counts as the flip
            spent += 1
    words_a, words_b = set(a.words), set(b.words)
    for x, y, fx in ((words_a - words_b, words_b - words_a, a), (words_b - words_a, words_a - words_b, b)):
        y_stems = {stem(v) for v in y}
        for w in x:
            if len(w) < 4:
                continue
            for p in NEGATION_PREFIXES:
                if p + w not in y and stem(p + w) not in y_stems:
                    continue
                if not _negated_in(w, fx):
                    found = True
                elif not negative_word(p + w):
                    spent += 1
                break
    return found, spent


def _roles_swapped(a: TextFeatures, b: TextFeatures) -> bool:
    shared = {t for _, t in a.relations} & {t for _, t in b.relations}
    if {r for r in a.relations if r[1] in shared} != {r for r in b.relations if r[1] in shared}:
        return True
    return any((y, x) in b.entity_links for x, y in a.entity_links)


def _numbers_differ(a: TextFeatures, b: TextFeatures) -> bool:
    """Different numbers; a repeated number counts once, and "one"/"single" reads as the article "a"."""
    na, nb = set(a.numbers), set(b.numbers)
    if na == nb:
        return False
    if "1" in na ^ nb:
        side = a if "1" in na else b
        if side.word_ones and side.numbers.count("1") <= side.word_ones:
            return (na - {"1"}) != (nb - {"1"})
    return True


_DATE_EQUIVALENT = frozenset(
    [
        ("am", "morning"),
        ("pm", "afternoon"),
        ("pm", "evening"),
        ("pm", "tonight"),
        ("annual", "yearly"),
        ("annual", "annually"),
        ("annually", "yearly"),
        ("tonight", "night"),
    ]
)


def _date_explained(d: str, y: TextFeatures, known: Callable[[str], bool] | None) -> bool:
    if any((d, e) in _DATE_EQUIVALENT or (e, d) in _DATE_EQUIVALENT for e in y.dates):
        return True
    return any(typo_variant(d, w, known) for w in y.words if w[:1] == d[:1])


_ENTITY_TYPO_LEN = 6


def _entity_typo(e: str, w: str, known: Callable[[str], bool] | None) -> bool:
    """One edit in a long name that is not two real words ("INSTALLATIO"; not "Austria"/"Australia")."""
    if abs(len(e) - len(w)) > 1 or edit_distance(e, w, 1) > 1:
        return False
    return known is None or not (known(e) and known(w))


_DERIVED = ("ic", "ian", "ish", "ese", "ist", "ism", "an", "al", "s", "es")


def _spells(acronym: str, units: tuple[tuple[str, str, bool, str], ...], capitalised: bool) -> set[int]:
    """Indices of the units whose initials spell ``acronym`` (content words; capitalised if asked)."""
    n = len(acronym)
    for i in range(len(units) - n + 1):
        run = units[i : i + n]
        if "".join(u[0] for u in run) != acronym:
            continue
        if any(u[1] in FUNCTION_WORDS for u in run) or (capitalised and not all(u[2] for u in run)):
            continue
        return set(range(i, i + n))
    return set()


def _expanded(x: TextFeatures, y: TextFeatures) -> frozenset[str]:
    """Stems of ``x``'s words that spell out an acronym of ``y`` ("Machine Learning" for "ML")."""
    out: set[str] = set()
    for acr in y.acronyms:
        for i in _spells(acr, x.units, len(acr) < 3):
            out.update([stem(x.units[i][1]), stem(x.units[i][3])])
    return frozenset(out)


def _entity_explained(  # noqa: PLR0911
    e: str, x: TextFeatures, y: TextFeatures, known: Callable[[str], bool] | None, spelled: frozenset[str]
) -> bool:
    """Whether the other text ``y`` names entity ``e`` of ``x``, maybe written another way.

    The same name in another case, spelling or split ("HuggingFace" / "Hugging Face", "INSTALLATIO" /
    "installation"), an acronym and its expansion ("NLP" / "natural language processing"), a
    qualified identifier and its last part ("datasets.Metric" / "Metric"), a derived form
    ("Python" / "Pythonic"). A different name is never explained.
    """
    if y.mentions(e) or any(e == stem(w) for w in y.words) or e in spelled:
        return True
    if e in x.acronyms and _spells(e, y.units, len(e) < 3):
        return True
    flat = re.sub(r"[^a-z0-9]", "", e)
    ws = y.words
    for n in (2, 3):
        for i in range(len(ws) - n + 1):  # "HuggingFace" / "Hugging Face"
            joined = "".join(ws[i : i + n])
            if stem(joined) == e or re.sub(r"[^a-z0-9]", "", stem(joined)) == flat:
                return True
        xs = x.words
        for i in range(len(xs) - n + 1):  # "Hugging" of "Hugging Face" / "HuggingFace"
            run = xs[i : i + n]
            if any(stem(w) == e for w in run) and y.mentions("".join(run)):
                return True
    if e.isalpha() and len(e) >= _ENTITY_TYPO_LEN and any(_entity_typo(e, w, known) for w in ws if w[:1] == e[:1]):
        return True
    if "." in e:
        last = e.rsplit(".", 1)[1]
        others = {f for f in y.entities if f.endswith("." + last) and f != e}
        if len(last) >= 3 and not others and _entity_explained(last, x, y, known, spelled):
            return True
    for w in ws:
        short, long_ = (w, e) if len(w) < len(e) else (e, w)
        if len(short) >= 5 and long_.startswith(short) and long_[len(short) :] in _DERIVED:
            return True
    return False


@lru_cache(maxsize=65536)
def _stems(words: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(stem(w) for w in words)


def structural_reasons(  # noqa: PLR0912 - one check per kind of meaning change
    a: TextFeatures, b: TextFeatures, known: Callable[[str], bool] | None = None
) -> tuple[str, ...]:
    """Every structural difference found between two texts (empty when none), in check order."""
    out: list[str] = []
    opposite, spent = _opposition(a, b)
    if (a.polarity + b.polarity + spent) % 2:
        out.append("negation")
    if opposite:
        out.append("opposite")
    if _numbers_differ(a, b):
        out.append("numbers")
    if any(not _date_explained(d, y, known) for x, y in ((a, b), (b, a)) for d in x.dates - y.dates):
        out.append("dates")
    if a.entities != b.entities:
        spelled_a, spelled_b = _expanded(a, b), _expanded(b, a)
        if any(not _entity_explained(e, a, b, known, spelled_a) for e in a.entities) or any(
            not _entity_explained(e, b, a, known, spelled_b) for e in b.entities
        ):
            out.append("entities")
    if a.scope != b.scope:
        out.append("scope")
    if a.wh and b.wh and not (a.wh & b.wh):
        out.append("question_type")
    if forms_conflict(a.form, b.form):
        out.append("question_form")
    if a.signs != b.signs:
        out.append("symbols")
    if identifiers_differ(a.compounds, b.compounds):
        out.append("identifiers")
    if any(not y.mentions(p) for x, y in ((a, b), (b, a)) for p in x.persons):
        out.append("person")
    # word order carries roles in questions; statements are reworded freely (active / passive)
    if _roles_swapped(a, b) or (a.form and b.form and roles_swapped(_stems(a.words), _stems(b.words))):
        out.append("roles")
    return tuple(out)


def structural_mismatch(a: TextFeatures, b: TextFeatures, known: Callable[[str], bool] | None = None) -> str:
    """The first structural difference between two texts, or ``""`` when none is found."""
    reasons = structural_reasons(a, b, known)
    return reasons[0] if reasons else ""


@lru_cache(maxsize=65536)
def synonyms_of(word: str) -> frozenset[str]:
    """The listed near-synonyms of ``word`` or of its stem (its groups, empty when none)."""
    s = stem(word)
    out: set[str] = set()
    for g in SYNONYM_GROUPS:
        if word in g or s in g:
            out |= g
    return frozenset(out)


def _with_wordnet(word: str) -> frozenset[str]:
    return synonyms_of(word) | wordnet().synonyms(word)


def synonyms_with(lexicon: str) -> Callable[[str], frozenset[str]]:
    """The synonym function of a policy's ``lexicon``: listed synonyms, plus WordNet's if named."""
    return _with_wordnet if lexicon == LEXICON_NAME else synonyms_of


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
            if any(y.mentions(s) for s in synonyms_of(w)):
                continue
            if any(typo_variant(w, v, known) for v in y.content):
                continue
            missing += 1
        out.append((missing, len(x.content)))
    return out[0], out[1]


def within_budget(counts: tuple[tuple[int, int], tuple[int, int]], policy: GuardPolicy) -> bool:
    """Whether both texts stay within the policy's unexplained-content budget."""
    return all(m <= policy.max_unexplained * max(0, n - policy.strict_words) + 1e-9 for m, n in counts)


def over_question_budget(
    question: str | bool, counts: tuple[tuple[int, int], tuple[int, int]], policy: GuardPolicy
) -> bool:
    """Whether a question pair leaves more content words unexplained than ``policy.question_budget``."""
    budget = policy.question_budget
    return bool(question) and budget is not None and max(m for m, _ in counts) > budget


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
        """The decision for one candidate (texts as sent; compared in their semantic forms)."""
        return self.check_forms(
            semantic_form(query, self.known_word), semantic_form(cached_query, self.known_word), similarity
        )

    def check_forms(self, query: str, cached_query: str, similarity: float) -> GuardDecision:  # noqa: PLR0911
        """:meth:`check` of texts already in their :func:`~.textform.semantic_form`."""
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
        feats = pair_features(
            a,
            b,
            similarity,
            reasons,
            counts,
            names=verifier.features,
            known=self.known_word,
            synonyms=synonyms_with(p.lexicon),
        )
        prob = verifier.probability(feats)
        details = {"probability": prob, "accept": prob >= verifier.threshold}
        if over_question_budget(a.form or b.form, counts, p):
            # words the cache cannot match: never served on the guard's word, a judge may decide
            if prob < verifier.threshold:
                return GuardDecision("miss", "content", similarity, share, details)
            return GuardDecision("judge", "content", similarity, share, {**details, "accept": False, "why": "content"})
        if p.judge_band > 0 and abs(prob - verifier.threshold) <= p.judge_band:
            return GuardDecision("judge", "", similarity, share, details)
        if prob < verifier.threshold:
            return GuardDecision("miss", "verifier", similarity, share, details)
        return GuardDecision("hit", "", similarity, share, details)
