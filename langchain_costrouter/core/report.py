"""Aggregates ledger records into a spend and savings report (``costrouter report``).

:func:`build_report` turns :class:`~langchain_costrouter.core.ledger.CostRecord` rows into a
frozen :class:`LedgerReport`: totals, overheads, cache savings and breakdowns by model, tier,
task, tenant and UTC day. It is framework-neutral and never imports a renderer; the CLI draws
the tables and charts.

Savings follow the ledger's baseline semantics: ``savings = sum(baseline_cost_usd) -
sum(cost_usd)``. Every overhead (rejected attempts, failed calls, judge, embedding and
compression calls) is in ``cost_usd`` with a zero baseline, so it lowers the savings; nothing is
left out.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langchain_costrouter.core.errors import LedgerError
from langchain_costrouter.core.ledger import CostRecord, SQLiteLedger
from langchain_costrouter.core.monitor.quality import QualityAccumulator, QualityReport
from langchain_costrouter.core.usage import Usage

__all__ = [
    "BREAKDOWN_DIMENSIONS",
    "BreakdownRow",
    "KindTokens",
    "LedgerReport",
    "Overhead",
    "ReportTotals",
    "build_report",
    "iter_ledger",
    "open_existing",
    "read_ledger",
]

logger = logging.getLogger(__name__)

#: Breakdown names of :attr:`LedgerReport.breakdowns`, in display order.
BREAKDOWN_DIMENSIONS: tuple[str, ...] = ("day", "model", "tier", "task", "tenant")

_ANSWER_OUTCOMES = frozenset({"accepted", "served", "unrated"})
_ANSWER_KINDS = frozenset({"completion", "batch", "cache_hit"})
_CALL_KINDS = frozenset({"completion", "batch"})
_REL_TOL = 1e-9


@dataclass(frozen=True, slots=True, kw_only=True)
class KindTokens(Usage):
    """Tokens spent by one record kind: the :class:`Usage` of its records, summed.

    Attributes:
        kind: ``completion``, ``judge``, ``embedding``, ``compression``, ``batch`` or ``cache_hit``.
        records: Number of records of that kind.
    """

    kind: str
    records: int = 0


@dataclass(frozen=True, slots=True)
class Overhead:
    """Spend an always-premium app would not have had (all of it has a zero baseline).

    Attributes:
        rejected_usd: Answers that failed their quality gate and were not served.
        error_usd: Calls that failed (usually 0: providers rarely bill a failed call).
        judge_usd: LLM-judge gate calls.
        embedding_usd: Embedding calls (semantic cache, embedding gates).
        compression_usd: Prompt compression calls.
        shadow_usd: Quality monitor shadow calls (premium answers asked for comparison).
    """

    rejected_usd: float = 0.0
    error_usd: float = 0.0
    judge_usd: float = 0.0
    embedding_usd: float = 0.0
    compression_usd: float = 0.0
    shadow_usd: float = 0.0

    @property
    def total_usd(self) -> float:
        """All overheads together."""
        return (
            self.rejected_usd
            + self.error_usd
            + self.judge_usd
            + self.embedding_usd
            + self.compression_usd
            + self.shadow_usd
        )


@dataclass(frozen=True, slots=True)
class BreakdownRow:
    """Spend of one value of a breakdown dimension (one model, one tier, one day...).

    Attributes:
        key: The value (``None`` when records carry none, e.g. no task).
        records: Ledger records.
        calls: Provider calls (cache hits and zero-cost bookkeeping records excluded).
        requests: Distinct request ids.
        cost_usd: What was paid.
        baseline_usd: What an always-premium app would have paid.
        savings_usd: ``baseline_usd - cost_usd``.
        savings_pct: Savings as a percentage of the baseline (``None`` without a baseline).
    """

    key: str | None
    records: int
    calls: int
    requests: int
    cost_usd: float
    baseline_usd: float
    savings_usd: float
    savings_pct: float | None


@dataclass(frozen=True, slots=True)
class ReportTotals:
    """Whole-ledger figures of a report.

    Attributes:
        requests: Distinct request ids.
        records: Ledger records.
        calls: Provider calls (cache hits and zero-cost bookkeeping records excluded).
        answered: Requests with an answer record (accepted, served, unrated or a cache hit).
        cost_usd: Everything paid, overheads included.
        baseline_usd: What an always-premium app would have paid.
        savings_usd: ``baseline_usd - cost_usd``.
        savings_pct: Savings as a percentage of the baseline (``None`` without a baseline).
        overhead: Spend with no baseline, split by cause.
        errors: Records of failed calls.
        unpriced: Records whose price was unknown (``extra["price_error"]``), logged at $0.
        unpriced_baseline: Records whose premium baseline could not be priced.
        cache_hits: Answers served from the cache.
        cache_savings_usd: Baseline of cache hits minus what they cost.
        escalation_rate: Share of answered requests answered after escalating (step > 0).
        premium_call_share: Share of completion calls made on the premium model or tier
            (``None`` when the premium model is unknown or there were no calls).
        premium: The premium model or tier used for ``premium_call_share``.
        tokens: Tokens by record kind.
    """

    requests: int = 0
    records: int = 0
    calls: int = 0
    answered: int = 0
    cost_usd: float = 0.0
    baseline_usd: float = 0.0
    savings_usd: float = 0.0
    savings_pct: float | None = None
    overhead: Overhead = field(default_factory=Overhead)
    errors: int = 0
    unpriced: int = 0
    unpriced_baseline: int = 0
    cache_hits: int = 0
    cache_savings_usd: float = 0.0
    escalation_rate: float | None = None
    premium_call_share: float | None = None
    premium: str | None = None
    tokens: tuple[KindTokens, ...] = ()

    @property
    def overhead_usd(self) -> float:
        """All overheads together."""
        return self.overhead.total_usd


@dataclass(frozen=True, slots=True)
class LedgerReport:
    """A report over a time window of the ledger.

    Attributes:
        since: Start of the window (epoch seconds, inclusive) or ``None``.
        until: End of the window (epoch seconds, exclusive) or ``None``.
        first_ts: Time of the first record in the window.
        last_ts: Time of the last record in the window.
        totals: Whole-window figures.
        breakdowns: Rows per dimension (see :data:`BREAKDOWN_DIMENSIONS`); days in date order,
            the other dimensions by decreasing cost.
        quality: Realised quality from the quality monitor's grades (``None`` without any).
    """

    since: float | None
    until: float | None
    first_ts: float | None
    last_ts: float | None
    totals: ReportTotals
    breakdowns: Mapping[str, tuple[BreakdownRow, ...]]
    quality: QualityReport | None = None

    @property
    def empty(self) -> bool:
        """Whether the window holds no record."""
        return self.totals.records == 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times as ISO 8601 UTC strings, money in dollars)."""
        t = self.totals
        o = t.overhead
        return {
            "window": {
                "since": _iso(self.since),
                "until": _iso(self.until),
                "first_record": _iso(self.first_ts),
                "last_record": _iso(self.last_ts),
            },
            "totals": {
                "requests": t.requests,
                "records": t.records,
                "calls": t.calls,
                "answered": t.answered,
                "cost_usd": t.cost_usd,
                "baseline_usd": t.baseline_usd,
                "savings_usd": t.savings_usd,
                "savings_pct": t.savings_pct,
                "overhead_usd": t.overhead_usd,
                "overhead": {
                    "rejected_usd": o.rejected_usd,
                    "error_usd": o.error_usd,
                    "judge_usd": o.judge_usd,
                    "embedding_usd": o.embedding_usd,
                    "compression_usd": o.compression_usd,
                    "shadow_usd": o.shadow_usd,
                },
                "errors": t.errors,
                "unpriced": t.unpriced,
                "unpriced_baseline": t.unpriced_baseline,
                "cache_hits": t.cache_hits,
                "cache_savings_usd": t.cache_savings_usd,
                "escalation_rate": t.escalation_rate,
                "premium_call_share": t.premium_call_share,
                "premium": t.premium,
                "tokens": {
                    k.kind: {
                        "records": k.records,
                        "input_tokens": k.input_tokens,
                        "output_tokens": k.output_tokens,
                        "cached_tokens": k.cached_tokens,
                        "cache_write_tokens": k.cache_write_tokens,
                        "reasoning_tokens": k.reasoning_tokens,
                        "total_tokens": k.total_tokens,
                    }
                    for k in t.tokens
                },
            },
            "breakdowns": {
                dim: [
                    {
                        "key": r.key,
                        "records": r.records,
                        "calls": r.calls,
                        "requests": r.requests,
                        "cost_usd": r.cost_usd,
                        "baseline_usd": r.baseline_usd,
                        "savings_usd": r.savings_usd,
                        "savings_pct": r.savings_pct,
                    }
                    for r in rows
                ]
                for dim, rows in self.breakdowns.items()
            },
            "quality": None if self.quality is None else self.quality.to_dict(),
        }


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


