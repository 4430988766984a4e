"""QualityMonitor with in-process model clients: off the request path, spend cap, feedback, close."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from langchain_costrouter.core.cascade import CascadeResult
from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.gates.base import BaseGate
from langchain_costrouter.core.ledger import MemoryLedger
from langchain_costrouter.core.monitor import QualityMonitor
from langchain_costrouter.core.pipeline import CallTier, run_sync
from langchain_costrouter.core.runtime import CostRouterRuntime
from langchain_costrouter.core.types import ChatRequest, Completion
from langchain_costrouter.core.usage import Usage


class Client:
    """A model that answers from a table; can be held until released."""

    def __init__(self, model: str, answers: Mapping[str, str], gate: threading.Event | None = None) -> None:
        self._model = model
        self.answers = dict(answers)
        self.gate = gate
        self.calls: list[str] = []

    @property
    def model(self) -> str:
        return self._model

    def complete(self, messages: Sequence[Mapping[str, Any]], **params: Any) -> Completion:
        q = str(messages[-1]["content"])
        if self.gate is not None:
            assert self.gate.wait(30)
        self.calls.append(q)
        return Completion(self.answers.get(q, "#### 0"), self._model, Usage(5, 50))

    async def acomplete(self, messages: Sequence[Mapping[str, Any]], **params: Any) -> Completion:
        return self.complete(messages, **params)


class ScoreGate(BaseGate):
    """Scores an answer by the ``[0.xx]`` tag it ends with."""

    name = "tag"

    def score(self, request: ChatRequest, completion: Completion) -> float:
        return float(completion.text.rsplit("[", 1)[1].rstrip("]"))


def config(tmp_path: Path, **monitor: Any) -> CostRouterConfig:
    return CostRouterConfig.from_dict(
        {
            "tiers": [
                {"name": "cheap", "model": "cheap-m", "price": {"input": 1.0, "output": 1.0}, "max_tokens": 100},
                {
                    "name": "premium",
                    "model": "premium-m",
                    "price": {"input": 100.0, "output": 100.0},
                    "max_tokens": 100,
                },
            ],
            "ledger": {"backend": "memory"},
            "cascade": {"retries": 0},
            "monitor": {"enabled": True, "state_path": str(tmp_path / "m.json"), "min_daily_samples": 0, **monitor},
        }
    )


class IO:
    """The pipeline's tier I/O over in-process clients."""

    def __init__(self, clients: Mapping[str, Client]) -> None:
        self.clients = clients

    def call(self, effect: CallTier) -> Completion:
        return self.clients[effect.step.tier.name].complete(effect.messages)

    async def acall(self, effect: CallTier) -> Completion:
        return self.call(effect)


class Rig:
    """A runtime as an adapter builds it (monitor from the config), driven through its pipeline."""

    def __init__(self, cfg: CostRouterConfig, cheap: Client, premium: Client, seed: int = 0) -> None:
        cfg = cfg.model_copy(update={"monitor": cfg.monitor.model_copy(update={"seed": seed})})
        self.ledger = MemoryLedger()
        self.clients = {"cheap": cheap, "premium": premium}
        self.runtime = CostRouterRuntime(
            cfg, ledger=self.ledger, clients=self.clients.__getitem__, gates={"cheap": ScoreGate(0.5)}
        )
        assert self.runtime.monitor is not None
        self.monitor: QualityMonitor = self.runtime.monitor

    def ask(self, q: str) -> tuple[CascadeResult, bool]:
        request = ChatRequest(({"role": "user", "content": q},), tenant="t1")
        before = self.monitor.stats().sampled
        result = run_sync(self.runtime.pipeline.flow(request), IO(self.clients))
        return result, self.monitor.stats().sampled > before


@pytest.fixture
def held() -> Iterator[threading.Event]:
    ev = threading.Event()
    yield ev
    ev.set()


def test_observe_returns_while_the_shadow_call_is_still_running(tmp_path: Path, held: threading.Event) -> None:
    cheap = Client("cheap-m", {"q": "#### 4 [0.9]"})
    premium = Client("premium-m", {"q": "The answer is 4."}, gate=held)
    rig = Rig(config(tmp_path, shadow_rate=1.0), cheap, premium, seed=1)
    result, sampled = rig.ask("q")  # the cheap answer passes; the premium shadow call blocks on `held`
    assert result.answered_by == "cheap" and sampled
    assert rig.monitor.stats().shadowed == 0  # observe came back before the shadow call could finish
    held.set()
    assert rig.monitor.flush(30)
    shadows = [r for r in rig.ledger.records() if r.kind == "shadow"]
    assert len(shadows) == 1
    s = shadows[0]
    assert s.extra["grade"] == 1.0 and s.extra["rate"] == 1.0 and s.cost_usd > 0 and s.tier == "cheap"
    assert s.request_id == result.request_id and s.source == "monitor"
    rig.monitor.close()


def test_daily_spend_cap_holds(tmp_path: Path) -> None:
    cheap = Client("cheap-m", {f"q{i}": "#### 4 [0.9]" for i in range(10)})
    premium = Client("premium-m", {f"q{i}": "#### 4" for i in range(10)})
    # a shadow is reserved at its upper bound, (prompt ~8 + 100 max tokens) * $100/M ~ $0.0108, then
    # settled at its real cost, 55 tokens = $0.0055: the 4th reservation would pass $0.025
    rig = Rig(config(tmp_path, shadow_rate=1.0, max_daily_usd=0.025), cheap, premium, seed=1)
    for i in range(10):
        rig.ask(f"q{i}")
        rig.monitor.flush(30)
    shadows = [r for r in rig.ledger.records() if r.kind == "shadow"]
    assert len(shadows) == 3
    assert sum(r.cost_usd for r in shadows) <= 0.025
    assert rig.monitor.stats().skipped_budget == 7
    assert rig.monitor.store.read().spend  # the day's spend is persisted for the other processes
    rig.monitor.close()


