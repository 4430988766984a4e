"""The local server's own bill: what it charges for complete, refused, broken and abandoned calls."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from langchain_costrouter.core.errors import ConfigError
from langchain_costrouter.testing.server import (
    BillLog,
    FaultSpec,
    LocalOpenAIServer,
    ModelScript,
    RandomFaults,
    Script,
)

pytestmark = pytest.mark.server

REPLY = "Lima is the capital of Peru, on the Pacific coast."
SCRIPT = Script(models={"m": ModelScript(reply=REPLY, encoding="cl100k_base")}, strict=True)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(SCRIPT) as srv:
        srv.bill = BillLog(path=tmp_path / "bill.jsonl")
        yield srv


def _body(stream: bool = False) -> dict[str, object]:
    body: dict[str, object] = {"model": "m", "messages": [{"role": "user", "content": "[[ref:t-1]] capital of Peru?"}]}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


def _post(server: LocalOpenAIServer, fault: str | None = None, *, stream: bool = False, timeout: float = 10) -> str:
    """The response text; for a stream, what arrived before the connection broke."""
    headers = {"x-costrouter-fault": fault} if fault else {}
    url = f"{server.base_url}/chat/completions"
    with httpx.Client(timeout=timeout) as client:
        if not stream:
            return client.post(url, json=_body(), headers=headers).text
        got: list[str] = []
        try:
            with client.stream("POST", url, json=_body(stream=True), headers=headers) as resp:
                got.extend(resp.iter_text())
        except httpx.RemoteProtocolError:
            pass
        return "".join(got)


def _content(sse: str) -> str:
    text = ""
    for line in sse.splitlines():
        if line.startswith("data: {"):
            for choice in json.loads(line[6:])["choices"]:
                text += choice["delta"].get("content") or ""
    return text


def test_a_complete_answer_bills_the_usage_it_reports(server: LocalOpenAIServer, tmp_path: Path) -> None:
    usage = json.loads(_post(server))["usage"]
    _post(server, stream=True)
    lines = server.bill.lines()
    assert [(s.status, s.stream, s.tag) for s in lines] == [("complete", False, "t-1"), ("complete", True, "t-1")]
    for line in lines:
        assert (line.prompt_tokens, line.completion_tokens) == (usage["prompt_tokens"], usage["completion_tokens"])
    mirrored = [json.loads(x) for x in (tmp_path / "bill.jsonl").read_text().splitlines()]
    assert [m["seq"] for m in mirrored] == [0, 1]


def test_refusals_and_dropped_connections_bill_nothing(server: LocalOpenAIServer) -> None:
    _post(server, "429:0")
    _post(server, "503")
    with pytest.raises(httpx.HTTPError):
        _post(server, "broken_stream")  # a non-streaming answer that never comes
    _post(server, "broken_stream:1", stream=True)  # the role chunk only: no content
    lines = server.bill.lines()
    assert [(s.status, s.http_status) for s in lines] == [("error", 429), ("error", 503), ("dropped", None),
                                                          ("dropped", None)]  # fmt: skip
    assert not any(s.billed for s in lines)


def test_a_broken_stream_bills_the_prompt_and_the_content_it_sent(server: LocalOpenAIServer) -> None:
    full = json.loads(_post(server))["usage"]
    sse = _post(server, "broken_stream:4", stream=True)  # role chunk + 3 content chunks
    sent = _content(sse)
    assert sent and sent != REPLY
    line = server.bill.lines()[-1]
    assert line.status == "broken"
    assert line.prompt_tokens == full["prompt_tokens"]
    assert line.completion_tokens == 3


def test_a_request_the_client_abandons_bills_its_prompt(server: LocalOpenAIServer) -> None:
    with pytest.raises(httpx.TimeoutException):
        _post(server, "timeout:2", timeout=0.3)
    deadline = time.monotonic() + 5
    while not server.bill.lines() and time.monotonic() < deadline:
        time.sleep(0.02)
    (line,) = server.bill.lines()
    assert (line.status, line.fault, line.completion_tokens) == ("abandoned", "timeout", 0)
    assert line.prompt_tokens > 0


def test_random_faults_follow_their_rate_and_seed() -> None:
    kinds = [(FaultSpec(kind="500"), 1.0), (FaultSpec(kind="slow", delay_s=0.0), 1.0)]
    draws = []
    for _ in range(2):
        faults = RandomFaults(0.3, kinds, seed=5)
        draws.append([faults.pick("m") for _ in range(400)])
    assert draws[0] == draws[1]
    assert 0.2 < sum(d is not None for d in draws[0]) / 400 < 0.4
    only = RandomFaults(1.0, kinds, seed=1, models=frozenset({"cheap"}))
    assert only.pick("premium") is None
    assert only.pick("cheap") is not None
    assert sum(only.fired.values()) == 1
    with pytest.raises(ConfigError):
        RandomFaults(1.5, kinds)
    with pytest.raises(ConfigError):
        RandomFaults(0.2, [])
