"""The cost ledger: one :class:`CostRecord` per call, cache hit or overhead.

Backends implement :class:`LedgerBackend`. The embedded default, :class:`SQLiteLedger`, is one
SQLite file in WAL mode, safe to share between threads, asyncio tasks and processes (the
LiteLLM proxy and ``costrouter report`` may open the same file). :class:`MemoryLedger` is the
test double and the ``backend: memory`` choice.

Every record carries two baseline figures: ``premium_cost_usd`` (the same tokens priced on the
premium model) and ``baseline_cost_usd`` (what an always-premium app would have paid for this
record: the premium price of the served answer; 0 for rejected attempts and overheads, which
such an app never makes). Savings are ``sum(baseline_cost_usd) - sum(cost_usd)``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from langchain_costrouter.core.errors import LedgerError
from langchain_costrouter.core.usage import Usage

__all__ = [
    "CostRecord",
    "LedgerBackend",
    "MemoryLedger",
    "NullLedger",
    "RecordKind",
    "RecordOutcome",
    "SQLiteLedger",
    "new_request_id",
    "open_ledger",
]

RecordKind = Literal["completion", "judge", "embedding", "compression", "batch", "cache_hit"]
RecordOutcome = Literal["accepted", "rejected", "error", "served", "overhead", "unrated"]


def new_request_id() -> str:
    """A fresh request id."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class CostRecord:
    """One line of the ledger.

    Attributes:
        request_id: Groups the attempts and overheads of one user request.
        kind: What was paid for (a completion, a judge call, a cache hit...).
        outcome: ``accepted`` (served after a gate), ``rejected`` (failed its gate),
            ``error`` (the call failed), ``served`` (served without a gate: last tier, cache hit),
            ``overhead`` (judge/embedding/compression), ``unrated`` (recorded by a plain callback).
        escalation_step: 0 for the first tier tried, 1 for the next...
        cache_hit: ``exact`` / ``semantic`` for cache hits, else ``None``.
    """

    request_id: str
    model: str
    kind: RecordKind = "completion"
    outcome: RecordOutcome = "unrated"
    ts: float = field(default_factory=time.time)
    tenant: str = "default"
    task: str | None = None
    tier: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    premium_cost_usd: float = 0.0
    baseline_cost_usd: float = 0.0
    latency_ms: float = 0.0
    cache_hit: str | None = None
    escalation_step: int = 0
    gate_score: float | None = None
    error: str | None = None
    source: str = "core"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def usage(self) -> Usage:
        """The record's tokens as :class:`Usage`."""
        return Usage(
            self.input_tokens,
            self.output_tokens,
            self.cached_tokens,
            self.cache_write_tokens,
            self.reasoning_tokens,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        d = asdict(self)
        d["extra"] = dict(self.extra)
        return d


_COLUMNS = [f.name for f in fields(CostRecord)]


@runtime_checkable
class LedgerBackend(Protocol):
    """Where records are kept. Implementations must be thread-safe and never drop a record."""

    def write(self, record: CostRecord) -> None:
        """Stores one record durably before returning."""
        ...

    def write_many(self, records: Iterable[CostRecord]) -> None:
        """Stores several records atomically."""
        ...

    def records(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        request_id: str | None = None,
    ) -> list[CostRecord]:
        """Records in time order, optionally filtered."""
        ...

    def count(self) -> int:
        """Number of records."""
        ...

    def close(self) -> None:
        """Releases resources."""
        ...


class MemoryLedger:
    """An in-process ledger (tests, ``backend: memory``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[CostRecord] = []

    def write(self, record: CostRecord) -> None:
        with self._lock:
            self._records.append(record)

    def write_many(self, records: Iterable[CostRecord]) -> None:
        batch = list(records)
        with self._lock:
            self._records.extend(batch)

    def records(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        request_id: str | None = None,
    ) -> list[CostRecord]:
        with self._lock:
            items = list(self._records)
        return sorted(
            (
                r
                for r in items
                if (since is None or r.ts >= since)
                and (until is None or r.ts < until)
                and (request_id is None or r.request_id == request_id)
            ),
            key=lambda r: r.ts,
        )

    def count(self) -> int:
        with self._lock:
            return len(self._records)

    def close(self) -> None:
        return None


class NullLedger(MemoryLedger):
    """Keeps nothing (``backend: none``); still validates that records are well-formed."""

    def write(self, record: CostRecord) -> None:
        if not isinstance(record, CostRecord):
            msg = f"expected a CostRecord, got {type(record).__name__}"
            raise LedgerError(msg)

    def write_many(self, records: Iterable[CostRecord]) -> None:
        for r in records:
            self.write(r)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS cost_records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    model TEXT NOT NULL,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL,
    ts REAL NOT NULL,
    tenant TEXT NOT NULL,
    task TEXT,
    tier TEXT,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    premium_cost_usd REAL NOT NULL,
    baseline_cost_usd REAL NOT NULL,
    latency_ms REAL NOT NULL,
    cache_hit TEXT,
    escalation_step INTEGER NOT NULL,
    gate_score REAL,
    error TEXT,
    source TEXT NOT NULL,
    extra TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cost_records_ts ON cost_records(ts);
CREATE INDEX IF NOT EXISTS cost_records_request ON cost_records(request_id);
"""


class SQLiteLedger:
    """A SQLite file in WAL mode.

    One connection per thread; each write is its own short transaction committed before
    :meth:`write` returns, so a crash loses nothing that was acknowledged. Writers in other
    processes wait on the lock up to ``busy_timeout_s``.
    """

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self._timeout = busy_timeout_s
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._conn()
            with conn:
                conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            msg = f"cannot open ledger {self.path}: {exc}"
            raise LedgerError(msg) from exc

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self._timeout, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @staticmethod
    def _row(record: CostRecord) -> tuple[Any, ...]:
        values = [getattr(record, c) for c in _COLUMNS]
        values[-1] = json.dumps(dict(record.extra), default=str, sort_keys=True)
        return tuple(values)

    def write(self, record: CostRecord) -> None:
        self.write_many((record,))

    def write_many(self, records: Iterable[CostRecord]) -> None:
        rows = [self._row(r) for r in records]
        if not rows:
            return
        # Column names are constants of this module; values are bound parameters.
        sql = f"INSERT INTO cost_records ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"  # noqa: S608
        try:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(sql, rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            msg = f"cannot write to ledger {self.path}: {exc}"
            raise LedgerError(msg) from exc

    def records(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        request_id: str | None = None,
    ) -> list[CostRecord]:
        return list(self.iter_records(since=since, until=until, request_id=request_id))

    def iter_records(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        request_id: str | None = None,
        batch: int = 10_000,
    ) -> Iterator[CostRecord]:
        """The matching records in time order, read ``batch`` rows at a time.

        A large ledger is never held in memory.

        Raises:
            LedgerError: the ledger cannot be read.
        """
        where: list[str] = []
        args: list[float | str] = []
        for clause, value in (("ts >= ?", since), ("ts < ?", until), ("request_id = ?", request_id)):
            if value is not None:
                where.append(clause)
                args.append(value)
        sql = f"SELECT {', '.join(_COLUMNS)} FROM cost_records"  # noqa: S608 - constant column names
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY ts, id"
        try:
            cur = self._conn().execute(sql, args)
            while rows := cur.fetchmany(batch):
                yield from (self._from_row(r) for r in rows)
        except sqlite3.Error as exc:
            msg = f"cannot read ledger {self.path}: {exc}"
            raise LedgerError(msg) from exc

    @staticmethod
    def _from_row(row: tuple[Any, ...]) -> CostRecord:
        data = dict(zip(_COLUMNS, row, strict=True))
        data["extra"] = json.loads(data["extra"] or "{}")
        return CostRecord(**data)

    def count(self) -> int:
        try:
            (n,) = self._conn().execute("SELECT COUNT(*) FROM cost_records").fetchone()
        except sqlite3.Error as exc:
            msg = f"cannot read ledger {self.path}: {exc}"
            raise LedgerError(msg) from exc
        return int(n)

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for c in conns:
            c.close()
        self._local = threading.local()

    def __iter__(self) -> Iterator[CostRecord]:
        return iter(self.records())


def open_ledger(backend: str, path: str | Path | None = None) -> LedgerBackend:
    """Builds a ledger backend by name (``sqlite``, ``memory``, ``none``)."""
    if backend == "sqlite":
        if path is None:
            msg = "the sqlite ledger needs a path"
            raise LedgerError(msg)
        return SQLiteLedger(path)
    if backend == "memory":
        return MemoryLedger()
    if backend == "none":
        return NullLedger()
    msg = f"unknown ledger backend {backend!r}"
    raise LedgerError(msg)
