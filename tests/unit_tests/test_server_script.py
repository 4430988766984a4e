"""Script parsing, fault specs and schema-instance generation of the local server (no sockets)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field

from langchain_costrouter.core.errors import ConfigError
from langchain_costrouter.testing.server import FaultSpec, MessageHints, ModelScript, ReplyRule, Script, fake_instance
from langchain_costrouter.testing.server._faults import FaultState, parse_fault_string, strip_fault_marker
from langchain_costrouter.testing.server._schema_fake import json_object_for

# --- schema instances ------------------------------------------------------------------------


class _MagicArgs(BaseModel):
    input: int = Field(..., gt=-1000, lt=1000)


def test_numbers_are_taken_from_the_message_in_order() -> None:
    schema = _MagicArgs.model_json_schema()
    assert fake_instance(schema, "What is the value of magic_function(3)? Use the tool.") == {"input": 3}
    adder = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    }
    assert fake_instance(adder, "What is 3 + 4") == {"a": 3, "b": 4}
    assert fake_instance(adder, "Add 1,250 and -7 please") == {"a": 1250, "b": -7}


def test_numbers_respect_bounds_and_multiples() -> None:
    schema = {
        "type": "object",
        "properties": {
            "big": {"type": "integer", "maximum": 100},
            "excl": {"type": "integer", "exclusiveMinimum": 10},
            "ratio": {"type": "number", "minimum": 0, "maximum": 1},
            "step": {"type": "integer", "multipleOf": 5},
        },
    }
    out = fake_instance(schema, "values 5000 2 7.5 12")
    assert out == {"big": 100, "excl": 11, "ratio": 1, "step": 15}
    jsonschema.validate(out, schema)


def test_strings_use_quotes_then_capitalised_phrases_then_the_message() -> None:
    customer = {
        "type": "object",
        "properties": {"customer_name": {"type": "string"}, "description": {"type": "string"}},
        "required": ["customer_name", "description"],
    }
    out = fake_instance(customer, "Create a customer named '你好啊集团' (Hello Group) - a Chinese technology company")
    assert out["customer_name"] == "你好啊集团"
    assert out["description"] == "Hello Group"
    weather = {"type": "object", "properties": {"location": {"type": "string"}}}
    assert fake_instance(weather, "What is the weather in San Francisco, CA?") == {"location": "San Francisco, CA"}
    style = {"type": "object", "properties": {"answer_style": {"type": "string"}}}
    assert fake_instance(style, "Using the tool, generate a Pirate greeting.") == {"answer_style": "Pirate"}
    joke = fake_instance({"type": "object", "properties": {"setup": {"type": "string"}}}, "tell me a joke about cats")
    assert joke == {"setup": "tell me a joke about cats"}


def test_apostrophes_are_not_quotes() -> None:
    hints = MessageHints("She sells eggs at the farmers' market and Janet's stall")
    assert hints.quoted == []


class _Color(StrEnum):
    RED = "red"
    BLUE = "blue"


class _Address(BaseModel):
    street: str
    zip_code: str = Field(min_length=5, max_length=5)


class _Person(BaseModel):
    name: str
    age: int = Field(ge=0, le=150)
    email: str = Field(json_schema_extra={"format": "email"})
    favourite: _Color
    kind: Literal["customer"]
    nickname: str | None = None
    addresses: list[_Address] = Field(min_length=2)
    tags: list[str] = Field(default_factory=list, max_length=0)
    scores: dict[str, float] = Field(default_factory=dict)
    pair: tuple[int, str]


def test_nested_pydantic_schema_validates() -> None:
    schema = _Person.model_json_schema()
    out = fake_instance(schema, "Register 'Ada Lovelace', aged 36")
    person = _Person.model_validate(out)
    assert person.name == "Ada Lovelace"
    assert person.age == 36
    assert person.favourite is _Color.RED
    assert len(person.addresses) == 2
    assert person.tags == []
    jsonschema.validate(out, schema)


class _Tree(BaseModel):
    label: str
    children: list[_Tree] = Field(default_factory=list)


def test_recursive_schema_terminates_and_validates() -> None:
    schema = _Tree.model_json_schema()
    out = fake_instance(schema, "a tree")
    _Tree.model_validate(out)
    jsonschema.validate(out, schema)


@pytest.mark.parametrize(
    "schema",
    [
        {
            "allOf": [
                {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
                {"properties": {"b": {"type": "boolean"}}, "required": ["b"]},
            ]
        },
        {"type": ["null", "string"], "format": "date-time"},
        {"oneOf": [{"type": "null"}, {"type": "array", "items": {"type": "number"}, "minItems": 3}]},
        {"type": "object", "required": ["free"], "additionalProperties": {"type": "integer"}},
        {"type": "array", "prefixItems": [{"type": "string"}, {"const": 7}]},
        {"type": "string", "enum": ["x", "y"]},
        {"type": "object", "properties": {}},
        {},
    ],
)
def test_assorted_schemas_validate(schema: dict[str, Any]) -> None:
    jsonschema.validate(fake_instance(schema, "numbers 1 2 3 4"), schema)


def test_json_object_uses_quoted_keys() -> None:
    msg = "Tell me a joke about cats. Return the result as a JSON with 'setup' and 'punchline' keys."
    out = json_object_for(msg, "fallback")
    assert set(out) == {"setup", "punchline"}
    assert all(isinstance(v, str) and v for v in out.values())
    assert json_object_for("just answer", "the answer") == {"answer": "the answer"}


# --- scripts ---------------------------------------------------------------------------------

SCRIPT_YAML = """
strict: true
system_fingerprint: fp_test
default: {reply: "default answer"}
models:
  cheap:
    confidence: 0.6
    latency_s: 0.01
    reply: "I am not sure."
    rules:
      - {contains: "capital of FRANCE", reply: "Paris.", confidence: 0.95}
      - {regex: "weather in (\\\\w+)", reply: "Sunny, you asked: {{user}}"}
    faults:
      - {kind: "429", times: 1, retry_after: 2}
      - {kind: timeout, delay_s: 5, after: 2}
  echoer: {echo: true, tool_calls: false, encoding: o200k_base}
