"""The quality monitor through both adapters over real HTTP (the local server on 127.0.0.1).

``monitor.enabled`` in the config is all it takes: ``ChatCostRouter`` and the LiteLLM Router
(``build_router`` + ``CostRouterHooks``) build the monitor in their runtime; the request
pipeline decides with its thresholds and hands it every served answer. The scripted cheap model
states its confidence as a ``[0.x]`` tag, which a ``callable`` gate reads as its score; the
premium model answers every question with 7.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.ledger import CostRecord, MemoryLedger
from langchain_costrouter.core.monitor import QualityMonitor
from langchain_costrouter.testing.server import LocalOpenAIServer, ModelScript, ReplyRule, Script

pytestmark = pytest.mark.server

SCRIPT = Script(
    models={
        "cheap-m": ModelScript(
            reply="I do not know. [0.1]",
            rules=(
                ReplyRule(contains="easy", reply="4 + 3 = 7.\n#### 7 [0.9]"),  # agrees with premium
                ReplyRule(contains="shifted", reply="4 + 3 = 8.\n#### 8 [0.9]"),  # confident and wrong
                ReplyRule(contains="modest", reply="4 + 3 = 7.\n#### 7 [0.6]"),  # right, less sure
            ),
        ),
        "prem-m": ModelScript(reply="Four plus three is 7."),
        "judge-m": ModelScript(reply="3", rules=(ReplyRule(contains="#### 7", reply="9/10"),)),
        "slow-prem-m": ModelScript(reply="Four plus three is 7.", latency_s=1.0),
    },
    strict=True,
)


def tag_score(question: str, answer: str) -> float:
    """The confidence the scripted cheap model states (a ``callable`` gate's score)."""
    return float(answer.rsplit("[", 1)[-1].rstrip("]")) if "[" in answer else 0.0


@pytest.fixture(scope="module")
def server() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(SCRIPT, port=0) as srv:
        yield srv


def make_config(
    server: LocalOpenAIServer, tmp_path: Path, premium: str = "prem-m", judge: bool = False, **monitor: Any
) -> CostRouterConfig:
    def tier(name: str, model: str, price: float) -> dict[str, Any]:
        return {
            "name": name,
            "model": f"openai/{model}",
            "api_base": server.base_url,
            "price": {"input": price, "output": price * 4},
            "max_tokens": 64,
            "timeout_s": 10,
        }

    cheap = tier("cheap", "cheap-m", 0.1)
    cheap["gate"] = {"type": "callable", "target": f"{__name__}:tag_score", "threshold": 0.5}
    return CostRouterConfig.from_dict(
        {
            "tiers": [cheap, tier("premium", premium, 10.0)],
            "models": [tier("judge", "judge-m", 0.2)] if judge else [],
            "ledger": {"backend": "memory"},
            "cascade": {"retries": 0},
            "monitor": {"enabled": True, "state_path": str(tmp_path / "monitor.json"), "seed": 0, **monitor},
        }
    )


class Adapter:
    """One adapter built from a config, asked questions the way an application does."""

    def __init__(self, kind: str, cfg: CostRouterConfig) -> None:
        self.kind = kind
        self.ledger = MemoryLedger()
        if kind == "langchain":
            from langchain_costrouter import ChatCostRouter

            self.llm = ChatCostRouter(config=cfg, ledger=self.ledger)
            monitor = self.llm.runtime.monitor
        else:
            from litellm_hooks import CostRouterHooks, build_router

            self.hooks = CostRouterHooks(cfg, ledger=self.ledger)
            self.router = build_router(cfg, hooks=self.hooks)
            monitor = self.hooks.runtime.monitor
        assert isinstance(monitor, QualityMonitor)
        self.monitor = monitor

    def ask(self, text: str) -> dict[str, Any]:
        """The cascade trail of the answer (``response_metadata["costrouter"]`` / ``_hidden_params``)."""
        if self.kind == "langchain":
            trail: dict[str, Any] = self.llm.invoke(text).response_metadata["costrouter"]
            return trail
        resp = self.router.completion(model="costrouter", messages=[{"role": "user", "content": text}])
        return dict(resp._hidden_params["costrouter"])

    async def aask(self, text: str) -> dict[str, Any]:
        if self.kind == "langchain":
            trail: dict[str, Any] = (await self.llm.ainvoke(text)).response_metadata["costrouter"]
            return trail
        resp = await self.router.acompletion(model="costrouter", messages=[{"role": "user", "content": text}])
        return dict(resp._hidden_params["costrouter"])

    def shadows(self) -> list[CostRecord]:
        return [r for r in self.ledger.records() if r.kind == "shadow"]

    def close(self) -> None:
        if self.kind == "langchain":
            self.llm.close()
        else:
            self.hooks.close()


ADAPTERS = ("langchain", "litellm")


@pytest.mark.parametrize("kind", ADAPTERS)
def test_shadow_call_is_off_the_request_path(server: LocalOpenAIServer, tmp_path: Path, kind: str) -> None:
    app = Adapter(kind, make_config(server, tmp_path, premium="slow-prem-m", shadow_rate=1.0))
    trail = app.ask("An easy one: 4 + 3?")
    # the answer is served while the premium shadow (1 s of server latency) is still in flight
    assert trail["tier"] == "cheap"
    stats = app.monitor.stats()
    assert (stats.sampled, stats.shadowed) == (1, 0) and app.shadows() == []
    assert app.monitor.flush(30)
    (shadow,) = app.shadows()
    assert shadow.extra["grade"] == 1.0 and shadow.cost_usd > 0 and shadow.model == "openai/slow-prem-m"
    assert shadow.request_id == trail["request_id"] and shadow.tier == "cheap"
    app.close()


@pytest.mark.parametrize("kind", ADAPTERS)
def test_spend_cap_holds(server: LocalOpenAIServer, tmp_path: Path, kind: str) -> None:
    cap = 0.004  # a shadow reserves (prompt + 64 tokens) at $10/$40 per M, about $0.0028
    app = Adapter(kind, make_config(server, tmp_path, shadow_rate=1.0, max_daily_usd=cap))
    for i in range(6):
        app.ask(f"An easy one, number {i}: 4 + 3?")
        app.monitor.flush(30)
    shadows = app.shadows()
    assert 1 <= len(shadows) < 6
    assert sum(r.cost_usd for r in shadows) <= cap
    assert app.monitor.stats().skipped_budget == 6 - len(shadows)
    app.close()


@pytest.mark.parametrize("kind", ADAPTERS)
def test_recalibration_follows_a_scripted_shift(server: LocalOpenAIServer, tmp_path: Path, kind: str) -> None:
    cfg = make_config(
        server,
        tmp_path,
        shadow_rate=1.0,
        recalibrate=True,
        target_quality=0.9,
        min_graded=5,
        update_every=5,
        max_step=0.1,
        window=30,  # recent traffic only: old answers leave the window
    )
    app = Adapter(kind, cfg)
    for i in range(10):
        app.ask(f"An easy one, number {i}: 4 + 3?")
        app.monitor.flush(30)
    assert app.monitor.threshold(None, "cheap", 0.5) == pytest.approx(0.5)  # all good: no reason to move
    for i in range(30):
        app.ask(f"The shifted kind, number {i}: 4 + 3?")
        app.monitor.flush(30)
    raised = app.monitor.threshold(None, "cheap", 0.5)
    assert raised > 0.9  # confident wrong answers: the threshold rose above their score
    assert app.monitor.alarms() == {}  # escalating them holds the target: no alarm
    assert app.ask("The shifted kind, once more: 4 + 3?")["tier"] == "premium"  # the cascade now escalates
    app.close()
    # the other adapter, started later on the same config, begins from the persisted threshold
    other = Adapter("litellm" if kind == "langchain" else "langchain", cfg)
    assert other.monitor.threshold(None, "cheap", 0.5) == pytest.approx(raised)
    # the traffic turns easy again at a modest score: rejected answers, graded for free, lower it
    for i in range(40):
        other.ask(f"A modest one, number {i}: 4 + 3?")
        other.monitor.flush(30)
    assert other.monitor.threshold(None, "cheap", 0.5) == pytest.approx(0.6, abs=1e-3)
    other.close()


@pytest.mark.parametrize("kind", ADAPTERS)
def test_feedback_api(server: LocalOpenAIServer, tmp_path: Path, kind: str) -> None:
    app = Adapter(kind, make_config(server, tmp_path, grader="feedback"))
    good = app.ask("An easy one: 4 + 3?")
    bad = app.ask("The shifted kind: 4 + 3?")
    assert app.monitor.record_feedback(good["request_id"], 1.0)
    assert app.monitor.record_feedback(bad["request_id"], 0.0)
    app.monitor.flush(30)
    feedback = {r.request_id: r.extra["grade"] for r in app.ledger.records() if r.kind == "feedback"}
    assert feedback == {good["request_id"]: 1.0, bad["request_id"]: 0.0}
    assert app.shadows() == []  # the feedback grader makes no shadow call
    app.close()


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_async_callers(server: LocalOpenAIServer, tmp_path: Path, kind: str) -> None:
    app = Adapter(kind, make_config(server, tmp_path, shadow_rate=1.0))
    trails = await asyncio.gather(*(app.aask(f"An easy one, number {i}: 4 + 3?") for i in range(4)))
    assert all(t["tier"] == "cheap" for t in trails)
    # the worker is a thread, not an asyncio task: the event loop never waited for a shadow
    assert await asyncio.to_thread(app.monitor.flush, 30)
    assert {r.request_id for r in app.shadows()} == {t["request_id"] for t in trails}
    app.close()


@pytest.mark.parametrize("kind", ADAPTERS)
def test_judge_grader_scores_against_the_premium_answer(server: LocalOpenAIServer, tmp_path: Path, kind: str) -> None:
    cfg = make_config(server, tmp_path, judge=True, shadow_rate=1.0, grader="judge", judge_model="judge")
    app = Adapter(kind, cfg)
    good = app.ask("An easy one: 4 + 3?")
    bad = app.ask("The shifted kind: 4 + 3?")
    app.monitor.flush(30)
    grades = {r.request_id: r.extra["grade"] for r in app.shadows()}
    assert grades == {good["request_id"]: pytest.approx(0.9), bad["request_id"]: pytest.approx(0.3)}
    judged = [r for r in app.ledger.records() if r.kind == "judge" and r.source == "monitor"]
    assert len(judged) == 2 and all(r.cost_usd > 0 and r.model == "openai/judge-m" for r in judged)
    app.close()
