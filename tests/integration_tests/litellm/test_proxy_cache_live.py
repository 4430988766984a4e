"""The cascade's response cache in the real LiteLLM proxy process (``cache.enabled: true``).

The proxy's cascade (the costrouter custom provider) looks every request up in the cache before its
first tier and stores what a gate accepted. A repeated question and a paraphrase are answered
without any request to the models, a trap is not, and the hits are in the SQLite ledger.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
import yaml

from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.ledger import SQLiteLedger
from langchain_costrouter.testing.server import LocalOpenAIServer
from litellm_hooks.proxy_config import write_proxy_config
from litellm_hooks.proxy_process import ProxyProcess
from tests.integration_tests.litellm.conftest import GOOD, config_data, wait_for

pytestmark = pytest.mark.proxy

MASTER_KEY = "sk-costrouter-test-" + secrets.token_hex(6)


@pytest.fixture(scope="module")
def cache_config(local_server: LocalOpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("costrouter-cache")
    data = config_data(local_server.base_url, str(folder / "ledger.sqlite"))
    data["cache"] = {"enabled": True, "dir": str(folder / "cache")}
    path = folder / "costrouter.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def client(cache_config: Path) -> Iterator[openai.OpenAI]:
    rendered = write_proxy_config(cache_config, cache_config.parent / "litellm-proxy.yaml")
    process = ProxyProcess(rendered, env={"LITELLM_MASTER_KEY": MASTER_KEY})
    try:
        process.start()
    except RuntimeError:
        pytest.fail(f"proxy did not start:\n{process.log_tail()}")
    try:
        yield openai.OpenAI(base_url=process.base_url, api_key=MASTER_KEY, max_retries=0, timeout=60)
    finally:
        process.stop()


def _ask(client: openai.OpenAI, content: str) -> str:
    resp = client.chat.completions.create(model="costrouter", messages=[{"role": "user", "content": content}])
    return str(resp.choices[0].message.content)


def test_proxy_serves_repeats_and_paraphrases_from_the_cascade_cache(
    client: openai.OpenAI, local_server: LocalOpenAIServer, cache_config: Path
) -> None:
    before = len(local_server.requests)
    assert _ask(client, "What is the capital of France?") == GOOD
    assert len(local_server.requests) == before + 1
    # the gate stored the accepted answer before the proxy responded: these make no request
    assert _ask(client, "What is the capital of France?") == GOOD
    assert _ask(client, "What's the capital of France?") == GOOD
    assert len(local_server.requests) == before + 1
    _ask(client, "What is the capital of Germany?")  # a trap reaches the models
    assert len(local_server.requests) > before + 1
    ledger = SQLiteLedger(CostRouterConfig.from_yaml(cache_config).ledger.path)
    try:
        recs = wait_for(ledger, lambda rs: sum(r.kind == "cache_hit" for r in rs) >= 2)
        hits = [r for r in recs if r.kind == "cache_hit"]
        assert sorted(str(r.cache_hit) for r in hits) == ["exact", "semantic"]
        assert all(r.cost_usd == 0 and r.baseline_cost_usd > 0 and r.tier == "cheap" for r in hits)
    finally:
        ledger.close()
