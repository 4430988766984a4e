"""``with_structured_output`` checks every tier's answer against its own schema, with no gate configured.

Over real HTTP to the local server: a cheap tier that answers JSON missing a required field (or a
tool call with bad arguments, or no JSON at all) is a recorded rejection that escalates; the
premium tier's valid answer is parsed. Only the last tier's failure reaches the caller, as
LangChain's ``OutputParserException``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.exceptions import OutputParserException
from pydantic import BaseModel, ValidationError

from langchain_costrouter import ChatCostRouter, CostRouterConfig
from langchain_costrouter.core.ledger import MemoryLedger
from langchain_costrouter.testing.server import LocalOpenAIServer
from langchain_costrouter.testing.server._engine import Draft, Plan
from langchain_costrouter.testing.server._request import ChatCall

pytestmark = pytest.mark.server


class Capital(BaseModel):
    country: str
    capital: str


INCOMPLETE = {"country": "France"}
COMPLETE = {"country": "France", "capital": "Paris"}
ANSWERS: dict[str, Any] = {"cheap-m": INCOMPLETE, "half-m": INCOMPLETE, "prem-m": COMPLETE, "prose-m": None}


class _Structured:
    """Each model answers the same way in JSON text or as a forced tool call."""

    system_fingerprint = "fp_costrouter_structured"

    def model_names(self) -> list[str]:
        return list(ANSWERS)

    def plan(self, call: ChatCall) -> Plan:
        return Plan(key=call.model, compose=self._compose, encoding="o200k_base")

    def _compose(self, call: ChatCall) -> Draft:
        data = ANSWERS[call.model]
        if data is None:
            return Draft("The capital of France is Paris, of course.")
        if call.tools:
            name = call.tools[0]["function"]["name"]
            entry = {"id": "call_1", "type": "function", "function": {"name": name, "arguments": json.dumps(data)}}
            return Draft(None, [entry], "stop")
        return Draft(json.dumps(data))


@pytest.fixture(scope="module")
def server() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(_Structured()) as srv:
        yield srv


def _router(server: LocalOpenAIServer, *models: str) -> tuple[ChatCostRouter, MemoryLedger]:
    ledger = MemoryLedger()
    tiers = [
        {"name": m.removesuffix("-m"), "model": f"openai/{m}", "api_base": server.base_url,
         "price": {"input": 0.5 * (k + 1), "output": 2.0 * (k + 1)}}
        for k, m in enumerate(models)
    ]  # fmt: skip
    cfg = CostRouterConfig.from_dict({"tiers": tiers, "ledger": {"backend": "memory"}})  # no gate anywhere
    return ChatCostRouter(config=cfg, ledger=ledger), ledger


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_an_answer_that_breaks_the_schema_escalates(server: LocalOpenAIServer, method: str) -> None:
    llm, ledger = _router(server, "cheap-m", "prem-m")
    schema: Any = Capital
    if method == "json_mode":  # JSON mode has no schema: the cheap tier's prose is what breaks it
        llm, ledger = _router(server, "prose-m", "prem-m")
        schema = Capital.model_json_schema()
    out = llm.with_structured_output(schema, method=method).invoke("Capital of France?")
    assert out in (Capital(**COMPLETE), COMPLETE)
    rejected, accepted = ledger.records()
    assert (rejected.tier, rejected.outcome, rejected.extra["gate"]) == (llm.config.tiers[0].name, "rejected",
                                                                         "response_format")  # fmt: skip
    assert rejected.cost_usd > 0 and rejected.extra["reason"]
    assert (accepted.tier, accepted.outcome) == ("prem", "accepted")


def test_include_raw_shows_the_premium_answer(server: LocalOpenAIServer) -> None:
    llm, _ = _router(server, "cheap-m", "prem-m")
    out = llm.with_structured_output(Capital, method="json_schema", include_raw=True).invoke("Capital of France?")
    assert out["parsed"] == Capital(**COMPLETE) and out["parsing_error"] is None
    trail = out["raw"].response_metadata["costrouter"]
    assert [a["outcome"] for a in trail["attempts"]] == ["rejected", "accepted"]
    assert trail["attempts"][0]["gate"] == "response_format"


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_only_the_last_tiers_failure_reaches_the_caller(server: LocalOpenAIServer, method: str) -> None:
    llm, ledger = _router(server, "cheap-m", "half-m")  # both tiers answer without the capital
    with pytest.raises((OutputParserException, ValidationError)):  # what LangChain's own parser raises
        llm.with_structured_output(Capital, method=method).invoke("Capital of France?")
    outcomes = [(r.tier, r.outcome, r.extra.get("flag")) for r in ledger.records()]
    assert outcomes == [("cheap", "rejected", None), ("half", "rejected", None), ("half", "served", "exhausted")]


def test_a_dict_schema_is_validated_too(server: LocalOpenAIServer) -> None:
    llm, ledger = _router(server, "cheap-m")
    with pytest.raises(OutputParserException):
        llm.with_structured_output(Capital.model_json_schema(), method="json_schema").invoke("Capital of France?")
    assert [r.outcome for r in ledger.records()] == ["rejected", "served"]
