"""The cost ledger: one :class:`CostRecord` per call, cache hit or overhead.

Backends (all implement :class:`LedgerBackend`):

- :class:`SQLiteLedger` (``backend: sqlite``, the embedded default): one SQLite file in WAL mode.
- :class:`PostgresLedger` (``backend: postgres``): a Postgres table shared by replicas, written
  by a background thread from a local outbox (psycopg 3 is imported only when it is built).
- :class:`MemoryLedger` (``backend: memory``) and :class:`NullLedger` (``backend: none``).

Every record carries two baseline figures: ``premium_cost_usd`` (the same tokens priced on the
premium model) and ``baseline_cost_usd`` (what an always-premium app would have paid for this
record: the premium price of the served answer; 0 for rejected attempts and overheads, which
such an app never makes). Savings are ``sum(baseline_cost_usd) - sum(cost_usd)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_costrouter.core.errors import ConfigError, LedgerError
from langchain_costrouter.core.ledger.base import (
    COLUMNS,
    CostRecord,
    LedgerBackend,
    MemoryLedger,
    NullLedger,
    RecordFilter,
    RecordKind,
    RecordOutcome,
    RecordStore,
    new_record_id,
    new_request_id,
    record_from_dict,
    repair_all,
    repair_record,
)
from langchain_costrouter.core.ledger.postgres import PostgresLedger
from langchain_costrouter.core.ledger.sqlite import SQLiteLedger

if TYPE_CHECKING:
    from langchain_costrouter.core.config import LedgerConfig

__all__ = [
    "COLUMNS",
    "CostRecord",
    "LedgerBackend",
    "MemoryLedger",
    "NullLedger",
    "PostgresLedger",
    "RecordFilter",
    "RecordKind",
    "RecordOutcome",
    "RecordStore",
    "SQLiteLedger",
    "ledger_from_config",
    "new_record_id",
    "new_request_id",
    "open_ledger",
    "record_from_dict",
    "repair_all",
    "repair_record",
]


def open_ledger(backend: str, path: str | Path | None = None) -> LedgerBackend:
    """Builds a ledger backend by name (``sqlite``, ``memory``, ``none``).

    The ``postgres`` backend needs its URL and options: build it with :func:`ledger_from_config`.
    """
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


def ledger_from_config(config: LedgerConfig) -> LedgerBackend:
    """The ledger a ``ledger:`` section describes.

    For ``backend: postgres`` the URL is ``ledger.url`` or, when that is unset, the environment
    variable named by ``ledger.url_env`` (read now).

    Raises:
        ConfigError: ``backend: postgres`` without a URL.
        LedgerError: the backend cannot be opened.
    """
    if config.backend != "postgres":
        return open_ledger(config.backend, config.path)
    url = config.url.get_secret_value() if config.url is not None else os.environ.get(config.url_env or "", "")
    if not url:
        raise ConfigError(
            "ledger.url",
            f"backend 'postgres' needs a connection URL: set ledger.url or the variable {config.url_env}",
        )
    return PostgresLedger(
        url,
        table=config.table,
        outbox_dir=config.outbox_dir,
        batch_size=config.batch_size,
        flush_interval_s=config.flush_interval_s,
    )
