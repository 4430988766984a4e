"""The quality monitor: shadow evaluation off the request path, estimates, online thresholds.

The request pipeline calls three methods, all cheap and non-blocking::

    threshold = monitor.threshold(route, tier, gate.threshold)   # where the run decides pass/fail
    monitor.observe(request, result, rejected=...)               # after each served answer
    monitor.record_feedback(request_id, 0.0)                     # from the application (feedback)

:meth:`QualityMonitor.observe` decides on the spot whether the accepted lower-tier answer is
shadowed (stratified by route and tenant: each stratum is shadowed in full until it has
``min_daily_samples`` shadows that day, then at ``shadow_rate``) and puts the observation on a
bounded queue; a daemon worker thread makes the shadow call to the premium tier (under the daily
spend cap, reserved before the call from an upper-bound estimate, so the cap holds across
processes), grades, records the shadow call in the ledger (``kind="shadow"``, with its cost, its
grade and its sampling rate) and updates the persisted state. Answers the gate rejected are
graded for free against the premium answer the cascade paid for anyway, which lets the
controller see below its threshold too. Nothing here ever raises into a request: a failed
shadow call, grader or state write is logged and dropped.

The worker is a thread, not an asyncio task, so the same monitor serves sync code, asyncio
code and the LiteLLM proxy.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import queue
import random
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.cascade import CascadeAttempt, CascadeResult
from langchain_costrouter.core.config import CostRouterConfig, MonitorConfig, TierSpec
from langchain_costrouter.core.monitor._events import Counters, Event, Feedback, MonitorStats, Pending, today
from langchain_costrouter.core.monitor._spend import SpendCap
from langchain_costrouter.core.monitor.controller import (
    ControllerSettings,
    KeyState,
    Observation,
    ThresholdController,
    state_key,
)
from langchain_costrouter.core.monitor.graders import AgreementGrader, ClientFactory, Grade, Grader, build_grader
from langchain_costrouter.core.monitor.state import StateStore
from langchain_costrouter.core.types import ChatRequest, Completion
from langchain_costrouter.core.usage import Usage

__all__ = ["MonitorStats", "QualityMonitor", "build_grader"]  # MonitorStats and build_grader: re-exported

logger = logging.getLogger(__name__)

_UNGATED = frozenset({"none", "streamed"})
_ZERO_USAGE = Usage()
_SYNC_EVERY_S = 1.0  # under a steady stream the state is still saved (and thresholds updated) this often


class QualityMonitor:
    """Shadow evaluation, quality estimates and online thresholds for one configuration.

    Args:
        config: The ``monitor`` section.
        accountant: Records shadow, judge and feedback calls in the ledger.
        shadow: The tier or model that answers shadows (the premium tier).
        clients: Builds a model client for a tier or model name (the adapter provides it).
        grader: Overrides the grader the config names.
        seed: Seed of the sampling draws (default: random).
        start: Start the worker thread now (``False``: call :meth:`start`).
    """

    def __init__(
        self,
        config: MonitorConfig,
        *,
        accountant: CostAccountant,
        shadow: TierSpec,
        clients: ClientFactory | None,
        grader: Grader | None = None,
        seed: int | None = None,
        start: bool = True,
    ) -> None:
        self.config = config
        self.accountant = accountant
        self.shadow = shadow
        self.grader = grader if grader is not None else build_grader(config, clients)
        self._client = clients(shadow.name) if clients is not None and self.grader.needs_reference else None
        if self.grader.needs_reference and self._client is None:
            msg = f"the {self.grader.name} grader needs a model client factory for the shadow tier {shadow.name!r}"
            raise ValueError(msg)
        self.controller = ThresholdController(ControllerSettings.from_config(config))
        self.store = StateStore(config.state_path)
        self._rng = random.Random(seed)
        self._queue: queue.Queue[Event | Feedback | None] = queue.Queue(maxsize=config.max_queue)
        self._c = Counters()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._busy = 0
        self._closed = False
        self._defaults: dict[str, float] = {}
        self._thresholds: dict[str, float] = {}
        self._alarms: dict[str, str] = {}
        self._cap = SpendCap(self.store, config.max_daily_usd, accountant.prices, shadow, self.grader)
        self._pending: OrderedDict[str, Pending] = OrderedDict()
        self._new: dict[str, list[Observation]] = defaultdict(list)
        self._last_sync = time.monotonic()
        self._load()
        self._worker: threading.Thread | None = None
        if start:
            self.start()

    @classmethod
    def from_config(
        cls,
        config: CostRouterConfig,
        *,
        accountant: CostAccountant,
        clients: ClientFactory | None,
        grader: Grader | None = None,
        seed: int | None = None,
    ) -> QualityMonitor:
        """The monitor of a whole configuration (shadow tier: ``monitor.shadow_tier`` or the premium tier)."""
        m = config.monitor
        shadow = config.deployment(m.shadow_tier) if m.shadow_tier else config.premium
        seed = m.seed if seed is None else seed
        return cls(m, accountant=accountant, shadow=shadow, clients=clients, grader=grader, seed=seed)

    # ------------------------------------------------------------------ request path
    def threshold(self, route: str | None, tier: str, default: float) -> float:
        """The gate threshold of ``tier`` on ``route``: the recalibrated one, else ``default``."""
        key = state_key(route, tier)
        if key not in self._defaults:
            self._defaults[key] = default
        if not self.config.recalibrate:
            return default
        return self._thresholds.get(key, default)

    def alarms(self) -> dict[str, str]:
        """Current alarms by ``route|tier`` (the target cannot be held there)."""
        return dict(self._alarms)

    def _rate(self, route: str | None, tenant: str, ts: float) -> float:
        day = today(ts)
        key = (day, route, tenant)
        with self._lock:
            counts = self._c.stratum_day
            if counts and next(iter(counts))[0] != day:  # a new day: yesterday's counts are done with
                for old in [k for k in counts if k[0] != day]:
                    del counts[old]
            seen = counts[key]
        return 1.0 if seen < self.config.min_daily_samples else self.config.shadow_rate

    def observe(
        self,
        request: ChatRequest,
        result: CascadeResult,
        *,
        rejected: Sequence[tuple[CascadeAttempt, Completion]] | None = None,
    ) -> None:
        """Takes note of a served answer; never blocks and never raises (a pipeline observer).

        Args:
            request: The request.
            result: What the cascade served.
            rejected: Answers the gate rejected before it, with their attempts (graded for free
                against the premium answer when the premium tier served the request); default
                ``result.rejected``.

        :meth:`stats` counts the answers chosen for a shadow call (``sampled``).
        """
        try:
            self._observe(request, result, result.rejected if rejected is None else rejected)
        except Exception:  # the monitor is a side concern: never fail a served request
            logger.exception("quality monitor: observe failed")

    def _observe(
        self, request: ChatRequest, result: CascadeResult, rejected: Sequence[tuple[CascadeAttempt, Completion]]
    ) -> bool:
        if self._closed or not result.attempts:
            return False
        ts = time.time()
        last = result.attempts[-1]
        lower = (
            result.accepted
            and result.answered_by != self.shadow.name
            and last.score is not None
            and (last.gate or "none") not in _UNGATED
        )
        gated_rejects = [
            (a, c)
            for a, c in rejected
            if a.score is not None and a.tier != self.shadow.name and (a.gate or "none") not in _UNGATED
        ]
        if not lower and not gated_rejects:
            return False
        rate = self._rate(result.decision.route, request.tenant, ts) if lower else 0.0
        sampled = False
        if lower and self.grader.needs_reference:
            over = self._cap.exhausted(ts)
            sampled = self._rng.random() < rate
            if sampled and over:
                sampled = False
                with self._lock:
                    self._c.skipped_budget += 1
        event = Event(request, result, last if lower else None, rate, sampled, gated_rejects, ts)
        with self._lock:
            self._c.observed += 1
            self._c.sampled += sampled
            if sampled:
                self._c.stratum_day[(today(ts), result.decision.route, request.tenant)] += 1
        return self._put(event) and sampled

    def record_feedback(self, request_id: str, score: float) -> bool:
        """A grade from the application for a served answer (the ``feedback`` grader).

        Args:
            request_id: The request's id (``response_metadata["costrouter"]["request_id"]``).
            score: Quality of the answer in [0, 1] (1: as good as a premium answer).

        Returns:
            Whether the feedback was queued (``False``: bad score, closed, or queue full).
        """
        if not 0.0 <= score <= 1.0:
            logger.warning("quality monitor: feedback score %r for %s is outside [0, 1], ignored", score, request_id)
            return False
        if self._closed:
            return False
        return self._put(Feedback(request_id, float(score), time.time()))

    def _put(self, item: Event | Feedback) -> bool:
        with self._lock:
            self._busy += 1
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            with self._lock:
                self._busy -= 1
                self._c.dropped += 1
            logger.warning("quality monitor: queue full, observation dropped")
            return False
        return True

    # ------------------------------------------------------------------ worker
    def start(self) -> None:
        """Starts the worker thread (once)."""
        if self._worker is None:
            self._worker = threading.Thread(target=self._run, name="costrouter-monitor", daemon=True)
            self._worker.start()

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=1.0)
            except queue.Empty:
                self._safe_sync()
                continue
            if item is None:
                self._safe_sync()
                return
            try:
                if isinstance(item, Feedback):
                    self._on_feedback(item)
                else:
                    self._on_event(item)
            except Exception:
                logger.exception("quality monitor: an observation could not be processed")
                with self._lock:
                    self._c.failed += 1
            if self._queue.empty() or time.monotonic() - self._last_sync > _SYNC_EVERY_S:
                self._safe_sync()
            with self._lock:
                self._busy -= 1
                self._idle.notify_all()

    def _on_event(self, ev: Event) -> None:
        route, tenant = ev.result.decision.route, ev.request.tenant
        premium = ev.result.completion if ev.result.answered_by == self.shadow.name else None
        for attempt, completion in ev.rejected:
            loss = None
            if premium is not None and isinstance(self.grader, AgreementGrader):
                loss = self._loss(self.grader.grade(ev.request, completion, premium))
            self._add(route, attempt.tier, Observation(attempt.score or 0.0, 1.0, loss, ev.ts))
        a = ev.attempt
        if a is None:
            return
        key = state_key(route, a.tier)
        if not self.grader.needs_reference:  # feedback: wait for the application's grade
            self._pending[ev.request.request_id] = Pending(key, route, a.tier, tenant, a.step, a.score or 0.0, ev.ts)
            self._expire(ev.ts)
            return
        loss = self._shadow(ev, a) if ev.sampled else None
        self._add(route, a.tier, Observation(a.score or 0.0, ev.rate, loss, ev.ts))

    def _loss(self, grade: Grade) -> float | None:
        if grade.score is None:
            return None
        with self._lock:
            self._c.graded += 1
        return 1.0 - grade.score

    def _add(self, route: str | None, tier: str, obs: Observation) -> None:
        self._new[state_key(route, tier)].append(obs)

    def _shadow(self, ev: Event, attempt: CascadeAttempt) -> float | None:
        assert self._client is not None
        estimate, max_out = self._cap.estimate(ev.request)
        if not self._cap.reserve(estimate):
            with self._lock:
                self._c.skipped_budget += 1
            logger.info("quality monitor: daily cap %.4f USD reached, shadow skipped", self.config.max_daily_usd)
            return None
        spent = 0.0
        try:
            params = {k: v for k, v in ev.request.params.items() if k not in {"max_tokens", "max_completion_tokens"}}
            t0 = time.perf_counter()
            try:
                reference = self._client.complete(list(ev.request.messages), **params, max_tokens=max_out)
            except Exception as exc:
                logger.warning("quality monitor: shadow call to %s failed: %s", self.shadow.name, type(exc).__name__)
                with self._lock:
                    self._c.failed += 1
                return None
            latency = (time.perf_counter() - t0) * 1000
            grade = self.grader.grade(ev.request, ev.result.completion, reference)
            key = state_key(ev.result.decision.route, attempt.tier)
            record = functools.partial(
                self.accountant.record,
                request_id=ev.request.request_id,
                outcome="overhead",
                tenant=ev.request.tenant,
                task=ev.result.decision.route,
                tier=attempt.tier,
                source="monitor",
                strict=False,
            )
            spent += record(
                model=reference.model or self.shadow.model,
                usage=reference.usage,
                kind="shadow",
                latency_ms=latency,
                escalation_step=attempt.step,
                gate_score=attempt.score,
                extra=self._extra(key, grade, ev.rate),
            ).cost_usd
            for call in grade.overhead:
                spent += record(model=call.model, usage=call.usage, kind="judge", latency_ms=call.latency_ms).cost_usd
            with self._lock:
                self._c.shadowed += 1
                self._c.spent_usd += spent
            return self._loss(grade)
        finally:
            self._cap.settle(spent - estimate)

    def _extra(self, key: str, grade: Grade, rate: float) -> dict[str, Any]:
        extra: dict[str, Any] = {
            "grade": grade.score,
            "rate": rate,
            "grader": self.grader.name,
            "shadow_tier": self.shadow.name,
            "target": self.config.target_quality,
            "confidence": self.config.confidence,
            "threshold": self._thresholds.get(key, self._defaults.get(key)),
        }
        if grade.detail:
            extra["detail"] = grade.detail
        if key in self._alarms:
            extra["alarm"] = self._alarms[key]
        return extra

    def _on_feedback(self, fb: Feedback) -> None:
        p = self._pending.pop(fb.request_id, None)
        if p is None:
            logger.info("quality monitor: feedback for unknown or expired request %s ignored", fb.request_id)
            return
        grade = Grade(fb.score, detail="feedback")
        self.accountant.record(
            request_id=fb.request_id,
            model=self.shadow.model,
            usage=_ZERO_USAGE,
            kind="feedback",
            outcome="overhead",
            tenant=p.tenant,
            task=p.route,
            tier=p.tier,
            escalation_step=p.step,
            gate_score=p.score,
            cost_usd=0.0,
            source="monitor",
            strict=False,
            extra=self._extra(p.key, grade, 1.0),
        )
        self._add(p.route, p.tier, Observation(p.score, 1.0, self._loss(grade), p.ts))

    def _expire(self, now: float) -> None:
        ttl = self.config.feedback_ttl_s
        while self._pending:
            rid, p = next(iter(self._pending.items()))
            if now - p.ts <= ttl and len(self._pending) <= self.config.window * 10:
                break
            del self._pending[rid]
            self._add(p.route, p.tier, Observation(p.score, 1.0, None, p.ts))

    # ------------------------------------------------------------------ state
    def _load(self) -> None:
        try:
            st = self.store.read()
        except Exception:
            logger.exception("quality monitor: state unreadable, starting from the gates' thresholds")
            return
        self._publish(st.keys, st.spend)

    def _publish(self, keys: Mapping[str, KeyState], spend: Mapping[str, float]) -> None:
        self._thresholds = {k: v.threshold for k, v in keys.items() if v.threshold is not None}
        self._alarms = {k: v.alarm for k, v in keys.items() if v.alarm}
        day = today()
        self._cap.view = (day, spend.get(day, 0.0))

    def _safe_sync(self) -> None:
        try:
            self._sync()
        except Exception:
            logger.exception("quality monitor: state could not be saved (kept in memory, retried)")

    def _sync(self) -> None:
        """Merges this process's new observations into the shared state and updates thresholds."""
        self._last_sync = time.monotonic()
        self._expire(time.time())
        new, self._new = self._new, defaultdict(list)
        try:
            with self.store.transaction() as st:
                for key, obs in new.items():
                    ks = st.keys.setdefault(key, KeyState())
                    self.controller.observe(ks, obs)
                    if self.config.recalibrate:
                        self.controller.update(key, ks, self._defaults.get(key, 0.5))
                self._publish(st.keys, st.spend)
        except Exception:
            for key, obs in new.items():  # keep them for the next attempt
                self._new[key][:0] = obs
            raise

    # ------------------------------------------------------------------ lifecycle
    def flush(self, timeout: float | None = None) -> bool:
        """Waits until every queued observation is processed and the state saved.

        Returns:
            Whether the queue was drained within ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._busy > 0:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def stats(self) -> MonitorStats:
        """This process's counters."""
        with self._lock:
            c = self._c
            return MonitorStats(
                c.observed, c.sampled, c.shadowed, c.graded, c.skipped_budget, c.dropped, c.failed, c.spent_usd
            )

    def state(self) -> dict[str, KeyState]:
        """The persisted per-(route, tier) states (a snapshot)."""
        return self.store.read().keys

    def close(self, timeout: float | None = None) -> None:
        """Stops the worker.

        Drains the queue for up to ``timeout`` seconds (default ``close_timeout_s``), then
        abandons what is left (counted as dropped). New observations are refused from now on.
        """
        if self._closed:
            return
        self._closed = True
        limit = self.config.close_timeout_s if timeout is None else timeout
        if self._worker is None:
            return
        drained = self.flush(limit)
        if not drained:
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
                with self._lock:
                    self._busy -= 1
                    self._c.dropped += 1
            logger.warning("quality monitor: closed with observations still queued; they were dropped")
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=1.0)
        self._worker.join(timeout=max(1.0, limit))
