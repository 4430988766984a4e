"""Soft word alignment between two texts: can every content word be matched in the other text?

A paraphrase rewords ("price" / "cost", "employ" / "use", "recycled" / "recycling"); a different
question substitutes ("message" / "account", "child" / "I"). The lexical check in
:mod:`.guard` explains a word by its stem, a spelling variant or a listed synonym and counts the
rest; here each content word of one text is aligned to its most similar content word of the
other, by the cosine of their static word vectors (wordllama's token embeddings, averaged over a
word's tokens) and by character 3-grams (morphology), and :func:`alignment_features` summarises
how well the least aligned words are matched. These are verifier features, never vetoes.

The word vectors come from wordllama (a core dependency) whatever the sentence encoder is, so
the features are the same for every encoder; one model is loaded per process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from langchain_costrouter.core.cache.features import TextFeatures, stem, typo_variant

__all__ = ["ALIGNMENT_FEATURES", "WordVectors", "alignment_features", "word_vectors"]

logger = logging.getLogger(__name__)

ALIGNMENT_FEATURES: tuple[str, ...] = (
    "align_min",
    "align_mean",
    "align_share_50",
    "align_share_70",
    "align_min2",
    "char_align_min",
    "char_align_mean",
)
_WORD_START = "\u2581"
_CACHE_WORDS = 200_000
_CACHE_TEXTS = 65_536
_TYPO_CHARS = 0.2  # a spelling variant shares some 3-grams; skip the edit distance otherwise


class WordVectors:
    """Unit word vectors from wordllama's token embeddings (mean over the word's tokens).

    Args:
        dim: wordllama dimension (the wheel ships 256).
    """

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self._matrix: npt.NDArray[np.float32] | None = None
        self._tokenizer: object = None
        self._cache: dict[str, npt.NDArray[np.float32]] = {}
        self._rows: dict[tuple[str, ...], npt.NDArray[np.float32]] = {}
        self._lock = threading.Lock()

    def _load(self) -> npt.NDArray[np.float32]:
        if self._matrix is None:
            with self._lock:
                if self._matrix is None:
                    from langchain_costrouter.core.embeddings import load_wordllama

                    model = load_wordllama(self.dim)
                    self._tokenizer = model.tokenizer
                    self._matrix = np.asarray(model.embedding, dtype=np.float32)
        return self._matrix

    def vector(self, word: str) -> npt.NDArray[np.float32]:
        """The unit vector of ``word`` (zeros for a word without tokens)."""
        vec = self._cache.get(word)
        if vec is not None:
            return vec
        matrix = self._load()
        enc = self._tokenizer.encode(word, add_special_tokens=False)  # type: ignore[attr-defined]
        ids = [i for i, t in zip(enc.ids, enc.tokens, strict=True) if t != _WORD_START]
        vec = matrix[ids].mean(axis=0) if ids else np.zeros(matrix.shape[1], dtype=np.float32)
        norm = float(np.linalg.norm(vec))
        vec = (vec / norm if norm else vec).astype(np.float32)
        if len(self._cache) < _CACHE_WORDS:
            self._cache[word] = vec
        return vec

    def matrix(self, words: tuple[str, ...]) -> npt.NDArray[np.float32]:
        """One unit row per word (memoised per word tuple: a cached query is compared again and again)."""
        mat = self._rows.get(words)
        if mat is None:
            mat = np.stack([self.vector(w) for w in words]) if words else np.zeros((0, self.dim), np.float32)
            if len(self._rows) < _CACHE_TEXTS:
                self._rows[words] = mat
        return mat


_DEFAULT: dict[int, WordVectors] = {}


def word_vectors(dim: int = 256) -> WordVectors:
    """The process-wide :class:`WordVectors` (loaded on first use)."""
    wv = _DEFAULT.get(dim)
    if wv is None:
        wv = _DEFAULT.setdefault(dim, WordVectors(dim))
    return wv


@lru_cache(maxsize=200_000)
def _char3(word: str) -> frozenset[str]:
    w = f" {word} "
    return frozenset(w[i : i + 3] for i in range(len(w) - 2))


def _typo(x: str, y: str, known: Callable[[str], bool] | None) -> bool:
    return x[:1] == y[:1] and abs(len(x) - len(y)) <= 2 and typo_variant(x, y, known)


def alignment_features(
    a: TextFeatures,
    b: TextFeatures,
    *,
    vectors: WordVectors | None = None,
    known: Callable[[str], bool] | None = None,
    synonyms: Callable[[str], frozenset[str]] = lambda _: frozenset(),
) -> list[float]:
    """The :data:`ALIGNMENT_FEATURES` of a pair (symmetric in ``a`` and ``b``).

    Each content word is scored by its best match in the other text: 1 for the same stem, a
    spelling variant or a synonym (``synonyms``: the listed ones, and WordNet's when the policy
    names it), else the cosine of the word vectors. Features: the
    lowest score over both texts, the mean, the share of words scoring at least 0.5 / 0.7, the
    mean of the two lowest, and the same lowest / mean for character-3-gram similarity.
    """
    wa = tuple(dict.fromkeys(a.content))
    wb = tuple(dict.fromkeys(b.content))
    if not wa or not wb:
        same = float(wa == wb)
        return [same, same, same, same, same, same, same]
    wv = vectors or word_vectors()
    sims = wv.matrix(wa) @ wv.matrix(wb).T
    stems_b = [stem(y) for y in wb]
    grams_b = [_char3(y) for y in wb]
    chars = np.empty(sims.shape, dtype=np.float64)
    for i, x in enumerate(wa):
        sx, gx, syn = stem(x), _char3(x), synonyms(x)
        row = chars[i]
        for j, y in enumerate(wb):
            shared = len(gx & grams_b[j])
            row[j] = c = shared / (len(gx) + len(grams_b[j]) - shared)
            if sx == stems_b[j] or y in syn or stems_b[j] in syn or (c >= _TYPO_CHARS and _typo(x, y, known)):
                sims[i, j] = 1.0
    best = sims.max(axis=1).tolist() + sims.max(axis=0).tolist()
    best_c = chars.max(axis=1).tolist() + chars.max(axis=0).tolist()
    n = len(best)
    low2 = sorted(best)[:2]
    return [
        min(best),
        sum(best) / n,
        sum(v >= 0.5 for v in best) / n,
        sum(v >= 0.7 for v in best) / n,
        sum(low2) / len(low2),
        min(best_c),
        sum(best_c) / n,
    ]
