"""Cache entries in Redis, shared by every replica; each replica searches an in-memory mirror.

Redis without modules (and Postgres without pgvector) cannot search vectors, so Redis holds the
entries and their vectors (the source of truth) and every replica keeps an in-memory index
(id -> entry, the semantic forms, a faiss HNSW graph) current from an append log. Under
``<prefix>:<embedder>``:

- ``:e:<id>`` — a hash per entry: query ``q``, JSON payload ``p`` (the same as the embedded
  store's), float32 vector ``v``, semantic form ``f``, and ``x``, its exact key;
- ``:x:<sha256 of scope and query>`` — the exact level: the entry id of that scope and query;
- ``:ids`` — a sorted set id -> creation time (the live entries; ``max_size`` evicts the oldest,
  ``ttl_s`` drops the expired);
- ``:log`` — a stream of ``a`` (added id) and ``d`` (dropped ids) events, trimmed to a bound;
- ``:gen`` — a random generation id; when it changes or vanishes (Redis restarted empty, or was
  flushed), every replica drops its mirror and reloads from ``:ids``.

Writes are Lua scripts, so an entry, its exact key, its place in ``:ids`` and its log event
appear together. The exact level reads Redis on every lookup (an entry another replica stored a
moment ago is served at once); the semantic level reads the log at most every
``cache.sync_interval_s``, so another replica's entry becomes a semantic candidate within that
delay. Keys, admission, the guard and the verifiers are the engine's, unchanged.

Redis unreachable: the cache is a side concern. A lookup misses, a store is skipped
(:class:`~langchain_costrouter.core.errors.CacheUnavailableError`, which the engine turns into
``StoreOutcome(False, "unavailable")``), one warning per outage; the mirror reloads when Redis
answers again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from langchain_costrouter.core._redis import redis_url_of
from langchain_costrouter.core.cache._index import PAYLOAD_VERSION, StoreFactory, StoreSpec, entry_of, safe_name
from langchain_costrouter.core.cache._redis_lua import DROP, EXACT, INSERT
from langchain_costrouter.core.cache.entries import CacheEntry, CacheStats
from langchain_costrouter.core.cache.store import HNSWFaissStore
from langchain_costrouter.core.errors import CacheUnavailableError

if TYPE_CHECKING:
    from langchain_costrouter.core.config import CacheConfig

__all__ = ["RedisEntryIndex", "redis_store_factory", "shared_entry_count", "store_base"]

logger = logging.getLogger(__name__)

_FIELDS = ("q", "p", "v", "f")
_BATCH = 1000


def exact_hash(scope_key: str, query: str) -> str:
    """The exact-level key of a scope and a query (the query byte for byte)."""
    return hashlib.sha256(f"{scope_key}\0{query}".encode()).hexdigest()[:40]


def _stream_id(raw: bytes | str) -> tuple[int, int]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def _text(raw: bytes | str | None) -> str:
    if raw is None:
        return ""
    return raw.decode() if isinstance(raw, bytes) else raw


class _Mirror:
    """The in-memory part: entries, semantic forms and the vector graph, swapped whole on reload."""

    __slots__ = ("entries", "forms", "vectors")

    def __init__(self, dimension: int) -> None:
        self.entries: dict[int, CacheEntry] = {}
        self.forms: dict[int, str] = {}
        self.vectors = HNSWFaissStore("", dimension)


class RedisEntryIndex:
    """The :class:`~._index.EntryStore` shared through Redis (module docstring).

    Args:
        client: A ``redis.Redis`` client (bytes replies).
        base: Key prefix of this store (``<cache.redis_prefix>:<embedder>``).
        dimension: Vector length.
        max_size: Entries kept in Redis (the oldest are evicted beyond it).
        ttl_s: Entry lifetime (``None``: until evicted).
        stats: The cache's counters (``errors["redis"]`` counts failed Redis commands).
        clock: Time source of entry expiry.
        sync_interval_s: Longest pause between two reads of the log.
    """

    __slots__ = (
        "_clock",
        "_down",
        "_errors",
        "_gen",
        "_last",
        "_m",
        "_maxlen",
        "_next_sync",
        "_scripts",
        "_sync_lock",
        "base",
        "client",
        "dimension",
        "lock",
        "max_size",
        "stats",
        "sync_interval_s",
        "ttl_s",
    )

    def __init__(
        self,
        client: Any,
        base: str,
        dimension: int,
        *,
        max_size: int,
        ttl_s: float | None,
        stats: CacheStats,
        clock: Callable[[], float] = time.time,
        sync_interval_s: float = 0.25,
    ) -> None:
        import redis

        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.client = client
        self.base = base
        self.dimension = dimension
        self.max_size = max_size
        self.ttl_s = ttl_s
        self.stats = stats
        self.sync_interval_s = sync_interval_s
        self.lock = threading.RLock()
        self._sync_lock = threading.Lock()
        self._clock = clock
        self._m = _Mirror(dimension)
        self._gen: str | None = None
        self._last = "0-0"
        self._maxlen = str(max(10_000, 2 * max_size))
        self._down = False
        self._next_sync = 0.0
        self._scripts = {
            "insert": client.register_script(INSERT),
            "drop": client.register_script(DROP),
            "exact": client.register_script(EXACT),
        }
        self.refresh()

    # The engine reads these under `lock`; a reload swaps the mirror whole.
    @property
    def entries(self) -> dict[int, CacheEntry]:
        """Entries of the mirror, by id."""
        return self._m.entries

    @property
    def forms(self) -> dict[int, str]:
        """Semantic forms of the mirror's entries."""
        return self._m.forms

    @property
    def vectors(self) -> HNSWFaissStore:
        """The mirror's vector graph."""
        return self._m.vectors

    def __len__(self) -> int:
        return len(self._m.entries)

    def __repr__(self) -> str:
        return f"<RedisEntryIndex {self.base}: {len(self)} entries>"

    # ----------------------------------------------------------- availability
    def _unavailable(self, exc: BaseException, what: str) -> None:
        self.stats.bump("errors", reason="redis")
        if not self._down:
            logger.warning(
                "cache store %s unreachable while %s (%s); lookups miss and stores are skipped until it answers",
                self.base,
                what,
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            )
        self._down = True
        self._gen = None  # reload when it answers: it may have restarted empty
        self._next_sync = time.monotonic() + max(self.sync_interval_s, 1.0)

    def _recovered(self) -> None:
        if self._down:
            logger.warning("cache store %s reachable again", self.base)
            self._down = False

    # ------------------------------------------------------------------ reads
    def refresh(self, *, force: bool = False) -> bool:
        """Applies the log's new events; ``False`` while Redis is down.

        At most every ``sync_interval_s`` and never waiting for another thread's read, unless
        ``force`` (before an invalidation: every replica's entries must be in the mirror).
        """
        now = time.monotonic()
        if not force and now < self._next_sync:
            return not self._down
        if not self._sync_lock.acquire(blocking=force):
            return not self._down
        try:
            self._next_sync = now + self.sync_interval_s
            if self._gen is None:
                self._reload()
            else:
                self._sync()
            self._recovered()
        except self._errors as exc:
            self._unavailable(exc, "reading the entry log")
        finally:
            self._sync_lock.release()
        return not self._down

    def exact_entry(self, scope_key: str, query: str) -> CacheEntry | None:
        """The entry Redis holds for exactly ``query`` in ``scope_key`` (``None`` when Redis is down)."""
        if self._down and not self.refresh():
            return None
        try:
            row = self._scripts["exact"](args=[self.base, exact_hash(scope_key, query)])
        except self._errors as exc:
            self._unavailable(exc, "looking up")
            return None
        if not row:
            return None
        eid = int(row[0])
        with self.lock:
            known = self._m.entries.get(eid)
        if known is not None:
            return known
        entry = self._add_local(eid, row[1:5])
        return entry if entry is not None and entry.scope_key == scope_key and entry.query == query else None

    def _add_local(self, eid: int, row: Sequence[Any], mirror: _Mirror | None = None) -> CacheEntry | None:
        """Adds a row ``(q, p, v, f)`` read from Redis to the mirror (``None``: unreadable, or another version's)."""
        q, p, v, f = row
        if q is None or p is None or v is None:
            return None
        try:
            payload = json.loads(_text(p))
        except json.JSONDecodeError:
            return None
        if not isinstance(payload, dict) or payload.get("v") != PAYLOAD_VERSION:
            return None
        vec = np.frombuffer(v, dtype=np.float32)
        if vec.shape != (self.dimension,):
            return None
        entry = entry_of(eid, _text(q), payload)
        m = mirror or self._m
        with self.lock:
            m.entries[eid] = entry
            m.forms[eid] = _text(f)
            m.vectors.mul_add([_Vector(eid, vec)])
        return entry

    def _drop_local(self, ids: Sequence[int]) -> int:
        with self.lock:
            gone = [eid for eid in ids if self._m.entries.pop(eid, None) is not None]
            for eid in gone:
                self._m.forms.pop(eid, None)
            if gone:
                self._m.vectors.delete(gone)
        return len(gone)

    def _fetch(self, ids: Sequence[bytes | str]) -> list[tuple[int, list[Any]]]:
        out: list[tuple[int, list[Any]]] = []
        for start in range(0, len(ids), _BATCH):
            chunk = ids[start : start + _BATCH]
            pipe = self.client.pipeline(transaction=False)
            for raw in chunk:
                pipe.hmget(f"{self.base}:e:{_text(raw)}", *_FIELDS)
            out += [(int(_text(raw)), row) for raw, row in zip(chunk, pipe.execute(), strict=True)]
        return out

    def _reload(self) -> None:
        """Replaces the mirror with what Redis holds (at start, and after Redis lost its data)."""
        gen_key = f"{self.base}:gen"
        self.client.set(gen_key, uuid.uuid4().hex, nx=True)
        gen = _text(self.client.get(gen_key))
        tail = self.client.xrevrange(f"{self.base}:log", "+", "-", count=1)
        last = _text(tail[0][0]) if tail else "0-0"
        ids = self.client.zrange(f"{self.base}:ids", 0, -1)
        mirror = _Mirror(self.dimension)
        now = self._clock()
        for eid, row in self._fetch(ids):
            entry = self._add_local(eid, row, mirror=mirror)
            if entry is not None and entry.expired(now):
                mirror.entries.pop(eid, None)
        with self.lock:
            old = len(self._m.entries)
            self._m = mirror
            self._gen, self._last = gen, last
        if old or mirror.entries:
            logger.info("cache %s: loaded %d shared entries (mirror had %d)", self.base, len(mirror.entries), old)

    def _sync(self) -> None:
        """Applies the log's events after the last one applied."""
        log = f"{self.base}:log"
        while True:
            pipe = self.client.pipeline(transaction=False)
            pipe.get(f"{self.base}:gen")
            pipe.xrange(log, "-", "+", count=1)
            pipe.xread({log: self._last}, count=_BATCH)
            gen, first, read = pipe.execute()
            missed = bool(first) and self._last != "0-0" and _stream_id(first[0][0]) > _stream_id(self._last)
            if _text(gen) != self._gen or missed:  # Redis lost its data, or we lagged past the log's trim
                self._reload()
                return
            events = read[0][1] if read else []
            adds: list[str] = []
            drops: list[int] = []
            for _, fields in events:
                if b"a" in fields:
                    adds.append(_text(fields[b"a"]))
                if b"d" in fields:
                    drops += [int(x) for x in _text(fields[b"d"]).split(",") if x]
            with self.lock:
                adds = [a for a in adds if int(a) not in self._m.entries]
            for eid, row in self._fetch(adds):
                self._add_local(eid, row)
            self._drop_local(drops)
            if events:
                self._last = _text(events[-1][0])
            if len(events) < _BATCH:
                return

    # ----------------------------------------------------------------- writes
    def insert(self, items: Sequence[tuple[str, dict[str, Any], np.ndarray, str]]) -> list[int]:
        """Writes ``(query, payload, vector, semantic form)`` items to Redis and the mirror; returns their ids.

        An item whose scope and query another replica stored meanwhile returns that entry's id.

        Raises:
            CacheUnavailableError: Redis cannot be reached (logged once per outage).
        """
        ttl = repr(float(self.ttl_s)) if self.ttl_s else "0"
        pipe = self.client.pipeline(transaction=False)
        rows = []
        for q, p, v, form in items:
            eid = secrets.randbits(62) + 1  # unique without a counter that a Redis restart would reset
            vec = np.ascontiguousarray(v, dtype=np.float32)
            data = json.dumps(p)
            args = [self.base, str(eid), q, data, vec.tobytes(), form, exact_hash(str(p["scope"]), q)]
            args += [repr(float(p["created"])), ttl, str(self.max_size), self._maxlen]
            self._scripts["insert"](args=args, client=pipe)
            rows.append((q, data, vec, form))
        try:
            results = pipe.execute()
        except self._errors as exc:
            self._unavailable(exc, "storing")
            msg = f"cache store {self.base} unreachable: {exc}"
            raise CacheUnavailableError(msg) from exc
        self._recovered()
        ids: list[int] = []
        for (q, data, vec, form), (ok, eid, gen) in zip(rows, results, strict=True):
            ids.append(int(eid))
            if int(ok):
                self._add_local(int(eid), (q, data, vec.tobytes(), form))
            if _text(gen) != self._gen:
                self._gen = None  # Redis restarted empty since the last read: reload at the next refresh
                self._next_sync = 0.0
        return ids

    def drop(self, ids: Sequence[int], counter: str) -> None:
        """Removes entries from the mirror and from Redis (every replica drops them at its next read)."""
        if not ids:
            return
        n = self._drop_local(ids)
        try:
            self._scripts["drop"](args=[self.base, self._maxlen, *(str(i) for i in ids)])
        except self._errors as exc:
            self._unavailable(exc, "dropping entries")
        self.stats.bump(counter, n)

    def touch(self, eid: int) -> None:
        """Nothing: Redis evicts the oldest entries, not the least recently used."""

    def flush(self) -> None:
        """Nothing: every write goes to Redis at once."""

    def close(self) -> None:
        """Closes the Redis connections."""
        try:
            self.client.close()
        except self._errors:
            logger.debug("could not close the cache's Redis client", exc_info=True)


