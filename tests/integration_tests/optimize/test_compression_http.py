"""Compression over real HTTP: skipped when it would not pay, applied when it does, spans intact."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.prompts import ChatPromptTemplate

from langchain_costrouter.compression import CompressPrompt, maybe_compress_messages
from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.compression import PromptCompressor
from langchain_costrouter.core.config import CompressionConfig
from langchain_costrouter.core.pricing import PriceBook
from langchain_costrouter.core.protected_spans import protect
from langchain_costrouter.core.tokens import count_tokens
from langchain_costrouter.testing.server import LocalOpenAIServer

from .conftest import COMPRESSOR, TARGET, bodies, chat, client

pytestmark = pytest.mark.server

SYSTEM = "You are the support assistant of ACME. Answer politely and precisely. " * 40
CODE = "```python\ndef refund(order_id: str) -> float:\n    return 0.0  # TODO   exact spacing\n```"
JSON = '{"order": "A-1029", "items": [{"sku": "X1", "qty": 2}], "total": 59.98}'
QUOTE = '"I was charged twice for the same order"'
KEEP = "<keep>Ticket   #77 must stay verbatim.</keep>"
STORY = " ".join(
    f"In message {i} the customer describes, with a great deal of repetition and background, how "
    "the parcel arrived late, how the courier was rude, and how support never called back."
    for i in range(40)
)
TICKET = f"{STORY}\n{CODE}\nPayload: {JSON}\nThey wrote {QUOTE} on 2026-11-02. {KEEP}\nReply in English only."


def _compressor(
    server: LocalOpenAIServer, accountant: CostAccountant, prices: PriceBook, **cfg: object
) -> PromptCompressor:
    config = CompressionConfig(enabled=True, min_tokens=500, target_ratio=0.5, **cfg)  # type: ignore[arg-type]
    return PromptCompressor(client(server, COMPRESSOR), prices, config=config, accountant=accountant)


def test_applied_when_it_pays_and_protected_spans_survive_byte_identical(
    server: LocalOpenAIServer, accountant: CostAccountant, prices: PriceBook
) -> None:
    comp = _compressor(server, accountant, prices)
    messages = [SystemMessage(SYSTEM), HumanMessage(TICKET)]
    sent, report = maybe_compress_messages(messages, compressor=comp, target_model=f"openai/{TARGET}", request_id="r1")
    assert report is not None
    [outcome] = report.outcomes
    assert outcome.applied, outcome.decision.reason
    assert outcome.decision.compress
    assert sent[0] is messages[0]  # the system prompt object (and bytes) untouched
    text = str(sent[1].content)
    for span in (CODE, JSON, QUOTE, KEEP, "2026-11-02", "Reply in English only."):
        assert span in text
    assert count_tokens(text, "o200k_base") < 0.7 * count_tokens(TICKET, "o200k_base")
    # What the server received for the compression call: placeholders, never the protected text.
    [call] = bodies(server, COMPRESSOR)
    assert CODE not in call["messages"][-1]["content"]
    assert all(p in call["messages"][-1]["content"] for p in protect(TICKET).placeholders)
    # The answer call carries the compressed prompt, system prompt byte-identical.
    chat(server, TARGET).invoke(sent)
    [answer_call] = bodies(server, TARGET)
    assert answer_call["messages"][0]["content"] == SYSTEM
    assert answer_call["messages"][1]["content"] == text
    # The ledger holds the call with both sides of the decision, priced from the HTTP usage.
    [rec] = accountant.ledger.records(request_id="r1")
    assert (rec.kind, rec.outcome) == ("compression", "overhead")
    assert rec.cost_usd == pytest.approx(prices.cost_usd(f"openai/{COMPRESSOR}", rec.usage))
    assert rec.input_tokens > 0
    assert rec.extra["saved_usd"] > rec.extra["call_cost_usd"] + rec.extra["lost_prefix_discount_usd"]
    assert rec.extra["tokens_saved"] == outcome.tokens_saved > 0


def test_skipped_when_it_would_not_pay(
    server: LocalOpenAIServer, accountant: CostAccountant, prices: PriceBook
) -> None:
    comp = _compressor(server, accountant, prices)
    messages = [SystemMessage(SYSTEM), HumanMessage(TICKET)]
    # Target = the compressor's own cheap price: saving half the prose cannot cover the call.
    sent, report = maybe_compress_messages(
        messages, compressor=comp, target_model=f"openai/{COMPRESSOR}", request_id="r2"
    )
    assert report is not None
    assert not report.applied
    assert sent[1].content == TICKET
    assert bodies(server, COMPRESSOR) == []
    [rec] = accountant.ledger.records(request_id="r2")
    assert rec.cost_usd == 0.0
    assert rec.extra["compress"] is False
    assert rec.extra["saved_usd"] <= rec.extra["call_cost_usd"]


def test_skipped_when_prefix_cache_discount_would_be_lost(
    server: LocalOpenAIServer, accountant: CostAccountant, prices: PriceBook
) -> None:
    comp = _compressor(server, accountant, prices, scope="user")
    messages = [SystemMessage("Be brief."), HumanMessage(TICKET), HumanMessage("And one more thing?")]
    # The provider holds the whole conversation in its prefix cache: rewriting turn 1 would lose it.
    _, report = maybe_compress_messages(
        messages, compressor=comp, target_model=f"openai/{TARGET}", cached_prefix_tokens=100_000
    )
    assert report is not None
    first = report.outcomes[0]
    assert not first.applied
    assert first.decision.lost_prefix_discount_usd > 0
    assert bodies(server, COMPRESSOR) == []


def test_same_text_is_compressed_once(server: LocalOpenAIServer, accountant: CostAccountant, prices: PriceBook) -> None:
    comp = _compressor(server, accountant, prices)
    a, _ = maybe_compress_messages([HumanMessage(TICKET)], compressor=comp, target_model=f"openai/{TARGET}")
    b, rep = maybe_compress_messages([HumanMessage(TICKET)], compressor=comp, target_model=f"openai/{TARGET}")
    assert a[0].content == b[0].content != TICKET
    assert rep is not None
    assert rep.outcomes[0].cache == "hit"
    assert len(bodies(server, COMPRESSOR)) == 1


async def test_concurrent_identical_texts_make_one_call(
    server: LocalOpenAIServer, accountant: CostAccountant, prices: PriceBook
) -> None:
    comp = _compressor(server, accountant, prices)
    results = await asyncio.gather(*(comp.acompress_text(TICKET, target_model=f"openai/{TARGET}") for _ in range(4)))
    assert len({r.text for r in results}) == 1
    assert sorted(r.cache for r in results) == ["hit", "hit", "hit", "miss"]
    assert len(bodies(server, COMPRESSOR)) == 1


def test_lost_placeholders_fall_back_to_the_original(
    make_server, accountant: CostAccountant, prices: PriceBook
) -> None:  # type: ignore[no-untyped-def]
    server = make_server(lose_placeholders=True)
    comp = _compressor(server, accountant, prices)
    out = comp.compress_text(TICKET, target_model=f"openai/{TARGET}", request_id="r3")
    assert not out.applied
    assert out.text == TICKET
    assert out.fallback_reason is not None
    assert "lost" in out.fallback_reason
    [rec] = accountant.ledger.records(request_id="r3")
    assert rec.cost_usd > 0  # the wasted call is still on the ledger


def test_lcel_runnable_before_a_chat_model(
    server: LocalOpenAIServer, accountant: CostAccountant, prices: PriceBook
) -> None:
    comp = _compressor(server, accountant, prices)
    prompt = ChatPromptTemplate.from_messages([("system", SYSTEM), ("human", "{ticket}")])
    chain = prompt | CompressPrompt(comp, target_model=f"openai/{TARGET}") | chat(server, TARGET)
    reply = chain.invoke({"ticket": TICKET})
    assert reply.content
    [sent] = bodies(server, TARGET)
    assert sent["messages"][0]["content"] == SYSTEM
    assert CODE in sent["messages"][1]["content"]
    assert len(sent["messages"][1]["content"]) < 0.7 * len(TICKET)
