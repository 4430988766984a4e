"""The quality section of ``costrouter report``: realised quality from the ledger, with intervals.

Read in the same single pass as the spend report (:class:`QualityAccumulator` sees every
record once and keeps counters per cell, never the records):

- served requests per (day, route, tenant): answer records of the cascade;
- accepted lower-tier answers per (day, route, tenant, tier): ``accepted`` completions whose gate
  is a real one (not ``none``), on a tier that is not the shadow tier;
- grades per the same cell: ``shadow`` and ``feedback`` records (``extra["grade"]``, and the
  sampling rate ``extra["rate"]`` of the answer they graded).

In each cell the acceptance error rate is the rate-weighted mean loss of the graded answers
(``1 - grade``) with its effective sample size; cells are combined by
:func:`~langchain_costrouter.core.monitor.estimate.combine` (stratified, with intervals). The
realised quality relative to premium of a group of requests is ``1 - (estimated losses of its
accepted lower-tier answers) / (its served requests)``: premium answers count as 1. Answers
that were never graded (budget cap, queue full) are assumed like the graded ones of their cell.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from langchain_costrouter.core.ledger import CostRecord
from langchain_costrouter.core.monitor.estimate import Estimate, Tally, combine

__all__ = ["QUALITY_DIMENSIONS", "QualityAccumulator", "QualityReport", "QualityRow", "quality_report"]

#: Breakdowns of :attr:`QualityReport.breakdowns`, in display order.
QUALITY_DIMENSIONS: tuple[str, ...] = ("day", "route", "tier", "tenant")

_UNGATED = frozenset({None, "none", "streamed"})
_ANSWER_OUTCOMES = frozenset({"accepted", "served", "unrated"})

Cell = tuple[str, str | None, str]  # day, route, tenant


@dataclass(frozen=True, slots=True)
class QualityRow:
    """Quality estimates of one group of requests.

    Attributes:
        key: The group (a day, route, tier or tenant; ``None`` for the totals or no route).
        requests: Served requests of the group.
        accepted: Answers a gate accepted on a lower tier.
        graded: Grades behind the estimates (effective count when sampling rates differ).
        error_rate: Share of accepted lower-tier answers worse than premium, with interval.
        quality_vs_premium: Realised quality relative to premium, with interval.
        below_target: Whether the whole interval is below the target.
    """

    key: str | None
    requests: int
    accepted: int
    graded: float
    error_rate: Estimate
    quality_vs_premium: Estimate
    below_target: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "key": self.key,
            "requests": self.requests,
            "accepted": self.accepted,
            "graded": round(self.graded, 2),
            "error_rate": self.error_rate.value,
            "error_rate_ci": [self.error_rate.lo, self.error_rate.hi],
            "quality_vs_premium": self.quality_vs_premium.value,
            "quality_vs_premium_ci": [self.quality_vs_premium.lo, self.quality_vs_premium.hi],
            "below_target": self.below_target,
        }


@dataclass(frozen=True, slots=True)
class QualityReport:
    """Realised quality of the window, from the monitor's grades.

    Attributes:
        target: The monitor's quality target (from its records).
        confidence: Confidence of the intervals.
        grader: The grader(s) that produced the grades.
        shadow_usd: What shadow and monitor judge calls cost.
        totals: Every request of the window.
        breakdowns: Rows by day, route, tier and tenant.
        alarms: Why the target is not held, one line each (empty when it is).
    """

    target: float | None
    confidence: float
    grader: str
    shadow_usd: float
    totals: QualityRow
    breakdowns: Mapping[str, tuple[QualityRow, ...]]
    alarms: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "target": self.target,
            "confidence": self.confidence,
            "grader": self.grader,
            "shadow_usd": self.shadow_usd,
            "totals": self.totals.to_dict(),
            "breakdowns": {d: [r.to_dict() for r in rows] for d, rows in self.breakdowns.items()},
            "alarms": list(self.alarms),
        }


class _Grades:
    __slots__ = ("w", "w2", "wl")

    def __init__(self) -> None:
        self.w = self.w2 = self.wl = 0.0

    def add(self, loss: float, rate: float) -> None:
        w = 1.0 / max(rate, 1e-9)
        self.w += w
        self.w2 += w * w
        self.wl += w * loss

    def tally(self, population: float) -> Tally:
        if self.w <= 0:
            return Tally(population, 0.0, 0.0)
        m_eff = self.w * self.w / self.w2  # Kish's effective sample size
        return Tally(population, m_eff, m_eff * self.wl / self.w)


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


class QualityAccumulator:
    """Gathers the quality figures in one pass over ledger records (see the module docstring)."""

    def __init__(self) -> None:
        self._served: dict[Cell, set[str]] = defaultdict(set)
        self._accepted: dict[tuple[Cell, str], set[str]] = defaultdict(set)
        self._grades: dict[tuple[Cell, str], _Grades] = defaultdict(_Grades)
        self._served_n: dict[Cell, int] = defaultdict(int)
        self._accepted_n: dict[tuple[Cell, str], int] = defaultdict(int)
        self._shadow_tiers: set[str] = set()
        self._graders: set[str] = set()
        self._alarms: dict[str, tuple[float, str | None]] = {}
        self.target: float | None = None
        self.confidence = 0.95
        self.shadow_usd = 0.0
        self.grades = 0

    def add(self, r: CostRecord) -> None:
        """Takes one ledger record into account."""
        cell: Cell = (_day(r.ts), r.task, r.tenant)
        if r.kind in ("completion", "batch") and r.outcome in _ANSWER_OUTCOMES and r.source != "monitor":
            self._served[cell].add(r.request_id)
            if r.outcome == "accepted" and r.tier is not None and r.extra.get("gate") not in _UNGATED:
                self._accepted[(cell, r.tier)].add(r.request_id)
            return
        if r.source != "monitor" or r.kind not in ("shadow", "feedback", "judge"):
            return
        self.shadow_usd += r.cost_usd
        if r.kind == "judge":
            return
        x = r.extra
        self.add_meta(
            shadow_tier=x.get("shadow_tier"),
            grader=x.get("grader"),
            target=x.get("target"),
            confidence=x.get("confidence"),
        )
        self.add_alarm(r.task, r.tier, r.ts, x.get("alarm"))
        grade = x.get("grade")
        if r.tier is None or not isinstance(grade, int | float):
            return
        rate = x.get("rate", 1.0)
        self._grades[(cell, r.tier)].add(1.0 - float(grade), float(rate) if isinstance(rate, int | float) else 1.0)
        self.grades += 1

    def add_counts(
        self,
        served: Mapping[Cell, int],
        accepted: Mapping[tuple[Cell, str], int],
        grades: Mapping[tuple[Cell, str], tuple[float, float, float, int]],
    ) -> None:
        """Counts a database aggregated (the SQL report) instead of records.

        Args:
            served: Served requests per (day, route, tenant).
            accepted: Accepted lower-tier answers per cell and tier.
            grades: Per cell and tier: sum of 1/rate, of 1/rate**2, of loss/rate, and the count.
        """
        for cell, n in served.items():
            self._served_n[cell] += n
        for key, n in accepted.items():
            self._accepted_n[key] += n
        for key, (w, w2, wl, n) in grades.items():
            g = self._grades[key]
            g.w += w
            g.w2 += w2
            g.wl += wl
            self.grades += n

    def add_meta(self, *, shadow_tier: Any, grader: Any, target: Any, confidence: Any) -> None:
        """What a monitor record says about the monitor (its ``extra``; also the SQL report's input)."""
        if isinstance(shadow_tier, str):
            self._shadow_tiers.add(shadow_tier)
        if isinstance(grader, str):
            self._graders.add(grader)
        if isinstance(target, int | float):
            self.target = float(target)
        if isinstance(confidence, int | float):
            self.confidence = float(confidence)

    def add_alarm(self, route: str | None, tier: str | None, ts: float, alarm: Any) -> None:
        """The controller's alarm state a monitor record carried at ``ts`` (the latest wins)."""
        key = f"{route or '*'}|{tier}"
        last = self._alarms.get(key)
        if last is None or ts >= last[0]:
            self._alarms[key] = (ts, alarm if isinstance(alarm, str) else None)

    def _accepted_count(self, s: tuple[Cell, str]) -> int:
        return len(self._accepted.get(s, ())) + self._accepted_n.get(s, 0)

    def _row(self, key: str | None, strata: list[tuple[Cell, str]], cells: set[Cell]) -> QualityRow:
        tallies = [
            self._grades[s].tally(self._accepted_count(s)) if s in self._grades else Tally(self._accepted_count(s))
            for s in strata
        ]
        requests = sum(len(self._served.get(c, ())) + self._served_n.get(c, 0) for c in cells)
        err = combine(tallies, confidence=self.confidence)
        loss = combine(tallies, confidence=self.confidence, denominator=float(requests))
        quality = loss.complement()
        below = self.target is not None and quality.hi < self.target
        return QualityRow(
            key,
            requests,
            int(sum(t.population for t in tallies)),
            sum(t.graded for t in tallies),
            err,
            quality,
            below,
        )

    def build(self) -> QualityReport | None:
        """The quality report, or ``None`` when the window holds no grade (monitor off)."""
        if self.grades == 0:
            return None
        strata = sorted(
            {s for s in (*self._accepted, *self._accepted_n, *self._grades) if s[1] not in self._shadow_tiers},
            key=lambda s: (s[0][0], s[0][1] or "", s[0][2], s[1]),
        )
        groups: dict[str, dict[str | None, list[tuple[Cell, str]]]] = {d: defaultdict(list) for d in QUALITY_DIMENSIONS}
        for s in strata:
            (day, route, tenant), tier = s
            for dim, value in (("day", day), ("route", route), ("tier", tier), ("tenant", tenant)):
                groups[dim][value].append(s)
        all_cells = set(self._served) | set(self._served_n)
        breakdowns: dict[str, tuple[QualityRow, ...]] = {}
        for dim in QUALITY_DIMENSIONS:
            rows = []
            for value, ss in groups[dim].items():
                if dim == "tier":
                    cells = {c for c, _ in ss}
                else:
                    idx = {"day": 0, "route": 1, "tenant": 2}[dim]
                    cells = {c for c in all_cells if c[idx] == value}
                rows.append(self._row(value, ss, cells))
            rows.sort(key=lambda r: (r.key or "") if dim == "day" else (-r.requests, r.key or ""))
            breakdowns[dim] = tuple(rows)
        totals = self._row(None, strata, all_cells)
        alarms = [f"{key}: {text}" for key, (_, text) in sorted(self._alarms.items()) if text]
        pct = f"{100 * self.confidence:.0f}%"
        for dim in ("route", "tier", "tenant"):
            for row in breakdowns[dim]:
                if row.below_target:
                    q = row.quality_vs_premium
                    alarms.append(
                        f"{dim} {row.key or '(none)'}: quality vs premium {q.value:.1%} ({pct} interval "
                        f"{q.lo:.1%}-{q.hi:.1%}) is below the target {self.target:.1%}"
                    )
        return QualityReport(
            self.target,
            self.confidence,
            "/".join(sorted(self._graders)) or "?",
            self.shadow_usd,
            totals,
            breakdowns,
            tuple(alarms),
        )


def quality_report(records: Iterable[CostRecord]) -> QualityReport | None:
    """The quality report of some records (one pass; ``None`` without grades)."""
    acc = QualityAccumulator()
    for r in records:
        acc.add(r)
    return acc.build()
