"""Surface features of a query that decide whether two similar queries share an answer.

Embeddings place "cancel my subscription" next to "don't cancel my subscription"; these
features do not. :func:`extract` reads, once per text, what the guard compares: polarity,
numbers and identifiers, dates, named entities, scope words, the question type, third persons,
directional relations and the content words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from langchain_costrouter.core.cache.lexicon import (
    ANTONYM_GROUPS,
    DATE_WORDS,
    FILLER_WORDS,
    FUNCTION_WORDS,
    NEGATIVE_PREDICATES,
    NEGATORS,
    NUMBER_WORDS,
    PERSON_WORDS,
    RELATION_WORDS,
    SCOPE_GROUPS,
    WH_CLASSES,
)
from langchain_costrouter.core.cache.signals import compounds, question_form, sign_tokens

__all__ = ["TextFeatures", "edit_distance", "extract", "negative_word", "opposite_sides", "stem", "typo_variant"]

_TOKEN_RE = re.compile(r"`[^`]+`|[£$€¥]?[\w]+(?:['\-./:,][\w]+)*%?|[^\s\w]")
_NUM_RE = re.compile(r"\d+(?:[.,]\d+)*")
_DEIXIS = frozenset(["this", "next", "last", "previous", "current", "upcoming", "past", "coming"])
_TIME_UNITS = frozenset(
    [
        *[
            "day",
            "days",
            "week",
            "weeks",
            "weekend",
            "weekends",
            "month",
            "months",
            "year",
            "years",
            "term",
            "terms",
            "quarter",
            "quarters",
        ],
        *["season", "time", "semester", "night", "morning", "evening", "afternoon"],
    ]
)
_SENTENCE_END = frozenset(".!?:;\n")
_CLOCK = frozenset({"am", "pm"})
# "the new one", "which one": after these words "one" is a pronoun, not a number.
_ONE_PRONOUN_BEFORE = frozenset(
    [
        "the",
        "this",
        "that",
        "a",
        "an",
        "which",
        "each",
        "every",
        "any",
        "no",
        "another",
        "new",
        "old",
        "other",
        "same",
        "right",
        "wrong",
        "first",
        "last",
        "next",
    ]
)
# Relation words that give the entities around them a role ("from A to B", "A for B", "A than B").
_LINK_WORDS = frozenset(
    ["from", "to", "for", "into", "than", "vs", "versus", "over", "onto", "instead", "towards", "toward", "between"]
)
_LINK_WINDOW = 7
_NEGATION_SCOPE = 3
_SAME_RELATION = {"into": "to", "onto": "to", "toward": "to", "towards": "to", "vs": "versus"}
_ONE_WORDS = frozenset({"one", "single"})
_WEEKDAYS_AND_UNITS = _TIME_UNITS | DATE_WORDS


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """A light, deterministic English stem (possessive, plural, -ing, -ed)."""
    w = word.lower().replace("\u2019", "'")
    for suffix in ("'s", "'"):
        if w.endswith(suffix):
            w = w[: -len(suffix)]
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 4 and w.endswith(("sses", "shes", "ches", "xes")):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if len(w) > 5 and w.endswith("ing"):
        w = w[:-3]
    elif len(w) > 4 and w.endswith("ed"):
        w = w[:-2]
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeiouls":
        w = w[:-1]
    return w


_DEIXIS_UNITS = frozenset(stem(u) for u in _WEEKDAYS_AND_UNITS)


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Optimal-string-alignment distance (a transposition costs 1), capped at ``limit + 1``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


@dataclass(frozen=True, slots=True)
class TextFeatures:
    """What the guard compares between a query and a cached query.

    Attributes:
        words: Lower-cased word tokens in order (punctuation dropped, clitics kept).
        vocab: ``words`` plus their stems and hyphen parts (for "does the other text mention X").
        content: Content words (not function words), lower-cased, in order.
        polarity: Number of negators and negative predicates.
        numbers: Sorted numbers and identifiers (digits and number words, normalised).
        dates: Calendar and time words.
        entities: Proper names, acronyms, code identifiers (lower-cased, possessive removed).
        scope: Scope-word classes present (``all``, ``only``, ``except``...).
        wh: Question-type classes (``person``, ``place``, ``time``, ``quantity``...).
        persons: Third-person references and possessor nouns.
        relations: ``(relation word, following content stem)`` pairs (from/to, than...).
        opposites: ``(group index, side)`` of every opposite-pair word mentioned.
        entity_links: ``(entity, later entity)`` pairs joined by a relation word within a few
            tokens ("from A to B", "A for B", "convert A to B"): their order is a role.
        negated: Words (and stems) a negator governs: up to three tokens after it, within a clause.
        acronyms: All-capital entities of 2-6 letters ("NLP", "PAC"), lower-cased.
        units: ``(initial, unit, capitalised, word)`` per word, camelCase words split into their
            parts ("JavaScript" -> j, s): what an acronym of the other text may spell.
        word_ones: How many of ``numbers`` are a "1" written as a word ("one", "single"), which
            reads like the article "a".
        form: The question form of the text (:func:`.signals.question_form`).
        signs: Tokens carrying a sign, such as ``c++`` or ``o-`` (:func:`.signals.sign_tokens`).
        compounds: Compound identifiers split into parts (:func:`.signals.compounds`).
    """

    words: tuple[str, ...]
    vocab: frozenset[str]
    content: tuple[str, ...]
    polarity: int
    numbers: tuple[str, ...]
    dates: frozenset[str]
    entities: frozenset[str]
    scope: frozenset[str]
    wh: frozenset[str]
    persons: frozenset[str]
    relations: frozenset[tuple[str, str]]
    opposites: frozenset[tuple[int, int]]
    entity_links: frozenset[tuple[str, str]] = frozenset()
    negated: frozenset[str] = frozenset()
    acronyms: frozenset[str] = frozenset()
    units: tuple[tuple[str, str, bool, str], ...] = ()
    word_ones: int = 0
    form: str = ""
    signs: frozenset[str] = frozenset()
    compounds: frozenset[tuple[str, ...]] = frozenset()

    def mentions(self, word: str) -> bool:
        """Whether ``word`` (or its stem) occurs in the text."""
        return word in self.vocab or stem(word) in self.vocab


_CLAUSE_RE = re.compile(r"[^,!:;?.]*[,!:;?.]+|[^,!:;?.]+$")


def _is_filler_clause(clause: str) -> bool:
    words = re.findall(r"[a-z']+", clause.lower())
    return 0 < len(words) <= 5 and sum(w in FILLER_WORDS for w in words) >= max(1, len(words) - 1)


def _strip_fillers(text: str) -> str:
    """Drops greeting / filler clauses at the start and sign-offs at the end."""
    clauses = _CLAUSE_RE.findall(text)
    while len(clauses) > 1 and _is_filler_clause(clauses[0]) and not clauses[0].rstrip().endswith("?"):
        clauses.pop(0)
    while len(clauses) > 1 and _is_filler_clause(clauses[-1]) and not clauses[-1].rstrip().endswith("?"):
        clauses.pop()
    return "".join(clauses)


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u2018", "'")
    return _strip_fillers(text.strip())


def _is_entity(tok: str, initial: bool) -> bool:  # noqa: PLR0911
    if tok.startswith("`"):
        return True
    core = tok.split("'", maxsplit=1)[0]
    if not core or not any(c.isalpha() for c in core):
        return False
    if core in {"I", "I'm", "I'd", "I've", "I'll"} or core.lower() in FUNCTION_WORDS:
        return False
    letters = sum(c.isalpha() for c in core)
    if any(c.isdigit() for c in core):
        # "A320", "GPT4" name things; "2kg", "10GB", "18-year-old", "3pm" are quantities (numbers checked)
        return letters >= 2 and not core[0].isdigit()
    if "_" in core:
        return True
    upper_inside = any(c.isupper() for c in core[1:])
    if upper_inside:  # PayPal, HubSpot, UK, iPhone
        return True
    return core[0].isupper() and not initial


_MULTIPLIERS = frozenset({"hundred", "thousand", "million", "billion"})


def _numbers(word: str) -> list[str]:
    out = [n.replace(",", "") for n in _NUM_RE.findall(word)]
    if not out and word in NUMBER_WORDS:
        out.append(NUMBER_WORDS[word])
    return out


def _combine_numbers(tokens: list[tuple[str, str]]) -> list[str]:
    """Folds "one hundred" into 100; drops vague multipliers ("thousands", "several thousand")."""
    out: list[str] = []
    prev_num = False
    for word, value in tokens:
        if word in _MULTIPLIERS:
            if prev_num and out:
                try:
                    out[-1] = f"{float(out[-1]) * float(value):g}"
                except ValueError:
                    out.append(value)
            prev_num = False
            continue
        out.append(value)
        prev_num = True
    return out


@lru_cache(maxsize=65536)
def extract(text: str) -> TextFeatures:  # noqa: PLR0912, PLR0915
    """Extracts the :class:`TextFeatures` of ``text`` (memoised)."""
    raw = _split_quantities(_TOKEN_RE.findall(_norm(text).replace("```", "\n")))
    words: list[str] = []
    vocab: set[str] = set()
    content: list[str] = []
    numbers_seq: list[tuple[str, str, int]] = []
    dates: set[str] = set()
    entities: set[str] = set()
    scope: set[str] = set()
    wh: set[str] = set()
    persons: set[str] = set()
    polarity = 0
    initial = True
    prev_word = ""
    ent_pos: list[tuple[int, str]] = []
    negated: set[str] = set()
    acronyms: set[str] = set()
    units: list[tuple[str, str, bool, str]] = []
    prefixed_negations: set[str] = set()
    scope_left = 0
    for i, tok in enumerate(raw):
        if len(tok) == 1 and not tok.isalnum():
            initial = initial or tok in _SENTENCE_END
            scope_left = 0
            continue
        low = tok.strip("`").lower()
        nxt = raw[i + 1] if i + 1 < len(raw) else ""
        if _is_entity(tok, initial):
            ent = stem(low) if not tok.startswith("`") else low
            entities.add(ent)
            ent_pos.append((len(words), ent))
            if 2 <= len(tok) <= 6 and tok.isalpha() and tok.isupper():
                acronyms.add(low)
        units.extend(_units(tok))
        if scope_left > 0:
            negated.update([low, stem(low)])
            scope_left -= 1
        initial = False
        parts = [p for p in re.split(r"[-/.]", low) if p] if not tok.startswith("`") else [low]
        words.append(low)
        vocab.update([low, stem(low), *parts, *(stem(p) for p in parts)])
        # polarity: "no," / "yes," at the start of an answer is an interjection, not a negator
        bare = low.replace("'", "")
        if (low in NEGATORS or bare in NEGATORS or low.endswith("n't")) and not (low == "no" and nxt == ","):
            polarity += 1
            scope_left = _NEGATION_SCOPE
        elif negative_word(low):
            # "no-code", "non-streaming", "avoid"; the same word repeated is one negation, not two
            polarity += low not in prefixed_negations
            prefixed_negations.add(low)
        for p in parts:
            if p in _MULTIPLIERS and not (numbers_seq and numbers_seq[-1][2] == len(words) - 2):
                continue
            if not (nxt == ")" or (p == "one" and (_pronoun_one(raw, i) or prev_word in _ONE_PRONOUN_BEFORE))):
                numbers_seq.extend((p, n, len(words) - 1) for n in _numbers(p))
            is_date = (p in DATE_WORDS or stem(p) in DATE_WORDS) and stem(p) not in _DEIXIS and p not in _DEIXIS
            if is_date and (p not in _CLOCK or (len(words) > 1 and _numbers(words[-2]))):  # "am I" is a verb
                dates.add(stem(p))
        if low in _DEIXIS and stem(nxt.lower()) in _DEIXIS_UNITS:
            dates.add(low)
        for name, group in SCOPE_GROUPS.items():
            if low in group:
                scope.add(name)
        if low in WH_CLASSES:
            wh.add(WH_CLASSES[low])
        phrase = f"{prev_word} {low}"
        if phrase in WH_CLASSES:
            wh.add(WH_CLASSES[phrase])
            if prev_word in {"what", "which"}:
                prev_word = low
                continue
        if low in PERSON_WORDS:
            persons.add(low)
        elif low.endswith("'s") and tok[0].islower() and low[:-2] not in FUNCTION_WORDS:
            persons.add(stem(low))
        if low not in FUNCTION_WORDS and bare not in FUNCTION_WORDS and bare not in NEGATORS and not _numbers(low):
            content.append(low)
        prev_word = low
    relations = _relations(words)
    numbers = _combine_numbers([(w, n) for w, n, _ in numbers_seq])
    word_ones = sum(w in _ONE_WORDS for w, _, _ in numbers_seq)
    return TextFeatures(
        words=tuple(words),
        vocab=frozenset(vocab),
        content=tuple(content),
        polarity=polarity,
        numbers=tuple(sorted(numbers)),
        dates=frozenset(dates),
        entities=frozenset(entities),
        scope=frozenset(scope),
        wh=frozenset(wh),
        persons=frozenset(persons),
        relations=relations,
        opposites=_opposites(frozenset(vocab)),
        entity_links=_entity_links(words, ent_pos),
        negated=frozenset(negated),
        acronyms=frozenset(acronyms),
        units=tuple(units),
        word_ones=word_ones,
        form=question_form(_norm(text)),
        signs=sign_tokens(text),
        compounds=compounds(text),
    )


_CAMEL_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def _units(tok: str) -> list[tuple[str, str, bool, str]]:
    """``(initial, unit, capitalised, word)`` of a token; camelCase is split ("JavaScript" -> Java, Script)."""
    core = tok.strip("`").split("'", maxsplit=1)[0]
    parts = _CAMEL_RE.findall(core) if any(c.isupper() for c in core[1:]) else [core]
    word = tok.strip("`").lower()
    return [(p[0].lower(), p.lower(), p[0].isupper(), word) for p in parts if p and p[0].isalpha()]


_QUANTITY_RE = re.compile(r"(\d+(?:[.,]\d+)*)([A-Za-z]+)")
_ORDINAL_SUFFIXES = frozenset({"st", "nd", "rd", "th", "s"})


def _split_quantities(raw: list[str]) -> list[str]:
    """Splits a number glued to a unit: 10GB -> 10, GB; 7am -> 7, am (3rd and 1990s stay whole)."""
    out: list[str] = []
    for tok in raw:
        m = _QUANTITY_RE.fullmatch(tok)
        if m and m.group(2).lower() not in _ORDINAL_SUFFIXES:
            out.extend(m.groups())
        else:
            out.append(tok)
    return out


@lru_cache(maxsize=65536)
def negative_word(word: str) -> bool:
    """Whether ``word`` negates by itself: "non-streaming", "no-code", "avoid", "unavailable"."""
    parts = [p for p in re.split(r"[-/.]", word) if p]
    if word.startswith("non-") or any(p in NEGATORS for p in parts[:-1]):
        return True
    return word in NEGATIVE_PREDICATES or stem(word) in NEGATIVE_PREDICATES


def _entity_links(words: list[str], ent_pos: list[tuple[int, str]]) -> frozenset[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for k, (i, e) in enumerate(ent_pos):
        for j, f in ent_pos[k + 1 :]:
            if j - i > _LINK_WINDOW:
                break
            if f != e and any(w in _LINK_WORDS for w in words[i + 1 : j]):
                out.add((e, f))
    return frozenset(out)


def _opposite_index() -> dict[str, frozenset[tuple[int, int]]]:
    index: dict[str, set[tuple[int, int]]] = {}
    for g, sides in enumerate(ANTONYM_GROUPS):
        for side, words in enumerate(sides):
            for w in words:
                for key in (w, stem(w)):
                    index.setdefault(key, set()).add((g, side))
    return {k: frozenset(v) for k, v in index.items()}


_OPPOSITE_INDEX = _opposite_index()


def opposite_sides(word: str) -> frozenset[tuple[int, int]]:
    """``(group, side)`` of the opposite pairs ``word`` (or its stem) belongs to."""
    return _OPPOSITE_INDEX.get(word, frozenset()) | _OPPOSITE_INDEX.get(stem(word), frozenset())


def _opposites(vocab: frozenset[str]) -> frozenset[tuple[int, int]]:
    """``(group, side)`` of every opposite-pair word (or its stem) in ``vocab``; one lookup per item."""
    out: set[tuple[int, int]] = set()
    for v in vocab:
        hit = _OPPOSITE_INDEX.get(v)
        if hit:
            out |= hit
    return frozenset(out)


def _pronoun_one(raw: list[str], i: int) -> bool:
    """'one can', 'the new one': 'one' as a pronoun, not a number."""
    nxt = raw[i + 1].lower() if i + 1 < len(raw) else ""
    return not nxt.isalpha() or nxt in FUNCTION_WORDS


def _relations(words: list[str]) -> frozenset[tuple[str, str]]:
    has_from = "from" in words
    out: set[tuple[str, str]] = set()
    for i, w in enumerate(words):
        if w not in RELATION_WORDS or (w in {"to", "onto", "toward", "towards"} and not has_from):
            continue
        for nxt in words[i + 1 : i + 5]:
            if nxt not in FUNCTION_WORDS:
                out.add((_SAME_RELATION.get(w, w), stem(nxt)))
                break
    return frozenset(out)


def typo_variant(a: str, b: str, known: Callable[[str], bool] | None = None) -> bool:
    """Whether ``a`` and ``b`` are one word spelled two ways (not two different words).

    A small edit distance is required (1 for words of 4+ letters, 2 for 7+), the same first
    letter, no digits, and, when a vocabulary is given, at most one of them a known word
    ("mary"/"mark" are both known, so they are different words).
    """
    if a == b:
        return True
    if a[0] != b[0] or any(c.isdigit() for c in a + b):
        return False
    shortest = min(len(a), len(b))
    limit = 2 if shortest >= 7 else 1 if shortest >= 4 else 0
    if limit == 0 or edit_distance(a, b, limit) > limit:
        return False
    if known is not None and known(a) and known(b):
        # two real words: only a spelling variant ("centre"/"center", "instal"/"install")
        return sorted(a) == sorted(b) or _undouble(a) == _undouble(b)
    return True


def _undouble(w: str) -> str:
    return "".join(c for i, c in enumerate(w) if i == 0 or c != w[i - 1])
