from __future__ import annotations

import math

import pytest
from pydantic import BaseModel

from langchain_costrouter.core.config import GateSpec
from langchain_costrouter.core.errors import GateError
from langchain_costrouter.core.gates.factory import build_gate
from langchain_costrouter.core.gates.heuristic import HeuristicGate
from langchain_costrouter.core.gates.judge import parse_grade
from langchain_costrouter.core.gates.logprob import LogprobGate
from langchain_costrouter.core.gates.validators import CallableGate, JsonSchemaGate, PydanticGate, RegexGate
from langchain_costrouter.core.types import ChatRequest, Completion

REQ = ChatRequest(messages=({"role": "user", "content": "Name the largest planet in the solar system"},))


def c(text: str, **kw: object) -> Completion:
    return Completion(text=text, model="m", **kw)  # type: ignore[arg-type]


def test_heuristic_gate_length_overlap_refusal_truncation() -> None:
    g = HeuristicGate(min_chars=20, min_overlap=0.2)
    assert g.evaluate(REQ, c("The largest planet in the solar system is Jupiter.")).passed
    assert not g.evaluate(REQ, c("Jupiter")).passed  # too short
    assert not g.evaluate(REQ, c("I'm sorry, I cannot help with that request at all.")).passed
    assert not g.evaluate(REQ, c("Bananas are yellow and rich in potassium, mostly.")).passed  # no overlap
    truncated = c("The largest planet in the solar system is", finish_reason="length")
    assert g.evaluate(REQ, truncated).score == 0.0
    assert g.evaluate(REQ, c("", tool_calls=({"id": "1"},))).passed


def test_regex_gate() -> None:
    g = RegexGate(pattern=r"^(positive|negative)$", forbid=r"maybe")
    assert g.evaluate(REQ, c("positive")).passed
    assert not g.evaluate(REQ, c("it is positive")).passed
    with pytest.raises(GateError):
        RegexGate()


def test_json_schema_gate_accepts_fenced_json_and_explains_failure() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    g = JsonSchemaGate(schema)
    assert g.evaluate(REQ, c('```json\n{"n": 3}\n```')).passed
    v = g.evaluate(REQ, c('{"n": "three"}'))
    assert not v.passed and "schema" in v.reason
    assert g.evaluate(REQ, c("not json")).reason == "not JSON"
    tool = c("", tool_calls=({"function": {"name": "f", "arguments": '{"n": 1}'}},))
    assert g.evaluate(REQ, tool).passed
    with pytest.raises(GateError):
        JsonSchemaGate({"type": "nonsense-type"})


class Answer(BaseModel):
    planet: str
    moons: int


def test_pydantic_gate() -> None:
    g = PydanticGate(Answer)
    assert g.evaluate(REQ, c('{"planet": "Jupiter", "moons": 95}')).passed
    assert not g.evaluate(REQ, c('{"planet": "Jupiter"}')).passed
    assert PydanticGate(f"{__name__}:Answer").model is Answer
    with pytest.raises(GateError, match="cannot import"):
        PydanticGate("no_such_module_xyz:Thing")


def mentions_jupiter(question: str, answer: str) -> bool:
    return "jupiter" in answer.lower()


def test_callable_gate_from_target_and_score_functions() -> None:
    g = build_gate(GateSpec(type="callable", target=f"{__name__}:mentions_jupiter"))
    assert g.evaluate(REQ, c("It is Jupiter")).passed
    assert not g.evaluate(REQ, c("It is Saturn")).passed
    half = CallableGate(lambda q, a: 0.4, threshold=0.5)
    assert half.evaluate(REQ, c("x")).score == pytest.approx(0.4) and not half.evaluate(REQ, c("x")).passed
    bad = CallableGate(lambda q, a: "yes")
    with pytest.raises(GateError):
        bad.evaluate(REQ, c("x"))


def test_logprob_gate() -> None:
    g = LogprobGate(0.8)
    sure = c("Jupiter", logprobs=(math.log(0.99), math.log(0.95)))
    unsure = c("Jupiter", logprobs=(math.log(0.99), math.log(0.2)))
    assert g.evaluate(REQ, sure).passed
    assert not g.evaluate(REQ, unsure).passed
    assert LogprobGate(0.5, aggregate="min").score(REQ, unsure) == pytest.approx(0.2)
    missing = g.evaluate(REQ, c("Jupiter"))
    assert not missing.passed and "no logprobs" in missing.reason


@pytest.mark.parametrize(("text", "grade"), [("8", 0.8), ("Score: 10/10", 1.0), ("0", 0.0), ("7/10 good", 0.7)])
def test_parse_grade(text: str, grade: float) -> None:
    assert parse_grade(text) == pytest.approx(grade)


def test_parse_grade_rejects_out_of_range_and_words() -> None:
    assert parse_grade("excellent") is None
    assert parse_grade("42") is None


def test_factory_defaults_and_all_of() -> None:
    assert build_gate(None).evaluate(REQ, c("")).passed
    spec = GateSpec(type="regex", pattern="Jupiter", all_of=(GateSpec(type="heuristic", min_chars=30),))
    g = build_gate(spec)
    assert not g.evaluate(REQ, c("Jupiter")).passed  # regex ok, too short
    assert g.evaluate(REQ, c("The largest planet is Jupiter, by far.")).passed
    with pytest.raises(GateError, match="model client"):
        build_gate(GateSpec(type="judge", judge_model="x"))
