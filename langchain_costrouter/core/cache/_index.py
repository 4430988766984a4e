"""The cache's stored entries: GPTCache's SQLite + vector store and the in-memory index over them.

:class:`EntryIndex` holds what :class:`~.engine.ResponseCache` decides on: the id -> entry map, the
exact-level key map, the entries' semantic forms, the vector store and GPTCache's data manager.
It uses ``__slots__`` and a short ``repr``: a host that walks ``vars()`` of a cache backend
(LiteLLM's ``/cache/ping``) sees one small object, not 100k entries and a faiss graph.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from langchain_costrouter.core.cache.entries import CacheEntry, CacheStats
from langchain_costrouter.core.cache.store import HNSWFaissStore, open_data_manager, read_rows
from langchain_costrouter.core.errors import CacheError
from langchain_costrouter.core.usage import Usage

__all__ = ["PAYLOAD_VERSION", "EntryIndex", "EntryStore", "StoreFactory", "StoreSpec", "entry_of", "safe_name"]

logger = logging.getLogger(__name__)

PAYLOAD_VERSION = 2  # 2: byte-exact queries, scopes with the end user and the attachments


def safe_name(name: str) -> str:
    """A directory name for an embedder name."""
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", name)[:80] or "embedder"


class EntryStore(Protocol):
    """What :class:`~.engine.ResponseCache` needs of its entries' storage.

    :class:`EntryIndex` (the embedded default: GPTCache's SQLite + faiss in a folder) and
    :class:`~.redis_store.RedisEntryIndex` (shared by replicas) implement it. The engine reads
    ``entries``, ``forms`` and ``vectors`` under ``lock``; every decision stays in the engine.
    """

    lock: threading.RLock

    @property
    def entries(self) -> dict[int, CacheEntry]:
        """Entries by id."""
        ...

    @property
    def forms(self) -> dict[int, str]:
        """Semantic forms of the entries' queries, by id."""
        ...

    @property
    def vectors(self) -> HNSWFaissStore:
        """The entries' vectors."""
        ...

    def __len__(self) -> int: ...

    def exact_entry(self, scope_key: str, query: str) -> CacheEntry | None:
        """The entry stored for exactly ``query`` in ``scope_key`` (expired ones included)."""
        ...

    def refresh(self, *, force: bool = False) -> bool:
        """Makes entries other processes stored visible; ``False`` when the store cannot be read now.

        ``force``: read now, whatever the store's interval.
        """
        ...

    def insert(self, items: Sequence[tuple[str, dict[str, Any], np.ndarray, str]]) -> list[int]:
        """Writes ``(query, payload, vector, semantic form)`` items; returns their ids."""
        ...

    def drop(self, ids: Sequence[int], counter: str) -> None:
        """Removes entries; counts them in ``stats.<counter>``."""
        ...

    def touch(self, eid: int) -> None:
        """Marks an entry as recently used."""
        ...

    def flush(self) -> None:
        """Persists what is kept in memory only."""
        ...

    def close(self) -> None:
        """Releases the store."""
        ...


@dataclass(frozen=True, slots=True)
class StoreSpec:
    """What a :data:`StoreFactory` builds a cache's entry store for."""

    embedder_name: str
    directory: Path
    dimension: int
    max_size: int
    stats: CacheStats
    clock: Callable[[], float]


StoreFactory = Callable[[StoreSpec], EntryStore]


class EntryIndex:
    """Entries of one cache directory, in SQLite + a vector index, indexed in memory.

    Args:
        directory: The store's directory (created if missing).
        dimension: Vector length.
        max_size: Entries kept (GPTCache's LRU eviction beyond it).
        stats: Counters to bump on drops and evictions.
        clock: Time source (expired entries are dropped at load).

    Raises:
        CacheError: the store's files cannot be opened or read (the engine then clears them).
    """

    __slots__ = ("directory", "dm", "entries", "exact", "forms", "lock", "stats", "vectors")

    def __init__(
        self, directory: Path, dimension: int, *, max_size: int, stats: CacheStats, clock: Callable[[], float]
    ) -> None:
        self.directory = directory
        self.stats = stats
        self.lock = threading.RLock()
        self.entries: dict[int, CacheEntry] = {}
        self.exact: dict[tuple[str, str], int] = {}
        # Semantic form of each entry's query (set at store; lazily for entries loaded from disk),
        # so that a lookup does not normalise its candidates' texts again.
        self.forms: dict[int, str] = {}
        directory.mkdir(parents=True, exist_ok=True)
        self.vectors = HNSWFaissStore(str(directory / "hnsw.index"), dimension)
        self.dm: Any = open_data_manager(directory, self.vectors, max_size=max_size, on_evict=self._on_evict)
        try:
            self._load(clock())
        except Exception:
            self.abandon()
            raise

    def __repr__(self) -> str:
        return f"<EntryIndex {self.directory.name}: {len(self.entries)} entries>"

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def open(cls, spec: StoreSpec) -> EntryIndex:
        """The :data:`StoreFactory` of the embedded default (the embedder's name is in ``spec.directory``)."""
        return cls(spec.directory, spec.dimension, max_size=spec.max_size, stats=spec.stats, clock=spec.clock)

    def exact_entry(self, scope_key: str, query: str) -> CacheEntry | None:
        """The entry stored for exactly ``query`` in ``scope_key`` (expired ones included)."""
        with self.lock:
            eid = self.exact.get((scope_key, query))
            return self.entries.get(eid) if eid is not None else None

    def refresh(self, *, force: bool = False) -> bool:
        """Nothing to do: this process is the only writer of its folder."""
        return True

    def insert(self, items: Sequence[tuple[str, dict[str, Any], np.ndarray, str]]) -> list[int]:
        """Writes ``(query, payload, vector, semantic form)`` items; returns their ids.

        Raises:
            CacheError: SQLite or the vector store refused the write.
        """
        from gptcache.manager.scalar_data.base import CacheData
        from gptcache.manager.vector_data.base import VectorData

        datas = [
            CacheData(question=q, answers=json.dumps(p), embedding_data=v.astype(np.float32)) for q, p, v, _ in items
        ]
        with self.lock:
            try:
                ids = [int(i) for i in self.dm.s.batch_insert(datas)]
                self.vectors.mul_add([VectorData(id=i, data=v) for i, (_, _, v, _) in zip(ids, items, strict=True)])
            except Exception as exc:
                msg = f"cache store failed: {exc}"
                raise CacheError(msg) from exc
            for eid, (q, p, _, form) in zip(ids, items, strict=True):
                entry = entry_of(eid, q, p)
                self.entries[eid] = entry
                self.exact[(entry.scope_key, q)] = eid
                self.forms[eid] = form
            self.dm.eviction_base.put(ids)  # may evict older entries through _on_evict
        return ids

    def drop(self, ids: Sequence[int], counter: str) -> None:
        """Removes entries (soft-deleted in SQLite, tombstoned in the vectors); counts them."""
        if not ids:
            return
        with self.lock:
            for eid in ids:
                entry = self.entries.pop(eid, None)
                self.forms.pop(eid, None)
                if entry is not None and self.exact.get((entry.scope_key, entry.query)) == eid:
                    del self.exact[(entry.scope_key, entry.query)]
                self.dm.eviction_base._cache.pop(eid, None)
            self.dm.s.mark_deleted(list(ids))
            self.vectors.delete(list(ids))
        self.stats.bump(counter, len(ids))

    def _on_evict(self, ids: list[int]) -> None:
        with self.lock:
            n = 0
            for eid in ids:
                entry = self.entries.pop(eid, None)
                self.forms.pop(eid, None)
                if entry is not None:
                    n += 1
                    if self.exact.get((entry.scope_key, entry.query)) == eid:
                        del self.exact[(entry.scope_key, entry.query)]
        self.stats.bump("evictions", n)

    def touch(self, eid: int) -> None:
        """Marks an entry as recently used (in-memory LRU; no SQLite write)."""
        self.dm.hit_cache_callback((None, eid))

    def _load(self, now: float) -> None:
        rows = list(read_rows(self.directory / "sqlite.db"))
        expired: list[int] = []
        missing: list[tuple[int, bytes]] = []
        indexed = {int(i) for i in self.vectors.ids()}
        old = 0
        for row in rows:
            payload = row.payload()
            if payload.get("v") != PAYLOAD_VERSION:
                old += 1  # keyed by an older scope and query form: it can never be served
                expired.append(row.id)
                continue
            entry = entry_of(row.id, row.question, payload)
            if entry.expired(now):
                expired.append(row.id)
                continue
            self.entries[row.id] = entry
            self.exact[(entry.scope_key, entry.query)] = row.id
            if row.id not in indexed and row.embedding:
                missing.append((row.id, row.embedding))
        stale = indexed - set(self.entries) - set(expired)
        if stale:
            self.vectors.delete(sorted(stale))
        if missing:
            from gptcache.manager.vector_data.base import VectorData

            self.vectors.mul_add([VectorData(id=i, data=np.frombuffer(b, dtype=np.float32)) for i, b in missing])
        self.drop(expired, "expirations")
        if old:
            logger.warning("cache %s: dropped %d entries written by an older version (new keys)", self.directory, old)
        if rows:
            logger.info("cache %s: loaded %d entries", self.directory, len(self.entries))

    def flush(self) -> None:
        """Persists the vector index (SQLite is written on every store)."""
        with self.lock:
            self.dm.flush()

    def close(self) -> None:
        """Flushes and releases the store."""
        with self.lock:
            self.dm.close()

    def abandon(self) -> None:
        """Releases the store without writing anything (before its files are removed)."""
        try:
            self.dm.close = lambda: None
            self.dm.s.close()
        except Exception:
            logger.debug("could not close the cache store", exc_info=True)


def entry_of(eid: int, query: str, p: Mapping[str, Any]) -> CacheEntry:
    """The entry of a stored row."""
    return CacheEntry(
        id=eid,
        scope_key=str(p.get("scope", "")),
        namespace=str(p.get("ns", "")),
        query=query,
        text=str(p.get("text", "")),
        model=str(p.get("model", "")),
        tier=p.get("tier"),
        usage=Usage.from_openai(p.get("usage")),
        created_at=float(p.get("created", 0.0)),
        expires_at=None if p.get("expires") is None else float(p["expires"]),
        message=p.get("message") or {},
    )
