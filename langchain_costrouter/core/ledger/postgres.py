"""The shared ledger of several processes or replicas: Postgres, written off the request path.

:class:`PostgresLedger` (``ledger.backend: postgres``) never makes a request wait on the network:

1. :meth:`~PostgresLedger.write_many` repairs the records and commits them to this process's
   local SQLite outbox (:mod:`.outbox`), a write as cheap as the embedded ledger's; a record is
   durable once it returns.
2. A writer thread ships the outbox to Postgres in batches (``INSERT ... ON CONFLICT
   (record_id) DO NOTHING``), then deletes what was committed. While Postgres is unreachable
   the records wait in the outbox and the thread retries with a growing pause; they are
   replayed when it is back, each stored exactly once thanks to the unique record id.
3. A record Postgres refuses for its content is moved to the outbox's ``rejected`` table and
   logged; the others go on.
4. At exit (or :meth:`~PostgresLedger.close`) the thread ships what it can within a deadline;
   what is left stays in the outbox file, which the next ledger opened on the same folder
   adopts and ships.

psycopg 3 is imported only when this backend is built (``pip install
'langchain-costrouter[postgres]'``). The table is created on first connection (under an
advisory lock, so replicas starting together do not race).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from langchain_costrouter.core._exit import CLOSE, at_exit
from langchain_costrouter.core.errors import LedgerError
from langchain_costrouter.core.ledger.base import COLUMNS, CostRecord, RecordFilter, RecordStore, repair_all
from langchain_costrouter.core.ledger.outbox import Outbox, adopt_orphans

__all__ = ["PostgresLedger", "import_psycopg"]

logger = logging.getLogger(__name__)

_TYPES = {
    "request_id": "TEXT NOT NULL",
    "model": "TEXT NOT NULL",
    "kind": "TEXT NOT NULL",
    "outcome": "TEXT NOT NULL",
    "ts": "DOUBLE PRECISION NOT NULL",
    "tenant": "TEXT NOT NULL",
    "task": "TEXT",
    "tier": "TEXT",
    "input_tokens": "BIGINT NOT NULL",
    "output_tokens": "BIGINT NOT NULL",
    "cached_tokens": "BIGINT NOT NULL",
    "cache_write_tokens": "BIGINT NOT NULL",
    "reasoning_tokens": "BIGINT NOT NULL",
    "cost_usd": "DOUBLE PRECISION NOT NULL",
    "premium_cost_usd": "DOUBLE PRECISION NOT NULL",
    "baseline_cost_usd": "DOUBLE PRECISION NOT NULL",
    "latency_ms": "DOUBLE PRECISION NOT NULL",
    "cache_hit": "TEXT",
    "escalation_step": "BIGINT NOT NULL",
    "gate_score": "DOUBLE PRECISION",
    "error": "TEXT",
    "source": "TEXT NOT NULL",
    "extra": "JSON NOT NULL",  # json keeps the text as written (jsonb would turn 1e16 into an integer)
    "record_id": "TEXT NOT NULL UNIQUE",
}
_MAX_PAUSE_S = 5.0


def import_psycopg() -> Any:
    """The ``psycopg`` module.

    Raises:
        LedgerError: psycopg 3 is not installed.
    """
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - the dev and postgres extras install it
        msg = "the postgres ledger needs psycopg 3: pip install 'langchain-costrouter[postgres]'"
        raise LedgerError(msg) from exc
    return psycopg


class PostgresLedger(RecordStore):
    """Cost records in a Postgres table, shipped from a local outbox by a writer thread.

    Args:
        url: A libpq connection string or ``postgresql://`` URL (may hold a password: it is
            never logged).
        table: Table name (created if missing).
        outbox_dir: Folder of the local outbox files (one per process).
        batch_size: Records per ``INSERT`` batch.
        flush_interval_s: Longest pause of the writer between two looks at the outbox.
        connect_timeout_s: Connection timeout.
        application_name: Reported to Postgres (``pg_stat_activity.application_name``).

    Attributes:
        shipped: Records this process committed to Postgres.
        rejected: Records Postgres refused for their content (kept in the outbox).
        repaired: Records stored after :func:`repair_record` changed them.
        failures: Failed attempts to reach or write Postgres.
    """

    dialect = "postgres"

    def __init__(
        self,
        url: str,
        *,
        table: str = "cost_records",
        outbox_dir: str | Path = ".costrouter-outbox",
        batch_size: int = 500,
        flush_interval_s: float = 0.2,
        connect_timeout_s: float = 5.0,
        application_name: str = "costrouter-ledger",
    ) -> None:
        self._psycopg = import_psycopg()
        from psycopg import sql

        self._sql = sql
        self._url = url
        self.table = table
        self._ident = sql.Identifier(table)
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self._connect_timeout = max(1, round(connect_timeout_s))
        self._app = application_name
        self.shipped = 0
        self.rejected = 0
        self.repaired = 0
        self.failures = 0
        self._conn: Any = None
        self._schema_ok = False
        self._down_since: float | None = None
        self._outbox = Outbox.create(Path(outbox_dir))
        self._boxes: list[Outbox] = [self._outbox, *adopt_orphans(Path(outbox_dir), own=self._outbox.path)]
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._busy = True  # until the writer's first pass (which creates the table) is over
        self._stop = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"costrouter-ledger-{table}", daemon=True)
        self._thread.start()
        at_exit(self.close, CLOSE)

    # ------------------------------------------------------------------ writes
    def write_many(self, records: Iterable[CostRecord]) -> None:
        """Commits the records to the local outbox; the writer thread ships them.

        Raises:
            LedgerError: the ledger is closed or the local outbox cannot be written.
        """
        if self._closed:
            msg = f"postgres ledger {self.table!r} is closed"
            raise LedgerError(msg)
        batch, repaired = repair_all(records)
        self.repaired += repaired
        if batch:
            self._outbox.put(batch)
            self._wake.set()

    @property
    def waiting(self) -> int:
        """Records in the outboxes, not yet in Postgres."""
        total = 0
        for box in list(self._boxes):
            try:
                total += box.size()
            except sqlite3.ProgrammingError:  # an adopted outbox closed after it was drained
                continue
        return total

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Waits until every outbox record reached Postgres; ``False`` if ``timeout_s`` ran out."""
        deadline = time.monotonic() + timeout_s
        while True:
            self._wake.set()
            with self._idle:
                if not self._busy and self.waiting == 0:
                    return True
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return self.waiting == 0
                self._idle.wait(min(left, 0.05))

    # ------------------------------------------------------------------ writer thread
    def _run(self) -> None:
        pause = self.flush_interval_s
        try:  # create the table now, so that readers find it before the first record
            self._connection()
        except (self._psycopg.Error, OSError) as exc:
            self._went_down(exc)
        while True:
            stopping = self._stop.is_set()
            with self._idle:
                self._busy = True
            try:
                ok = self._ship_all()
            finally:
                with self._idle:
                    self._busy = False
                    self._idle.notify_all()
            if stopping:
                return
            if ok:
                pause = self.flush_interval_s
                self._wake.wait(pause)
            else:
                pause = min(_MAX_PAUSE_S, max(pause * 2, 0.1))
                self._stop.wait(pause)
            self._wake.clear()

    def _ship_all(self) -> bool:
        """Ships every waiting record; ``False`` when Postgres could not be reached."""
        for box in list(self._boxes):
            while rows := box.peek(self.batch_size):
                if not self._ship(box, rows):
                    return False
            if box is not self._outbox:
                self._boxes.remove(box)
                box.close()  # drained: the adopted file is deleted
        return True

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            self._conn = self._psycopg.connect(
                self._url, connect_timeout=self._connect_timeout, application_name=self._app, autocommit=False
            )
            self._schema_ok = False
        if not self._schema_ok:
            self._create_schema(self._conn)
            self._schema_ok = True
        return self._conn

    def _create_schema(self, conn: Any) -> None:
        sql = self._sql
        cols = sql.SQL(", ").join(sql.SQL(f"{c} {_TYPES[c]}") for c in COLUMNS)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"costrouter:{self.table}",))
            conn.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} (id BIGSERIAL PRIMARY KEY, {})").format(self._ident, cols)
            )
            for name, col in (("ts", "ts"), ("request", "request_id"), ("tenant", "tenant")):
                conn.execute(
                    sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
                        sql.Identifier(f"{self.table}_{name}"), self._ident, sql.Identifier(col)
                    )
                )

    def _insert_sql(self) -> Any:
        sql = self._sql
        placeholders = sql.SQL(", ").join(sql.SQL("%s::json") if c == "extra" else sql.Placeholder() for c in COLUMNS)
        return sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (record_id) DO NOTHING").format(
            self._ident, sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS), placeholders
        )

    def _ship(self, box: Outbox, rows: list[tuple[int, CostRecord]]) -> bool:
        pg = self._psycopg
        try:
            conn = self._connection()
            try:
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany(self._insert_sql(), [r.to_row() for _, r in rows])
            except (pg.DataError, pg.IntegrityError, pg.errors.UntranslatableCharacter):
                self._ship_one_by_one(conn, box, rows)
                return True
            except pg.errors.UndefinedTable:
                self._schema_ok = False
                raise
        except (pg.OperationalError, pg.InterfaceError, pg.errors.UndefinedTable, OSError) as exc:
            self._went_down(exc)
            return False
        box.remove(seq for seq, _ in rows)
        self.shipped += len(rows)
        if self._down_since is not None:
            logger.warning(
                "postgres ledger %r reachable again after %.1f s; outbox replayed",
                self.table,
                time.monotonic() - self._down_since,
            )
            self._down_since = None
        return True

    def _ship_one_by_one(self, conn: Any, box: Outbox, rows: list[tuple[int, CostRecord]]) -> None:
        pg = self._psycopg
        for seq, rec in rows:
            try:
                with conn.transaction():
                    conn.execute(self._insert_sql(), rec.to_row())
            except (pg.DataError, pg.IntegrityError, pg.errors.UntranslatableCharacter) as exc:
                reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
                box.reject(seq, rec, reason)
                self.rejected += 1
                logger.error("postgres ledger refused record %r (%s); kept in %s", rec.record_id, reason, box.path)
                continue
            box.remove([seq])
            self.shipped += 1

    def _went_down(self, exc: BaseException) -> None:
        self.failures += 1
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # the connection is already broken
                logger.debug("closing a broken postgres connection failed", exc_info=True)
            self._conn = None
        if self._down_since is None:
            self._down_since = time.monotonic()
            # The message of a libpq error never holds the password of the URL.
            logger.warning(
                "postgres ledger %r unreachable (%s); records wait in the outbox %s",
                self.table,
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                self._outbox.path,
            )

    # ------------------------------------------------------------------ reads
    def _read_conn(self) -> Any:
        try:
            conn = self._psycopg.connect(
                self._url,
                connect_timeout=self._connect_timeout,
                application_name=f"{self._app}-reader",
                autocommit=True,
            )
        except self._psycopg.Error as exc:
            msg = f"cannot read the postgres ledger {self.table!r}: {str(exc).splitlines()[0] if str(exc) else exc}"
            raise LedgerError(msg) from exc
        return conn

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Runs one read-only SQL statement (``%s`` placeholders) and returns its rows.

        Raises:
            LedgerError: Postgres cannot be reached or the statement fails.
        """
        with self._read_conn() as conn:
            try:
                return list(conn.execute(sql, tuple(params)).fetchall())
            except self._psycopg.Error as exc:
                msg = f"cannot read the postgres ledger {self.table!r}: {str(exc).splitlines()[0]}"
                raise LedgerError(msg) from exc

    def _before_read(self) -> None:
        if not self._closed and not self.flush(timeout_s=10.0):
            logger.warning("reading the postgres ledger with %d record(s) still in the outbox", self.waiting)

    def _select(self, where: RecordFilter, batch: int) -> Iterator[CostRecord]:
        """The matching records in time order, streamed with a server-side cursor."""
        self._before_read()
        sql = self._sql
        clauses, args = where.sql("%s")
        q = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS), self._ident)
        if clauses:
            q += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(sql.SQL(c) for c in clauses)
        q += sql.SQL(" ORDER BY ts, id")
        conn = self._read_conn()
        try:
            with conn.transaction(), conn.cursor(name="costrouter_records") as cur:
                cur.itersize = batch
                cur.execute(q, args)
                yield from map(CostRecord.from_row, cur)
        except self._psycopg.Error as exc:
            msg = f"cannot read the postgres ledger {self.table!r}: {str(exc).splitlines()[0]}"
            raise LedgerError(msg) from exc
        finally:
            conn.close()

    def count(self) -> int:
        self._before_read()
        q = self._sql.SQL("SELECT COUNT(*) FROM {}").format(self._ident)
        with self._read_conn() as conn:
            try:
                row = conn.execute(q).fetchone()
            except self._psycopg.Error as exc:
                msg = f"cannot read the postgres ledger {self.table!r}: {str(exc).splitlines()[0]}"
                raise LedgerError(msg) from exc
        return int(row[0]) if row else 0

    def spent_since(self, scope: str, owner: str, since: float) -> float | None:
        """Dollars recorded for tenant ``owner`` since ``since`` (epoch seconds): re-seeds budgets.

        This process's outbox is shipped first (for up to 2 s); other processes' pending records
        are not counted. ``None`` for any other ``scope`` (records do not name the API key).

        Raises:
            LedgerError: Postgres cannot be reached or the statement fails.
        """
        if scope != "tenant":
            return None
        if not self._closed:
            self.flush(timeout_s=2.0)
        q = self._sql.SQL("SELECT COALESCE(SUM(cost_usd), 0) FROM {} WHERE tenant = %s AND ts >= %s").format(
            self._ident
        )
        with self._read_conn() as conn:
            try:
                row = conn.execute(q, (owner, since)).fetchone()
            except self._psycopg.Error as exc:
                msg = f"cannot read the postgres ledger {self.table!r}: {str(exc).splitlines()[0]}"
                raise LedgerError(msg) from exc
        return float(row[0]) if row else 0.0

    # ------------------------------------------------------------------ lifecycle
    def close(self, timeout_s: float = 10.0) -> None:
        """Ships what it can within ``timeout_s``, stops the writer; the rest stays in the outbox."""
        if self._closed:
            return
        self.flush(timeout_s)
        self._closed = True
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=max(1.0, timeout_s))
        left = self.waiting
        if left:
            logger.warning(
                "postgres ledger %r closed with %d record(s) in the outbox %s; they are shipped next start",
                self.table,
                left,
                self._outbox.path,
            )
        for box in self._boxes:
            box.close()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
