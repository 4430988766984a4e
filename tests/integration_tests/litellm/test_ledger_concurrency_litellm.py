"""1000 concurrent async calls through ``litellm.Router`` + hooks over real HTTP: ledger exact.

A quarter of the requests get a bad cheap answer and escalate, so the ledger must hold 1250
attempt records; every request's records must add up to its trail, every accepted record's
tokens to what the caller received, and the totals to tokens x configured prices.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import pytest

from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.ledger import CostRecord, SQLiteLedger
from langchain_costrouter.testing.server import LocalOpenAIServer
from litellm_hooks import CostRouterHooks, build_router
from tests.integration_tests.litellm.conftest import config_data, expected_cost

pytestmark = pytest.mark.server

N = 1000


@pytest.mark.timeout(600)
async def test_1000_concurrent_calls_ledger_exact(local_server: LocalOpenAIServer, tmp_path: Path) -> None:
    cfg = CostRouterConfig.from_dict(config_data(local_server.base_url, str(tmp_path / "ledger.sqlite")))
    hooks = CostRouterHooks(cfg)
    router = build_router(cfg, hooks=hooks)
    try:

        async def one(i: int) -> tuple[int, Any]:
            text = f"question {i}" + ("" if i % 4 == 0 else " [ok]")
            resp = await router.acompletion(model="costrouter", messages=[{"role": "user", "content": text}])
            return i, resp

        results = await asyncio.gather(*(one(i) for i in range(N)))
        await asyncio.sleep(0.5)
        assert isinstance(hooks.ledger, SQLiteLedger)
        records = hooks.ledger.records()
        assert len(records) == N + N // 4
        by_request: dict[str, list[CostRecord]] = {}
        for rec in records:
            by_request.setdefault(rec.request_id, []).append(rec)
        assert len(by_request) == N
        total_from_trails = 0.0
        for i, resp in results:
            trail = resp._hidden_params["costrouter"]
            recs = by_request[trail["request_id"]]
            expected = [("cheap", "rejected"), ("mid", "accepted")] if i % 4 == 0 else [("cheap", "accepted")]
            assert [(r.tier, r.outcome) for r in recs] == expected
            accepted = recs[-1]
            usage = resp.usage
            assert (accepted.input_tokens, accepted.output_tokens) == (usage.prompt_tokens, usage.completion_tokens)
            assert trail["total_cost_usd"] == pytest.approx(sum(r.cost_usd for r in recs), rel=1e-12)
            total_from_trails += trail["total_cost_usd"]
        ledger_total = math.fsum(r.cost_usd for r in records)
        assert ledger_total == pytest.approx(math.fsum(expected_cost(r) for r in records), rel=1e-12)
        assert ledger_total == pytest.approx(total_from_trails, rel=1e-12)
        assert sum(r.outcome == "rejected" for r in records) == N // 4
    finally:
        hooks.close()
