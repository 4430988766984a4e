"""Findings of the chaos benchmark, each kept fixed (live on loopback: real faults and timeouts).

- ``stream``/``astream`` recorded every call under the default tenant: LangChain calls
  ``_stream``/``_astream`` without a run manager, so the run's metadata was never read.
- A judge call that timed out after it was sent was billed by the provider (its prompt) but
  left no ledger record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from langchain_costrouter import ChatCostRouter, CostRouterConfig
from langchain_costrouter.core.ledger import MemoryLedger
from langchain_costrouter.testing.server import FaultSpec, LocalOpenAIServer, ModelScript, ReplyRule, Script

pytestmark = pytest.mark.server

ENC = "cl100k_base"
SCRIPT = Script(
    models={
        "cheap": ModelScript(reply="A short answer.", rules=(ReplyRule(contains="hard", reply="Hmm."),), encoding=ENC),
        "premium": ModelScript(reply="A careful and complete answer from the premium model.", encoding=ENC),
        "judge": ModelScript(reply="9", rules=(ReplyRule(contains="Hmm.", reply="2"),), encoding=ENC),
        "judge-slow": ModelScript(reply="9", faults=(FaultSpec(kind="timeout", delay_s=3.0),), encoding=ENC),
    },
    strict=True,
)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(SCRIPT, api_key="sk-local") as srv:
        yield srv


def _router(server: LocalOpenAIServer, ledger: MemoryLedger, judge: str = "judge") -> ChatCostRouter:
    def tier(name: str, model: str, **extra: Any) -> dict[str, Any]:
        return {
            "name": name,
            "model": f"openai/{model}",
            "api_base": server.base_url,
            "api_key": "sk-local",
            "price": {"input": 1.0, "output": 2.0},
            "timeout_s": 0.5 if model == "judge-slow" else 10,
            **extra,
        }

    cfg = CostRouterConfig.from_dict(
        {
            "tiers": [tier("cheap", "cheap", gate={"type": "judge", "judge_model": "j"}), tier("premium", "premium")],
            "models": [tier("j", judge)],
            "cascade": {"retries": 0},
            "ledger": {"backend": "memory"},
        }
    )
    return ChatCostRouter(config=cfg, ledger=ledger)


def test_stream_records_the_tenant_named_in_the_run_metadata(server: LocalOpenAIServer) -> None:
    ledger = MemoryLedger()
    router = _router(server, ledger)
    for _ in router.stream("hard: name a river", config={"metadata": {"tenant": "acme"}}):
        pass
    records = ledger.records()
    assert len(records) == 3  # cheap (rejected), judge, premium
    assert {r.tenant for r in records} == {"acme"}


async def test_astream_records_the_tenant_named_in_the_run_metadata(server: LocalOpenAIServer) -> None:
    ledger = MemoryLedger()
    router = _router(server, ledger)
    chunks = [c async for c in router.astream("hard: name a lake", config={"metadata": {"tenant": "globex"}})]
    assert "".join(str(c.content) for c in chunks).startswith("A careful")
    assert {r.tenant for r in ledger.records()} == {"globex"}
    # the private hand-over never reaches a provider
    assert all("_costrouter_run_metadata" not in body for body in server.requests)


async def test_a_judge_call_that_timed_out_is_recorded_with_its_prompt(server: LocalOpenAIServer) -> None:
    ledger = MemoryLedger()
    router = _router(server, ledger, judge="judge-slow")
    server.bill.clear()
    msg = await router.ainvoke("name a mountain", config={"metadata": {"tenant": "t-judge"}})
    assert msg.response_metadata["costrouter"]["tier"] == "premium"  # a failed judge rejects
    await asyncio.sleep(3.2)  # the server bills the judge call once the client has left
    judges = [r for r in ledger.records() if r.kind == "judge"]
    assert len(judges) == 1
    judge = judges[0]
    assert judge.extra.get("estimated") is True
    billed = [line for line in server.bill.lines() if line.model == "judge-slow"]
    assert len(billed) == 1
    assert billed[0].status == "abandoned"
    assert judge.input_tokens == billed[0].prompt_tokens > 0
    assert judge.output_tokens == billed[0].completion_tokens == 0
    assert judge.cost_usd == pytest.approx(judge.input_tokens * 1.0 / 1e6)


async def test_only_a_timeout_after_the_request_was_sent_counts_as_processed(server: LocalOpenAIServer) -> None:
    """A wait for a free pooled connection is a timeout too, but the provider never saw the call.

    openai's ``APITimeoutError`` wraps every transport timeout; the ledger used to charge the
    prompt of calls that timed out in the client's own pool (the chaos bench's "never sent").
    """
    import httpx
    import openai

    from langchain_costrouter.core.faults import provider_processed

    http = httpx.AsyncClient(limits=httpx.Limits(max_connections=1), timeout=httpx.Timeout(1.0, pool=0.2))
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-local", http_client=http, max_retries=0)
    body: dict[str, Any] = {"model": "judge-slow", "messages": [{"role": "user", "content": "grade"}]}
    try:
        slow = asyncio.ensure_future(client.chat.completions.create(**body))
        await asyncio.sleep(0.2)  # it holds the only connection now, waiting for its answer
        with pytest.raises(openai.APITimeoutError) as in_pool:
            await client.chat.completions.create(**{**body, "model": "cheap"})
        with pytest.raises(openai.APITimeoutError) as reading:
            await slow
    finally:
        await http.aclose()
    read, pooled = reading.value, in_pool.value
    assert isinstance(read, openai.APITimeoutError)
    assert isinstance(pooled, openai.APITimeoutError)
    assert provider_processed(read)
    assert not provider_processed(pooled)
