"""The embedded default ledger: one SQLite file in WAL mode.

:class:`SQLiteLedger` is safe to share between threads, asyncio tasks and processes (the LiteLLM
proxy and ``costrouter report`` may open the same file). Three rules keep records from being
lost:

- **One bad record never blocks the others.** Every record goes through
  :func:`~langchain_costrouter.core.ledger.base.repair_record`; if the database still refuses a
  batch for a data reason, the batch is written record by record and a record that still fails
  is kept in the ``cost_records_rejected`` table (its JSON and the reason), counted in
  :attr:`SQLiteLedger.rejected` and logged.
- **A deleted or replaced file is noticed.** Before each write the file's device and inode are
  compared with the ones opened; when the file is gone or is another file, the ledger logs a
  warning, closes its connection and opens (or creates) the file at the path again.
- **Replays are idempotent.** ``record_id`` is unique: writing the same record twice stores it
  once (``ON CONFLICT (record_id) DO NOTHING``; any other constraint still fails loudly).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from langchain_costrouter.core.errors import LedgerError
from langchain_costrouter.core.ledger.base import COLUMNS, CostRecord, RecordFilter, RecordStore, repair_all

__all__ = ["SQLiteLedger", "sqlite_row"]

logger = logging.getLogger(__name__)

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
    extra TEXT NOT NULL,
    record_id TEXT
);
CREATE INDEX IF NOT EXISTS cost_records_ts ON cost_records(ts);
CREATE INDEX IF NOT EXISTS cost_records_request ON cost_records(request_id);
CREATE TABLE IF NOT EXISTS cost_records_rejected (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    reason TEXT NOT NULL,
    record TEXT NOT NULL
);
"""

# Ledgers written before records had ids get the column, and their rows a stable id.
_MIGRATE = """
UPDATE cost_records SET record_id = 'sqlite-' || id WHERE record_id IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS cost_records_record_id ON cost_records(record_id);
"""

# Errors that say something about the rows (retry them one by one), not about the database.
_DATA_ERRORS = (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.DataError, ValueError, OverflowError)


#: The column values of a record, in :data:`COLUMNS` order (``extra`` as JSON text).
sqlite_row = CostRecord.to_row