def test_a_restarted_monitor_keeps_its_spend_and_threshold(tmp_path: Path) -> None:
    cfg = config(tmp_path, shadow_rate=1.0, recalibrate=True, min_graded=5, update_every=5, target_quality=0.9)
    cheap = Client("cheap-m", {f"q{i}": "#### 5 [0.7]" for i in range(20)})
    premium = Client("premium-m", {f"q{i}": "#### 4" for i in range(20)})
    rig = Rig(cfg, cheap, premium, seed=1)
    for i in range(20):
        rig.ask(f"q{i}")
        rig.monitor.flush(30)
    raised = rig.monitor.threshold(None, "cheap", 0.5)
    assert raised > 0.5  # every accepted cheap answer disagreed with premium: the threshold went up
    rig.monitor.close()
    again = Rig(cfg, cheap, premium, seed=2)
    assert again.monitor.threshold(None, "cheap", 0.5) == raised
    assert next(iter(again.monitor.store.read().spend.values())) > 0
    again.monitor.close()


def test_feedback_grader(tmp_path: Path) -> None:
    cheap = Client("cheap-m", {"a": "#### 4 [0.9]", "b": "#### 5 [0.9]"})
    premium = Client("premium-m", {})
    rig = Rig(config(tmp_path, grader="feedback"), cheap, premium, seed=1)
    ra, sampled = rig.ask("a")
    rb, _ = rig.ask("b")
    assert not sampled and premium.calls == []  # feedback needs no shadow call
    assert rig.monitor.record_feedback(ra.request_id, 1.0)
    assert rig.monitor.record_feedback(rb.request_id, 0.0)
    assert not rig.monitor.record_feedback(rb.request_id, 1.5)  # outside [0, 1]
    rig.monitor.flush(30)
    fb = {r.request_id: r for r in rig.ledger.records() if r.kind == "feedback"}
    assert fb[ra.request_id].extra["grade"] == 1.0 and fb[rb.request_id].extra["grade"] == 0.0
    assert all(r.cost_usd == 0.0 and r.tier == "cheap" for r in fb.values())
    items = rig.monitor.state()["*|cheap"].items
    assert sorted(o.loss for o in items if o.loss is not None) == [0.0, 1.0]
    rig.monitor.close()


def test_rejected_answers_are_graded_for_free(tmp_path: Path) -> None:
    cheap = Client("cheap-m", {"q": "#### 4 [0.2]"})
    premium = Client("premium-m", {"q": "#### 4"})
    rig = Rig(config(tmp_path, shadow_rate=1.0), cheap, premium, seed=1)
    result, sampled = rig.ask("q")
    assert result.answered_by == "premium" and not sampled
    rig.monitor.flush(30)
    assert premium.calls == ["q"]  # only the cascade's own call
    assert rig.monitor.state()["*|cheap"].items[0].loss == 0.0
    assert not [r for r in rig.ledger.records() if r.kind == "shadow"]
    rig.monitor.close()


def test_close_abandons_a_stuck_queue_within_its_bound(tmp_path: Path, held: threading.Event) -> None:
    cheap = Client("cheap-m", {f"q{i}": "#### 4 [0.9]" for i in range(5)})
    premium = Client("premium-m", {}, gate=held)
    rig = Rig(config(tmp_path, shadow_rate=1.0), cheap, premium, seed=1)
    for i in range(5):
        rig.ask(f"q{i}")
    rig.monitor.close(timeout=0.2)
    assert rig.monitor.stats().dropped >= 4  # the worker holds one; the rest were abandoned
    held.set()
    res, sampled = rig.ask("q0")
    assert not sampled  # closed: nothing new is queued, the request is still served
    assert res.answered_by == "cheap"


def test_observe_never_raises_into_the_request(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cheap = Client("cheap-m", {"q": "#### 4 [0.9]"})
    rig = Rig(config(tmp_path), cheap, Client("premium-m", {}), seed=1)
    result, _ = rig.ask("q")
    rig.monitor.observe(None, result)  # type: ignore[arg-type]  # a broken caller: logged, not raised
    assert "observe failed" in caplog.text
    rig.monitor.close()


def test_judge_grader_requires_a_model(tmp_path: Path) -> None:
    from langchain_costrouter.core.errors import ConfigError

    with pytest.raises(ConfigError, match="monitor: the judge grader needs judge_model"):
        config(tmp_path, grader="judge")
    with pytest.raises(ConfigError, match=r"monitor.judge_model: unknown judge model 'nope'"):
        config(tmp_path, grader="judge", judge_model="nope")


def test_runtime_builds_the_monitor_only_when_enabled_and_callable(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    clients = {"cheap": Client("cheap-m", {}), "premium": Client("premium-m", {})}
    rt = CostRouterRuntime(cfg, ledger=MemoryLedger(), clients=clients.__getitem__)
    assert rt.monitor is not None and rt.engine.thresholds is rt.monitor and rt.monitor in rt.pipeline.observers
    rt.close()
    assert rt.monitor.stats().dropped == 0
    off = cfg.model_copy(update={"monitor": cfg.monitor.model_copy(update={"enabled": False})})
    assert CostRouterRuntime(off, ledger=MemoryLedger(), clients=clients.__getitem__).monitor is None
    assert CostRouterRuntime(cfg, ledger=MemoryLedger()).monitor is None  # accounting only: nothing to call
