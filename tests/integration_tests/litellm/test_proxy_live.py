"""The real LiteLLM proxy (``litellm --config``) serving the cascade, called with the openai SDK.

One proxy process per module, on a free loopback port, always stopped. Its ledger is a SQLite
file the test reads from this process.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.ledger import SQLiteLedger
from langchain_costrouter.testing.server import LocalOpenAIServer
from litellm_hooks.proxy_config import write_proxy_config
from litellm_hooks.proxy_process import ProxyProcess
from tests.integration_tests.litellm.conftest import GOOD, expected_cost, wait_for

pytestmark = pytest.mark.proxy

MASTER_KEY = "sk-costrouter-test-" + secrets.token_hex(6)


@pytest.fixture(scope="module")
def proxy(config_file: Path) -> Iterator[ProxyProcess]:
    yaml_path = write_proxy_config(config_file, config_file.parent / "litellm-proxy.yaml")
    process = ProxyProcess(yaml_path, env={"LITELLM_MASTER_KEY": MASTER_KEY})
    try:
        process.start()
    except RuntimeError:
        pytest.fail(f"proxy did not start:\n{process.log_tail()}")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def ledger(config_file: Path) -> Iterator[SQLiteLedger]:
    cfg = CostRouterConfig.from_yaml(config_file)
    led = SQLiteLedger(cfg.ledger.path)
    yield led
    led.close()


@pytest.fixture(scope="module")
def client(proxy: ProxyProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0, timeout=60)


def _ask(client: openai.OpenAI, content: str, model: str = "costrouter", **kwargs: Any) -> tuple[Any, httpx.Headers]:
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": content}], **kwargs
    )
    return raw.parse(), raw.headers


def _served(server: LocalOpenAIServer, model: str) -> int:
    return sum(1 for body in server.requests if body.get("model") == model)


def _records(ledger: SQLiteLedger, request_id: str, n: int) -> list[Any]:
    recs = wait_for(ledger, lambda rs: sum(r.request_id == request_id for r in rs) >= n)
    mine = [r for r in recs if r.request_id == request_id]
    for rec in mine:
        assert rec.cost_usd == pytest.approx(expected_cost(rec), rel=1e-12), rec
    return mine


def test_cheap_answer_accepted(client: openai.OpenAI, ledger: SQLiteLedger) -> None:
    resp, headers = _ask(client, "What is the capital of France?")
    assert resp.choices[0].message.content == GOOD
    assert headers["x-costrouter-tier"] == "cheap"
    assert headers["x-costrouter-escalations"] == "0"
    (rec,) = _records(ledger, headers["x-costrouter-request-id"], 1)
    assert (rec.tier, rec.outcome) == ("cheap", "accepted")
    assert (rec.input_tokens, rec.output_tokens) == (resp.usage.prompt_tokens, resp.usage.completion_tokens)
    assert float(headers["x-costrouter-cost-usd"]) == pytest.approx(rec.cost_usd, abs=1e-8)


def test_rejected_answer_escalates_to_the_next_tier(
    client: openai.OpenAI, ledger: SQLiteLedger, local_server: LocalOpenAIServer
) -> None:
    cheap_before = _served(local_server, "cheap-m")
    resp, headers = _ask(client, "Tell me something interesting.")
    assert resp.choices[0].message.content == GOOD
    assert headers["x-costrouter-tier"] == "mid"
    assert headers["x-costrouter-escalations"] == "1"
    assert _served(local_server, "cheap-m") == cheap_before + 1
    recs = _records(ledger, headers["x-costrouter-request-id"], 2)
    assert [(r.tier, r.outcome, r.escalation_step) for r in recs] == [("cheap", "rejected", 0), ("mid", "accepted", 1)]
    assert recs[0].cost_usd > 0  # the rejected attempt keeps its true cost
    assert float(headers["x-costrouter-cost-usd"]) == pytest.approx(sum(r.cost_usd for r in recs), abs=1e-8)


def test_rate_limit_retried(client: openai.OpenAI, ledger: SQLiteLedger, local_server: LocalOpenAIServer) -> None:
    before = _served(local_server, "flaky-m")
    resp, headers = _ask(client, "hello", model="flaky")
    assert resp.choices[0].message.content == GOOD
    assert _served(local_server, "flaky-m") == before + 2
    recs = _records(ledger, headers["x-costrouter-request-id"], 2)
    assert [(r.tier, r.outcome, r.extra.get("retry", 0)) for r in recs] == [
        ("flaky", "error", 0),
        ("flaky", "accepted", 1),
    ]
    assert recs[0].error == "rate_limit: HTTP 429"


def test_task_routing_in_the_proxy(
    client: openai.OpenAI, ledger: SQLiteLedger, local_server: LocalOpenAIServer
) -> None:
    cheap_before = _served(local_server, "cheap-m")
    _, headers = _ask(client, "Please translate 'thank you' into French.")
    assert headers["x-costrouter-route"] == "translate"
    assert headers["x-costrouter-tier"] == "translator"
    assert _served(local_server, "cheap-m") == cheap_before
    (rec,) = _records(ledger, headers["x-costrouter-request-id"], 1)
    assert rec.task == "translate"


def test_a_stream_is_gated_and_only_a_passing_answer_is_sent(client: openai.OpenAI, ledger: SQLiteLedger) -> None:
    n = ledger.count()
    stream = client.chat.completions.create(
        model="costrouter",
        messages=[{"role": "user", "content": "Something the cheap tier answers badly"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == GOOD  # the cheap "dunno" was buffered and rejected: never sent
    recs = wait_for(ledger, lambda rs: len(rs) >= n + 2)[n:]
    assert [(r.tier, r.outcome) for r in recs] == [("cheap", "rejected"), ("mid", "accepted")]
    for rec in recs:
        assert rec.cost_usd == pytest.approx(expected_cost(rec), rel=1e-12)


def test_tenants_from_proxy_metadata_are_recorded_and_never_share_cache_entries(
    client: openai.OpenAI, ledger: SQLiteLedger
) -> None:
    _, a = _ask(client, "What is the capital of France? (tenants)", metadata={"costrouter_tenant": "A"})
    _, b = _ask(client, "What is the capital of France? (tenants)", metadata={"costrouter_tenant": "B"})
    (ra,) = _records(ledger, a["x-costrouter-request-id"], 1)
    (rb,) = _records(ledger, b["x-costrouter-request-id"], 1)
    assert (ra.tenant, rb.tenant) == ("A", "B")


@pytest.mark.parametrize("auth", [None, "Bearer sk-wrong-key"])
def test_request_without_the_master_key_is_refused(
    proxy: ProxyProcess, ledger: SQLiteLedger, local_server: LocalOpenAIServer, auth: str | None
) -> None:
    upstream, records = len(local_server.requests), ledger.count()
    headers = {"Authorization": auth} if auth else {}
    body = {"model": "costrouter", "messages": [{"role": "user", "content": "What is the capital of France?"}]}
    resp = httpx.post(f"{proxy.base_url}/chat/completions", json=body, headers=headers, timeout=30)
    assert resp.status_code in {400, 401, 403}
    assert len(local_server.requests) == upstream
    assert ledger.count() == records