class _Vector:
    """The ``VectorData`` shape :meth:`HNSWFaissStore.mul_add` reads (``id``, ``data``)."""

    __slots__ = ("data", "id")

    def __init__(self, id_: int, data: np.ndarray) -> None:
        self.id = id_
        self.data = data


def redis_url(cfg: CacheConfig) -> str:
    """``cache.redis_url``, else the variable ``cache.redis_url_env`` (:class:`ConfigError` if neither)."""
    return redis_url_of("cache", cfg.redis_url, cfg.redis_url_env)


def store_base(cfg: CacheConfig, embedder_name: str) -> str:
    """The key prefix of the shared store of ``embedder_name``'s vectors."""
    return f"{cfg.redis_prefix}:{safe_name(embedder_name)}"


def shared_entry_count(cfg: CacheConfig, embedder_name: str) -> int | None:
    """Live entries of the shared store (``None``: Redis cannot be reached).

    Raises:
        ConfigError: no URL, or the ``redis`` package is missing.
    """
    from langchain_costrouter.core._optional import require

    redis = require("redis", extra="redis", feature="cache.backend")
    timeout = cfg.redis_timeout_s
    client = redis.Redis.from_url(redis_url(cfg), socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return int(client.zcard(f"{store_base(cfg, embedder_name)}:ids"))
    except (redis.RedisError, OSError):
        return None
    finally:
        client.close()


def redis_store_factory(cfg: CacheConfig, *, client: Any = None) -> StoreFactory:
    """The :class:`~._index.StoreFactory` of ``cache.backend: redis``.

    Raises:
        ConfigError: no URL, or the ``redis`` package is missing.
    """
    if client is None:
        from langchain_costrouter.core._optional import require

        redis = require("redis", extra="redis", feature="cache.backend")
        timeout = cfg.redis_timeout_s
        client = redis.Redis.from_url(
            redis_url(cfg), socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=10
        )

    def open_store(spec: StoreSpec) -> RedisEntryIndex:
        return RedisEntryIndex(
            client,
            store_base(cfg, spec.embedder_name),
            spec.dimension,
            max_size=spec.max_size,
            ttl_s=cfg.ttl_s,
            stats=spec.stats,
            clock=spec.clock,
            sync_interval_s=cfg.sync_interval_s,
        )

    return open_store
