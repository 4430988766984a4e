"""GPTCache as the cache's data manager: SQLite for the entries, faiss for the vectors.

Three fixes at the depth where GPTCache 0.1.44 goes wrong:

- **No run-time pip**: GPTCache installs missing optional packages with ``pip`` while serving.
  :func:`disable_runtime_install` replaces that hook with one raising :class:`CacheError`.
- **No write per hit**: ``SSDataManager.get_scalar_data`` writes ``last_access`` to SQLite on
  every hit (1.7 ms of a 3.3 ms lookup at 10k entries). The engine keeps an id -> entry index
  in memory (loaded from SQLite at start), so a hit reads no row and writes none; recency
  lives in GPTCache's in-memory LRU eviction (``hit_cache_callback``).
- **Sub-linear search**: GPTCache's faiss store is a flat ``IDMap,Flat`` index (8.5 ms a query at
  100k entries here). :class:`HNSWFaissStore` is a GPTCache ``VectorBase`` on a faiss HNSW
  graph (inner product on unit vectors) with deletions as tombstones and a rebuild once a
  fifth of the graph is dead.

SQLite stays GPTCache's ``sqlite`` scalar store with its eviction manager (``max_size`` from the
configuration instead of its 1000-entry default).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from langchain_costrouter.core.errors import CacheError

__all__ = ["HNSWFaissStore", "StoredRow", "disable_runtime_install", "open_data_manager", "read_rows"]

logger = logging.getLogger(__name__)

_INSTALL_LOCK = threading.Lock()
_installed_guard = False


def _refuse_install(package: str, warn: bool = False) -> None:
    msg = (
        f"GPTCache tried to pip-install {package!r} at run time; this is disabled. "
        "Install optional dependencies up front (e.g. pip install 'langchain-costrouter[minilm]')."
    )
    raise CacheError(msg)


def disable_runtime_install() -> None:
    """Makes GPTCache raise instead of running ``pip install`` for a missing package."""
    global _installed_guard  # noqa: PLW0603 - a process-wide, idempotent patch
    with _INSTALL_LOCK:
        if _installed_guard:
            return
        import gptcache.utils as gu
        import gptcache.utils.dependency_control as dc

        dc.prompt_install = _refuse_install
        gu.prompt_install = _refuse_install
        _installed_guard = True


def _vector_base() -> type[Any]:
    disable_runtime_install()
    from gptcache.manager.vector_data.base import VectorBase

    base: type[Any] = VectorBase
    return base


class HNSWFaissStore(_vector_base()):  # type: ignore[misc]
    """A GPTCache ``VectorBase`` on a faiss HNSW graph (inner product on unit vectors).

    ``search`` returns ``(similarity, id)`` pairs, best first. Deleted ids are tombstones
    filtered out of results until :meth:`rebuild` drops them.

    Args:
        index_path: Where :meth:`flush` writes the index.
        dimension: Vector length.
        m: HNSW graph degree.
        ef_search: HNSW search breadth (recall vs. speed).
        threads: OpenMP threads faiss may use. One query gains nothing from threads, and on a
            busy machine OpenMP's spin-up costs milliseconds (7 ms vs 0.2 ms measured at 10k
            entries), so the default is 1; bulk rebuilds use every core.
    """

    def __init__(
        self, index_path: str, dimension: int, *, m: int = 32, ef_search: int = 64, threads: int | None = 1
    ) -> None:
        import faiss

        if threads is not None:
            faiss.omp_set_num_threads(threads)
        self._threads = threads
        self._faiss = faiss
        self._path = index_path
        self.dimension = dimension
        self._m = m
        self._ef = ef_search
        self._lock = threading.RLock()
        self._dead: set[int] = set()
        self._index: Any = None
        if Path(index_path).is_file():
            try:
                self._index = faiss.read_index(index_path)
                if self._index.d != dimension:
                    self._index = None
            except RuntimeError:
                logger.warning("unreadable vector index %s; rebuilding from SQLite", index_path)
                self._index = None
        if self._index is None:
            self._index = self._new_index()
        self._set_ef()

    def _new_index(self) -> Any:
        inner = self._faiss.IndexHNSWFlat(self.dimension, self._m, self._faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = 40
        return self._faiss.IndexIDMap2(inner)

    def _set_ef(self) -> None:
        inner: Any = self._faiss.downcast_index(self._index.index)
        inner.hnsw.efSearch = self._ef

    def ids(self) -> npt.NDArray[np.int64]:
        """Every id in the graph (tombstones included)."""
        return np.asarray(self._faiss.vector_to_array(self._index.id_map), dtype=np.int64)

    def mul_add(self, datas: Sequence[Any]) -> None:
        """Adds GPTCache ``VectorData`` rows."""
        if not datas:
            return
        vecs = np.ascontiguousarray(np.stack([np.asarray(d.data, dtype=np.float32) for d in datas]))
        ids = np.asarray([int(d.id) for d in datas], dtype=np.int64)
        with self._lock:
            self._index.add_with_ids(vecs, ids)
            self._dead.difference_update(int(i) for i in ids)

    def search(self, data: Any, top_k: int = -1) -> list[tuple[float, int]]:
        """Nearest live ids as ``(similarity, id)``, best first."""
        k = 8 if top_k is None or top_k <= 0 else top_k
        q = np.ascontiguousarray(np.asarray(data, dtype=np.float32).reshape(1, -1))
        with self._lock:
            n = self._index.ntotal
            if n == 0:
                return []
            dead = len(self._dead)
            sims, ids = self._index.search(q, min(n, k + min(dead, 4 * k)))
            dead_ids = self._dead
            out = [
                (float(s), int(i)) for s, i in zip(sims[0], ids[0], strict=True) if i >= 0 and int(i) not in dead_ids
            ]
        return out[:k]

    def delete(self, ids: Sequence[int]) -> bool:
        """Tombstones ``ids``; rebuilds when a fifth of the graph is dead."""
        with self._lock:
            self._dead.update(int(i) for i in ids)
            total = self._index.ntotal
            if len(self._dead) > max(1000, total // 5):
                self._compact()
        return True

    def rebuild(self, ids: Sequence[int] | None = None) -> bool:
        """Keeps only ``ids`` (all live ids when ``None``) and rebuilds the graph."""
        with self._lock:
            if ids is not None:
                keep = {int(i) for i in ids}
                self._dead.update(int(i) for i in self.ids() if int(i) not in keep)
            self._compact()
        return True

    def _compact(self) -> None:
        all_ids = self.ids()
        live_mask = np.asarray([int(i) not in self._dead for i in all_ids], dtype=bool)
        if live_mask.all():
            self._dead.clear()
            return
        live_ids = all_ids[live_mask]
        vecs = self._index.index.reconstruct_n(0, self._index.ntotal)[live_mask] if len(all_ids) else None
        new = self._new_index()
        if vecs is not None and len(live_ids):
            if self._threads is not None:
                self._faiss.omp_set_num_threads(os.cpu_count() or 1)
            try:
                new.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), live_ids)
            finally:
                if self._threads is not None:
                    self._faiss.omp_set_num_threads(self._threads)
        self._index = new
        self._set_ef()
        self._dead.clear()
        logger.info("vector index compacted to %d live vectors", len(live_ids))

    def count(self) -> int:
        """Live vectors."""
        return int(self._index.ntotal) - len(self._dead)

    def flush(self) -> None:
        """Writes the graph to ``index_path`` (tombstones are rebuilt from SQLite on load)."""
        with self._lock:
            self._faiss.write_index(self._index, self._path)

    def close(self) -> None:
        """Flushes."""
        self.flush()


def open_data_manager(
    directory: Path,
    vector_store: HNSWFaissStore,
    *,
    max_size: int,
    on_evict: Callable[[list[int]], None],
) -> Any:
    """GPTCache's ``SSDataManager`` with its ``sqlite`` store, ``vector_store`` and LRU eviction.

    ``on_evict`` is told which ids GPTCache's eviction removed, before they are soft-deleted.
    """
    disable_runtime_install()
    from gptcache.manager import CacheBase
    from gptcache.manager.data_manager import SSDataManager

    class _Manager(SSDataManager):  # type: ignore[misc]
        def _clear(self, marked_keys: list[int]) -> None:
            if marked_keys:
                on_evict([int(k) for k in marked_keys])
            super()._clear(marked_keys)

    directory.mkdir(parents=True, exist_ok=True)
    scalar = CacheBase("sqlite", sql_url=f"sqlite:///{directory / 'sqlite.db'}")
    try:
        with scalar._engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
    except Exception:  # pragma: no cover - cosmetic speed-up only
        logger.debug("could not switch the cache database to WAL", exc_info=True)
    clean = max(1, max_size // 20)
    return _Manager(scalar, vector_store, None, None, max_size, clean, "LRU")


class StoredRow:
    """One live row of GPTCache's SQLite tables."""

    __slots__ = ("answer", "embedding", "id", "question")

    def __init__(self, id_: int, question: str, answer: str, embedding: bytes | None) -> None:
        self.id = id_
        self.question = question
        self.answer = answer
        self.embedding = embedding

    def payload(self) -> dict[str, Any]:
        """The JSON payload the engine wrote as the answer."""
        try:
            data = json.loads(self.answer)
        except json.JSONDecodeError:
            return {}
        return data if isinstance(data, dict) else {}


def read_rows(db_path: Path) -> Iterator[StoredRow]:
    """Live rows of a GPTCache SQLite file, read without touching ``last_access``."""
    if not db_path.is_file():
        return
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        cur = con.execute(
            "SELECT q.id, q.question, a.answer, q.embedding_data FROM gptcache_question q "
            "JOIN gptcache_answer a ON a.question_id = q.id WHERE q.deleted = 0 ORDER BY q.id"
        )
        for id_, question, answer, emb in cur:
            yield StoredRow(int(id_), str(question), str(answer), emb)
    except sqlite3.Error as exc:
        msg = f"cannot read cache database {db_path}: {exc}"
        raise CacheError(msg) from exc
    finally:
        con.close()
