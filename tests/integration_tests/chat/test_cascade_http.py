"""ChatCostRouter over real HTTP: every tier is a model of the local server on 127.0.0.1.

These tests run live on loopback (no cassette) because some of them need real faults: a
timeout or a broken stream cannot be replayed from a cassette.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from pydantic import BaseModel

from langchain_costrouter import BudgetExceededError, CascadeExhaustedError, ChatCostRouter, CostRouterConfig
from langchain_costrouter.core.ledger import MemoryLedger
from langchain_costrouter.testing.server import FaultSpec, LocalOpenAIServer, ModelScript, ReplyRule, Script

pytestmark = pytest.mark.server

GOOD = "The capital of France is Paris, on the river Seine."
SCRIPT = Script(
    models={
        "cheap": ModelScript(
            reply=GOOD,
            rules=(ReplyRule(contains="hard question", reply="Hmm."), ReplyRule(contains="very hard", reply="No.")),
        ),
        "mid": ModelScript(
            reply="The mid tier answers this one properly and at length.",
            rules=(ReplyRule(contains="very hard", reply="Nope."),),
        ),
        "premium": ModelScript(reply="The premium tier gives a careful, complete answer here."),
        "cheap-429": ModelScript(reply=GOOD, faults=(FaultSpec(kind="429", retry_after=1),)),
        "cheap-500": ModelScript(reply=GOOD, faults=(FaultSpec(kind="500"),)),
        "cheap-429once": ModelScript(reply=GOOD, faults=(FaultSpec(kind="429", retry_after=0, times=1),)),
        "cheap-dawdle": ModelScript(reply=" ".join([GOOD] * 6), token_delay_s=0.05),
        "cheap-slow": ModelScript(reply=GOOD, faults=(FaultSpec(kind="timeout", delay_s=3.0),)),
        "cheap-broken": ModelScript(reply=GOOD + " " + GOOD, faults=(FaultSpec(kind="broken_stream", after_chunks=2),)),
    },
    strict=True,
)
PRICES = {"cheap": (0.1, 0.4), "mid": (1.0, 4.0), "premium": (10.0, 40.0)}


@pytest.fixture(scope="module")
def server() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(SCRIPT, port=0) as srv:
        yield srv


def make_router(
    server: LocalOpenAIServer, *tiers: str, ledger: MemoryLedger | None = None, **extra: Any
) -> ChatCostRouter:
    specs = []
    for i, model in enumerate(tiers):
        base = model.split("-")[0] if model.startswith("cheap") else model
        inp, out = PRICES[base]
        spec: dict[str, Any] = {
            "name": f"t{i}-{model}",
            "model": f"openai/{model}",
            "api_base": server.base_url,
            "price": {"input": inp, "output": out},
            "max_tokens": 200,
            "timeout_s": 0.5 if model in {"cheap-slow", "cheap-dawdle"} else 10,
        }
        if i < len(tiers) - 1:
            spec["gate"] = {"type": "heuristic", "min_chars": 20}
        specs.append(spec)
    cfg = CostRouterConfig.from_dict({"tiers": specs, "ledger": {"backend": "memory"}, **extra})
    return ChatCostRouter(config=cfg, ledger=ledger if ledger is not None else MemoryLedger())


def trail(msg: AIMessage) -> dict[str, Any]:
    return msg.response_metadata["costrouter"]


def test_cheap_answer_accepted_in_a_chain(server: LocalOpenAIServer) -> None:
    ledger = MemoryLedger()
    llm = make_router(server, "cheap", "premium", ledger=ledger)
    chain = ChatPromptTemplate.from_messages([("system", "Answer briefly."), ("user", "{q}")]) | llm | StrOutputParser()
    assert chain.invoke({"q": "What is the capital of France?"}) == GOOD
    (rec,) = ledger.records()
    assert (rec.tier, rec.outcome, rec.model) == ("t0-cheap", "accepted", "openai/cheap")
    assert rec.input_tokens > 10 and rec.output_tokens > 5
    assert rec.cost_usd == pytest.approx(rec.input_tokens * 0.1e-6 + rec.output_tokens * 0.4e-6)
    assert rec.baseline_cost_usd == pytest.approx(rec.input_tokens * 10e-6 + rec.output_tokens * 40e-6)


def test_failed_gate_escalates_and_metadata_has_the_trail(server: LocalOpenAIServer) -> None:
    ledger = MemoryLedger()
    llm = make_router(server, "cheap", "mid", "premium", ledger=ledger)
    msg = llm.invoke("This is a very hard question")
    assert msg.content.startswith("The premium tier")
    t = trail(msg)
    assert [a["outcome"] for a in t["attempts"]] == ["rejected", "rejected", "accepted"]
    assert t["tier"] == "t2-premium" and t["escalations"] == 2 and t["accepted"]
    assert msg.response_metadata["model_name"] == "premium"
    assert msg.usage_metadata is not None and msg.usage_metadata["output_tokens"] > 0
    records = ledger.records()
    assert [r.outcome for r in records] == ["rejected", "rejected", "accepted"]
    assert sum(r.cost_usd for r in records) == pytest.approx(t["total_cost_usd"])
    assert all(r.cost_usd > 0 for r in records)  # rejected attempts are paid for, and recorded


@pytest.mark.parametrize(
    ("model", "kind"), [("cheap-429", "rate_limit"), ("cheap-500", "server"), ("cheap-slow", "timeout")]
)
def test_provider_faults_are_retried_then_escalate(server: LocalOpenAIServer, model: str, kind: str) -> None:
    ledger = MemoryLedger()
    llm = make_router(server, model, "premium", ledger=ledger, cascade={"retries": 1, "retry_backoff_s": 0})
    msg = llm.invoke("What is the capital of France?")
    t = trail(msg)
    assert t["tier"] == "t1-premium" and t["escalations"] == 1
    assert [(a["outcome"], a["retry"], a["error_kind"]) for a in t["attempts"][:2]] == [
        ("error", 0, kind),
        ("error", 1, kind),
    ]
    assert [(r.outcome, r.tier, r.extra.get("retry", 0)) for r in ledger.records()] == [
        ("error", f"t0-{model}", 0),
        ("error", f"t0-{model}", 1),
        ("accepted", "t1-premium", 0),
    ]
    errors = ledger.records()[:2]
    if kind == "timeout":  # the provider processed the prompt: billed at least that, flagged as an estimate
        assert all(r.input_tokens > 0 and r.cost_usd > 0 and r.extra.get("estimated") for r in errors)
    else:  # refused before any work: nothing billed
        assert all(r.input_tokens == 0 and r.cost_usd == 0 for r in errors)


def test_a_retry_that_succeeds_stays_on_the_tier(server: LocalOpenAIServer) -> None:
    ledger = MemoryLedger()
    llm = make_router(server, "cheap-429once", "premium", ledger=ledger, cascade={"retry_backoff_s": 0})
    msg = llm.invoke("What is the capital of France?")
    t = trail(msg)
    assert msg.content == GOOD and t["tier"] == "t0-cheap-429once" and t["escalations"] == 0
    assert [(r.outcome, r.extra.get("retry", 0)) for r in ledger.records()] == [("error", 0), ("accepted", 1)]
    assert [r.escalation_step for r in ledger.records()] == [0, 0]


def test_budget_stop_serves_best_so_far_or_raises(server: LocalOpenAIServer) -> None:
    # premium's estimate alone (200 max tokens * $40/M = $0.008) exceeds the $0.005 budget
    llm = make_router(server, "cheap", "premium", budget={"per_request_usd": 0.005})
    msg = llm.invoke("a hard question")
    t = trail(msg)
    assert t["flag"] == "budget" and not t["accepted"] and msg.content == "Hmm."
    strict = make_router(server, "cheap", "premium", budget={"per_request_usd": 0.005, "on_exceeded": "raise"})
    with pytest.raises(BudgetExceededError) as info:
        strict.invoke("a hard question")
    assert info.value.next_tier == "t1-premium" and len(info.value.attempts) == 1


def test_exhausted_cascade_flags_best_or_raises(server: LocalOpenAIServer) -> None:
    llm = make_router(server, "cheap", "mid", "mid")  # last tier gated too: all fail on "very hard"
    cfg = llm.config
    gated_last = cfg.model_copy(
        update={"tiers": (*cfg.tiers[:2], cfg.tiers[2].model_copy(update={"gate": cfg.tiers[0].gate}))}
    )
    ledger = MemoryLedger()
    best = ChatCostRouter(config=gated_last, ledger=ledger)
    msg = best.invoke("very hard")
    assert trail(msg)["flag"] == "exhausted" and msg.content == "Nope."
    assert [r.outcome for r in ledger.records()] == ["rejected", "rejected", "rejected", "served"]
    raising = ChatCostRouter(
        config=gated_last.model_copy(
            update={"cascade": gated_last.cascade.model_copy(update={"on_exhausted": "raise"})}
        ),
        ledger=MemoryLedger(),
    )
    with pytest.raises(CascadeExhaustedError) as info:
        raising.invoke("very hard")
    assert len(info.value.attempts) == 3 and info.value.total_cost_usd > 0


class Capital(BaseModel):
    country: str
    capital: str


def test_tool_calling_and_structured_output_through_the_cascade(server: LocalOpenAIServer) -> None:
    ledger = MemoryLedger()
    llm = make_router(server, "cheap", "premium", ledger=ledger)

    def get_weather(city: str) -> str:
        """Weather in a city."""
        return "sunny"

    msg = llm.bind_tools([get_weather], tool_choice="get_weather").invoke("What's the weather in 'Oslo'?")
    assert msg.tool_calls and msg.tool_calls[0]["name"] == "get_weather"
    assert isinstance(msg.tool_calls[0]["args"]["city"], str)
    body = server.requests[-1]
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assert body["tool_choice"]["function"]["name"] == "get_weather"

    for method in ("function_calling", "json_schema"):
        out = llm.with_structured_output(Capital, method=method).invoke("Capital of France?")
        assert isinstance(out, Capital) and out.country and out.capital
    assert len(ledger.records()) == 3 and all(r.outcome == "accepted" for r in ledger.records())


def test_stream_buffers_gated_tier_and_replays_only_the_accepted_answer(server: LocalOpenAIServer) -> None:
    ledger = MemoryLedger()
    llm = make_router(server, "cheap", "mid", "premium", ledger=ledger)
    chunks = list(llm.stream("a very hard question"))
    text = "".join(c.content for c in chunks if isinstance(c.content, str))
    assert text == "The premium tier gives a careful, complete answer here."
    assert "Hmm" not in text and "Nope" not in text  # rejected answers never reach the user
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    assert isinstance(total, AIMessageChunk)
    assert total.response_metadata["costrouter"]["tier"] == "t2-premium"
    assert total.usage_metadata is not None and total.usage_metadata["output_tokens"] > 5
    assert [r.outcome for r in ledger.records()] == ["rejected", "rejected", "accepted"]

    accepted = list(make_router(server, "cheap", "premium").stream("capital of France?"))
    assert "".join(str(c.content) for c in accepted) == GOOD


def test_broken_stream_on_a_buffered_tier_escalates(server: LocalOpenAIServer) -> None:
    ledger = MemoryLedger()
    llm = make_router(server, "cheap-broken", "premium", ledger=ledger, cascade={"retries": 0})
    text = "".join(str(c.content) for c in llm.stream("capital of France?"))
    assert text.startswith("The premium tier")
    error, accepted = ledger.records()
    assert (error.outcome, accepted.outcome) == ("error", "accepted")
    # the chunks the broken stream had sent were billed: priced from the tokens seen
    assert error.output_tokens > 0 and error.cost_usd > 0 and error.extra.get("estimated")


async def test_100_concurrent_async_requests_all_recorded(server: LocalOpenAIServer) -> None:
    ledger = MemoryLedger()
    llm = make_router(server, "cheap", "mid", "premium", ledger=ledger)
    prompts = [("a hard question #%d" if i % 4 == 0 else "capital of France #%d") % i for i in range(100)]
    results = await asyncio.gather(*(llm.ainvoke(p) for p in prompts))
    escalated = [r for r in results if trail(r)["tier"] != "t0-cheap"]
    assert len(escalated) == 25
    records = ledger.records()
    assert len({r.request_id for r in records}) == 100
    assert len(records) == 75 + 25 * 2  # every rejected attempt is in the ledger too
    assert sum(r.cost_usd for r in records) == pytest.approx(sum(trail(r)["total_cost_usd"] for r in results))


async def test_astream_buffers_like_stream(server: LocalOpenAIServer) -> None:
    llm = make_router(server, "cheap", "premium")
    parts = [c async for c in llm.astream("hard question")]
    assert "".join(str(c.content) for c in parts) == "The premium tier gives a careful, complete answer here."


def test_fallback_chain_runs_the_cascade_with_each_attempt_as_a_child_run(server: LocalOpenAIServer) -> None:
    from langchain_core.callbacks import BaseCallbackHandler

    from langchain_costrouter import build_fallback_chain

    class Starts(BaseCallbackHandler):
        def __init__(self) -> None:
            self.models: list[str] = []

        def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
            self.models.append(str((kwargs.get("invocation_params") or {}).get("model")))

    ledger = MemoryLedger()
    cfg = make_router(server, "cheap", "mid", "premium").config
    chain = build_fallback_chain(cfg, ledger=ledger)
    starts = Starts()
    msg = chain.invoke("This is a very hard question", config={"callbacks": [starts], "metadata": {"tenant": "t1"}})
    t = trail(msg)
    assert msg.content.startswith("The premium tier") and t["escalations"] == 2
    assert starts.models == ["cheap", "mid", "premium"]  # every attempt traced as a child run
    assert [(r.outcome, r.tenant) for r in ledger.records()] == [
        ("rejected", "t1"),
        ("rejected", "t1"),
        ("accepted", "t1"),
    ]


async def test_fallback_chain_async(server: LocalOpenAIServer) -> None:
    from langchain_costrouter import build_fallback_chain

    chain = build_fallback_chain(make_router(server, "cheap", "premium").config, ledger=MemoryLedger())
    msg = await chain.ainvoke("What is the capital of France?")
    assert msg.content == GOOD and trail(msg)["tier"] == "t0-cheap"


@pytest.mark.parametrize("mode", ["stream", "astream"])
async def test_timeout_s_is_a_total_deadline_on_streams(server: LocalOpenAIServer, mode: str) -> None:
    # every chunk arrives within the 0.5 s read timeout, but the whole answer takes longer
    ledger = MemoryLedger()
    llm = make_router(server, "cheap-dawdle", "premium", ledger=ledger, cascade={"retries": 0})
    if mode == "stream":
        text = "".join(str(c.content) for c in llm.stream("capital of France?"))
    else:
        text = "".join([str(c.content) async for c in llm.astream("capital of France?")])
    assert text.startswith("The premium tier")
    error, accepted = ledger.records()
    assert (error.outcome, error.error, accepted.outcome) == ("error", "timeout", "accepted")
    assert error.output_tokens > 0 and error.extra.get("estimated")  # the chunks it had sent were billed
