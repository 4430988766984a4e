"""Two real LiteLLM proxy processes enforce one tenant budget held in Redis (over real HTTP).

The proxies run the cascade (the core pipeline), so tenant and key budgets hold there exactly as
in ``ChatCostRouter``: each tier call reserves its estimate in Redis first and settles what it
cost after; once the budget is reached, every replica refuses the tenant's requests before
calling a model, and what was spent never passes the limit by more than what was in flight.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from langchain_costrouter.core.ledger import SQLiteLedger
from langchain_costrouter.testing.server import LocalOpenAIServer, ModelScript, Script
from litellm_hooks.proxy_config import write_proxy_config
from litellm_hooks.proxy_process import ProxyProcess

pytestmark = [pytest.mark.server, pytest.mark.proxy]

ANSWER = "The capital of France is Paris, on the river Seine."
KEY = "sk-budget-" + secrets.token_hex(6)
LIMIT = 0.05


@pytest.fixture
def proxies(redis_url: str, redis_prefix: str, tmp_path: Path) -> Iterator[tuple[list[ProxyProcess], Path]]:
    with LocalOpenAIServer(Script(models={"cheap": ModelScript(reply=ANSWER)})) as server:
        config = {
            "tiers": [
                {
                    "name": "cheap",
                    "model": "openai/cheap",
                    "api_base": server.base_url,
                    "price": {"input": 100.0, "output": 400.0},
                    "max_tokens": 40,
                }
            ],
            "ledger": {"backend": "sqlite", "path": str(tmp_path / "ledger.sqlite")},
            "budget": {
                "backend": "redis",
                "redis_url": redis_url,
                "key_prefix": redis_prefix,
                "tenants": {"acme": {"daily_usd": LIMIT}},
            },
        }
        path = tmp_path / "costrouter.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        started: list[ProxyProcess] = []
        try:
            for i in range(2):
                rendered = write_proxy_config(path, tmp_path / f"proxy-{i}.yaml")
                proc = ProxyProcess(rendered, env={"LITELLM_MASTER_KEY": KEY})
                try:
                    started.append(proc.start())
                except RuntimeError:
                    pytest.fail(f"proxy did not start:\n{proc.log_tail()}")
            yield started, tmp_path / "ledger.sqlite"
        finally:
            for proc in started:
                proc.stop()


def test_two_proxy_replicas_share_a_tenant_budget(proxies: tuple[list[ProxyProcess], Path]) -> None:
    replicas, ledger_path = proxies
    statuses = []
    for i in range(24):
        body = {
            "model": "costrouter",
            "messages": [{"role": "user", "content": f"What is the capital of France? #{i}"}],
            "metadata": {"costrouter_tenant": "acme"},
        }
        resp = httpx.post(
            f"{replicas[i % 2].base_url}/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=60,
        )
        statuses.append(resp.status_code)
        if resp.status_code != 200:
            assert "acme" in resp.text and "daily" in resp.text and "budget" in resp.text, resp.text
    assert statuses.count(200) > 0 and set(statuses) == {200, 400}  # served, then refused
    refused = statuses[statuses.index(next(s for s in statuses if s != 200)) :]
    assert all(s != 200 for s in refused)  # once reached, every replica refuses
    ledger = SQLiteLedger(ledger_path)
    try:
        spent = sum(r.cost_usd for r in ledger.records())
        assert {r.tenant for r in ledger.records()} == {"acme"}
    finally:
        ledger.close()
    one_call = spent / statuses.count(200)
    assert spent <= LIMIT + one_call  # overspend bounded by one call in flight
