"""The LiteLLM compression hook and batch runner over real HTTP (LiteLLM SDK -> local server)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.ledger import MemoryLedger
from langchain_costrouter.core.runtime import CostRouterRuntime
from langchain_costrouter.testing.responders import answer_for
from langchain_costrouter.testing.server import LocalOpenAIServer

from .conftest import COMPRESSOR, TARGET, bodies
from .test_compression_http import CODE, JSON, KEEP, QUOTE, SYSTEM, TICKET

pytestmark = pytest.mark.server


@pytest.fixture
def litellm() -> Iterator[Any]:
    from litellm_hooks._litellm import litellm as lt

    lt.disable_aiohttp_transport = True
    before = list(lt.callbacks)
    yield lt
    lt.callbacks = before


def _runtime(server: LocalOpenAIServer) -> CostRouterRuntime:
    config = CostRouterConfig.from_dict(
        {
            "tiers": [
                {"name": "cheap", "model": f"openai/{COMPRESSOR}", "api_base": server.base_url},
                {"name": "premium", "model": f"openai/{TARGET}", "api_base": server.base_url},
            ],
            "compression": {"enabled": True, "model": "cheap", "min_tokens": 500, "target_ratio": 0.5},
            "batching": {"enabled": True, "model": "premium", "max_batch": 10},
            "ledger": {"backend": "memory"},
        }
    )
    return CostRouterRuntime(config, ledger=MemoryLedger())


async def test_deployment_hook_compresses_sdk_calls_when_it_pays(server: LocalOpenAIServer, litellm: Any) -> None:
    from litellm_hooks.compression_hook import CompressionHook

    rt = _runtime(server)
    hook = CompressionHook.from_config(rt.config, accountant=rt.accountant)
    litellm.callbacks = [*litellm.callbacks, hook]
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": TICKET}]
    common = {"api_base": server.base_url, "api_key": "sk-test", "messages": messages}
    await litellm.acompletion(model=f"openai/{TARGET}", **common)
    [compress_call] = [b for b in server.requests.snapshot() if "TEXT:\n" in str(b["messages"][-1]["content"])]
    assert compress_call["model"] == COMPRESSOR
    [sent] = bodies(server, TARGET)
    assert sent["messages"][0]["content"] == SYSTEM
    body = sent["messages"][1]["content"]
    assert len(body) < 0.7 * len(TICKET)
    for span in (CODE, JSON, QUOTE, KEEP):
        assert span in body
    # A new prompt to the cheap model: compressing it does not pay there, so nothing is called.
    other = TICKET.replace("parcel", "package")
    await litellm.acompletion(
        model=f"openai/{COMPRESSOR}", **{**common, "messages": [messages[0], {"role": "user", "content": other}]}
    )
    [own_call] = bodies(server, COMPRESSOR)[1:]
    assert own_call["messages"][1]["content"] == other
    # The first prompt again, to the cheap model: its cached compression is free, so it is used.
    await litellm.acompletion(model=f"openai/{COMPRESSOR}", **common)
    assert len([b for b in server.requests.snapshot() if "TEXT:\n" in str(b["messages"][-1]["content"])]) == 1
    assert bodies(server, COMPRESSOR)[-1]["messages"][1]["content"] == body
    decisions = [r for r in rt.ledger.records() if r.kind == "compression"]
    assert [(r.extra["compress"], r.extra["cache"]) for r in decisions] == [
        (True, "miss"),
        (False, "none"),
        (True, "hit"),
    ]
    assert decisions[0].cost_usd > 0
    assert decisions[1].cost_usd == decisions[2].cost_usd == 0.0


async def test_proxy_pre_call_hook_compresses_for_a_tier_and_marks_the_request(server: LocalOpenAIServer) -> None:
    from litellm_hooks.compression_hook import COMPRESSED_FLAG, CompressionHook

    rt = _runtime(server)
    hook = CompressionHook.from_config(rt.config, accountant=rt.accountant)
    data: dict[str, Any] = {"model": "premium", "messages": [{"role": "user", "content": TICKET}]}
    out = await hook.async_pre_call_hook(None, None, data, "acompletion")
    assert out is data
    assert data["metadata"][COMPRESSED_FLAG] is True
    assert len(data["messages"][0]["content"]) < 0.7 * len(TICKET)
    assert await hook.async_pre_call_deployment_hook(data, None) is None  # not compressed twice
    entry = {"model": "costrouter", "messages": [{"role": "user", "content": TICKET}]}
    assert await hook.async_pre_call_hook(None, None, entry, "acompletion") is None  # target unknown yet
    assert len(bodies(server, COMPRESSOR)) == 1


def test_batch_runner_through_litellm(make_server: Any, litellm: Any) -> None:
    from litellm_hooks.compression_hook import batch_runner

    server = make_server(malformed={"q3"})
    rt = _runtime(server)
    questions = [f"Name a river in region {i}." for i in range(10)]
    report = batch_runner(rt.config, accountant=rt.accountant, system_prompt=SYSTEM).run(questions)
    assert report.answers == [answer_for(q) for q in questions]
    assert [len(c.item_ids) for c in report.calls] == [10, 1]
    recs = rt.ledger.records()
    assert abs(sum(r.cost_usd for r in recs) - report.total_cost_usd) < 1e-12
