"""The monitor's loop on recorded answers: items streamed in order, shadows and thresholds live.

:func:`run_online` replays a data set of recorded cheap and premium answers through the real
runtime, without HTTP: a :class:`~langchain_costrouter.core.runtime.CostRouterRuntime` built
from a config with ``monitor.enabled`` (tiers ``cheap``, gated by a learned gate, and
``premium``), whose request pipeline is the one both adapters run: the cascade decides with the
monitor's threshold and the monitor observes every served answer. Model calls return the
recorded answers (tokens counted with tiktoken as the other benchmark rows are). The monitor
grades by agreement between the served cheap answer and the recorded premium answer: it never
sees the data's quality columns, which are read only afterwards, to score what was served.

Each item is observed and the monitor flushed before the next one, so a run is deterministic
for a given order and seed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from langchain_costrouter.core.config import CostRouterConfig, MonitorConfig
from langchain_costrouter.core.gates.base import BaseGate
from langchain_costrouter.core.gates.learned import LearnedGate
from langchain_costrouter.core.ledger import MemoryLedger
from langchain_costrouter.core.monitor._extract import agreement
from langchain_costrouter.core.monitor.quality import quality_report
from langchain_costrouter.core.pipeline import CallTier, run_sync
from langchain_costrouter.core.pricing import ModelPrice
from langchain_costrouter.core.runtime import CostRouterRuntime
from langchain_costrouter.core.tokens import count_message_tokens, count_tokens
from langchain_costrouter.core.types import ChatRequest, Completion
from langchain_costrouter.core.usage import Usage
from langchain_costrouter.offline._arrays import FloatArray
from langchain_costrouter.offline.data import RoutedDataset

__all__ = ["OnlineResult", "OnlineSettings", "ReplayClient", "run_online"]

CHEAP, PREMIUM = "cheap", "premium"


@dataclass(frozen=True, slots=True)
class OnlineSettings:
    """How the online loop runs.

    Attributes:
        target_quality: The monitor's target (share of requests as good as premium).
        shadow_rate: The monitor's shadow rate.
        recalibrate: Let the controller move the threshold (``False``: the gate file's threshold,
            monitored only).
        monitor: Other ``monitor`` keys (window, confidence, max_step...).
        seed: Seed of the sampling draws.
    """

    target_quality: float = 0.95
    shadow_rate: float = 0.1
    recalibrate: bool = True
    monitor: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0


@dataclass(frozen=True, slots=True)
class OnlineResult:
    """What one online run served and what the monitor estimated.

    Attributes:
        escalated: 1 where the premium tier was called to answer (shadows not included).
        quality: The data's quality of each served answer.
        agreement: 1 where the served answer agrees with the premium answer (what the monitor
            estimates; premium answers agree with themselves).
        cost_usd: Each item's cost, shadow calls included.
        shadow_usd: Each item's shadow cost.
        shadowed: 1 where the served answer was shadowed.
        thresholds: The threshold in force for each item.
        estimate: The monitor's estimate of realised quality vs premium (value, lo, hi).
        alarms: Alarms the monitor raised.
    """

    escalated: FloatArray
    quality: FloatArray
    agreement: FloatArray
    cost_usd: FloatArray
    shadow_usd: FloatArray
    shadowed: FloatArray
    thresholds: FloatArray
    estimate: tuple[float, float, float]
    alarms: tuple[str, ...]


class ReplayClient:
    """A :class:`~langchain_costrouter.core.client.ModelClient` answering with recorded answers."""

    def __init__(self, model: str, answers: Mapping[str, str]) -> None:
        self._model = model
        self._answers = answers

    @property
    def model(self) -> str:
        """The model string (as priced)."""
        return self._model

    def complete(self, messages: Sequence[Mapping[str, Any]], **params: Any) -> Completion:
        """The recorded answer to the last user message."""
        prompt = str(messages[-1]["content"])
        text = self._answers[prompt]
        usage = Usage(count_message_tokens([{"role": "user", "content": prompt}]), count_tokens(text))
        return Completion(text, self._model, usage, finish_reason="stop")

    async def acomplete(self, messages: Sequence[Mapping[str, Any]], **params: Any) -> Completion:
        """As :meth:`complete`."""
        return self.complete(messages, **params)


class _ReplayIO:
    """The pipeline's tier I/O over :class:`ReplayClient` objects."""

    def __init__(self, clients: Mapping[str, ReplayClient]) -> None:
        self._clients = clients

    def call(self, effect: CallTier) -> Completion:
        return self._clients[effect.step.tier.name].complete(effect.messages)

    async def acall(self, effect: CallTier) -> Completion:
        return self.call(effect)


