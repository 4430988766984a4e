"""The compression cache: the same text is never compressed (and paid for) twice.

Keys are a SHA-256 of the compressor prompt version, the compressor model, the target ratio and
the text, so changing any of them compresses again. Values remember failures too (the compressor
lost a placeholder): a text that could not be compressed safely is not sent again.

Two levels: an in-memory LRU (always) and an optional SQLite file shared between processes
(the LiteLLM proxy workers, offline jobs). Concurrent callers of one key wait on a per-key lock,
so two identical requests arriving together make one compression call.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from langchain_costrouter.core.errors import CacheError

__all__ = ["CachedCompression", "CompressionCache", "compression_key"]

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS compression_cache (
    key TEXT PRIMARY KEY,
    text TEXT,
    tokens_before INTEGER NOT NULL,
    tokens_after INTEGER NOT NULL,
    model TEXT NOT NULL,
    reason TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def compression_key(text: str, model: str, ratio: float, version: str) -> str:
    """The cache key of compressing ``text`` with ``model`` to ``ratio`` (prompt ``version``)."""
    h = hashlib.sha256()
    for part in (version, model, f"{ratio:.6f}", text):
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class CachedCompression:
    """A remembered compression.

    Attributes:
        text: The compressed text with every protected span restored, or ``None`` when the
            compression was rejected (then the original text is used).
        tokens_before: Tokens of the original text.
        tokens_after: Tokens of ``text`` (``tokens_before`` when rejected).
        model: The compressor model.
        reason: Why it was rejected ("" when accepted).
    """

    text: str | None
    tokens_before: int
    tokens_after: int
    model: str
    reason: str = ""


class CompressionCache:
    """In-memory LRU of compressions, optionally backed by a SQLite file.

    Args:
        max_size: Entries kept in memory.
        path: SQLite file for a persistent, shared cache (``None``: memory only).
    """

    def __init__(self, max_size: int = 4096, path: str | Path | None = None) -> None:
        self.max_size = max(1, max_size)
        self.path = Path(path) if path is not None else None
        self.hits = 0
        self.misses = 0
        self._lru: OrderedDict[str, CachedCompression] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[str, tuple[threading.Lock, int]] = {}
        self._akey_locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._db: sqlite3.Connection | None = None
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(_SCHEMA)
                self._db.commit()
            except sqlite3.Error as exc:
                msg = f"cannot open the compression cache {self.path}: {exc}"
                raise CacheError(msg) from exc

    def __len__(self) -> int:
        with self._lock:
            return len(self._lru)

    def get(self, key: str) -> CachedCompression | None:
        """The cached compression for ``key`` (memory first, then the file)."""
        with self._lock:
            hit = self._lru.get(key)
            if hit is not None:
                self._lru.move_to_end(key)
                self.hits += 1
                return hit
            found = self._db_get(key)
            if found is None:
                self.misses += 1
                return None
            self.hits += 1
            self._remember(key, found)
            return found

    def put(self, key: str, value: CachedCompression) -> None:
        """Stores ``value`` under ``key`` (a file error is logged, never raised)."""
        with self._lock:
            self._remember(key, value)
            if self._db is None:
                return
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO compression_cache VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (key, value.text, value.tokens_before, value.tokens_after, value.model, value.reason, time.time()),
                )
                self._db.commit()
            except sqlite3.Error as exc:
                logger.warning("compression cache write failed: %s", exc)

    def _remember(self, key: str, value: CachedCompression) -> None:
        self._lru[key] = value
        self._lru.move_to_end(key)
        while len(self._lru) > self.max_size:
            self._lru.popitem(last=False)

    def _db_get(self, key: str) -> CachedCompression | None:
        if self._db is None:
            return None
        try:
            row = self._db.execute(
                "SELECT text, tokens_before, tokens_after, model, reason FROM compression_cache WHERE key = ?", (key,)
            ).fetchone()
        except sqlite3.Error as exc:
            logger.warning("compression cache read failed: %s", exc)
            return None
        if row is None:
            return None
        return CachedCompression(row[0], int(row[1]), int(row[2]), str(row[3]), str(row[4]))

    @contextmanager
    def claim(self, key: str) -> Iterator[None]:
        """Holds the per-key lock: one thread compresses a text while the others wait."""
        with self._lock:
            lock, users = self._key_locks.get(key, (threading.Lock(), 0))
            self._key_locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._lock:
                lock, users = self._key_locks[key]
                if users <= 1:
                    del self._key_locks[key]
                else:
                    self._key_locks[key] = (lock, users - 1)

    @asynccontextmanager
    async def aclaim(self, key: str) -> AsyncIterator[None]:
        """Async :meth:`claim` (one task per key compresses, the others wait)."""
        with self._lock:
            lock, users = self._akey_locks.get(key, (asyncio.Lock(), 0))
            self._akey_locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            with self._lock:
                lock, users = self._akey_locks[key]
                if users <= 1:
                    del self._akey_locks[key]
                else:
                    self._akey_locks[key] = (lock, users - 1)

    def close(self) -> None:
        """Closes the SQLite file (the memory level stays usable)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