class SQLiteLedger(RecordStore):
    """A SQLite file in WAL mode.

    Writes go through one connection under a lock (SQLite serialises writers anyway); each
    batch is its own short transaction committed before :meth:`write_many` returns, so a crash
    loses nothing that was acknowledged. Writers in other processes wait on the lock up to
    ``busy_timeout_s``. Reads open a short-lived connection of their own.

    Attributes:
        rejected: Records the database refused even after repair (kept in
            ``cost_records_rejected``).
        repaired: Records stored after :func:`repair_record` changed them.
        reopened: Times the file was found deleted or replaced and opened again.
    """

    dialect = "sqlite"
    table = "cost_records"

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self._timeout = busy_timeout_s
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None
        self.rejected = 0
        self.repaired = 0
        self.reopened = 0
        with self._lock:
            self._open()

    # ------------------------------------------------------------------ connection
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self._timeout, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _open(self) -> None:
        """Opens (creating) the file and its schema; the caller holds ``_lock``."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        conn.execute(stmt)
                cols = {row[1] for row in conn.execute("PRAGMA table_info(cost_records)")}
                if "record_id" not in cols:
                    conn.execute("ALTER TABLE cost_records ADD COLUMN record_id TEXT")
                for stmt in _MIGRATE.split(";"):
                    if stmt.strip():
                        conn.execute(stmt)
            except BaseException:
                conn.execute("ROLLBACK")
                conn.close()
                raise
            conn.execute("COMMIT")
            st = self.path.stat()
        except (OSError, sqlite3.Error) as exc:
            msg = f"cannot open ledger {self.path}: {exc}"
            raise LedgerError(msg) from exc
        self._conn = conn
        self._identity = (st.st_dev, st.st_ino)

    def _writer(self) -> sqlite3.Connection:
        """The write connection, reopened when the file was deleted or replaced; holds ``_lock``."""
        try:
            st = self.path.stat()
            same = (st.st_dev, st.st_ino) == self._identity
        except FileNotFoundError:
            same = False
        if self._conn is None or not same:
            if self._conn is not None:
                logger.warning("ledger file %s was deleted or replaced while open; creating it again", self.path)
                self._drop_stale()
                self.reopened += 1
            self._open()
        assert self._conn is not None
        return self._conn

    def _drop_stale(self) -> None:
        """Closes the connection to a deleted file and removes its orphaned WAL files."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                # Empties the WAL into the old file: its frames must never reach the new one.
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                conn.close()
            except sqlite3.Error:
                logger.debug("closing a stale ledger connection failed", exc_info=True)
        if not self.path.exists():
            # A WAL left by the deleted file would be replayed into the new one and corrupt it.
            for suffix in ("-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    # ------------------------------------------------------------------ writes
    def write_many(self, records: Iterable[CostRecord]) -> None:
        """Stores the records in one transaction (each record id once).

        Raises:
            LedgerError: The database cannot be written (locked past the timeout, disk full,
                unreadable file). A record the database refuses for its content does not
                raise: it is kept in ``cost_records_rejected`` and counted.
        """
        batch, repaired = repair_all(records)
        self.repaired += repaired
        if not batch:
            return
        with self._lock:
            try:
                conn = self._writer()
                try:
                    self._insert(conn, batch)
                except _DATA_ERRORS:
                    if len(batch) == 1:
                        self._reject(conn, batch[0])
                    else:
                        for r in batch:
                            try:
                                self._insert(conn, [r])
                            except _DATA_ERRORS:
                                self._reject(conn, r)
            except sqlite3.Error as exc:
                msg = f"cannot write to ledger {self.path}: {exc}"
                raise LedgerError(msg) from exc

    @staticmethod
    def _insert(conn: sqlite3.Connection, batch: list[CostRecord]) -> None:
        rows = [r.to_row() for r in batch]
        # Column names are constants of this package; values are bound parameters.
        sql = (
            f"INSERT INTO cost_records ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "  # noqa: S608
            "ON CONFLICT(record_id) DO NOTHING"
        )
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(sql, rows)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _reject(self, conn: sqlite3.Connection, record: CostRecord) -> None:
        """Keeps a record the table refused, as JSON text, with the reason."""
        try:
            self._insert(conn, [record])
        except _DATA_ERRORS as exc:
            reason = f"{type(exc).__name__}: {exc}"
        else:  # pragma: no cover - it went in on the second try
            return
        text = json.dumps(record.to_dict(), default=repr, ensure_ascii=True)
        conn.execute(
            "INSERT INTO cost_records_rejected (ts, reason, record) VALUES (?, ?, ?)", (time.time(), reason, text)
        )
        self.rejected += 1
        logger.error("ledger record %r refused (%s); kept in cost_records_rejected", record.record_id, reason)

    # ------------------------------------------------------------------ reads
    def _reader(self) -> sqlite3.Connection:
        if not self.path.is_file():
            msg = f"ledger file not found: {self.path}"
            raise LedgerError(msg)
        try:
            return self._connect()
        except sqlite3.Error as exc:
            msg = f"cannot read ledger {self.path}: {exc}"
            raise LedgerError(msg) from exc

    def _select(self, where: RecordFilter, batch: int) -> Iterator[CostRecord]:
        clauses, args = where.sql("?")
        sql = f"SELECT {', '.join(COLUMNS)} FROM cost_records"  # noqa: S608 - constant column names
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY ts, id"
        conn = self._reader()
        try:
            cur = conn.execute(sql, args)
            while rows := cur.fetchmany(batch):
                yield from map(CostRecord.from_row, rows)
        except sqlite3.Error as exc:
            msg = f"cannot read ledger {self.path}: {exc}"
            raise LedgerError(msg) from exc
        finally:
            conn.close()

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Runs one read-only SQL statement on the ledger (the SQL report uses it).

        Raises:
            LedgerError: the ledger cannot be read.
        """
        conn = self._reader()
        try:
            return list(conn.execute(sql, tuple(params)).fetchall())
        except sqlite3.Error as exc:
            msg = f"cannot read ledger {self.path}: {exc}"
            raise LedgerError(msg) from exc
        finally:
            conn.close()

    def count(self) -> int:
        ((n,),) = self.query("SELECT COUNT(*) FROM cost_records")
        return int(n)

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __iter__(self) -> Iterator[CostRecord]:
        return iter(self.records())
