"""WordNet synonyms and vocabulary for the cache's verifier and spelling correction.

A paraphrase rewords ("employ" / "use", "store" / "shop", "dispute" / "challenge"), and the
static word vectors of :mod:`.align` see little of that (cosine 0.08 for "employ" / "use"). WordNet
lists such words in one synset. Only each word's first two senses per part of speech are used
(WordNet orders senses by corpus frequency): further senses make nearly any two common words
synonyms ("card" / "poster", "track" / "cross", "run" / "operate"), which would explain away the
slot changes a false hit is made of. Even first senses are loose ("car" / "machine"), so a
WordNet match is evidence the calibrated verifier weighs (through the word alignment of
:mod:`.align`), never a reason to serve on its own.

The data file (``data/wordnet_lexicon.json.gz``) is built from WordNet 3.1 by
``scripts/build_wordnet_lexicon.py`` and carries Princeton's licence (see NOTICE). It is loaded
once per process, on first use (about 0.3 s).
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from langchain_costrouter.core._resources import data_path
from langchain_costrouter.core.cache.features import stem
from langchain_costrouter.core.errors import DataError

__all__ = ["LEXICON_NAME", "WordNetLexicon", "wordnet"]

# The name a policy records when its verifier was fitted with WordNet synonyms.
LEXICON_NAME = "wordnet-3.1"
_DATA_FILE = "wordnet_lexicon.json.gz"
# Inflection rules tried to find a word's base form: (suffix, replacement).
_INFLECTIONS: tuple[tuple[str, str], ...] = (
    ("ies", "y"),
    ("es", ""),
    ("s", ""),
    ("ed", ""),
    ("ed", "e"),
    ("ing", ""),
    ("ing", "e"),
    ("er", ""),
    ("er", "e"),
    ("est", ""),
)
_MIN_BASE = 2


class WordNetLexicon:
    """Synsets of the most frequent senses and the vocabulary of WordNet.

    Args:
        data: The decoded data file (``synsets``, ``lemmas``, ``vocabulary``, ``senses``).

    Raises:
        DataError: the data lacks one of those keys.
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        try:
            self._synsets: Sequence[Sequence[str]] = data["synsets"]
            self._lemmas: Mapping[str, Sequence[int]] = data["lemmas"]
            self._vocabulary: Mapping[str, int] = data["vocabulary"]
            self.senses = int(data["senses"])
        except (KeyError, TypeError, ValueError) as exc:
            msg = f"WordNet lexicon data is malformed: {exc!r}"
            raise DataError(msg) from exc
        self._syn_cache: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def base_forms(self, word: str) -> tuple[str, ...]:
        """``word`` (lower-cased) and its de-inflected forms that WordNet knows."""
        w = word.lower()
        forms = [w]
        for suffix, repl in _INFLECTIONS:
            if w.endswith(suffix) and len(w) - len(suffix) >= _MIN_BASE:
                forms.append(w[: -len(suffix)] + repl)
        s = stem(w)
        forms.append(s)
        if len(s) > 2 and s[-1] == s[-2]:
            forms.append(s[:-1])
        return tuple(f for f in dict.fromkeys(forms) if f in self._vocabulary)

    def is_word(self, word: str) -> bool:
        """Whether ``word`` or one of its de-inflected forms is a WordNet lemma."""
        return bool(self.base_forms(word))

    def commonness(self, word: str) -> int:
        """How many senses WordNet lists for the word's base forms (0 when unknown)."""
        return max((self._vocabulary[f] for f in self.base_forms(word)), default=0)

    def inflected_commonness(self, word: str) -> int:
        """Senses of ``word`` as a lemma or a regular inflection of one (0 when neither).

        Stricter than :meth:`commonness` (no stemming, no -er/-est, spelling rules enforced):
        spelling candidates are generated strings, and loose de-inflection would accept junk
        ("oweed", "optimizees").
        """
        w = word.lower()
        vocab = self._vocabulary
        return max((vocab.get(b, 0) for b in (w, *_regular_bases(w, vocab))), default=0)

    def synonyms(self, word: str) -> frozenset[str]:
        """Words sharing a synset with one of ``word``'s first senses (``word`` excluded)."""
        w = word.lower()
        hit = self._syn_cache.get(w)
        if hit is not None:
            return hit
        out: set[str] = set()
        for form in self.base_forms(w):
            for i in self._lemmas.get(form, ()):
                out.update(self._synsets[i])
        out.discard(w)
        result = frozenset(out)
        with self._lock:
            if len(self._syn_cache) < 200_000:
                self._syn_cache[w] = result
        return result


def _regular_bases(w: str, vocabulary: Mapping[str, int]) -> list[str]:
    """Bases of which ``w`` is a regular -s/-es/-ies/-ed/-ing form, by English spelling rules.

    A plural of a participle ("oweds") is not one unless WordNet lists the participle as a word.
    """
    out = []
    if w.endswith("ies") and len(w) > 4 and w[-4] not in "aeiou":
        out.append(w[:-3] + "y")
    elif w.endswith("es") and w[:-2].endswith(("s", "x", "z", "ch", "sh", "o")):
        out.append(w[:-2])
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")) and not w[:-1].endswith(("x", "z", "ch", "sh")):
        base = w[:-1]
        if base in vocabulary or not base.endswith(("ed", "ing")):
            out.append(base)
    for suffix in ("ed", "ing"):
        if w.endswith(suffix) and len(w) - len(suffix) >= _MIN_BASE:
            base = w[: -len(suffix)]
            if not base.endswith("e"):
                out.append(base)
                out.append(base + "e")
                if len(base) > _MIN_BASE and base[-1] == base[-2]:
                    out.append(base[:-1])
    if w.endswith("ied") and len(w) > 4:
        out.append(w[:-3] + "y")
    return out


@lru_cache(maxsize=1)
def wordnet() -> WordNetLexicon:
    """The packaged WordNet lexicon (loaded once).

    Raises:
        DataError: the data file is missing or unreadable.
    """
    try:
        data = json.loads(gzip.decompress(data_path(_DATA_FILE).read_bytes()))
    except (OSError, ValueError) as exc:
        msg = f"cannot load the WordNet lexicon {_DATA_FILE}: {exc}"
        raise DataError(msg) from exc
    return WordNetLexicon(data)
