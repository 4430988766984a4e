"""A local SQLite outbox: records wait here until a remote ledger has acknowledged them.

Each process writes its own outbox file (``outbox-<id>.sqlite`` in the outbox folder) and holds
an exclusive ``flock`` on ``<file>.lock`` while it runs. A file whose lock is free belongs to a
process that stopped (crashed, killed) before shipping everything: the next ledger that opens
the folder adopts it, ships its rows and deletes it. Rows are deleted only after the remote
database committed them; the remote insert ignores record ids it already has, so a crash
between the commit and the delete ships a record twice but stores it once.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from langchain_costrouter.core.errors import LedgerError
from langchain_costrouter.core.ledger.base import CostRecord, record_from_dict

__all__ = ["Outbox", "adopt_orphans"]

logger = logging.getLogger(__name__)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, record TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS rejected (seq INTEGER PRIMARY KEY AUTOINCREMENT, reason TEXT NOT NULL, "
    "record TEXT NOT NULL)",
)


def _try_lock(path: Path) -> IO[bytes] | None:
    """An open lock file holding an exclusive flock on ``path``, or ``None`` if another process has it."""
    import fcntl

    fh = path.open("ab")
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return None
    return fh


class Outbox:
    """One outbox file, locked by this process while open.

    Args:
        path: The SQLite file.
        lock: The held lock file (``None``: take it now; raises if another process holds it).
    """

    def __init__(self, path: Path, *, lock: IO[bytes] | None = None) -> None:
        self.path = path
        self._lock_path = Path(f"{path}.lock")
        self._mutex = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._lock_fh = lock if lock is not None else _try_lock(self._lock_path)
            if self._lock_fh is None:
                msg = f"outbox {path} is in use by another process"
                raise LedgerError(msg)
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            for stmt in _SCHEMA:
                self._conn.execute(stmt)
        except (OSError, sqlite3.Error) as exc:
            msg = f"cannot open ledger outbox {path}: {exc}"
            raise LedgerError(msg) from exc

    @classmethod
    def create(cls, directory: Path) -> Outbox:
        """A new outbox file of this process in ``directory``."""
        return cls(directory / f"outbox-{uuid.uuid4().hex[:16]}.sqlite")

    def put(self, records: Iterable[CostRecord]) -> None:
        """Stores records durably (one transaction).

        Raises:
            LedgerError: the local file cannot be written.
        """
        rows = [(json.dumps(r.to_dict(), allow_nan=False, sort_keys=True),) for r in records]
        if not rows:
            return
        with self._mutex:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    self._conn.executemany("INSERT INTO outbox (record) VALUES (?)", rows)
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                msg = f"cannot write ledger outbox {self.path}: {exc}"
                raise LedgerError(msg) from exc

    def peek(self, limit: int) -> list[tuple[int, CostRecord]]:
        """The oldest ``limit`` waiting records with their sequence numbers."""
        with self._mutex:
            rows = self._conn.execute("SELECT seq, record FROM outbox ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [(int(seq), record_from_dict(json.loads(text))) for seq, text in rows]

    def remove(self, seqs: Iterable[int]) -> None:
        """Deletes shipped records."""
        ids = [(s,) for s in seqs]
        with self._mutex:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany("DELETE FROM outbox WHERE seq = ?", ids)
            self._conn.execute("COMMIT")

    def reject(self, seq: int, record: CostRecord, reason: str) -> None:
        """Moves a record the remote database refuses for its content to the ``rejected`` table."""
        text = json.dumps(record.to_dict(), default=repr, ensure_ascii=True)
        with self._mutex:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("INSERT INTO rejected (reason, record) VALUES (?, ?)", (reason, text))
            self._conn.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
            self._conn.execute("COMMIT")

    def size(self) -> int:
        """Records waiting."""
        with self._mutex:
            (n,) = self._conn.execute("SELECT COUNT(*) FROM outbox").fetchone()
        return int(n)

    def rejected(self) -> int:
        """Records the remote database refused."""
        with self._mutex:
            (n,) = self._conn.execute("SELECT COUNT(*) FROM rejected").fetchone()
        return int(n)

    def close(self, *, delete_if_empty: bool = True) -> None:
        """Closes the file (deleting it when nothing waits and nothing was rejected) and releases the lock."""
        with self._mutex:
            empty = (
                self._conn.execute("SELECT (SELECT COUNT(*) FROM outbox) + (SELECT COUNT(*) FROM rejected)").fetchone()[
                    0
                ]
                == 0
            )
            self._conn.close()
        if delete_if_empty and empty:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        if self._lock_fh is not None:
            if delete_if_empty and empty:
                self._lock_path.unlink(missing_ok=True)
            self._lock_fh.close()
            self._lock_fh = None


def adopt_orphans(directory: Path, *, own: Path | None = None) -> list[Outbox]:
    """Outboxes in ``directory`` left by processes that stopped (their lock is free), now locked by us."""
    if not directory.is_dir():
        return []
    found: list[Outbox] = []
    for path in sorted(directory.glob("outbox-*.sqlite")):
        if own is not None and path == own:
            continue
        lock = _try_lock(Path(f"{path}.lock"))
        if lock is None:
            continue
        try:
            box = Outbox(path, lock=lock)
        except LedgerError:
            lock.close()
            logger.exception("cannot adopt ledger outbox %s", path)
            continue
        n = box.size()
        if n:
            logger.warning("adopted ledger outbox %s of a stopped process (%d record(s) to ship)", path, n)
        found.append(box)
    return found
