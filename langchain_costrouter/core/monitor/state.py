"""The monitor's persisted state: thresholds, observation windows and the day's shadow spend.

One JSON file per config (``monitor.state_path``), shared by every process that runs the
config (``ChatCostRouter``, the LiteLLM Router, the proxy): each change is a short
read-modify-write under an exclusive lock on ``<state>.lock`` (``fcntl``; on systems without it,
a process-local lock), written atomically (temporary file + rename), so a crash never leaves a
half-written state and two processes never lose each other's spend. ``state_path: null`` keeps
the state in memory (one process, nothing survives a restart).

The file::

    {"version": 1,
     "keys": {"<route>|<tier>": {"threshold": 0.71, "items": [[score, rate, loss, ts], ...], ...}},
     "spend": {"2026-12-05": 0.42}}
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_costrouter.core.errors import MonitorError
from langchain_costrouter.core.monitor.controller import KeyState

__all__ = ["MonitorState", "StateStore"]

logger = logging.getLogger(__name__)

STATE_VERSION = 1


@dataclass(slots=True)
class MonitorState:
    """Everything the monitor persists."""

    keys: dict[str, KeyState] = field(default_factory=dict)
    spend: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "version": STATE_VERSION,
            "keys": {k: v.to_dict() for k, v in sorted(self.keys.items())},
            "spend": dict(sorted(self.spend.items())[-31:]),  # a month of days is plenty
        }

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "state") -> MonitorState:
        """Reads :meth:`to_dict` output.

        Raises:
            MonitorError: Not a monitor state.
        """
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            msg = f"{where} is not a monitor state file of version {STATE_VERSION}"
            raise MonitorError(msg)
        try:
            keys = {str(k): KeyState.from_dict(v) for k, v in dict(data.get("keys", {})).items()}
            spend = {str(k): float(v) for k, v in dict(data.get("spend", {})).items()}
        except (TypeError, ValueError, IndexError, AttributeError) as exc:
            msg = f"{where} is malformed: {exc}"
            raise MonitorError(msg) from exc
        return cls(keys, spend)


class StateStore:
    """Reads and updates the state, in a file (shared across processes) or in memory.

    Args:
        path: The JSON state file (created when missing); ``None`` keeps the state in memory.

    Raises:
        MonitorError: The file exists but is not a monitor state.
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = None if path is None else Path(path)
        self._lock = threading.Lock()
        self._memory = MonitorState()
        if self.path is not None:
            self.read()  # fail now, naming the file, rather than on the first shadow

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        assert self.path is not None
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: the process lock only
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.with_name(self.path.name + ".lock").open("a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _load(self) -> MonitorState:
        assert self.path is not None
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return MonitorState()
        except OSError as exc:
            msg = f"cannot read monitor state {self.path}: {exc}"
            raise MonitorError(msg) from exc
        try:
            data = json.loads(text) if text.strip() else {"version": STATE_VERSION}
        except ValueError as exc:
            msg = f"monitor state {self.path} is not JSON: {exc}"
            raise MonitorError(msg) from exc
        return MonitorState.from_dict(data, where=f"monitor state {self.path}")

    def read(self) -> MonitorState:
        """The current state (a snapshot)."""
        if self.path is None:
            with self._lock:
                return MonitorState.from_dict(self._memory.to_dict())
        with self._lock, self._file_lock():
            return self._load()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[MonitorState]:
        """The state, locked; changes made to it are saved when the block ends without error.

        Raises:
            MonitorError: The file cannot be read or written.
        """
        with self._lock:
            if self.path is None:
                yield self._memory
                return
            with self._file_lock():
                state = self._load()
                yield state
                tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
                try:
                    tmp.write_text(json.dumps(state.to_dict(), separators=(",", ":")), encoding="utf-8")
                    tmp.replace(self.path)
                except OSError as exc:
                    msg = f"cannot write monitor state {self.path}: {exc}"
                    raise MonitorError(msg) from exc
