"""The form of a query the semantic level compares: shouting lowered, misspellings corrected.

"WHAT ARE YOUR DELIVERY OPTIONS?" and "How do I chnage my adress?" ask what their plain
spelling asks, but a subword encoder sees other tokens (wordllama's cosine of the shouted
question with its plain form is 0.26, of the misspelled one 0.37), and the guard reads every
capitalised word as a name. The semantic level therefore embeds and checks
:func:`semantic_form` of each text; the exact level keeps the text as sent.

Corrections are conservative: only an unknown word (not a WordNet lemma or inflection, not a
function word, not one token of the encoder's vocabulary) of at least four letters, in lower case
(or capitalised at the start of a sentence), outside backticks, is replaced, and only by a WordNet
or function word one edit away that keeps the first letter (typists rarely miss it; "pyarrow"
is not "yarrow"): swapped letters first, then a dropped letter or apostrophe ("whats"), then
(five letters or more) a wrong letter, an extra letter; the most common word of the first kind
that yields any, ties left alone; one-sense WordNet words are never a correction. A text with
non-ASCII letters, or in which fewer than 60 % of the words are English words or their typos,
is not corrected at all (another language's words are not misspellings). Names
(capitalised inside a sentence), acronyms, identifiers and words with digits are never touched.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from string import ascii_lowercase

from langchain_costrouter.core.cache.lexicon import FUNCTION_WORDS, NEGATORS
from langchain_costrouter.core.cache.wordnet import wordnet

__all__ = ["correct_word", "semantic_form", "unshout"]

_TOKEN_RE = re.compile(r"`[^`]*`|(?<![\w.@/-])[A-Za-z]+(?:'[a-z]+)?(?![\w@/-]|\.\w)")
_WORD_RE = re.compile(r"[A-Za-z]{2,}")
_MIN_KNOWN_SHARE = 0.6
_SENTENCE_START_RE = re.compile(r"(?:^|[.!?]\s+)$")
_MIN_LETTERS = 4
_FUNCTION_COMMONNESS = 1000  # function words are the most common words
# A correction must be a word WordNet gives at least two senses: rare one-sense lemmas (genera,
# "confit", "cauda") are closer to jargon ("configs", "cuda") than to what a typist meant.
_MIN_COMMONNESS = 2
_CONTRACTED = FUNCTION_WORDS | NEGATORS
_SHOUT_LETTERS = 12
_SHOUT_SHARE = 0.8


def unshout(text: str) -> str:
    """``text`` in sentence case when it is (almost) all capitals, else unchanged."""
    letters = [c for c in text if c.isalpha()]
    if len(letters) < _SHOUT_LETTERS or sum(c.isupper() for c in letters) < _SHOUT_SHARE * len(letters):
        return text
    low = text.lower()
    i = next(i for i, c in enumerate(low) if c.isalpha())
    return low[:i] + low[i].upper() + low[i + 1 :]


def _edits(word: str) -> list[set[str]]:
    """One-edit variants of ``word``, grouped by how often typing produces them.

    Swapped letters, a dropped letter or apostrophe (the word is one longer), then, for words of
    five letters or more (shorter ones have too many neighbours), a wrong letter, an extra letter.
    """
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    swapped = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    dropped = {a + c + b for a, b in splits for c in ascii_lowercase + "'"}
    groups = [swapped, dropped]
    if len(word) >= _MIN_LETTERS + 1:
        groups.append({a + c + b[1:] for a, b in splits if b for c in ascii_lowercase})
        groups.append({a + b[1:] for a, b in splits if b})
    return [s - {word} for s in groups]


@lru_cache(maxsize=65_536)
def correct_word(word: str) -> str | None:
    """The WordNet word one edit away from lower-case ``word``, or ``None``.

    Edit kinds are tried in the order of :func:`_edits`; within the first kind that yields
    WordNet words, the most common one wins (a tie corrects nothing).
    """
    lex = wordnet()
    for group in _edits(word):
        scored = sorted(
            (
                (_FUNCTION_COMMONNESS if c in _CONTRACTED else lex.inflected_commonness(c), c)
                for c in group
                if c[:1] == word[:1] and ("'" not in c or c in _CONTRACTED)
            ),
            reverse=True,
        )
        scored = [s for s in scored if s[0] >= _MIN_COMMONNESS]
        if scored:
            if len(scored) > 1 and scored[1][0] == scored[0][0]:
                return None
            return scored[0][1]
    return None


def _known(word: str, known: Callable[[str], bool] | None) -> bool:
    return word in _CONTRACTED or wordnet().is_word(word) or (known is not None and known(word))


def _looks_english(text: str, known: Callable[[str], bool] | None) -> bool:
    """Whether spelling correction may run: no non-ASCII letters, mostly English words.

    A word counts as English when it is known or one edit from a known word (a typo).

    Another language's words are "unknown" English words one edit away from English ones
    ("cancelo" / "cancel"): correcting them would rewrite the question, so such texts are left
    as they are.
    """
    if any(c.isalpha() and not c.isascii() for c in text):
        return False
    words = [w.lower() for w in _WORD_RE.findall(text)]
    if not words:
        return False
    english = sum(_known(w, known) or (len(w) >= _MIN_LETTERS and correct_word(w) is not None) for w in words)
    return english >= _MIN_KNOWN_SHARE * len(words)


@lru_cache(maxsize=65_536)
def semantic_form(text: str, known: Callable[[str], bool] | None = None) -> str:
    """``text`` unshouted and with misspelled words corrected (see the module docstring).

    Args:
        text: A query (already normalised for the exact level).
        known: The encoder's vocabulary test (a word it knows is never corrected).
    """
    text = unshout(text)
    if not _looks_english(text, known):
        return text

    def fix(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok.startswith("`") or len(tok) < _MIN_LETTERS or "'" in tok or not tok[1:].islower():
            return tok
        if tok[0].isupper() and not _SENTENCE_START_RE.search(text[: m.start()]):
            return tok  # a capitalised word inside a sentence is a name
        low = tok.lower()
        if _known(low, known):
            return tok
        new = correct_word(low)
        if new is None:
            return tok
        return new.capitalize() if tok[0].isupper() else new

    return _TOKEN_RE.sub(fix, text)
