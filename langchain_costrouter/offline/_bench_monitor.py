"""Request latency with the quality monitor on vs off (``costrouter bench cascade --online``).

Two ``ChatCostRouter`` instances over the same HTTP server and the same two-tier config (the
cheap tier's gate passes every non-empty answer), one with ``monitor.enabled`` at its most
expensive setting (every accepted answer shadowed, ``shadow_rate: 1``, recalibration on, the
state in a file) and one without. Requests are sent one at a time, alternating which side goes
first; the monitor's shadow calls run on its worker thread, against the same server, while the
next requests are timed. The p50 of the paired differences is what the monitor adds to a request.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["MonitorOverhead", "measure_monitor_overhead"]


@dataclass(frozen=True, slots=True)
class MonitorOverhead:
    """Latencies of the same requests with the monitor off and on (milliseconds).

    Attributes:
        requests: Timed requests per side.
        off_p50_ms: Median latency without the monitor.
        on_p50_ms: Median latency with the monitor on.
        added_p50_ms: Median of the per-request differences (on - off, same prompt).
        off_mean_ms: Mean latency without the monitor.
        on_mean_ms: Mean latency with the monitor on.
        shadows: Shadow calls the monitor made meanwhile.
    """

    requests: int
    off_p50_ms: float
    on_p50_ms: float
    added_p50_ms: float
    off_mean_ms: float
    on_mean_ms: float
    shadows: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {k: getattr(self, k) for k in self.__slots__}


async def measure_monitor_overhead(
    cheap: Mapping[str, Any], premium: Mapping[str, Any], prompts: Sequence[str], *, warmup: int = 5
) -> MonitorOverhead:
    """Times ``prompts`` through ``ChatCostRouter`` with and without the monitor.

    Args:
        cheap: The cheap tier's config entry (with ``api_base``); its answers pass a gate.
        premium: The premium tier's config entry (answers the shadows).
        prompts: One request per prompt on each side (at least one).
        warmup: Untimed requests per side first.

    Raises:
        ValueError: No prompts.
    """
    from langchain_core.messages import HumanMessage

    from langchain_costrouter.chat_model import ChatCostRouter
    from langchain_costrouter.core.config import CostRouterConfig

    if not prompts:
        msg = "measure_monitor_overhead needs at least one prompt"
        raise ValueError(msg)
    with tempfile.TemporaryDirectory(prefix="costrouter-monitor-overhead-") as tmp:

        def router(monitor: bool) -> ChatCostRouter:
            data: dict[str, Any] = {
                "tiers": [
                    {**cheap, "name": "cheap", "gate": {"type": "regex", "pattern": r"\S"}},
                    {**premium, "name": "premium"},
                ],
                "ledger": {"backend": "sqlite", "path": str(Path(tmp) / f"ledger-{monitor}.sqlite")},
            }
            if monitor:
                data["monitor"] = {
                    "enabled": True,
                    "shadow_rate": 1.0,
                    "recalibrate": True,
                    "target_quality": 0.05,  # the gate passes every answer: a real target would only raise alarms
                    "max_daily_usd": 1e9,
                    "max_queue": 100_000,
                    "state_path": str(Path(tmp) / "monitor.json"),
                }
            return ChatCostRouter(config=CostRouterConfig.from_dict(data), tenant="overhead")

        off, on = router(False), router(True)
        monitor = on.runtime.monitor
        assert monitor is not None

        async def timed(model: ChatCostRouter, prompt: str) -> float:
            t0 = time.perf_counter()
            await model.ainvoke([HumanMessage(content=prompt)])
            return (time.perf_counter() - t0) * 1000

        try:
            for p in list(prompts)[:warmup]:
                await timed(off, p)
                await timed(on, p)
            monitor.flush(60)
            via_off: list[float] = []
            via_on: list[float] = []
            for i, p in enumerate(prompts):
                if i % 2 == 0:
                    via_off.append(await timed(off, p))
                    via_on.append(await timed(on, p))
                else:
                    via_on.append(await timed(on, p))
                    via_off.append(await timed(off, p))
            monitor.flush(120)
            shadows = monitor.stats().shadowed
        finally:
            on.close()
            off.close()
    return MonitorOverhead(
        requests=len(prompts),
        off_p50_ms=statistics.median(via_off),
        on_p50_ms=statistics.median(via_on),
        added_p50_ms=statistics.median(a - b for a, b in zip(via_on, via_off, strict=True)),
        off_mean_ms=statistics.fmean(via_off),
        on_mean_ms=statistics.fmean(via_on),
        shadows=shadows,
    )
