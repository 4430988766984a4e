"""Every tier fails its gate: LiteLLM serves the best-scoring answer, as ChatCostRouter does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.ledger import MemoryLedger
from langchain_costrouter.testing.server import LocalOpenAIServer, ModelScript, Script
from litellm_hooks import CostRouterHooks, build_router
from tests.integration_tests.litellm.conftest import config_data

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def weak_server() -> Iterator[LocalOpenAIServer]:
    # Heuristic gates need 20 characters: the cheap answer comes closest, premium is worst.
    script = Script(
        models={
            "cheap-m": ModelScript(reply="Almost twenty"),
            "mid-m": ModelScript(reply="Meh."),
            "prem-m": ModelScript(reply="No."),
        },
        strict=False,
    )
    with LocalOpenAIServer(script, port=0) as srv:
        yield srv


async def test_async_exhausted_cascade_serves_the_best_answer(weak_server: LocalOpenAIServer) -> None:
    data = config_data(weak_server.base_url)
    data["tiers"][2]["gate"] = {"type": "heuristic", "min_chars": 20}
    data["routing"] = {"type": "none"}
    cfg = CostRouterConfig.from_dict(data)
    hooks = CostRouterHooks(cfg, ledger=MemoryLedger())
    router = build_router(cfg, hooks=hooks)
    try:
        resp = await router.acompletion(model="cheap", messages=[{"role": "user", "content": "Anything?"}])
        assert resp.choices[0].message.content == "Almost twenty"
        trail = resp._hidden_params["costrouter"]
        assert trail["tier"] == "cheap" and trail["accepted"] is False
        recs = hooks.ledger.records(request_id=trail["request_id"])
        assert [(r.tier, r.outcome) for r in recs] == [
            ("cheap", "rejected"),
            ("mid", "rejected"),
            ("premium", "rejected"),
            ("cheap", "served"),
        ]
        assert all(r.cost_usd > 0 for r in recs[:3]) and recs[3].cost_usd == 0
    finally:
        hooks.close()