"""


def test_a_script_file_with_a_duplicate_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "script.yaml"
    path.write_text(SCRIPT_YAML + "strict: false\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="'strict' is given twice"):
        Script.from_file(path)


def test_script_from_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "script.yaml"
    path.write_text(SCRIPT_YAML, encoding="utf-8")
    script = Script.from_file(path)
    assert script.strict
    assert script.system_fingerprint == "fp_test"
    cheap = script.models["cheap"]
    assert cheap.latency_s == 0.01
    assert cheap.faults == (FaultSpec("429", times=1, retry_after=2.0), FaultSpec("timeout", delay_s=5.0, after=2))
    assert cheap.choose("What is the capital of France?") == ("Paris.", 0.95, True)
    assert cheap.choose("weather in Rome") == ("Sunny, you asked: weather in Rome", 0.6, True)
    assert cheap.choose("hello") == ("I am not sure.", 0.6, True)
    echoer = script.models["echoer"]
    assert echoer.choose("hello") == ("hello", 0.9, False)
    assert not echoer.tool_calls
    assert echoer.encoding == "o200k_base"


def test_script_json_file_and_model_resolution(tmp_path: Path) -> None:
    path = tmp_path / "script.json"
    path.write_text(json.dumps({"models": {"gpt-4o": {"reply": "hi"}}}), encoding="utf-8")
    script = Script.from_file(path)
    assert script.model("gpt-4o") is script.models["gpt-4o"]
    assert script.model("openai/gpt-4o") is script.models["gpt-4o"]
    assert script.model("unknown") is script.default
    strict = Script(models=script.models, strict=True)
    assert strict.model("unknown") is None
    assert strict.model("openai/unknown") is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"models": {"m": {"repli": "x"}}}, "models.m.repli"),
        ({"models": {"m": {"rules": [{"regex": "(", "reply": "x"}]}}}, "models.m.rules[0].regex"),
        ({"models": {"m": {"rules": [{"reply": "x"}]}}}, "models.m.rules[0].contains"),
        ({"models": {"m": {"rules": [{"contains": "x"}]}}}, "models.m.rules[0].reply"),
        ({"models": {"m": {"confidence": 1.5}}}, "models.m.confidence"),
        ({"models": {"m": {"latency_s": "fast"}}}, "models.m.latency_s"),
        ({"models": {"m": {"faults": [{"kind": "418x"}]}}}, "models.m.faults[0].kind"),
        ({"models": {"m": {"faults": [{"kind": "429", "times": "once"}]}}}, "models.m.faults[0].times"),
        ({"models": {"m": {"faults": {"kind": "429"}}}}, "models.m.faults"),
        ({"default": {"reply": 3}}, "default.reply"),
        ({"modles": {}}, "modles"),
        ({"models": ["m"]}, "models"),
    ],
)
def test_script_errors_name_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        Script.from_dict(data)
    assert info.value.field == field


def test_bad_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("models: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Script.from_file(path)
    assert info.value.field == "script"
    with pytest.raises(ConfigError):
        Script.from_file(tmp_path / "missing.yaml")


def test_rule_needs_a_matcher() -> None:
    with pytest.raises(ConfigError):
        ReplyRule(reply="x")
    assert ModelScript(rules=(ReplyRule(reply="y", regex=r"^\d+$"),)).choose("42") == ("y", 0.9, True)


# --- faults ----------------------------------------------------------------------------------


def test_fault_strings() -> None:
    assert parse_fault_string("429") == FaultSpec("429")
    assert parse_fault_string("429:2.5").retry_after == 2.5
    assert parse_fault_string(" Timeout:5 ").delay == 5.0
    assert parse_fault_string("slow").delay == 0.2
    assert parse_fault_string("broken_stream:1").chunks_before_break == 1
    assert parse_fault_string("broken_stream").chunks_before_break == 3
    assert parse_fault_string("context_length").status == 400
    assert parse_fault_string("503").status == 503
    for bad in ("teapot", "200", "timeout:soon"):
        with pytest.raises(ConfigError):
            parse_fault_string(bad)


def test_fault_marker_is_stripped() -> None:
    assert strip_fault_marker("What is 2+2? [[fault:429]]") == ("What is 2+2?", "429")
    assert strip_fault_marker("[[fault:timeout:5]] hi") == ("hi", "timeout:5")
    assert strip_fault_marker("plain") == ("plain", None)


def test_fault_countdown_is_deterministic() -> None:
    specs = (FaultSpec("429", times=2), FaultSpec("500", after=1, times=1))
    state = FaultState()
    fired = [state.pick("m", specs) for _ in range(6)]
    kinds = [f.kind if f else None for f in fired]
    # 429 on the first two requests; the 500 may fire from the second request on, once.
    assert kinds == ["429", "429", "500", None, None, None]
    assert state.pick("other", specs) == specs[0]  # counters are per model
    state.reset()
    assert state.pick("m", specs) == specs[0]
    assert FaultState().pick("m", ()) is None


def test_the_documented_script_parses_and_counts_down_as_documented() -> None:
    import re

    import yaml

    doc = (Path(__file__).parents[2] / "docs" / "local_server.md").read_text(encoding="utf-8")
    block = re.findall(r"```yaml\n(.*?)```", doc, re.DOTALL)[0]
    script = Script.from_dict(yaml.safe_load(block))
    faults = script.models["cheap-model"].faults
    state = FaultState()
    kinds = [f.kind if f else None for f in (state.pick("cheap-model", faults) for _ in range(11))]
    assert kinds == ["429", None, None, "500", None, "timeout", None, "broken_stream", None, "slow", "slow"]