class _Scores(BaseGate):
    """The learned gate's scores, computed once for the whole data set (same values)."""

    name = "learned"

    def __init__(self, gate: LearnedGate, prompts: Sequence[str], answers: Sequence[str]) -> None:
        super().__init__(gate.threshold)
        probs = gate.predict_proba_batch(prompts, answers)
        self._by_prompt = {p: float(s) for p, s in zip(prompts, probs, strict=True)}

    def score(self, request: ChatRequest, completion: Completion) -> float:
        return self._by_prompt[request.last_user_text]


def _config(cheap: str, premium: str, prices: Mapping[str, ModelPrice], monitor: MonitorConfig) -> CostRouterConfig:
    def tier(name: str, model: str) -> dict[str, Any]:
        p = prices[model]
        return {"name": name, "model": model, "price": {"input": p.input * 1e6, "output": p.output * 1e6}}

    return CostRouterConfig.from_dict(
        {
            "tiers": [tier(CHEAP, cheap), tier(PREMIUM, premium)],
            "ledger": {"backend": "memory", "tenant": "online"},
            "cascade": {"retries": 0},
            "monitor": monitor.model_dump(),
        }
    )


def run_online(
    data: RoutedDataset,
    cheap: str,
    premium: str,
    gate: LearnedGate,
    *,
    prices: Mapping[str, ModelPrice],
    settings: OnlineSettings,
    order: Sequence[int] | None = None,
) -> OnlineResult:
    """Streams ``data`` (in ``order``, default file order) through the cascade with the monitor on.

    Raises:
        DataError: A model is not in the data.
        ConfigError: A bad monitor setting.
    """
    idx = list(range(len(data))) if order is None else [int(i) for i in order]
    prompts = [data.prompts[i] for i in idx]
    cheap_answers, premium_answers = data.answers(cheap), data.answers(premium)
    by_model = {
        CHEAP: {data.prompts[i]: cheap_answers[i] for i in idx},
        PREMIUM: {data.prompts[i]: premium_answers[i] for i in idx},
    }
    with tempfile.TemporaryDirectory(prefix="costrouter-online-") as tmp:
        mcfg = MonitorConfig.model_validate(
            {
                "enabled": True,
                "recalibrate": settings.recalibrate,
                "target_quality": settings.target_quality,
                "shadow_rate": settings.shadow_rate,
                "max_daily_usd": 1e9,
                "state_path": str(Path(tmp) / "monitor.json"),
                "seed": settings.seed,
                **dict(settings.monitor),
            }
        )
        cfg = _config(cheap, premium, prices, mcfg)
        ledger = MemoryLedger()
        clients = {CHEAP: ReplayClient(cheap, by_model[CHEAP]), PREMIUM: ReplayClient(premium, by_model[PREMIUM])}
        scores = _Scores(gate, prompts, [cheap_answers[i] for i in idx])
        runtime = CostRouterRuntime(cfg, ledger=ledger, clients=clients.__getitem__, gates={CHEAP: scores})
        monitor = runtime.monitor
        assert monitor is not None  # monitor.enabled is set above
        io = _ReplayIO(clients)
        n = len(idx)
        escalated, quality, agree = np.zeros(n), np.zeros(n), np.zeros(n)
        thresholds = np.zeros(n)
        request_ids: list[str] = []
        qc, qp = data.quality_of(cheap), data.quality_of(premium)
        try:
            for j, i in enumerate(idx):
                request = ChatRequest(({"role": "user", "content": data.prompts[i]},), tenant="online")
                thresholds[j] = monitor.threshold(None, CHEAP, gate.threshold)
                result = run_sync(runtime.pipeline.flow(request), io)
                monitor.flush()
                request_ids.append(request.request_id)
                on_premium = result.answered_by == PREMIUM
                escalated[j] = float(on_premium)
                quality[j] = qp[i] if on_premium else qc[i]
                agree[j] = 1.0 if on_premium else float(agreement(cheap_answers[i], premium_answers[i]) or 0.0)
        finally:
            runtime.close()
        alarms = tuple(monitor.alarms().values())
        records = ledger.records()
    cost: dict[str, float] = {}
    shadow: dict[str, float] = {}
    for r in records:
        cost[r.request_id] = cost.get(r.request_id, 0.0) + r.cost_usd
        if r.kind == "shadow":
            shadow[r.request_id] = shadow.get(r.request_id, 0.0) + r.cost_usd
    report = quality_report(records)
    est = (float("nan"),) * 3 if report is None else _triple(report.totals.quality_vs_premium)
    return OnlineResult(
        escalated=escalated,
        quality=quality,
        agreement=agree,
        cost_usd=np.array([cost.get(r, 0.0) for r in request_ids]),
        shadow_usd=np.array([shadow.get(r, 0.0) for r in request_ids]),
        shadowed=np.array([float(r in shadow) for r in request_ids]),
        thresholds=thresholds,
        estimate=est,
        alarms=alarms,
    )


def _triple(e: Any) -> tuple[float, float, float]:
    return float(e.value), float(e.lo), float(e.hi)
