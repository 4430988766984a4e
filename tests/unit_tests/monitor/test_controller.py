"""The threshold controller: direction, bounded steps, minimum evidence, alarms."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

import pytest

from langchain_costrouter.core.monitor.controller import (
    ControllerSettings,
    KeyState,
    Observation,
    ThresholdController,
)


def stream(
    rng: random.Random, n: int, threshold: float, p_wrong: Callable[[float], float], rate: float = 0.3
) -> list[Observation]:
    """Gated answers with uniform scores; accepted ones graded at ``rate``, rejected ones always."""
    out = []
    for _ in range(n):
        s = rng.random()
        wrong = 1.0 if rng.random() < p_wrong(s) else 0.0
        if s >= threshold:
            out.append(Observation(s, rate, wrong if rng.random() < rate else None))
        else:
            out.append(Observation(s, 1.0, wrong))
    return out


def run(
    controller: ThresholdController,
    state: KeyState,
    rng: random.Random,
    n: int,
    p_wrong: Callable[[float], float],
    default: float,
) -> list[float]:
    history = []
    for _ in range(n // 10):
        thr = default if state.threshold is None else state.threshold
        controller.observe(state, stream(rng, 10, thr, p_wrong))
        controller.update("*|cheap", state, default)
        history.append(default if state.threshold is None else state.threshold)
    return history


SETTINGS = ControllerSettings(target_quality=0.9, window=600, min_graded=30, update_every=10, max_step=0.05)


def test_threshold_rises_when_answers_get_worse_and_falls_when_they_improve() -> None:
    rng = random.Random(3)
    c = ThresholdController(SETTINGS)
    state = KeyState()
    easy = lambda s: 0.3 * (1 - s)  # noqa: E731 - scripted error curves
    hard = lambda s: min(1.0, 0.9 * (1 - s) + 0.15)  # noqa: E731
    before = run(c, state, rng, 1500, easy, default=0.5)[-1]
    after = run(c, state, rng, 2500, hard, default=0.5)[-1]
    assert after > before + 0.1  # the shift to harder traffic raised the threshold
    back = run(c, state, rng, 2500, easy, default=0.5)[-1]
    assert back < after - 0.1  # and easier traffic lowers it again (rejected answers graded for free)


def test_steps_are_bounded() -> None:
    rng = random.Random(5)
    c = ThresholdController(SETTINGS)
    state = KeyState()
    history = run(c, state, rng, 2000, lambda s: 0.8, default=0.1)
    steps = [abs(b - a) for a, b in zip([0.1, *history], history, strict=False)]
    assert max(steps) <= 0.05 + 1e-9
    assert history[-1] > 0.5


def test_no_move_before_enough_grades() -> None:
    c = ThresholdController(ControllerSettings(min_graded=50, update_every=1))
    state = KeyState()
    c.observe(state, [Observation(0.9, 1.0, 1.0)] * 49)
    assert not c.update("k", state, 0.5)
    assert state.threshold is None
    c.observe(state, [Observation(0.9, 1.0, 1.0)])
    assert c.update("k", state, 0.5)
    assert state.threshold == pytest.approx(0.55)


def test_alarm_when_the_target_cannot_be_held(caplog: pytest.LogCaptureFixture) -> None:
    c = ThresholdController(ControllerSettings(target_quality=0.95, min_graded=10, update_every=10, max_threshold=0.8))
    state = KeyState()
    # every answer is wrong, even the most confident ones: only escalating everything would hold the target
    with caplog.at_level(logging.WARNING):
        for _ in range(30):
            c.observe(state, [Observation(0.9 + 0.001 * i, 1.0, 1.0) for i in range(10)])
            c.update("r|cheap", state, 0.5)
    assert state.threshold == pytest.approx(0.8)
    assert state.alarm is not None and "cannot be held" in state.alarm
    assert any("quality monitor alarm" in r.getMessage() for r in caplog.records)


def test_propose_uses_every_stricter_threshold() -> None:
    c = ThresholdController(ControllerSettings(target_quality=0.9))
    # 100 answers fully graded: scores 0.00..0.99, wrong below 0.5 only
    items = [Observation(i / 100, 1.0, 1.0 if i < 50 else 0.0) for i in range(100)]
    p = c.propose(items, 0.5)
    # accepting down to 0.40 serves 10 wrong answers of 100: exactly the 10 % the target allows
    assert p.threshold == pytest.approx(0.40)
    assert p.risk.value == 0.0


def test_window_is_trimmed() -> None:
    c = ThresholdController(ControllerSettings(window=10))
    state = KeyState()
    c.observe(state, [Observation(i / 20, 1.0, None) for i in range(20)])
    assert len(state.items) == 10
    assert state.items[0].score == pytest.approx(0.5)
    assert KeyState.from_dict(state.to_dict()).items == state.items


def test_good_answers_never_push_the_threshold_up() -> None:
    c = ThresholdController(ControllerSettings(target_quality=0.9, min_graded=10, update_every=10))
    state = KeyState()
    # every answer scores 0.8 or more and agrees with premium: a threshold of 0.5 is already right
    c.observe(state, [Observation(0.8 + 0.01 * i, 1.0, 0.0) for i in range(20)])
    c.update("k", state, 0.5)
    assert state.threshold == pytest.approx(0.5)
    # a few bad answers at 0.80-0.82 only: the goal is just above them, reached in bounded steps
    c.observe(state, [Observation(0.8 + 0.01 * i, 1.0, 1.0) for i in range(3)] * 4)
    for _ in range(8):  # 0.5 -> 0.82: seven steps of at most 0.05
        state.since_update = 10
        c.update("k", state, 0.5)
    assert state.threshold is not None
    assert 0.82 < state.threshold <= 0.83


def test_settings_from_config_take_every_controller_field_of_the_monitor_section() -> None:
    from langchain_costrouter.core.config import MonitorConfig

    cfg = MonitorConfig(
        target_quality=0.8,
        confidence=0.9,
        window=300,
        min_graded=12,
        update_every=4,
        max_step=0.2,
        min_threshold=0.1,
        max_threshold=0.7,
    )
    assert ControllerSettings.from_config(cfg) == ControllerSettings(0.8, 0.9, 300, 12, 4, 0.2, 0.1, 0.7)
