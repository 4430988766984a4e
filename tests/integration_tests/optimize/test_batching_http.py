"""Batching over real HTTP: 10 questions demuxed, one malformed answer retried alone, costs add up."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from langchain_costrouter.batching import BatchedQuestions
from langchain_costrouter.chat_model import ChatCostRouter
from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.batch_api import build_batch_api_file, parse_batch_output, simulate_batch_output
from langchain_costrouter.core.batching import BatchRunner, make_items
from langchain_costrouter.core.config import BatchingConfig
from langchain_costrouter.core.pricing import PriceBook
from langchain_costrouter.core.tokens import count_message_tokens, encoding_for_model
from langchain_costrouter.testing.responders import answer_for
from langchain_costrouter.testing.server import LocalOpenAIServer

from .conftest import TARGET, bodies, chat, client

pytestmark = pytest.mark.server

SYSTEM = "You are a geography tutor. Give short, exact answers. " * 30
QUESTIONS = [f"What is the capital of country number {i}, and why is it there?" for i in range(10)]
MODEL = f"openai/{TARGET}"


def _sent(body: dict[str, Any]) -> list[dict[str, str]]:
    return list(json.loads(body["messages"][-1]["content"].split("QUESTIONS:\n", 1)[1]))


def _questions_sent(body: dict[str, Any]) -> list[str]:
    return [q["question"] for q in _sent(body)]


def _ledger_adds_up(accountant: CostAccountant, prices: PriceBook, server: LocalOpenAIServer, report: Any) -> None:
    recs = [r for r in accountant.ledger.records() if r.kind == "batch"]
    enc = encoding_for_model(TARGET)
    sent = bodies(server, TARGET)
    assert len(sent) == len(report.calls)
    for body, call in zip(sent, report.calls, strict=True):
        # The usage came back over HTTP; the server counted the very messages it received.
        assert call.usage.input_tokens == count_message_tokens(body["messages"], enc)
        mine = [r for r in recs if r.extra["call_index"] == call.index]
        assert math.isclose(sum(r.cost_usd for r in mine), prices.cost_usd(MODEL, call.usage), rel_tol=1e-12)
        assert sum(r.input_tokens for r in mine) == call.usage.input_tokens
        assert sum(r.output_tokens for r in mine) == call.usage.output_tokens
    assert math.isclose(sum(r.cost_usd for r in recs), report.total_cost_usd, rel_tol=1e-12)


def test_batch_of_ten_is_demuxed(server: LocalOpenAIServer, accountant: CostAccountant, prices: PriceBook) -> None:
    runner = BatchRunner(client(server, TARGET), accountant=accountant, system_prompt=SYSTEM)
    report = runner.run(QUESTIONS)
    assert report.answers == [answer_for(q) for q in QUESTIONS]
    [body] = bodies(server, TARGET)
    assert body["messages"][0] == {"role": "system", "content": SYSTEM}
    assert body["response_format"]["type"] == "json_schema"
    assert _questions_sent(body) == QUESTIONS
    wire = [q["id"] for q in _sent(body)]  # fresh random ids, not the caller's q1..q10
    assert len(set(wire)) == 10 and not {f"q{i + 1}" for i in range(10)} & set(wire)
    _ledger_adds_up(accountant, prices, server, report)
    served = [r for r in accountant.ledger.records() if r.outcome == "served"]
    assert len(served) == 10
    assert all(r.baseline_cost_usd > r.cost_usd for r in served)  # one unbatched premium call each


def test_one_malformed_answer_is_retried_alone(make_server, accountant: CostAccountant, prices: PriceBook) -> None:  # type: ignore[no-untyped-def]
    server = make_server(malformed={QUESTIONS[6]})
    runner = BatchRunner(client(server, TARGET), accountant=accountant, system_prompt=SYSTEM)
    report = runner.run(QUESTIONS)
    assert report.answers == [answer_for(q) for q in QUESTIONS]
    first, retry = bodies(server, TARGET)
    assert len(_questions_sent(first)) == 10
    assert _questions_sent(retry) == [QUESTIONS[6]]
    assert _sent(retry)[0]["id"] not in {q["id"] for q in _sent(first)}  # new ids for every call
    assert retry["messages"][0]["content"] == SYSTEM
    by_id = {r.id: r for r in report.results}
    assert by_id["q7"].attempts == 2
    assert all(r.attempts == 1 for k, r in by_id.items() if k != "q7")
    _ledger_adds_up(accountant, prices, server, report)
    q7 = [r for r in accountant.ledger.records() if r.extra.get("item_id") == "q7"]
    assert [r.outcome for r in q7] == ["rejected", "served"]
    assert math.isclose(sum(r.cost_usd for r in q7), by_id["q7"].cost_usd)


def test_a_missing_answer_is_asked_alone(make_server, accountant: CostAccountant) -> None:  # type: ignore[no-untyped-def]
    server = make_server(missing={QUESTIONS[1]})
    runner = BatchRunner(client(server, TARGET), accountant=accountant, config=BatchingConfig(max_attempts=3))
    report = runner.run(QUESTIONS[:4])
    assert report.answers == [answer_for(q) for q in QUESTIONS[:4]]
    first, alone = bodies(server, TARGET)
    assert len(_questions_sent(first)) == 4
    assert alone["messages"][-1]["content"] == QUESTIONS[1] and "response_format" not in alone
    assert [r.outcome for r in accountant.ledger.records() if r.extra.get("item_id") == "q2"] == ["rejected", "served"]


async def test_batched_questions_runnable(server: LocalOpenAIServer, accountant: CostAccountant) -> None:
    batched = BatchedQuestions(chat(server, TARGET), model_name=MODEL, accountant=accountant, system_prompt=SYSTEM)
    assert batched.invoke(QUESTIONS[:3]) == [answer_for(q) for q in QUESTIONS[:3]]
    groups = await batched.abatch([QUESTIONS[:2], QUESTIONS[2:5]])
    assert groups == [[answer_for(q) for q in QUESTIONS[:2]], [answer_for(q) for q in QUESTIONS[2:5]]]
    assert len(bodies(server, TARGET)) == 2  # the two inputs of .abatch shared one call


def test_on_a_chat_cost_router_tier(server: LocalOpenAIServer) -> None:
    router = ChatCostRouter.from_config(
        {
            "tiers": [
                {"name": "cheap", "model": "openai/gpt-4o-mini", "api_base": server.base_url},
                {"name": "premium", "model": MODEL, "api_base": server.base_url},
            ],
            "ledger": {"backend": "memory"},
            "batching": {"enabled": True, "model": "premium", "max_batch": 5},
        }
    )
    batched = BatchedQuestions.from_router(router, system_prompt=SYSTEM)
    assert batched.invoke(QUESTIONS) == [answer_for(q) for q in QUESTIONS]
    assert len(bodies(server, TARGET)) == 2
    recs = router.runtime.ledger.records()
    assert len(recs) == 10
    assert {r.kind for r in recs} == {"batch"}


def test_batch_api_path_prices_with_the_discount(
    server: LocalOpenAIServer, accountant: CostAccountant, prices: PriceBook
) -> None:
    items = make_items(QUESTIONS)
    file = build_batch_api_file(items, model=MODEL, system_prompt=SYSTEM, config=BatchingConfig(max_batch=4))
    output = simulate_batch_output(file, client(server, TARGET))
    report = parse_batch_output([json.dumps(o) for o in output], file, accountant=accountant, discount=0.5)
    assert report.answers == [answer_for(q) for q in QUESTIONS]
    full = sum(prices.cost_usd(MODEL, c.usage) for c in report.calls)
    assert math.isclose(report.total_cost_usd, 0.5 * full)
    assert math.isclose(sum(r.cost_usd for r in accountant.ledger.records()), 0.5 * full, rel_tol=1e-12)
