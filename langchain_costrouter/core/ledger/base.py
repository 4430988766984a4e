"""Ledger records and the backend protocol: one :class:`CostRecord` per call, cache hit or overhead.

Backends implement :class:`LedgerBackend`: :class:`MemoryLedger` (the test double and the
``backend: memory`` choice) and :class:`NullLedger` live here, the SQLite and Postgres backends
in their own modules. The built-in backends derive from :class:`RecordStore`, which answers
``records()`` and ``iter_records()`` with one filtered read each backend implements. Every
record has a unique ``record_id`` set when it is built, so a backend that replays records (the
Postgres outbox) stores each one exactly once.

:func:`repair_record` is the one place that makes a record storable by every backend: a record
the types allow but a database refuses (a lone surrogate in a tenant id, a NaN cost from an
infinite price, an integer past 64 bits) is repaired alone, and what was changed is written into
``extra["repaired"]`` (and a non-finite cost into ``extra["price_error"]``, so reports count it
as unpriced), instead of blocking every later write.

Every record carries two baseline figures: ``premium_cost_usd`` (the same tokens priced on the
premium model) and ``baseline_cost_usd`` (what an always-premium app would have paid for this
record: the premium price of the served answer; 0 for rejected attempts and overheads, which
such an app never makes). Savings are ``sum(baseline_cost_usd) - sum(cost_usd)``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, Protocol, runtime_checkable

from langchain_costrouter.core.errors import LedgerError
from langchain_costrouter.core.usage import Usage

__all__ = [
    "COLUMNS",
    "CostRecord",
    "LedgerBackend",
    "MemoryLedger",
    "NullLedger",
    "RecordFilter",
    "RecordKind",
    "RecordOutcome",
    "RecordStore",
    "new_record_id",
    "new_request_id",
    "record_from_dict",
    "repair_all",
    "repair_record",
]

logger = logging.getLogger(__name__)

RecordKind = Literal["completion", "judge", "embedding", "compression", "batch", "cache_hit", "shadow", "feedback"]
RecordOutcome = Literal["accepted", "rejected", "error", "served", "overhead", "unrated"]


def new_request_id() -> str:
    """A fresh request id."""
    return uuid.uuid4().hex


def new_record_id() -> str:
    """A fresh, globally unique record id (what makes a replayed write idempotent)."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class CostRecord:
    """One line of the ledger.

    Attributes:
        request_id: Groups the attempts and overheads of one user request.
        kind: What was paid for (a completion, a judge call, a cache hit, a quality-monitor
            ``shadow`` call, a ``feedback`` grade at $0...).
        outcome: ``accepted`` (served after a gate), ``rejected`` (failed its gate),
            ``error`` (the call failed), ``served`` (served without a gate: last tier, cache hit),
            ``overhead`` (judge/embedding/compression), ``unrated`` (recorded by a plain callback).
        escalation_step: 0 for the first tier tried, 1 for the next...
        cache_hit: ``exact`` / ``semantic`` for cache hits, else ``None``.
        record_id: Unique id of this record, set when it is built; backends store a record
            id once however often it is written (an outbox replay after a lost reply).
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
    record_id: str = field(default_factory=new_record_id)

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

    def to_row(self) -> tuple[Any, ...]:
        """The column values of the SQL backends, in :data:`COLUMNS` order (``extra`` as JSON text)."""
        values = [getattr(self, c) for c in COLUMNS]
        values[COLUMNS.index("extra")] = json.dumps(dict(self.extra), sort_keys=True, allow_nan=False)
        return tuple(values)

    @classmethod
    def from_row(cls, row: Iterable[Any]) -> CostRecord:
        """A record from a SQL row of the :data:`COLUMNS`, in order."""
        return record_from_dict(dict(zip(COLUMNS, row, strict=True)))


#: Field names of :class:`CostRecord`, in order: the column list of the SQL backends.
COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(CostRecord))


def record_from_dict(data: Mapping[str, Any]) -> CostRecord:
    """A record from :meth:`CostRecord.to_dict` output (or a database row as a mapping)."""
    d = dict(data)
    extra = d.get("extra")
    if isinstance(extra, str):
        d["extra"] = json.loads(extra or "{}")
    elif extra is None:
        d["extra"] = {}
    if not d.get("record_id"):
        d.pop("record_id", None)
    return CostRecord(**d)


# --------------------------------------------------------------------- repair
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_STR_FIELDS = ("request_id", "model", "kind", "outcome", "tenant", "task", "tier", "cache_hit", "error", "source")
_INT_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "escalation_step",
)
_COST_FIELDS = {"cost_usd": "price_error", "premium_cost_usd": "baseline_price_error", "baseline_cost_usd": None}


def _clean_text(s: str) -> str:
    """``s`` with lone surrogates and NUL characters replaced (no database stores them)."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        s = s.encode("utf-8", "replace").decode("utf-8")
    return s.replace("\x00", "\ufffd") if "\x00" in s else s


