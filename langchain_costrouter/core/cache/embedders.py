"""Sentence embedders for the semantic cache.

:class:`Embedder` is the protocol the cache needs: a name, a dimension and ``embed`` returning
unit-length float32 rows. :class:`WordLlamaEmbedder` is the offline default (static 256-dim
embeddings shipped inside the ``wordllama`` wheel, no network, ~30 µs a sentence). Any
LangChain ``Embeddings`` object plugs in through
:class:`langchain_costrouter.lc_cache.LangChainEmbedder`; an embedder that costs money names
its priced model in ``priced_model`` and the cache reports its tokens as an overhead call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from langchain_costrouter.core.errors import CacheError, ConfigError

__all__ = ["CallableEmbedder", "Embedder", "WordLlamaEmbedder", "estimate_tokens", "make_embedder", "unit_rows"]

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """What the semantic cache needs from an embedding model.

    Attributes:
        name: Identifies the model; vectors of two names never mix (it is part of the store path).
        dimension: Length of each vector.
        priced_model: The model name to price calls with, or ``None`` for a free local model.
    """

    name: str
    dimension: int
    priced_model: str | None

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit-length float32 vectors, one row per text."""
        ...


def unit_rows(matrix: Any) -> Vectors:
    """``matrix`` as float32 rows of unit length (zero rows stay zero)."""
    arr = np.asarray(matrix, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(arr / norms, dtype=np.float32)


def estimate_tokens(texts: Sequence[str]) -> int:
    """A rough token count (4 characters a token) for pricing API embeddings."""
    return sum(max(1, len(t) // 4) for t in texts)


class WordLlamaEmbedder:
    """The offline default: wordllama's 256-dim static embeddings, loaded without the hub.

    Args:
        dim: Embedding size (the wheel ships 256; smaller values truncate, matryoshka-style).
    """

    priced_model: str | None = None

    def __init__(self, dim: int = 256) -> None:
        self.dimension = dim
        self.name = f"wordllama-l2-supercat-{dim}"
        self._model: Any = None
        self._lock = threading.Lock()
        self._known: dict[str, bool] = {}

    def _load(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    try:
                        import wordllama
                    except ImportError as exc:  # pragma: no cover - a core dependency
                        msg = "wordllama is not installed; install langchain-costrouter with its dependencies"
                        raise CacheError(msg) from exc
                    self._model = wordllama.WordLlama.load(
                        dim=self.dimension,
                        cache_dir=Path(wordllama.__file__).parent,
                        disable_download=True,
                    )
        return self._model

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit-length vectors of ``texts``."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._load()
        return unit_rows(model.embed(list(texts), norm=True))

    def known_word(self, word: str) -> bool:
        """Whether ``word`` is one token of the model's vocabulary (a typo usually is not)."""
        hit = self._known.get(word)
        if hit is None:
            enc = self._load().tokenizer.encode(" " + word, add_special_tokens=False)
            hit = len([t for t in enc.tokens if t != "\u2581"]) == 1
            if len(self._known) < 100_000:
                self._known[word] = hit
        return hit


class CallableEmbedder:
    """Wraps a plain function ``texts -> array`` (tests, custom models).

    Args:
        func: Returns one vector per text.
        dimension: Vector length.
        name: Model identity (part of the store path).
        priced_model: Set when calls cost money.
    """

    def __init__(
        self,
        func: Callable[[Sequence[str]], Any],
        dimension: int,
        *,
        name: str = "callable",
        priced_model: str | None = None,
    ) -> None:
        self._func = func
        self.dimension = dimension
        self.name = name
        self.priced_model = priced_model

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit-length vectors from the wrapped function."""
        out = unit_rows(self._func(list(texts)))
        if out.shape != (len(texts), self.dimension):
            msg = f"embedder {self.name!r} returned shape {out.shape}, expected ({len(texts)}, {self.dimension})"
            raise CacheError(msg)
        return out


def make_embedder(encoder: str) -> Embedder:
    """The embedder named by ``cache.encoder`` in the configuration.

    ``wordllama`` (default, offline) or ``wordllama:<dim>``. Other encoders (MiniLM, an API
    model) are LangChain ``Embeddings`` objects passed to the cache directly.

    Raises:
        ConfigError: an unknown encoder name.
    """
    name, _, arg = encoder.partition(":")
    if name == "wordllama":
        return WordLlamaEmbedder(int(arg) if arg else 256)
    msg = (
        f"unknown encoder {encoder!r}; use 'wordllama' or pass a LangChain Embeddings object "
        "(langchain_costrouter.lc_cache.LangChainEmbedder)"
    )
    raise ConfigError("cache.encoder", msg)
