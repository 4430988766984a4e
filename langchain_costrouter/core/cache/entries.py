"""Value types of the response cache and the ledger helper for hits."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from langchain_costrouter.core.cache.shadow import ShadowCandidate
from langchain_costrouter.core.types import OverheadCall
from langchain_costrouter.core.usage import Usage

if TYPE_CHECKING:
    from langchain_costrouter.core.accounting import CostAccountant
    from langchain_costrouter.core.ledger import CostRecord

__all__ = [
    "CacheEntry",
    "CacheHit",
    "CacheJudge",
    "CacheLookup",
    "CacheStats",
    "JudgeVerdict",
    "StoreOutcome",
    "record_cache_hit",
]

logger = logging.getLogger(__name__)

HitKind = Literal["exact", "semantic"]


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One stored answer."""

    id: int
    scope_key: str
    namespace: str
    query: str
    text: str
    model: str
    tier: str | None
    usage: Usage
    created_at: float
    expires_at: float | None
    message: Mapping[str, Any] = field(default_factory=dict)

    def expired(self, now: float) -> bool:
        """Whether the entry's TTL has passed."""
        return self.expires_at is not None and now >= self.expires_at


@dataclass(frozen=True, slots=True)
class CacheHit:
    """A served answer.

    Attributes:
        text: The stored answer text.
        message: Extra fields to rebuild the message (``response_metadata``, ``id``...).
        model: The model that produced the answer.
        tier: The tier that produced it (and passed its gate).
        usage: The tokens the original call spent: the ledger's baseline for savings.
        kind: ``exact`` or ``semantic``.
        similarity: Cosine similarity of the queries (1.0 for exact hits).
        cached_query: The query the answer was stored for.
        entry_id: The entry's id in the store.
        age_s: Seconds since the answer was stored.
        overhead: Paid side calls made by the lookup (an API embedding, a judge).
    """

    text: str
    message: Mapping[str, Any]
    model: str
    tier: str | None
    usage: Usage
    kind: HitKind
    similarity: float
    cached_query: str
    entry_id: int
    age_s: float
    overhead: tuple[OverheadCall, ...] = ()


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    """Whether an answer was stored, and why not when it was not."""

    stored: bool
    reason: str = ""
    entry_id: int | None = None


@dataclass(frozen=True, slots=True)
class JudgeVerdict:
    """A judge's answer for a near-threshold candidate, with what asking it cost."""

    same: bool
    overhead: OverheadCall | None = None


@runtime_checkable
class CacheJudge(Protocol):
    """A verifier asked whether a cached answer also answers a new query (see :mod:`.judges`)."""

    def judge(self, query: str, cached_query: str, answer: str = "") -> JudgeVerdict:
        """True when ``answer``, stored for ``cached_query``, also answers ``query``."""
        ...


@dataclass(frozen=True, slots=True)
class CacheLookup:
    """What a lookup found: a hit to serve, or a shadow candidate to check against the fresh answer.

    Attributes:
        hit: The answer to serve (``None``: answer the request fresh).
        shadow: A semantic candidate the guard accepted but the mode did not serve
            (``cache.semantic: shadow``, ``auto`` before its bound is proven, or a sampled hit):
            after the fresh answer, call ``cache.observe_shadow(lookup.shadow, fresh_text)``.
    """

    hit: CacheHit | None = None
    shadow: ShadowCandidate | None = None


@dataclass
class CacheStats:
    """Counters of one cache (thread-safe through :meth:`bump`).

    ``errors`` counts failures the cache swallowed so that a request never fails because of it
    (``lookup``, ``store``, ``observe``, ``judge``), by operation.
    """

    lookups: int = 0
    exact_hits: int = 0
    semantic_hits: int = 0
    misses: int = 0
    stores: int = 0
    evictions: int = 0
    expirations: int = 0
    invalidations: int = 0
    judge_calls: int = 0
    judge_skipped: int = 0
    shadow_candidates: int = 0
    shadow_observed: int = 0
    rejections: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def bump(self, name: str, n: int = 1, *, reason: str | None = None) -> None:
        """Adds ``n`` to a counter (``rejections``/``skipped`` take a ``reason``)."""
        with self._lock:
            if reason is not None:
                getattr(self, name)[reason] += n
            else:
                setattr(self, name, getattr(self, name) + n)

    @property
    def hits(self) -> int:
        """Exact plus semantic hits."""
        return self.exact_hits + self.semantic_hits

    def snapshot(self) -> dict[str, Any]:
        """A plain dict copy."""
        with self._lock:
            return {
                "lookups": self.lookups,
                "hits": self.hits,
                "exact_hits": self.exact_hits,
                "semantic_hits": self.semantic_hits,
                "misses": self.misses,
                "stores": self.stores,
                "evictions": self.evictions,
                "expirations": self.expirations,
                "invalidations": self.invalidations,
                "judge_calls": self.judge_calls,
                "judge_skipped": self.judge_skipped,
                "shadow_candidates": self.shadow_candidates,
                "shadow_observed": self.shadow_observed,
                "rejections": dict(self.rejections),
                "skipped": dict(self.skipped),
                "errors": dict(self.errors),
            }


def record_cache_hit(
    accountant: CostAccountant,
    hit: CacheHit,
    *,
    request_id: str,
    tenant: str | None = None,
    task: str | None = None,
    latency_ms: float = 0.0,
    source: str = "cache",
) -> list[CostRecord]:
    """Writes a served hit to the ledger.

    Cost 0, baseline = the original call's tokens on the premium model (so the saving is
    visible). Paid overheads of the lookup (an API embedding, a
    judge) are recorded by the cache itself when it has an accountant. Never raises.

    Returns:
        The records written.
    """
    out: list[CostRecord] = []
    try:
        out.append(
            accountant.record(
                request_id=request_id,
                model=hit.model,
                usage=Usage(),
                kind="cache_hit",
                outcome="served",
                tenant=tenant,
                task=task,
                tier=hit.tier,
                latency_ms=latency_ms,
                cache_hit=hit.kind,
                source=source,
                cost_usd=0.0,
                baseline_usage=hit.usage,
                extra={"similarity": round(hit.similarity, 4), "entry_id": hit.entry_id},
                strict=False,
            )
        )
    except Exception:
        logger.warning("could not record a cache hit in the ledger", exc_info=True)
    return out
