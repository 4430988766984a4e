"""Work that must happen when the interpreter exits: flush accountants, then close ledgers.

Objects register a bound method with :func:`at_exit`; one :mod:`atexit` handler (registered on
first use, never at import) calls them in phase order, accountants (phase 0) before ledgers
(phase 1), so records still held in memory reach a ledger before it stops. Only weak
references are kept: an object that was garbage-collected is not kept alive for the exit.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Callable

__all__ = ["CLOSE", "FLUSH", "at_exit", "run_exit_hooks"]

logger = logging.getLogger(__name__)

FLUSH = 0
CLOSE = 1

_lock = threading.Lock()
_hooks: list[tuple[int, weakref.WeakMethod[Callable[[], object]]]] = []
_registered = False


def at_exit(method: Callable[[], object], phase: int) -> None:
    """Calls the bound ``method`` at interpreter exit, in ``phase`` order (FLUSH before CLOSE)."""
    global _registered  # noqa: PLW0603 - one process-wide handler
    with _lock:
        _hooks.append((phase, weakref.WeakMethod(method)))
        if not _registered:
            atexit.register(run_exit_hooks)
            _registered = True


def run_exit_hooks() -> None:
    """Runs the registered hooks now (each at most once); errors are logged, never raised."""
    with _lock:
        hooks = sorted(_hooks, key=lambda h: h[0])
        _hooks.clear()
    for _, ref in hooks:
        method = ref()
        if method is None:
            continue
        try:
            method()
        except Exception:
            logger.exception("exit hook %r failed", method)
