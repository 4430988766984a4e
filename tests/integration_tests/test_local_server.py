"""The scripted local OpenAI-compatible server over real HTTP on loopback (openai SDK and plain HTTP)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest
from pydantic import BaseModel

from langchain_costrouter.core.tokens import count_message_tokens, count_tokens
from langchain_costrouter.testing.server import (
    FAULT_HEADER,
    AsyncLocalOpenAIServer,
    FaultSpec,
    LocalOpenAIServer,
    ModelScript,
    ReplyRule,
    Script,
)

pytestmark = pytest.mark.server

REPLY = "The capital of France is Paris."
SCRIPT = Script(
    models={
        "smart": ModelScript(
            reply="I do not know.",
            rules=(ReplyRule(contains="capital of france", reply=REPLY, confidence=0.97),),
            confidence=0.5,
        ),
        "flaky": ModelScript(reply="finally", faults=(FaultSpec("429", times=2, retry_after=0),)),
        "slowpoke": ModelScript(reply="zzz", latency_s=0.3),
    },
)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(SCRIPT) as srv:
        yield srv


@pytest.fixture
def client(server: LocalOpenAIServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0, timeout=30)


def _user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def _post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def _get(url: str) -> tuple[int, Any]:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return resp.status, json.loads(resp.read())


def test_json_completion(server: LocalOpenAIServer, client: openai.OpenAI) -> None:
    messages = [{"role": "system", "content": "Be brief."}, *_user("What is the capital of France?")]
    out = client.chat.completions.create(model="smart", messages=messages)
    assert out.choices[0].message.content == REPLY
    assert out.choices[0].finish_reason == "stop"
    assert out.model == "smart"
    assert out.id.startswith("chatcmpl-")
    assert abs(out.created - time.time()) < 60
    assert out.system_fingerprint
    assert out.usage is not None
    assert out.usage.prompt_tokens == count_message_tokens(messages)
    assert out.usage.completion_tokens == count_tokens(REPLY)
    assert server.requests[-1]["messages"] == messages


def test_unknown_model_echoes_and_models_endpoint(server: LocalOpenAIServer, client: openai.OpenAI) -> None:
    out = client.chat.completions.create(model="anything", messages=_user("ping pong"))
    assert out.choices[0].message.content == "ping pong"
    assert [m.id for m in client.models.list()] == ["smart", "flaky", "slowpoke"]
    assert _get(f"{server.url}/health") == (200, {"status": "ok"})


def test_streaming_with_usage(client: openai.OpenAI) -> None:
    messages = _user("capital of France?")
    stream = client.chat.completions.create(
        model="smart",
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == REPLY
    assert len(chunks) > 5
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == count_tokens(REPLY)
    assert chunks[-1].usage.prompt_tokens == count_message_tokens(messages)


def test_raw_sse_ends_with_done(server: LocalOpenAIServer) -> None:
    body = {"model": "smart", "messages": _user("hi"), "stream": True}
    status, headers, raw = _post(f"{server.base_url}/chat/completions", body)
    assert status == 200
    assert headers["Content-Type"].startswith("text/event-stream")
    events = [e for e in raw.decode().split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    parsed = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    assert all(p["object"] == "chat.completion.chunk" for p in parsed)
    assert "usage" not in parsed[-1]  # no include_usage: no usage chunk


def test_tool_call(client: openai.OpenAI) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "convert",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "amount": {"type": "number"},
                        "currency": {"type": "string", "enum": ["EUR", "USD"]},
                        "note": {"type": "string"},
                    },
                    "required": ["amount", "currency"],
                },
            },
        }
    ]
    out = client.chat.completions.create(model="smart", messages=_user("Convert 12.5 'dollars' to euros"), tools=tools)
    call = out.choices[0].message.tool_calls[0]
    assert call.function.name == "convert"
    assert json.loads(call.function.arguments) == {"amount": 12.5, "currency": "EUR", "note": "dollars"}
    assert out.choices[0].finish_reason == "tool_calls"
    stream = client.chat.completions.create(
        model="smart",
        messages=_user("Convert 12.5 'dollars' to euros"),
        tools=tools,
        stream=True,
    )
    args = "".join(
        c.choices[0].delta.tool_calls[0].function.arguments or ""
        for c in stream
        if c.choices and c.choices[0].delta.tool_calls
    )
    assert json.loads(args) == {"amount": 12.5, "currency": "EUR", "note": "dollars"}


class Forecast(BaseModel):
    city: str
    days: int
    temperatures: list[float]


def test_json_schema_output_parses(client: openai.OpenAI) -> None:
    out = client.chat.completions.parse(
        model="smart",
        messages=_user("Forecast for Oslo for 3 days"),
        response_format=Forecast,
    )
    parsed = out.choices[0].message.parsed
    assert isinstance(parsed, Forecast)
    assert parsed.city == "Oslo"
    assert parsed.days == 3


def test_logprobs(client: openai.OpenAI) -> None:
    out = client.chat.completions.create(
        model="smart",
        messages=_user("capital of France"),
        logprobs=True,
        top_logprobs=2,
    )
    content = out.choices[0].logprobs.content
    assert "".join(t.token for t in content) == REPLY
    assert all(abs(t.logprob - -0.030459207) < 1e-6 for t in content)
    low = client.chat.completions.create(model="smart", messages=_user("what?"), logprobs=True)
    assert all(abs(t.logprob - -0.693147) < 1e-5 for t in low.choices[0].logprobs.content)


def test_max_tokens_stop_and_bad_n(client: openai.OpenAI) -> None:
    out = client.chat.completions.create(model="smart", messages=_user("capital of France"), max_tokens=3)
    assert out.choices[0].finish_reason == "length"
    assert out.usage.completion_tokens == 3
    out = client.chat.completions.create(model="smart", messages=_user("capital of France"), stop=[" is"])
    assert out.choices[0].message.content == "The capital of France"
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="smart", messages=_user("x"), n=2)
    assert info.value.body["param"] == "n"


def test_fault_429_and_500(server: LocalOpenAIServer, client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="smart", messages=_user("hello [[fault:429:7]]"))
    assert info.value.response.headers["retry-after"] == "7"
    assert info.value.body["code"] == "rate_limit_exceeded"
    with pytest.raises(openai.InternalServerError) as err:
        client.chat.completions.create(model="smart", messages=_user("hello"), extra_headers={FAULT_HEADER: "500"})
    assert err.value.body["type"] == "server_error"
    # The marker is not part of what the model sees.
    out = client.chat.completions.create(model="anything", messages=_user("echo me [[fault:slow:0.01]]"))
    assert out.choices[0].message.content == "echo me"


def test_scripted_faults_count_down_and_sdk_retries(server: LocalOpenAIServer) -> None:
    server.reset_faults()
    no_retry = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
    with pytest.raises(openai.RateLimitError):
        no_retry.chat.completions.create(model="flaky", messages=_user("x"))
    retrying = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=2)
    before = len(server.requests)
    out = retrying.chat.completions.create(model="flaky", messages=_user("x"))
    assert out.choices[0].message.content == "finally"
    assert len(server.requests) - before == 2  # one more 429, then the answer
    server.reset_faults()
    with pytest.raises(openai.RateLimitError):
        no_retry.chat.completions.create(model="flaky", messages=_user("x"))


def test_timeout_and_slow(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.3).chat.completions.create(model="smart", messages=_user("x [[fault:timeout:5]]"))
    start = time.perf_counter()
    client.chat.completions.create(model="smart", messages=_user("x [[fault:slow:0.25]]"))
    assert time.perf_counter() - start >= 0.25
    start = time.perf_counter()
    client.chat.completions.create(model="slowpoke", messages=_user("x"))
    assert time.perf_counter() - start >= 0.3


def test_broken_stream(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="smart",
        messages=_user("capital of France [[fault:broken_stream:2]]"),
        stream=True,
    )
    received: list[str] = []
    with pytest.raises((openai.APIConnectionError, httpx2.HTTPError)):
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert len(received) == 2
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="smart", messages=_user("x [[fault:broken_stream]]"))


def test_bad_json_and_bad_fault_are_400(server: LocalOpenAIServer) -> None:
    status, _, raw = _post(f"{server.base_url}/chat/completions", b"{not json")
    assert status == 400
    assert "error" in json.loads(raw)
    status, _, raw = _post(
        f"{server.base_url}/chat/completions", {"model": "m", "messages": _user("x")}, {FAULT_HEADER: "teapot"}
    )
    assert status == 400
    assert json.loads(raw)["error"]["param"] == FAULT_HEADER


def test_auth() -> None:
    with LocalOpenAIServer(SCRIPT, api_key="sk-right") as srv:
        good = openai.OpenAI(base_url=srv.base_url, api_key="sk-right", max_retries=0)
        assert good.chat.completions.create(model="smart", messages=_user("hi")).choices[0].message.content
        bad = openai.OpenAI(base_url=srv.base_url, api_key="sk-wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as info:
            bad.chat.completions.create(model="smart", messages=_user("hi"))
        assert info.value.body["code"] == "invalid_api_key"
        status, _, _ = _post(f"{srv.base_url}/chat/completions", {"model": "smart", "messages": _user("hi")})
        assert status == 401
        assert _get(f"{srv.url}/health")[0] == 200  # health needs no key


def test_strict_script_404() -> None:
    with LocalOpenAIServer(Script(models={"only": ModelScript()}, strict=True)) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="sk-test", max_retries=0)
        with pytest.raises(openai.NotFoundError) as info:
            client.chat.completions.create(model="other", messages=_user("hi"))
        assert info.value.body["code"] == "model_not_found"


def test_fixed_port_restart_and_conflict() -> None:
    first = LocalOpenAIServer(SCRIPT).start()
    port = first.port
    assert port
    with pytest.raises(OSError):
        LocalOpenAIServer(SCRIPT, port=port).start()
    first.stop()
    first.stop()  # idempotent
    with LocalOpenAIServer(SCRIPT, port=port) as again:
        assert again.base_url == f"http://127.0.0.1:{port}/v1"
        assert _get(f"{again.url}/health")[0] == 200


async def test_async_server_in_loop() -> None:
    async with AsyncLocalOpenAIServer(SCRIPT) as srv:
        client = openai.AsyncOpenAI(base_url=srv.base_url, api_key="sk-test", max_retries=0)
        out = await client.chat.completions.create(model="smart", messages=_user("capital of France"))
        assert out.choices[0].message.content == REPLY
        await client.close()


async def test_thousand_concurrent_requests(server: LocalOpenAIServer) -> None:
    # Correctness under 1,000 requests in flight, not speed; the SDK's own retry of a reply lost in
    # transit (about once in five full-suite runs on a loaded 2-core machine) is allowed.
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=2, timeout=60)
    n = 1000

    async def one(i: int) -> tuple[int, Any]:
        messages = _user(f"Question number {i}: what is {i} squared?")
        return i, await client.chat.completions.create(model=f"echo-{i % 7}", messages=messages)

    results = await asyncio.gather(*(one(i) for i in range(n)))
    await client.close()
    assert len(results) == n
    for i, out in results:
        text = f"Question number {i}: what is {i} squared?"
        assert out.choices[0].message.content == text
        assert out.usage.prompt_tokens == count_message_tokens(_user(text))
        assert out.usage.completion_tokens == count_tokens(text)