def _pct(savings: float, baseline: float) -> float | None:
    return 100.0 * savings / baseline if baseline > 0 else None


def _is_fallback_served(r: CostRecord) -> bool:
    """A zero-cost record that books the baseline of a best-effort answer (gate failed)."""
    return r.outcome == "served" and r.kind in _CALL_KINDS and r.cost_usd == 0.0 and "flag" in r.extra


def _is_call(r: CostRecord) -> bool:
    return r.kind != "cache_hit" and not _is_fallback_served(r)


class _Bucket:
    """Mutable accumulator behind one :class:`BreakdownRow`."""

    __slots__ = ("baseline", "calls", "cost", "n_requests", "records", "requests")

    def __init__(self) -> None:
        self.records = 0
        self.calls = 0
        self.cost = 0.0
        self.baseline = 0.0
        self.requests: set[str] = set()
        self.n_requests: int | None = None  # set by the SQL aggregator instead of ``requests``

    def add(self, r: CostRecord, request_id: str, call: bool) -> None:
        self.records += 1
        self.calls += call
        self.cost += r.cost_usd
        self.baseline += r.baseline_cost_usd
        self.requests.add(request_id)

    def row(self, key: str | None) -> BreakdownRow:
        savings = self.baseline - self.cost
        return BreakdownRow(
            key,
            self.records,
            self.calls,
            len(self.requests) if self.n_requests is None else self.n_requests,
            self.cost,
            self.baseline,
            savings,
            _pct(savings, self.baseline),
        )