def _json_safe(value: Any, fixed: list[str]) -> Any:
    """``value`` as JSON every backend stores: str keys, clean text, finite 64-bit numbers.

    Appends to ``fixed`` when a value had to change (a tuple becoming a list does not count).
    """
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = k if isinstance(k, str) else str(k)
            clean = _clean_text(key)
            if clean != key:
                fixed.append("extra")
            out[clean] = _json_safe(v, fixed)
        return out
    if isinstance(value, list | tuple):
        return [_json_safe(v, fixed) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        clean = _clean_text(value)
    elif isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return value
        clean = str(value)
    elif isinstance(value, float):
        if math.isfinite(value):
            return value
        clean = str(value)
    else:
        clean = _clean_text(str(value))
    if clean != value:
        fixed.append("extra")
    return clean


def _repair_scalars(record: CostRecord) -> tuple[dict[str, Any], dict[str, str]]:
    """Replacement values of the text and number fields no backend can store, and price notes."""
    changes: dict[str, Any] = {}
    notes: dict[str, str] = {}
    for name in (*_STR_FIELDS, "record_id"):
        v = getattr(record, name)
        if isinstance(v, str) and _clean_text(v) != v:
            changes[name] = _clean_text(v)
    for name in _INT_FIELDS:
        v = getattr(record, name)
        clamped = min(max(int(v), _INT64_MIN), _INT64_MAX)
        if clamped != v or type(v) is not int:
            changes[name] = clamped
    for name, note in _COST_FIELDS.items():
        v = getattr(record, name)
        if not math.isfinite(v):
            changes[name] = 0.0
            if note is not None:
                notes[note] = f"non-finite {name} ({v!r}) recorded as 0"
    if not math.isfinite(record.ts):
        changes["ts"] = time.time()
    if not math.isfinite(record.latency_ms):
        changes["latency_ms"] = 0.0
    if record.gate_score is not None and not math.isfinite(record.gate_score):
        changes["gate_score"] = None
    return changes, notes


def repair_record(record: CostRecord) -> tuple[CostRecord, tuple[str, ...]]:
    """A copy of ``record`` that every backend can store, and the names of the repaired fields.

    Text loses lone surrogates and NUL characters (replaced, not dropped), integers are
    clamped to 64 bits, a non-finite cost becomes 0 with ``extra["price_error"]`` (or
    ``baseline_price_error``) naming the value, other non-finite numbers are reset, and
    ``extra`` becomes plain JSON (tuples as lists, other objects as text). A repaired record
    lists its repaired fields in ``extra["repaired"]``; a record needing nothing is returned
    as is.
    """
    changes, notes = _repair_scalars(record)
    fixed_extra: list[str] = []
    extra = _json_safe(record.extra, fixed_extra)
    repaired = tuple(sorted({*changes, *fixed_extra}))
    if repaired:
        extra = {**extra, **{k: v for k, v in notes.items() if k not in extra}, "repaired": list(repaired)}
    if extra != record.extra or type(record.extra) is not dict:
        changes["extra"] = extra
    if not changes:
        return record, ()
    return dataclasses.replace(record, **changes), repaired


def repair_all(records: Iterable[CostRecord]) -> tuple[list[CostRecord], int]:
    """The records as :func:`repair_record` makes them, and how many it changed (each logged)."""
    batch: list[CostRecord] = []
    count = 0
    for r in records:
        fixed, repaired = repair_record(r)
        if repaired:
            count += 1
            logger.warning("ledger record %s repaired before storing: %s", fixed.record_id, ", ".join(repaired))
        batch.append(fixed)
    return batch, count


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
        """Stores what is still queued, then releases resources."""
        ...


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Which records a read returns: ``since <= ts < until`` and one request id (``None``: any)."""

    since: float | None = None
    until: float | None = None
    request_id: str | None = None

    def matches(self, record: CostRecord) -> bool:
        """Whether ``record`` passes the filter."""
        return (
            (self.since is None or record.ts >= self.since)
            and (self.until is None or record.ts < self.until)
            and (self.request_id is None or record.request_id == self.request_id)
        )

    def sql(self, placeholder: str) -> tuple[list[str], list[float | str]]:
        """The SQL conditions of the set filters (``ts >= ?``...) and their parameters, in order.

        Args:
            placeholder: The driver's parameter marker (``?`` for sqlite3, ``%s`` for psycopg).
        """
        where: list[str] = []
        args: list[float | str] = []
        for column, value in (("ts >=", self.since), ("ts <", self.until), ("request_id =", self.request_id)):
            if value is not None:
                where.append(f"{column} {placeholder}")
                args.append(value)
        return where, args


class RecordStore:
    """Base of the built-in backends: every read is one filtered, time-ordered :meth:`_select`.

    A subclass implements :meth:`write_many` and :meth:`_select`; :meth:`write`,
    :meth:`records` and :meth:`iter_records` are written here once.
    """

    def write(self, record: CostRecord) -> None:
        """Stores one record durably before returning."""
        self.write_many((record,))

    def write_many(self, records: Iterable[CostRecord]) -> None:
        """Stores several records atomically."""
        raise NotImplementedError

    def records(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        request_id: str | None = None,
    ) -> list[CostRecord]:
        """Records in time order, optionally filtered.

        Raises:
            LedgerError: the ledger cannot be read.
        """
        return list(self._select(RecordFilter(since, until, request_id), 10_000))

    def iter_records(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        request_id: str | None = None,
        batch: int = 10_000,
    ) -> Iterator[CostRecord]:
        """The matching records in time order, read ``batch`` at a time (never all held in memory).

        Raises:
            LedgerError: the ledger cannot be read (when the iterator is consumed).
        """
        return self._select(RecordFilter(since, until, request_id), batch)

    def _select(self, where: RecordFilter, batch: int) -> Iterator[CostRecord]:
        """The records passing ``where`` in time order, fetched ``batch`` at a time."""
        raise NotImplementedError


class MemoryLedger(RecordStore):
    """An in-process ledger (tests, ``backend: memory``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[CostRecord] = []
        self._ids: set[str] = set()

    def write_many(self, records: Iterable[CostRecord]) -> None:
        batch = list(records)
        with self._lock:
            for r in batch:
                if r.record_id not in self._ids:
                    self._ids.add(r.record_id)
                    self._records.append(r)

    def _select(self, where: RecordFilter, batch: int) -> Iterator[CostRecord]:
        with self._lock:
            items = list(self._records)
        return iter(sorted((r for r in items if where.matches(r)), key=lambda r: r.ts))

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
