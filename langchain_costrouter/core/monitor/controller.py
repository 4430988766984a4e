"""Online recalibration of a gate threshold: risk control on the upper confidence bound.

For one (route, tier) the controller keeps a window of the tier's recent gated answers: each
with its gate score, the probability it was graded (its sampling rate: the shadow rate for
accepted answers, 1 for rejected answers graded for free against the premium answer that the
cascade paid for anyway) and its loss when graded (``1 - grade``).

Had the threshold been ``t``, the answers scoring at least ``t`` would have been served, and
the share of requests served a worse answer than the premium's would be their total loss over
all requests of the window. :meth:`ThresholdController.propose` estimates that risk for every
candidate threshold (a stratified estimate per sampling rate, :func:`.estimate.combine`) and
picks the lowest threshold whose one-sided upper confidence bound, and that of every higher
candidate, stays within ``1 - target_quality`` (a fixed-sequence test from the strictest
threshold down, so no multiple-testing correction is needed). The threshold then moves towards
it by at most ``max_step`` per update. When even the highest allowed threshold cannot hold the
target, the controller raises an alarm (logged, in the state and in the ledger's shadow records).

The controller is pure: it reads and writes :class:`KeyState` objects, which the monitor keeps
in its state store (persisted, shared by every process of one config).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from langchain_costrouter.core.monitor.estimate import Estimate, Tally, combine

if TYPE_CHECKING:
    from langchain_costrouter.core.config import MonitorConfig

__all__ = ["ControllerSettings", "KeyState", "Observation", "Proposal", "ThresholdController", "state_key"]

logger = logging.getLogger(__name__)


def state_key(route: str | None, tier: str) -> str:
    """The key of a (route, tier) pair in the state (``*`` when routing is off)."""
    return f"{route or '*'}|{tier}"


@dataclass(frozen=True, slots=True)
class Observation:
    """One gated answer of a monitored tier.

    Attributes:
        score: Its gate score.
        rate: Probability that it was graded (1: always graded).
        loss: ``1 - grade`` when graded, else ``None``.
        ts: When it was answered (epoch seconds).
    """

    score: float
    rate: float
    loss: float | None = None
    ts: float = 0.0

    def to_list(self) -> list[Any]:
        """Compact JSON form."""
        return [round(self.score, 6), round(self.rate, 6), None if self.loss is None else round(self.loss, 6), self.ts]

    @classmethod
    def from_list(cls, row: Sequence[Any]) -> Observation:
        """Reads :meth:`to_list` output."""
        return cls(float(row[0]), float(row[1]), None if row[2] is None else float(row[2]), float(row[3]))


@dataclass(slots=True)
class KeyState:
    """The controller's state of one (route, tier).

    Attributes:
        threshold: The threshold in force (``None``: the gate's own until the first update).
        items: The window of recent observations, oldest first.
        since_update: Grades received since the last update.
        alarm: Why the target cannot be held, or ``None``.
        updates: Updates made so far.
    """

    threshold: float | None = None
    items: list[Observation] = field(default_factory=list)
    since_update: int = 0
    alarm: str | None = None
    updates: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "threshold": self.threshold,
            "items": [o.to_list() for o in self.items],
            "since_update": self.since_update,
            "alarm": self.alarm,
            "updates": self.updates,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeyState:
        """Reads :meth:`to_dict` output."""
        thr = data.get("threshold")
        return cls(
            None if thr is None else float(thr),
            [Observation.from_list(r) for r in data.get("items", [])],
            int(data.get("since_update", 0)),
            data.get("alarm"),
            int(data.get("updates", 0)),
        )


@dataclass(frozen=True, slots=True)
class ControllerSettings:
    """How the controller moves a threshold (see ``monitor`` in the config).

    Attributes:
        target_quality: Share of requests that must get an answer as good as the premium's.
        confidence: One-sided confidence of the risk bound.
        window: Observations kept per (route, tier).
        min_graded: Grades needed in the window before the threshold moves.
        update_every: Grades between two updates.
        max_step: Largest change of the threshold per update.
        min_threshold: Lowest threshold the controller may set.
        max_threshold: Highest threshold the controller may set.
    """

    target_quality: float = 0.95
    confidence: float = 0.95
    window: int = 2000
    min_graded: int = 30
    update_every: int = 10
    max_step: float = 0.05
    min_threshold: float = 0.0
    max_threshold: float = 1.0

    @classmethod
    def from_config(cls, config: MonitorConfig) -> ControllerSettings:
        """The settings a ``monitor`` config section gives (its fields of the same names)."""
        return cls(**{f.name: getattr(config, f.name) for f in fields(cls)})


@dataclass(frozen=True, slots=True)
class Proposal:
    """What the controller concluded from a window.

    Attributes:
        threshold: The lowest observed score that, as a threshold, holds the target (``None``:
            none does).
        floor: The next lower observed score (``None``: there is none). Every threshold in
            ``(floor, threshold]`` accepts the same answers of the window.
        risk: Estimated risk at the threshold in force (share of requests served a worse answer).
        graded: Grades in the window.
    """

    threshold: float | None
    risk: Estimate
    graded: int
    floor: float | None = None

    def goal(self, current: float) -> float:
        """The threshold nearest ``current`` that accepts what :attr:`threshold` accepts.

        When no observed score holds the target, that is just above the highest one (accept
        none of the answers seen).
        """
        if self.threshold is None:
            return current if self.floor is None or current > self.floor else self.floor + 1e-6
        if current > self.threshold:
            return self.threshold
        if self.floor is not None and current <= self.floor:
            return self.floor + 1e-6
        return current


def _tallies(items: Iterable[Observation], threshold: float) -> list[Tally]:
    groups: dict[float, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for o in items:
        if o.score >= threshold:
            g = groups[round(o.rate, 6)]
            g[0] += 1
            if o.loss is not None:
                g[1] += 1
                g[2] += o.loss
    return [Tally(p, int(n), loss) for p, n, loss in groups.values()]


class ThresholdController:
    """Moves one gate threshold per (route, tier) to hold a quality target (see the module docstring)."""

    def __init__(self, settings: ControllerSettings) -> None:
        self.settings = settings
        self.alpha = 1.0 - settings.target_quality
        # one-sided bound at `confidence` = upper end of a two-sided interval at 2c - 1
        self._two_sided = max(1e-6, 2 * settings.confidence - 1)

    def risk(self, items: Sequence[Observation], threshold: float) -> Estimate:
        """Estimated share of the window's requests that a threshold would serve a worse answer."""
        return combine(_tallies(items, threshold), confidence=self._two_sided, denominator=len(items))

    def propose(self, items: Sequence[Observation], current: float) -> Proposal:
        """The lowest threshold whose risk bound, and every stricter one's, holds the target."""
        graded = sum(o.loss is not None for o in items)
        n = len(items)
        if n == 0:
            return Proposal(current, Estimate(0.0, 0.0, 0.0), 0)
        z_two = self._two_sided
        # Walk thresholds from the strictest (accept nothing) down, adding one score at a time.
        order = sorted(items, key=lambda o: -o.score)
        groups: dict[float, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
        best: float | None = None
        floor: float | None = None
        i = 0
        while i < n:
            s = order[i].score
            while i < n and order[i].score == s:
                o = order[i]
                g = groups[round(o.rate, 6)]
                g[0] += 1
                if o.loss is not None:
                    g[1] += 1
                    g[2] += o.loss
                i += 1
            bound = combine((Tally(p, int(m), k) for p, m, k in groups.values()), confidence=z_two, denominator=n).hi
            if bound > self.alpha + 1e-12:  # float noise: 1 - 0.9 is not 0.1
                floor = s
                break
            best = s
        return Proposal(best, self.risk(items, current), graded, floor)

    def observe(self, state: KeyState, observations: Iterable[Observation]) -> None:
        """Adds observations to a key's window (oldest dropped beyond ``window``)."""
        for o in observations:
            state.items.append(o)
            if o.loss is not None:
                state.since_update += 1
        extra = len(state.items) - self.settings.window
        if extra > 0:
            del state.items[:extra]

    def update(self, key: str, state: KeyState, default: float) -> bool:
        """Moves the threshold when enough new grades arrived; returns whether it changed."""
        s = self.settings
        if state.since_update < s.update_every:
            return False
        graded = sum(o.loss is not None for o in state.items)
        if graded < s.min_graded:
            return False
        state.since_update = 0
        current = default if state.threshold is None else state.threshold
        proposal = self.propose(state.items, current)
        target = proposal.goal(current)
        if target > s.max_threshold:
            goal = s.max_threshold
            held = self.risk(state.items, goal)
            alarm = (
                f"target quality {s.target_quality:.1%} cannot be held on {key}: at the highest allowed threshold "
                f"{s.max_threshold:.3f} an estimated {held.value:.1%} of requests (upper bound {held.hi:.1%}) would "
                f"get a worse answer than premium; needed: {target:.3f}"
            )
        else:
            goal = max(s.min_threshold, target)
            alarm = None
        new = min(s.max_threshold, max(s.min_threshold, min(current + s.max_step, max(current - s.max_step, goal))))
        if alarm != state.alarm:
            if alarm is not None:
                logger.warning("quality monitor alarm: %s", alarm)
            elif state.alarm is not None:
                logger.info("quality monitor: target held again on %s", key)
        state.alarm = alarm
        changed = new != state.threshold
        if changed:
            logger.info("quality monitor: threshold of %s %.4f -> %.4f (goal %.4f)", key, current, new, goal)
        state.threshold = new
        state.updates += 1
        return changed
