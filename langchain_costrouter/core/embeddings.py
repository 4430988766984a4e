"""Sentence embeddings for routing and caching, offline by default.

:class:`Embedder` is the protocol the core uses; :class:`WordLlamaEmbedder` is the embedded
default (256-dim static embeddings shipped inside the ``wordllama`` wheel, numpy only, loaded
without touching the network). Any LangChain ``Embeddings`` object can be adapted in the
LangChain layer; the core never imports LangChain.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["Embedder", "WordLlamaEmbedder", "get_embedder", "load_wordllama", "normalize_rows"]

FloatArray = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors (one row per text)."""

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    @property
    def name(self) -> str:
        """A stable identifier (part of cache keys: vectors of two embedders never mix)."""
        ...

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Embeds ``texts``; returns an array of shape ``(len(texts), dim)``."""
        ...


def normalize_rows(vectors: Any) -> FloatArray:
    """L2-normalises each row (zero rows stay zero)."""
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(arr / norms, dtype=np.float32)


_WORDLLAMA: dict[int, Any] = {}
_WORDLLAMA_LOCK = threading.Lock()


def load_wordllama(dim: int = 256) -> Any:
    """The wordllama model shipped in its wheel, loaded once per process without the hub.

    Routing, the learned gate and the semantic cache all share this one loaded model.
    """
    model = _WORDLLAMA.get(dim)
    if model is None:
        with _WORDLLAMA_LOCK:
            model = _WORDLLAMA.get(dim)
            if model is None:
                import wordllama
                from wordllama import WordLlama

                model = WordLlama.load(dim=dim, cache_dir=Path(wordllama.__file__).parent, disable_download=True)
                _WORDLLAMA[dim] = model
    return model


class WordLlamaEmbedder:
    """The offline default: wordllama's 256-dim model, loaded from the installed wheel.

    The model (16 MB) is loaded lazily on first use and shared by all instances.
    """

    def __init__(self, dim: int = 256) -> None:
        self._dim = dim

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def name(self) -> str:
        return f"wordllama-{self._dim}"

    def _model(self) -> Any:
        return load_wordllama(self._dim)

    def embed(self, texts: Sequence[str]) -> FloatArray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        vecs = self._model().embed(list(texts), norm=True)
        return normalize_rows(vecs)


def get_embedder(name: str) -> Embedder:
    """An embedder by config name (``wordllama``, ``wordllama-<dim>``).

    Raises:
        ConfigError: the name is unknown (plug other embedders in through the API).
    """
    from langchain_costrouter.core.errors import ConfigError

    if name == "wordllama":
        return WordLlamaEmbedder()
    if name.startswith("wordllama-") and name.split("-", 1)[1].isdigit():
        return WordLlamaEmbedder(int(name.split("-", 1)[1]))
    raise ConfigError("encoder", f"unknown encoder {name!r}; use 'wordllama' or pass an Embedder object")
