"""Wiring and running one policy of the cascade benchmark (see :mod:`langchain_costrouter.offline.cascade_bench`).

:class:`Wiring` builds each policy's ``ChatCostRouter`` from a config (tiers ``cheap → premium``
on the replay server, priced with the data models' resolved prices, the gate under test on the
cheap tier); :func:`run_policy` sends items through it concurrently with a progress bar;
:func:`ledger_index` reads back what the ledger recorded per request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_costrouter.chat_model import ChatCostRouter
from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.errors import CostRouterError, ProviderError
from langchain_costrouter.core.ledger import CostRecord, LedgerBackend
from langchain_costrouter.core.tokens import count_tokens, encoding_for_model
from langchain_costrouter.offline.cascade_policies import PriceResolution
from langchain_costrouter.offline.data import RoutedDataset

__all__ = [
    "CHEAP_TIER",
    "PREMIUM_TIER",
    "Served",
    "Wiring",
    "ledger_index",
    "max_tokens_for",
    "price_spec",
    "run_policy",
]

CHEAP_TIER, PREMIUM_TIER = "cheap", "premium"


def price_spec(res: PriceResolution) -> dict[str, float]:
    """A config ``price`` entry (dollars per million tokens) from a resolved price."""
    p = res.price
    spec = {"input": p.input * 1e6, "output": p.output * 1e6}
    for name in ("cache_read", "cache_write", "reasoning"):
        v = getattr(p, name)
        if v is not None:
            spec[name] = v * 1e6
    return spec


@dataclass(frozen=True, slots=True)
class Wiring:
    """How every policy's router reaches the server and prices its calls."""

    base_url: str
    cheap: PriceResolution
    premium: PriceResolution
    max_tokens: int

    def tier(self, name: str, gate: Mapping[str, Any] | None) -> dict[str, Any]:
        """The ``tiers[]`` config entry of the cheap or premium tier."""
        res = self.cheap if name == CHEAP_TIER else self.premium
        spec: dict[str, Any] = {
            "name": name,
            # The openai/ prefix makes ChatOpenAI send the bare data name; the tier price pins
            # the cost to the data model's resolved price.
            "model": f"openai/{res.model}",
            "api_base": self.base_url,
            "price": price_spec(res),
            "max_tokens": self.max_tokens,
            "timeout_s": 120.0,
        }
        if gate is not None:
            spec["gate"] = dict(gate)
        return spec

    def router(self, policy: str, gate: Mapping[str, Any] | None, ledger: LedgerBackend) -> ChatCostRouter:
        """The policy's router: ``[premium]`` for always-premium, else ``[cheap + gate, premium]``."""
        if policy == "always_premium":
            tiers = [self.tier(PREMIUM_TIER, None)]
        else:
            tiers = [self.tier(CHEAP_TIER, gate or {"type": "none"}), self.tier(PREMIUM_TIER, None)]
        cfg = CostRouterConfig.from_dict({"tiers": tiers, "ledger": {"backend": "memory", "tenant": policy}})
        return ChatCostRouter(config=cfg, ledger=ledger, tenant=policy)


def max_tokens_for(data: RoutedDataset) -> int:
    """A max_tokens that never truncates a recorded answer."""
    longest = max(count_tokens(a, encoding_for_model(m)) for m in data.models for a in data.answers(m))
    return max(1024, longest + 64)


@dataclass(frozen=True, slots=True)
class Served:
    """What the router answered for one item."""

    request_id: str
    tier: str
    text: str
    calls: int
    premium_called: bool


async def run_policy(
    policy: str,
    groups: Sequence[tuple[ChatCostRouter, Sequence[int]]],
    prompts: Sequence[str],
    *,
    concurrency: int,
    progress: bool,
) -> dict[int, Served]:
    """Sends each group's items through its router (``concurrency`` in flight), with a progress bar.

    Raises:
        ProviderError: A request failed (the item and the cause are named).
    """
    from langchain_core.messages import HumanMessage

    from langchain_costrouter.offline.progress import Steps, progress_enabled

    sem = asyncio.Semaphore(concurrency)
    total = sum(len(ix) for _, ix in groups)

    async def one(router: ChatCostRouter, i: int) -> tuple[int, Served]:
        async with sem:
            try:
                msg = await router.ainvoke([HumanMessage(content=prompts[i])])
            except CostRouterError:
                raise
            except Exception as exc:
                msg_ = f"{policy}: item {i}: the request failed: {type(exc).__name__}: {exc}"
                raise ProviderError("bench", msg_, retryable=False) from exc
        meta = msg.response_metadata["costrouter"]
        attempts = meta["attempts"]
        advance(1)
        served = Served(
            meta["request_id"],
            meta["tier"],
            msg.text,
            len(attempts),
            any(a["tier"] == PREMIUM_TIER for a in attempts),
        )
        return i, served

    with Steps(enabled=progress_enabled(not progress)) as steps:
        advance = steps.add(f"{policy:<22}", total)
        done = await asyncio.gather(*(one(r, int(i)) for r, ix in groups for i in ix))
    return dict(done)


def ledger_index(records: Sequence[CostRecord]) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], float]]:
    """Cost per (tenant, request) and the cheap tier's gate score per (tenant, request)."""
    cost: dict[tuple[str, str], float] = {}
    score: dict[tuple[str, str], float] = {}
    for r in records:
        key = (r.tenant, r.request_id)
        cost[key] = cost.get(key, 0.0) + r.cost_usd
        if r.tier == CHEAP_TIER and r.gate_score is not None and r.outcome in {"accepted", "rejected"}:
            score[key] = r.gate_score
    return cost, score
