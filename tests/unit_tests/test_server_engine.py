"""Request validation, answer composition, finishing and wire shapes of the local server (no sockets)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from langchain_costrouter.core.errors import DataError, ReplayError
from langchain_costrouter.core.tokens import count_message_tokens, count_tokens
from langchain_costrouter.testing.server import ModelScript, ReplayScript, Script
from langchain_costrouter.testing.server._engine import ScriptResponder, finish_reply
from langchain_costrouter.testing.server._replay import parse_quality
from langchain_costrouter.testing.server._request import parse_chat_call
from langchain_costrouter.testing.server._wire import ServerFailure, completion_body, stream_chunks

ADDER = {
    "type": "function",
    "function": {
        "name": "add",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    },
}
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}


def _answer(body: dict[str, Any], script: Script | None = None) -> dict[str, Any]:
    responder = ScriptResponder(script or Script(models={"m": ModelScript(reply="The answer is 42.")}))
    call = parse_chat_call(body)
    plan = responder.plan(call)
    return completion_body(finish_reply(call, plan, plan.compose(call), responder.system_fingerprint))


def _user(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": text}], **extra}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ([], "body"),
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": [{"content": "x"}]}, "messages[0]"),
        (_user("x", n=2), "n"),
        (_user("x", top_logprobs=3), "top_logprobs"),
        (_user("x", logprobs=True, top_logprobs=21), "top_logprobs"),
        (_user("x", stop=["a", "b", "c", "d", "e"]), "stop"),
        (_user("x", max_tokens=0), "max_tokens"),
        (_user("x", tools=[{"type": "function"}]), "tools"),
        (_user("x", response_format={"type": "yaml"}), "response_format"),
    ],
)
def test_invalid_requests_are_400_naming_the_parameter(body: Any, param: str) -> None:
    with pytest.raises(ServerFailure) as info:
        parse_chat_call(body)
    assert info.value.status == 400
    assert info.value.body["error"]["param"] == param


def test_plain_answer_usage_and_metadata() -> None:
    out = _answer(_user("Hello", n=1, stop=[]))
    choice = out["choices"][0]
    assert choice["message"]["content"] == "The answer is 42."
    assert choice["finish_reason"] == "stop"
    assert out["model"] == "m"
    assert out["id"].startswith("chatcmpl-")
    assert out["system_fingerprint"] == "fp_costrouter_local"
    assert out["usage"]["prompt_tokens"] == count_message_tokens([{"role": "user", "content": "Hello"}]) == 8
    assert out["usage"]["completion_tokens"] == count_tokens("The answer is 42.")
    assert out["usage"]["total_tokens"] == out["usage"]["prompt_tokens"] + out["usage"]["completion_tokens"]


def test_max_tokens_truncates_with_finish_reason_length() -> None:
    for key in ("max_tokens", "max_completion_tokens"):
        out = _answer(_user("Hello", **{key: 2}))
        assert out["choices"][0]["message"]["content"] == "The answer"
        assert out["choices"][0]["finish_reason"] == "length"
        assert out["usage"]["completion_tokens"] == 2


def test_stop_sequences_cut_before_the_earliest_match() -> None:
    out = _answer(_user("Hello", stop=["42", "answer"]))
    assert out["choices"][0]["message"]["content"] == "The "
    assert out["choices"][0]["finish_reason"] == "stop"
    assert _answer(_user("Hello", stop="is"))["choices"][0]["message"]["content"] == "The answer "


def test_logprobs_follow_the_confidence() -> None:
    script = Script(models={"m": ModelScript(reply="Paris is the capital.", confidence=0.8)})
    out = _answer(_user("capital?", logprobs=True, top_logprobs=3), script)
    entries = out["choices"][0]["logprobs"]["content"]
    assert "".join(e["token"] for e in entries) == "Paris is the capital."
    assert all(math.isclose(e["logprob"], math.log(0.8)) for e in entries)
    for e in entries:
        tops = e["top_logprobs"]
        assert len(tops) == 3
        assert tops[0]["token"] == e["token"]
        assert [t["logprob"] for t in tops] == sorted((t["logprob"] for t in tops), reverse=True)
        assert sum(math.exp(t["logprob"]) for t in tops) <= 1.0 + 1e-9
    assert _answer(_user("x"), script)["choices"][0]["logprobs"] is None


def test_tool_call_arguments_and_forced_choice() -> None:
    out = _answer(_user("What is 3 + 4", tools=[WEATHER, ADDER]))
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["id"].startswith("call_")
    assert call["function"]["name"] == "get_weather"  # no tool named in the message: the first one
    assert out["usage"]["completion_tokens"] == count_tokens("get_weather") + count_tokens(
        call["function"]["arguments"]
    )
    forced = _answer(
        _user("What is 3 + 4", tools=[WEATHER, ADDER], tool_choice={"type": "function", "function": {"name": "add"}})
    )
    fcall = forced["choices"][0]["message"]["tool_calls"][0]
    assert json.loads(fcall["function"]["arguments"]) == {"a": 3, "b": 4}
    assert forced["choices"][0]["finish_reason"] == "stop"  # as OpenAI reports a forced function
    named = _answer(_user("use add on 1 and 2", tools=[WEATHER, ADDER]))
    assert named["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "add"
    none = _answer(_user("What is 3 + 4", tools=[ADDER], tool_choice="none"))
    assert none["choices"][0]["message"]["content"] == "The answer is 42."
    with pytest.raises(ServerFailure):
        _answer(_user("x", tools=[ADDER], tool_choice={"type": "function", "function": {"name": "nope"}}))


def test_after_a_tool_result_the_answer_mentions_it() -> None:
    messages = [
        {"role": "user", "content": "What is 1 + 2"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "abc", "type": "function", "function": {"name": "add", "arguments": '{"a":1,"b":2}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "abc", "content": '{"result": 3}'},
    ]
    out = _answer({"model": "m", "messages": messages, "tools": [ADDER]})
    text = out["choices"][0]["message"]["content"]
    assert "add" in text
    assert '{"result": 3}' in text
    assert out["choices"][0]["finish_reason"] == "stop"


def test_json_schema_and_json_object_formats() -> None:
    schema = {
        "type": "object",
        "properties": {"setup": {"type": "string"}, "punchline": {"type": "string"}, "rating": {"type": "integer"}},
        "required": ["setup", "punchline", "rating"],
        "additionalProperties": False,
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "joke", "schema": schema, "strict": True}}
    out = _answer(_user("Tell me a joke about cats, rated 9", response_format=fmt))
    content = json.loads(out["choices"][0]["message"]["content"])
    jsonschema.validate(content, schema)
    assert content["rating"] == 9
    scripted = Script(models={"m": ModelScript(reply='{"setup": "a", "punchline": "b", "rating": 1}')})
    kept = _answer(_user("joke", response_format=fmt), scripted)
    assert json.loads(kept["choices"][0]["message"]["content"]) == {"setup": "a", "punchline": "b", "rating": 1}
    obj = _answer(_user("Answer as JSON", response_format={"type": "json_object"}))
    assert json.loads(obj["choices"][0]["message"]["content"]) == {"answer": "The answer is 42."}


def test_unknown_model_echo_or_404() -> None:
    assert (
        _answer({"model": "x", "messages": [{"role": "user", "content": "ping"}]}, Script())["choices"][0]["message"][
            "content"
        ]
        == "ping"
    )
    with pytest.raises(ServerFailure) as info:
        _answer({"model": "x", "messages": [{"role": "user", "content": "ping"}]}, Script(strict=True))
    assert info.value.status == 404
    assert info.value.body["error"]["code"] == "model_not_found"


def test_stream_chunks_shape() -> None:
    script = Script(models={"m": ModelScript(reply="Hi there!")})
    responder = ScriptResponder(script)
    call = parse_chat_call(_user("x", stream=True, stream_options={"include_usage": True}, logprobs=True))
    plan = responder.plan(call)
    reply = finish_reply(call, plan, plan.compose(call), "fp")
    chunks = list(stream_chunks(reply, include_usage=True))
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Hi there!"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == count_tokens("Hi there!")
    assert all(c["usage"] is None for c in chunks[:-1])
    assert len({c["id"] for c in chunks}) == 1
    lps = [c["choices"][0]["logprobs"] for c in chunks[1:-2]]
    assert all(lp and len(lp["content"]) == 1 for lp in lps)


# --- replay data ------------------------------------------------------------------------------

CSV = (
    "prompt,cheap,prov/big,cheap_response,prov/big_response\n"
    '"What is  2+2?",True,0.25,"4","Four"\n'
    "Name a colour,False,1,,Blue\n"
)


def test_replay_csv_lookup(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text(CSV, encoding="utf-8")
    replay = ReplayScript.from_csv(path)
    assert replay.model_names() == ["cheap", "prov/big"]
    assert replay.lookup("cheap", "What is  2+2?").response == "4"
    assert replay.lookup("cheap", "  What is 2+2? ").quality == 1.0  # whitespace-normalised match
    assert replay.lookup("prov/big", "What is 2+2?").quality == 0.25
    assert replay.lookup("openai/cheap", "What is 2+2?").response == "4"  # provider prefix dropped
    assert replay.lookup("prov/big", "Name a colour").response == "Blue"
    with pytest.raises(ReplayError):
        replay.lookup("cheap", "Name a colour")  # empty cell: not recorded
    with pytest.raises(ReplayError):
        replay.lookup("big", "What is 2+2?")  # not a provider prefix of a recorded name
    with pytest.raises(ReplayError):
        replay.lookup("cheap", "What is 3+3?")


@pytest.mark.parametrize(
    "text",
    ["question,answer\nq,a\n", "prompt,m\nq,a\n", "prompt,m,m_response\nq,maybe,a\n", "prompt,m,m_response\nq,1.5,a\n"],
)
def test_replay_csv_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError):
        ReplayScript.from_csv(path)


def test_replay_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        ReplayScript.from_csv(tmp_path / "nope.csv")


def test_parse_quality() -> None:
    assert parse_quality("True") == 1.0
    assert parse_quality("false") == 0.0
    assert parse_quality("0.7") == 0.7
    assert parse_quality(" ") is None
    with pytest.raises(ValueError, match="outside"):
        parse_quality("2")


@pytest.mark.parametrize("framework", ["langchain_core", "langchain_openai", "litellm", "openai"])
def test_server_is_framework_neutral(framework: str) -> None:
    code = (
        "import sys\n"
        "import langchain_costrouter.testing.server, langchain_costrouter.cli.serve_local\n"
        "from langchain_costrouter.testing.server._engine import ScriptResponder\n"
        "from langchain_costrouter.testing.server._request import parse_chat_call\n"
        "call = parse_chat_call({'model': 'm', 'messages': [{'role': 'user', 'content': 'hi'}]})\n"
        "ScriptResponder(langchain_costrouter.testing.server.Script()).plan(call).compose(call)\n"
        f"assert {framework!r} not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
