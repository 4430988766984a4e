"""The request's own output contract (response_format, forced function), checked on any answer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from langchain_costrouter.core.gates.structured import contract_problem, contract_verdict
from langchain_costrouter.core.types import ChatRequest, Completion


class Capital(BaseModel):
    country: str
    capital: str


SCHEMA = Capital.model_json_schema()
TOOLS = (
    {"type": "function", "function": {"name": "Capital", "parameters": SCHEMA}},
    {"type": "function", "function": {"name": "noop", "parameters": {"type": "object", "properties": {}}}},
)


def _req(**kw: Any) -> ChatRequest:
    return ChatRequest(messages=({"role": "user", "content": "Capital of France?"},), **kw)


def _call(name: str, args: Any) -> Completion:
    fn = {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}
    return Completion("", "m", tool_calls=({"id": "1", "type": "function", "function": fn},))


@pytest.mark.parametrize(
    "fmt",
    [Capital, {"type": "json_schema", "json_schema": {"name": "c", "schema": SCHEMA}}],
    ids=["pydantic class", "json_schema dict"],
)
def test_response_format_schema(fmt: Any) -> None:
    req = _req(response_format=fmt)
    assert contract_problem(req, Completion('{"country": "France", "capital": "Paris"}', "m")) is None
    assert contract_problem(req, Completion('```json\n{"country": "France", "capital": "Paris"}\n```', "m")) is None
    assert "capital" in str(contract_problem(req, Completion('{"country": "France"}', "m")))
    assert contract_problem(req, Completion("Paris.", "m")) == "the answer is not JSON"
    verdict = contract_verdict(req, Completion("Paris.", "m"))
    assert verdict is not None and (verdict.passed, verdict.gate, verdict.score) == (False, "response_format", 0.0)


def test_json_mode_and_no_contract() -> None:
    assert contract_problem(_req(response_format={"type": "json_object"}), Completion("[1, 2]", "m")) is not None
    assert contract_problem(_req(response_format={"type": "json_object"}), Completion('{"a": 1}', "m")) is None
    assert contract_problem(_req(response_format={"type": "text"}), Completion("Paris.", "m")) is None
    assert contract_problem(_req(), Completion("Paris.", "m")) is None
    assert contract_verdict(_req(), Completion("Paris.", "m")) is None


@pytest.mark.parametrize(
    "choice", ["required", "any", "Capital", {"type": "function", "function": {"name": "Capital"}}]
)
def test_forced_function(choice: Any) -> None:
    req = _req(tools=TOOLS, params={"tool_choice": choice})
    assert contract_problem(req, _call("Capital", {"country": "France", "capital": "Paris"})) is None
    assert "capital" in str(contract_problem(req, _call("Capital", {"country": "France"})))
    assert "not JSON" in str(contract_problem(req, _call("Capital", "{oops")))
    assert "does not call" in str(contract_problem(req, Completion("Paris.", "m")))


def test_auto_tool_choice_requires_nothing() -> None:
    req = _req(tools=TOOLS, params={"tool_choice": "auto"})
    assert contract_problem(req, Completion("Paris.", "m")) is None


def test_an_invalid_schema_is_not_enforced() -> None:
    bad = {"type": "json_schema", "json_schema": {"name": "c", "schema": {"type": "no-such-type"}}}
    assert contract_problem(_req(response_format=bad), Completion('{"a": 1}', "m")) is None
