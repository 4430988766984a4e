"""The semantic level's false-hit rate measured on the user's own traffic (``cache.semantic: shadow | auto``).

In shadow mode a semantic candidate that the guard would serve is not served: the request is
answered fresh, and the fresh answer is compared with the candidate's stored answer (by the
configured verifier, or by answer agreement). Every comparison is one observation; a
disagreement is a false hit the cache would have served. :class:`ShadowStats` keeps the counts,
persisted next to the store, and the one-sided Wilson upper bound of the rate; ``auto`` mode
serves semantic hits only while that bound stays under ``cache.max_false_hit_rate``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ShadowCandidate", "ShadowStats", "answers_agree", "wilson_upper"]

logger = logging.getLogger(__name__)

_FILE = "shadow.json"


def wilson_upper(k: int, n: int, z: float = 1.645) -> float:
    """Upper end of the one-sided Wilson score interval of a rate ``k / n`` (95 % at z=1.645)."""
    if n == 0:
        return 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return min(1.0, (centre + margin) / denom)


@dataclass(frozen=True, slots=True)
class ShadowCandidate:
    """A semantic candidate the guard accepted but the cache did not serve (shadow or sample).

    Hand it back with the fresh answer: ``cache.observe_shadow(candidate, fresh_text)``.

    Attributes:
        query: The new request's query.
        cached_query: The stored query whose answer would have been served.
        cached_answer: That stored answer.
        similarity: The candidates' cosine similarity.
        entry_id: The entry's id.
        scope_key: The scope the lookup ran in.
        namespace: The scope's namespace (for the ledger).
    """

    query: str
    cached_query: str
    cached_answer: str
    similarity: float
    entry_id: int
    scope_key: str = ""
    namespace: str = ""


_NUM = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[a-z0-9]+")


def answers_agree(fresh: str, stored: str, *, cosine: float | None = None, min_cosine: float = 0.8) -> bool:
    """Whether two answers to (supposedly) one question say the same thing.

    Answer texts vary between calls, so agreement is loose on wording and strict on facts: the
    numbers they state must be the same, and either their embeddings' ``cosine`` reaches
    ``min_cosine`` or (without one) their word sets overlap by at least half.
    """
    if set(_NUM.findall(fresh)) != set(_NUM.findall(stored)):
        return False
    if cosine is not None:
        return cosine >= min_cosine
    a, b = set(_WORD.findall(fresh.lower())), set(_WORD.findall(stored.lower()))
    return bool(a | b) and len(a & b) / len(a | b) >= 0.5


class ShadowStats:
    """Counts of shadow observations (compared, disagreed), persisted as JSON in ``directory``.

    Args:
        directory: Where ``shadow.json`` lives (``None``: in memory only).
        z: Normal quantile of the one-sided bound (1.645: 95 %).
    """

    def __init__(self, directory: Path | None = None, *, z: float = 1.645) -> None:
        self.path = directory / _FILE if directory is not None else None
        self.z = z
        self.observed = 0
        self.false_hits = 0
        self.pending = 0
        self._lock = threading.Lock()
        self._load()

    def _load(self) -> None:
        if self.path is None or not self.path.is_file():
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            observed, false_hits = int(data["observed"]), int(data["false_hits"])
            if not 0 <= false_hits <= observed:
                raise ValueError("false_hits outside [0, observed]")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("cache shadow counts %s unreadable (%s); starting from zero", self.path, exc)
            return
        self.observed, self.false_hits = observed, false_hits

    def record(self, *, agreed: bool) -> None:
        """Counts one observation and persists the counts (a write failure is logged, not raised)."""
        with self._lock:
            self.observed += 1
            self.false_hits += not agreed
            self._save()

    def reset(self) -> None:
        """Forgets every observation (after the policy changed, the old counts no longer apply)."""
        with self._lock:
            self.observed = self.false_hits = 0
            self._save()

    @property
    def rate(self) -> float | None:
        """Observed false-hit rate (``None`` before any observation)."""
        return self.false_hits / self.observed if self.observed else None

    @property
    def upper_bound(self) -> float:
        """One-sided Wilson upper bound of the false-hit rate (1.0 before any observation)."""
        return wilson_upper(self.false_hits, self.observed, self.z)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``costrouter cache status`` prints)."""
        return {
            "observed": self.observed,
            "false_hits": self.false_hits,
            "false_hit_rate": self.rate,
            "upper_bound_95": round(self.upper_bound, 6),
        }

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".shadow-", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"observed": self.observed, "false_hits": self.false_hits}, f)
            Path(tmp).replace(self.path)
        except OSError:
            logger.warning("could not persist the cache shadow counts to %s", self.path, exc_info=True)