def _same_model(a: str, b: str) -> bool:
    """Equal up to a LiteLLM provider prefix (``openai/gpt-4o`` is ``gpt-4o``)."""
    return a == b or a.split("/", 1)[-1] == b.split("/", 1)[-1]


class _Accumulator:
    """Everything a report needs, gathered in one pass over the records.

    Memory grows with the number of distinct requests (and breakdown keys), not with the number
    of records: a request's id is kept once however many records and breakdowns name it.
    """

    def __init__(self) -> None:
        self.records = 0
        self.calls = 0
        self.cost = 0.0
        self.baseline = 0.0
        self.errors = 0
        self.unpriced = 0
        self.unpriced_baseline = 0
        self.cache_hits = 0
        self.cache_savings = 0.0
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self._ids: dict[str, str] = {}
        self.answer_step: dict[str, int] = {}
        self.overhead = dict.fromkeys(("rejected", "error", "judge", "embedding", "compression", "shadow"), 0.0)
        self.quality = QualityAccumulator()
        self.rejected: dict[tuple[str, int], float] = defaultdict(float)
        self.served_rejects: set[tuple[str, int]] = set()
        self.premium_votes: dict[str, int] = defaultdict(int)
        self.call_models: dict[tuple[str | None, str], int] = defaultdict(int)
        self.tokens: dict[str, list[int]] = {}
        self.buckets: dict[str, dict[str | None, _Bucket]] = {d: defaultdict(_Bucket) for d in BREAKDOWN_DIMENSIONS}

    def add(self, r: CostRecord) -> None:  # noqa: PLR0912 - one branch per figure, kept flat
        rid = self._ids.setdefault(r.request_id, r.request_id)
        call = _is_call(r)
        self.records += 1
        self.calls += call
        self.cost += r.cost_usd
        self.baseline += r.baseline_cost_usd
        self.first_ts = r.ts if self.first_ts is None else min(self.first_ts, r.ts)
        self.last_ts = r.ts if self.last_ts is None else max(self.last_ts, r.ts)
        if r.outcome == "error":
            self.errors += 1
        if "price_error" in r.extra:
            self.unpriced += 1
        if "baseline_price_error" in r.extra:
            self.unpriced_baseline += 1
        if r.kind == "cache_hit":
            self.cache_hits += 1
            self.cache_savings += r.baseline_cost_usd - r.cost_usd
        if r.kind in _ANSWER_KINDS and r.outcome in _ANSWER_OUTCOMES:
            self.answer_step[rid] = max(self.answer_step.get(rid, 0), r.escalation_step)
        if _is_fallback_served(r):
            self.served_rejects.add((rid, r.escalation_step))
        self.quality.add(r)
        if r.kind in ("judge", "embedding", "compression", "shadow"):
            self.overhead[r.kind] += r.cost_usd
        elif r.outcome == "error":
            self.overhead["error"] += r.cost_usd
        elif r.outcome == "rejected":
            self.rejected[(rid, r.escalation_step)] += r.cost_usd
        if r.kind in _CALL_KINDS:
            if call:
                self.call_models[(r.tier, r.model)] += 1
            if (
                r.cost_usd > 0
                and r.cached_tokens == 0
                and math.isclose(r.cost_usd, r.premium_cost_usd, rel_tol=_REL_TOL)
            ):
                self.premium_votes[r.model] += 1
        t = self.tokens.setdefault(r.kind, [0] * 6)
        for i, v in enumerate(
            (1, r.input_tokens, r.output_tokens, r.cached_tokens, r.cache_write_tokens, r.reasoning_tokens)
        ):
            t[i] += v
        for dim, buckets in self.buckets.items():
            key = _day(r.ts) if dim == "day" else getattr(r, dim)
            buckets[key].add(r, rid, call)

    @property
    def requests(self) -> int:
        """Distinct request ids seen."""
        return len(self._ids)

    def premium_share(self, premium_model: str | None, premium_tier: str | None) -> tuple[float | None, str | None]:
        if premium_model is None and premium_tier is None:
            if not self.premium_votes:
                return None, None
            premium_model = max(self.premium_votes, key=lambda m: (self.premium_votes[m], m))
        total = sum(self.call_models.values())
        if not total:
            return None, premium_tier or premium_model
        on = sum(
            n
            for (tier, model), n in self.call_models.items()
            if (premium_tier is not None and tier == premium_tier)
            or (premium_model is not None and _same_model(model, premium_model))
        )
        return on / total, premium_tier or premium_model

    def breakdown(self, dim: str) -> tuple[BreakdownRow, ...]:
        rows = [b.row(k) for k, b in self.buckets[dim].items()]
        if dim == "day":
            return tuple(sorted(rows, key=lambda x: x.key or ""))
        return tuple(sorted(rows, key=lambda x: (-x.cost_usd, -x.records, x.key or "")))

    def overheads(self) -> Overhead:
        parts = dict(self.overhead)
        parts["rejected"] = sum(c for k, c in self.rejected.items() if k not in self.served_rejects)
        return Overhead(**{f"{k}_usd": v for k, v in parts.items()})


