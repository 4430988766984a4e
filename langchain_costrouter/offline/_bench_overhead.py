"""Per-request overhead of the pipeline: ``ChatCostRouter`` vs a direct ``ChatOpenAI`` call.

Both talk to the same server with the same model and settings; the router has one tier and no
gate (the answer is always accepted), and records every call in a SQLite ledger as a deployment
would. Requests are sent one at a time, alternating which side goes first, so the difference of
the two latencies is what the router adds (conversion, routing, gate, pricing, ledger write).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["OverheadStats", "measure_overhead"]


@dataclass(frozen=True, slots=True)
class OverheadStats:
    """Latencies of the same requests through the router and directly (milliseconds).

    Attributes:
        requests: Timed requests on each side (after warm-up).
        router_mean_ms: Mean latency through ``ChatCostRouter``.
        router_p50_ms: Median latency through ``ChatCostRouter``.
        direct_mean_ms: Mean latency of the direct ``ChatOpenAI`` call.
        direct_p50_ms: Median latency of the direct call.
        added_mean_ms: ``router_mean_ms - direct_mean_ms``.
        added_p50_ms: Median of the per-request differences (router - direct, same prompt).
        ratio: ``router_mean_ms / direct_mean_ms``.
        ledger: The ledger backend the router wrote to.
    """

    requests: int
    router_mean_ms: float
    router_p50_ms: float
    direct_mean_ms: float
    direct_p50_ms: float
    added_mean_ms: float
    added_p50_ms: float
    ratio: float
    ledger: str = "sqlite"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {k: getattr(self, k) for k in self.__slots__}


async def measure_overhead(
    tier: Mapping[str, Any],
    prompts: Sequence[str],
    *,
    warmup: int = 5,
) -> OverheadStats:
    """Times ``prompts`` through a one-tier router and through a plain ``ChatOpenAI``.

    Args:
        tier: The tier spec (a ``tiers[]`` entry of the config, with ``api_base``) to call.
        prompts: One request per prompt on each side (at least one).
        warmup: Untimed requests per side first (connections, lazy imports, encoders).

    Raises:
        ValueError: No prompts.
    """
    from langchain_core.messages import HumanMessage
    from langchain_openai import ChatOpenAI

    from langchain_costrouter.chat_model import ChatCostRouter
    from langchain_costrouter.core.config import CostRouterConfig

    if not prompts:
        msg = "measure_overhead needs at least one prompt"
        raise ValueError(msg)
    tmp = tempfile.TemporaryDirectory(prefix="costrouter-overhead-")
    ledger_path = Path(tmp.name) / "overhead-ledger.sqlite"
    cfg = CostRouterConfig.from_dict(
        {"tiers": [{**tier, "gate": {"type": "none"}}], "ledger": {"backend": "sqlite", "path": str(ledger_path)}}
    )
    spec = cfg.tiers[0]
    router = ChatCostRouter(config=cfg, tenant="overhead")
    direct = ChatOpenAI(
        model=spec.provider_model,
        base_url=spec.api_base,
        api_key="not-needed",  # local servers ignore the key
        max_tokens=spec.max_tokens,
        timeout=spec.timeout_s,
        max_retries=0,  # the cascade retries, recording every attempt
    )

    async def timed(model: Any, prompt: str) -> float:
        t0 = time.perf_counter()
        await model.ainvoke([HumanMessage(content=prompt)])
        return (time.perf_counter() - t0) * 1000

    try:
        for p in list(prompts)[:warmup]:
            await timed(router, p)
            await timed(direct, p)
        via_router: list[float] = []
        via_direct: list[float] = []
        for i, p in enumerate(prompts):
            if i % 2 == 0:
                via_router.append(await timed(router, p))
                via_direct.append(await timed(direct, p))
            else:
                via_direct.append(await timed(direct, p))
                via_router.append(await timed(router, p))
    finally:
        router.runtime.close()
        tmp.cleanup()
    r_mean, d_mean = statistics.fmean(via_router), statistics.fmean(via_direct)
    return OverheadStats(
        requests=len(prompts),
        router_mean_ms=r_mean,
        router_p50_ms=statistics.median(via_router),
        direct_mean_ms=d_mean,
        direct_p50_ms=statistics.median(via_direct),
        added_mean_ms=r_mean - d_mean,
        added_p50_ms=statistics.median(r - d for r, d in zip(via_router, via_direct, strict=True)),
        ratio=r_mean / d_mean if d_mean > 0 else float("nan"),
    )
