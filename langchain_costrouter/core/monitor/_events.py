"""The monitor's counters and the items its queue carries (private to the monitor package)."""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from langchain_costrouter.core.cascade import CascadeAttempt, CascadeResult
from langchain_costrouter.core.types import ChatRequest, Completion

__all__ = ["Counters", "Event", "Feedback", "MonitorStats", "Pending", "today"]


def today(ts: float | None = None) -> str:
    """The UTC day of ``ts`` (default: now), as the state's spend keys write it."""
    return dt.datetime.fromtimestamp(time.time() if ts is None else ts, dt.UTC).date().isoformat()


@dataclass(frozen=True, slots=True)
class MonitorStats:
    """Counters of one monitor (this process).

    Attributes:
        observed: Requests observed.
        sampled: Accepted answers chosen for a shadow.
        shadowed: Shadow calls made.
        graded: Grades obtained (shadows, free grades of rejected answers, feedback).
        skipped_budget: Shadows not made because the daily cap was reached.
        dropped: Observations dropped because the queue was full or the monitor closed.
        failed: Shadow calls or grades that failed.
        spent_usd: Shadow and grading spend of this process.
    """

    observed: int
    sampled: int
    shadowed: int
    graded: int
    skipped_budget: int
    dropped: int
    failed: int
    spent_usd: float


@dataclass(slots=True)
class Event:
    """A served answer to process: shadow, grade, add to the window."""

    request: ChatRequest
    result: CascadeResult
    attempt: CascadeAttempt | None
    rate: float
    sampled: bool
    rejected: Sequence[tuple[CascadeAttempt, Completion]]
    ts: float


@dataclass(slots=True)
class Feedback:
    """A grade reported by the application."""

    request_id: str
    score: float
    ts: float


@dataclass(slots=True)
class Pending:
    """A served lower-tier answer waiting for feedback (feedback grader)."""

    key: str
    route: str | None
    tier: str
    tenant: str
    step: int
    score: float
    ts: float


@dataclass(slots=True)
class Counters:
    """Mutable counters behind :class:`MonitorStats`."""

    observed: int = 0
    sampled: int = 0
    shadowed: int = 0
    graded: int = 0
    skipped_budget: int = 0
    dropped: int = 0
    failed: int = 0
    spent_usd: float = 0.0
    stratum_day: dict[tuple[str, str | None, str], int] = field(default_factory=lambda: defaultdict(int))