def build_report(
    records: Iterable[CostRecord],
    *,
    since: float | None = None,
    until: float | None = None,
    premium_model: str | None = None,
    premium_tier: str | None = None,
) -> LedgerReport:
    """Aggregates ledger records into a :class:`LedgerReport`, in one pass.

    Args:
        records: Ledger records, in any order (an iterator is read once: a large ledger is
            streamed, see :func:`iter_ledger`).
        since: Keep records at or after this time (epoch seconds).
        until: Keep records strictly before this time (epoch seconds).
        premium_model: The premium (baseline) model, for the premium-call share. When neither
            it nor ``premium_tier`` is given, it is inferred as the model whose uncached calls
            cost exactly their premium price.
        premium_tier: The premium tier name (matched against ``CostRecord.tier``).

    Returns:
        The report; an empty ledger gives an empty report with zero totals.
    """
    acc = _Accumulator()
    for r in records:
        if (since is None or r.ts >= since) and (until is None or r.ts < until):
            acc.add(r)
    escalated = sum(1 for s in acc.answer_step.values() if s > 0)
    return assemble_report(
        acc,
        requests=acc.requests,
        answered=len(acc.answer_step),
        escalated=escalated,
        overhead=acc.overheads(),
        since=since,
        until=until,
        premium_model=premium_model,
        premium_tier=premium_tier,
    )


