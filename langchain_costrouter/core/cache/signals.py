"""Three meaning changes the word-level features miss: the question's form, signs, swapped roles.

- **Question form**: "Where is my order?" and "How do I cancel my order?" share their words but
  not their answer; so do "How do I renew?" / "When does it renew?", "Should I learn C?" /
  "Why learn C?" and "What is plastic surgery?" / "Is plastic surgery safe?". :func:`question_form`
  reads the form of a text's first question clause (manner, reason, time, place, quantity,
  duration, frequency, person, a yes/no question of fact, advice or prediction, an open
  what/which question, or none for a statement) and :func:`forms_conflict` says when two forms
  cannot share an answer.
- **Signs**: tokenisers and embeddings drop ``+``, ``#`` and trailing ``-``: "C" / "C++",
  "O- or AB+" / "O+ or AB-", "!=" / "==" read alike. :func:`sign_tokens` keeps every token that
  carries such a sign (``c++``, ``o-``, ``!=``, ``$path``, ``10%``); two texts with different
  sets of them ask different things.
- **Swapped roles**: "Why do children deceive their parents?" / "Why do parents deceive their
  children?", "from India ... abroad" / "from abroad ... India". :func:`roles_swapped` finds two
  content words that occur once in each text in the opposite order, joined by a relation word or
  by the same content word in both texts.

These are general-English rules, not fitted to any pair file; the guard uses them as hard
vetoes where the held-out data shows they refuse more wrong answers than right ones.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = [
    "FORMS",
    "compounds",
    "forms_conflict",
    "identifiers_differ",
    "question_form",
    "roles_swapped",
    "sign_tokens",
]

FORMS: tuple[str, ...] = (
    "manner",
    "reason",
    "time",
    "place",
    "quantity",
    "duration",
    "frequency",
    "person",
    "age",
    "distance",
    "ability",
    "exist",
    "polar",
    "advice",
    "prediction",
    "open",
    "",
)
"""Question forms: ``open`` is a what/which question, ``ability`` "can I ...?" / "is it possible
to ...?", ``exist`` "is there ...?" / "do you have ...?", ``polar`` another yes/no question of
fact, ``""`` a statement."""

# Forms that may share an answer although they differ. An open what/which question may ask for
# a time, a place, an amount, a person... (its noun decides); "can I do X?" is answered by how
# to do X; "is there a minimum order?" by what the minimum is.
_COMPATIBLE: dict[str, frozenset[str]] = {
    "open": frozenset({"time", "place", "quantity", "duration", "frequency", "person", "age", "distance", "exist"}),
    "ability": frozenset({"manner", "polar", "exist", "prediction"}),
    "exist": frozenset({"open", "polar", "ability"}),
    "polar": frozenset({"prediction", "ability", "exist"}),
    "prediction": frozenset({"polar", "ability"}),
}

_TWO_WORD = {
    ("how", "much"): "quantity",
    ("how", "many"): "quantity",
    ("how", "long"): "duration",
    ("how", "often"): "frequency",
    ("how", "old"): "age",
    ("how", "far"): "distance",
    ("how", "come"): "reason",
    ("how", "soon"): "duration",
    ("how", "quickly"): "duration",
    ("how", "fast"): "duration",
    ("what", "time"): "time",
    ("what", "date"): "time",
    ("what", "day"): "time",
    ("which", "day"): "time",
    ("what", "year"): "time",
}
_ONE_WORD = {
    "how": "manner",
    "why": "reason",
    "when": "time",
    "where": "place",
    "who": "person",
    "whom": "person",
    "whose": "person",
    "what": "open",
    "which": "open",
    "whats": "open",
    "what's": "open",
    "where's": "place",
    "who's": "person",
    "how's": "manner",
    "whether": "polar",
}
_AUX = {
    **dict.fromkeys(
        [
            "is",
            "are",
            "am",
            "was",
            "were",
            "do",
            "does",
            "did",
            "can",
            "could",
            "may",
            "might",
            "has",
            "have",
            "had",
            "isn't",
            "aren't",
            "don't",
            "doesn't",
            "didn't",
            "can't",
            "cannot",
            "couldn't",
            "hasn't",
            "haven't",
            "wasn't",
            "weren't",
        ],
        "polar",
    ),
    **dict.fromkeys(["should", "shall", "must", "ought", "shouldn't"], "advice"),
    **dict.fromkeys(["will", "would", "won't", "wouldn't"], "prediction"),
}
_TIME_NOUNS = frozenset(
    [
        "second",
        "seconds",
        "minute",
        "minutes",
        "hour",
        "hours",
        "day",
        "days",
        "week",
        "weeks",
        "month",
        "months",
        "year",
        "years",
    ]
)
# Leading words a question clause may start with before its question word.
_LEAD = frozenset(
    [
        "and",
        "but",
        "so",
        "or",
        "also",
        "then",
        "please",
        "ok",
        "okay",
        "well",
        "hi",
        "hey",
        "hello",
        "now",
        "anyway",
        "actually",
        "basically",
        "just",
        "exactly",
        "quick",
        "question",
    ]
)
# "what is the (best) way to" asks how; "what is the reason" asks why.
_WAY_RE = re.compile(
    r"^(?:what|whats|what's)(?: is| are|'s)? (?:the |a |some )?(?:\w+ ){0,2}?"
    r"(?:way|ways|steps|process|procedure|method|methods) (?:to|for|of)\b"
)
_REASON_RE = re.compile(r"^(?:what|whats|what's)(?: is| are|'s)? (?:the |a )?(?:main )?reasons? (?:for|why|that)\b")
# "what do I do?", "what steps do I take?", "what should we do?" ask how.
_WHAT_DO_RE = re.compile(
    r"^(?:what|whats|what's) (?:steps |exactly )?(?:do|does|should|can|must|shall|would) "
    r"(?:i|we|you|one) (?:need to |have to |take|do|follow)"
)
_ABILITY_RE = re.compile(r"^(?:can|could|may) (?:i|we|one)\b|^is it possible\b|^is there (?:a|any) (?:way|option)\b")
_EXIST_RE = re.compile(r"^(?:is|are) there\b|^do (?:you|they|we) (?:have|offer|sell|provide|accept)\b")
# "can you tell me where my order is?": the embedded question decides.
_INDIRECT_RE = re.compile(
    r"^(?:can|could|would) you (?:please )?(?:tell|show) (?:me|us) |^(?:do|does) (?:you|anyone|anybody) know |"
    r"^(?:i|we) (?:want|need|would like|'d like) to know |^any idea "
)
_CLAUSE_RE = re.compile(r"[^.?!;:\n,]+[.?!;:\n,]*")
_WORD_RE = re.compile(r"[a-z]+(?:'[a-z]+)?")


def _clause_form(clause: str) -> str:  # noqa: PLR0911, PLR0912 - one return per form
    words = _WORD_RE.findall(clause.lower())
    while words and words[0] in _LEAD:
        words.pop(0)
    if not words:
        return ""
    text = " ".join(words)
    indirect = _INDIRECT_RE.match(text)
    if indirect:
        rest = text[indirect.end() :].split()
        if rest and (rest[0] in _ONE_WORD or rest[0] in {"if", "whether"}):
            words = rest
            text = " ".join(words)
    first = words[0]
    second = words[1] if len(words) > 1 else ""
    if first in {"if", "whether"}:
        return "polar"
    if first in {"what", "whats", "what's"}:
        if _WAY_RE.match(text) or _WHAT_DO_RE.match(text):
            return "manner"
        if _REASON_RE.match(text):
            return "reason"
    if _ABILITY_RE.match(text):
        return "ability"
    if _EXIST_RE.match(text):
        return "exist"
    if (first, second) in _TWO_WORD:
        form = _TWO_WORD[(first, second)]
        if form == "quantity" and len(words) > 2 and words[2] in _TIME_NOUNS:
            return "duration"
        return form
    if first in _ONE_WORD:
        return _ONE_WORD[first]
    if first in _AUX and clause.rstrip().endswith("?"):
        return _AUX[first]
    return ""


@lru_cache(maxsize=65536)
def question_form(text: str) -> str:
    """The form of the first question clause of ``text`` (``""`` when it asks nothing).

    A clause counts when it starts (after leading fillers such as "so" or "hi") with a question
    word, or with an auxiliary verb and ends with "?". Statements around the question ("I want to
    cancel an order. How do I do that?") do not count.
    """
    norm = unicodedata.normalize("NFKC", text).replace("\u2019", "'")
    clauses = _CLAUSE_RE.findall(norm)
    forms = [_clause_form(c) for c in clauses]
    return next((f for f in forms if f), "")


def forms_conflict(a: str, b: str) -> bool:
    """Whether questions of forms ``a`` and ``b`` cannot share an answer.

    A statement (``""``) conflicts with nothing; two different forms conflict unless one may
    answer the other (an open what/which question and a time, place or amount question; "can I
    ...?" and "how do I ...?"; yes/no questions of fact, ability, existence and prediction).
    """
    if not a or not b or a == b:
        return False
    return b not in _COMPATIBLE.get(a, frozenset()) and a not in _COMPATIBLE.get(b, frozenset())


# Characters that change what a token means; ordinary punctuation is not among them.
_SIGNS = frozenset("+#^*%@$€£¥&|!=<>~")
_EDGE_PUNCT = "?.,;:()[]{}\"'!`"
_MONEY_RE = re.compile(r"([$€£¥])\d[\d.,]*[kmb]?")
_CURRENCY_WORDS = {
    **dict.fromkeys(["pound", "pounds", "quid", "gbp"], "£"),
    **dict.fromkeys(["dollar", "dollars", "usd", "bucks"], "$"),
    **dict.fromkeys(["euro", "euros", "eur"], "€"),
    **dict.fromkeys(["yen", "jpy"], "¥"),
}


@lru_cache(maxsize=65536)
def sign_tokens(text: str) -> frozenset[str]:
    """Tokens of ``text`` that carry a sign: ``c++``, ``c#``, ``o-``, ``ab+``, ``!=``, ``$path``, ``10%``.

    A slash is not a sign ("downloaded/processed" is "or"). A hyphen counts only at the end of a
    token ("O-", "i--") or doubled at its start ("--force"), never inside a word ("check-in") or
    alone; a dot only at a token's start (".NET"). Trailing sentence punctuation is ignored
    ("C++?" is "c++"; a final "!" is punctuation, "!=" is not). "15 percent" counts as "15%";
    an amount's currency counts as its sign, written or named ("£50" and "fifty pounds": ``£``).
    """
    out: set[str] = set()
    prev = ""
    for raw in unicodedata.normalize("NFKC", text).split():
        tok = raw.lower()
        bare = tok.strip(_EDGE_PUNCT)
        if bare == "percent" and prev[:1].isdigit():
            out.add(prev + "%")  # "15 percent" is "15%"
        if bare in _CURRENCY_WORDS:
            out.add(_CURRENCY_WORDS[bare])  # "fifty pounds" names the currency of "£50"
        prev = tok
        money = _MONEY_RE.fullmatch(bare)
        if money:
            out.add(money.group(1))  # "£50": the currency is a sign, the amount a number
            continue
        # sentence punctuation goes, unless nothing but signs would be left ("$?" and "$!" differ)
        while len(tok) > 1 and tok[-1] in _EDGE_PUNCT and tok[-2:] not in {"!=", "=="}:
            if not any(c.isalnum() for c in tok[:-1]):
                break
            tok = tok[:-1]
        tok = tok.lstrip("([{\"'`")
        if not tok:
            continue
        signed = any(c in _SIGNS for c in tok)
        signed = signed or ((len(tok) > 1 and tok.endswith("-") and tok[-2].isalnum()) or tok.endswith("--"))
        signed = signed or tok.startswith("--") or (tok.startswith(".") and len(tok) > 1 and tok[1].isalpha())
        if signed and not (tok.startswith(("http://", "https://", "www."))):
            out.add(tok)
    return frozenset(out)


_RELATIONS = frozenset(
    [
        "from",
        "to",
        "into",
        "onto",
        "than",
        "vs",
        "versus",
        "toward",
        "towards",
        "of",
        "for",
        "by",
        "after",
        "before",
        "against",
        "over",
        "under",
        "between",
    ]
)
_WINDOW = 4


def _positions(content: tuple[str, ...]) -> dict[str, int]:
    seen: dict[str, int] = {}
    dup: set[str] = set()
    for i, w in enumerate(content):
        if w in seen:
            dup.add(w)
        seen[w] = i
    return {w: i for w, i in seen.items() if w not in dup}


def roles_swapped(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Whether two words swap places between two texts' word stems (``a`` and ``b``, in order).

    ``a`` and ``b`` are the texts' words (stemmed, function words included). Two content stems
    that occur once in each text, in the opposite order and a few words apart, count as a swap
    when the same relation word (from, to, of, than...) or the same content word stands between
    them in both texts: "children deceive parents" / "parents deceive children".
    """
    from langchain_costrouter.core.cache.lexicon import FUNCTION_WORDS

    pa, pb = _positions(a), _positions(b)
    shared = [w for w in pa if w in pb and w not in FUNCTION_WORDS and len(w) > 1]
    for i, x in enumerate(shared):
        for y in shared[i + 1 :]:
            ax, ay, bx, by = pa[x], pa[y], pb[x], pb[y]
            if (ax < ay) == (bx < by) or abs(ax - ay) > _WINDOW or abs(bx - by) > _WINDOW:
                continue
            joint = set(a[min(ax, ay) + 1 : max(ax, ay)]) & set(b[min(bx, by) + 1 : max(bx, by)])
            if any(w in _RELATIONS or w not in FUNCTION_WORDS for w in joint):
                return True
    return False


_COMPOUND_RE = re.compile(r"(?<![\w-])[A-Za-z0-9]+(?:[-_.:][A-Za-z0-9]+)+(?![\w-])")
_PART_RE = re.compile(r"[-_.:]")


@lru_cache(maxsize=65536)
def compounds(text: str) -> frozenset[tuple[str, ...]]:
    """Compound identifiers of ``text`` split into their parts: ``zeta-admin`` -> ``("zeta", "admin")``."""
    out = set()
    for m in _COMPOUND_RE.finditer(unicodedata.normalize("NFKC", text)):
        parts = tuple(p.lower() for p in _PART_RE.split(m.group(0)) if p)
        if len(parts) > 1:
            out.add(parts)
    return frozenset(out)


def identifiers_differ(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> bool:
    """Whether two texts name different identifiers of one family: ``zeta-admin`` / ``zeta-guest``.

    Two compounds with the same number of parts, sharing some parts and differing in others, are
    two members of a family (roles, regions, plans, flags), never a rewording; a compound written
    differently ("e-mail" / "email", "2-year" / "two-year") has no such partner and does not count,
    nor do compounds that differ only in a number (the numbers check sees those).
    """
    from langchain_costrouter.core.cache.lexicon import NUMBER_WORDS

    def norm(parts: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(NUMBER_WORDS.get(p, p) for p in parts)

    na, nb = {norm(x) for x in a}, {norm(y) for y in b}
    for x in na - nb:
        for y in nb - na:
            if len(x) != len(y):
                continue
            pairs = list(zip(x, y, strict=True))
            differ = [(p, q) for p, q in pairs if p != q]
            # numbers are the numbers check's business ("2-year" / "3-year")
            if len(differ) < len(pairs) and any(not (p.isdigit() and q.isdigit()) for p, q in differ):
                return True
    return False