def assemble_report(
    acc: _Accumulator,
    *,
    requests: int,
    answered: int,
    escalated: int,
    overhead: Overhead,
    since: float | None,
    until: float | None,
    premium_model: str | None,
    premium_tier: str | None,
) -> LedgerReport:
    """The report of an accumulator filled in one pass (:func:`build_report`) or by SQL queries."""
    escalation = escalated / answered if answered else None
    share, premium = acc.premium_share(premium_model, premium_tier)
    totals = ReportTotals(
        requests=requests,
        records=acc.records,
        calls=acc.calls,
        answered=answered,
        cost_usd=acc.cost,
        baseline_usd=acc.baseline,
        savings_usd=acc.baseline - acc.cost,
        savings_pct=_pct(acc.baseline - acc.cost, acc.baseline),
        overhead=overhead,
        errors=acc.errors,
        unpriced=acc.unpriced,
        unpriced_baseline=acc.unpriced_baseline,
        cache_hits=acc.cache_hits,
        cache_savings_usd=acc.cache_savings,
        escalation_rate=escalation,
        premium_call_share=share,
        premium=premium,
        tokens=tuple(KindTokens(*vals, kind=kind, records=n) for kind, (n, *vals) in sorted(acc.tokens.items())),
    )
    if totals.unpriced:
        logger.info("%d ledger record(s) have no known price and count as $0", totals.unpriced)
    return LedgerReport(
        since=since,
        until=until,
        first_ts=acc.first_ts,
        last_ts=acc.last_ts,
        totals=totals,
        breakdowns={dim: acc.breakdown(dim) for dim in BREAKDOWN_DIMENSIONS},
        quality=acc.quality.build(),
    )


def open_existing(path: str | Path) -> SQLiteLedger:
    """The SQLite ledger at ``path``, which must exist (a report never invents an empty ledger)."""
    p = Path(path)
    if not p.exists():
        msg = f"ledger file not found: {p}"
        raise LedgerError(msg)
    if not p.is_file():
        msg = f"ledger path is not a file: {p}"
        raise LedgerError(msg)
    return SQLiteLedger(p)


def iter_ledger(path: str | Path, *, since: float | None = None, until: float | None = None) -> Iterator[CostRecord]:
    """Streams the records of an existing SQLite ledger file (for :func:`build_report`).

    The path is checked now; the records are read in batches as the iterator is consumed, and
    the file is closed when it is exhausted (or garbage-collected).

    Raises:
        LedgerError: The file does not exist or is not a file (now), or is not a readable
            ledger (while iterating).
    """
    ledger = open_existing(path)

    def records() -> Iterator[CostRecord]:
        try:
            yield from ledger.iter_records(since=since, until=until)
        finally:
            ledger.close()

    return records()


def read_ledger(path: str | Path, *, since: float | None = None, until: float | None = None) -> list[CostRecord]:
    """Reads the records of an existing SQLite ledger file.

    Unlike :class:`SQLiteLedger`, which creates a missing file, a report must not invent an
    empty ledger when the path is wrong.

    Raises:
        LedgerError: The file does not exist, is not a file, or is not a readable ledger.
    """
    ledger = open_existing(path)
    try:
        return ledger.records(since=since, until=until)
    finally:
        ledger.close()
