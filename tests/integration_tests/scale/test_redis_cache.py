"""The shared cache (``cache.backend: redis``) against the machine's Redis: two caches in one
process stand for two replicas (each has its own in-memory mirror and only Redis in common).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from langchain_costrouter import ChatCostRouter
from langchain_costrouter.core.cache import CacheScope, ResponseCache, WordLlamaEmbedder
from langchain_costrouter.core.config import CacheConfig, CostRouterConfig
from langchain_costrouter.core.errors import ConfigError
from langchain_costrouter.core.ledger import MemoryLedger
from langchain_costrouter.core.types import ChatRequest
from langchain_costrouter.core.usage import Usage
from langchain_costrouter.testing.server import LocalOpenAIServer, ModelScript, Script

SYNC_S = 0.05


@pytest.fixture(scope="module")
def embedder() -> WordLlamaEmbedder:
    return WordLlamaEmbedder()


def scope(tenant: str = "acme", system: str = "You are helpful.") -> CacheScope:
    req = ChatRequest(messages=({"role": "system", "content": system}, {"role": "user", "content": "x"}), tenant=tenant)
    return CacheScope.from_request(req, model="m", params={"temperature": 0})


def put(cache: ResponseCache, sc: CacheScope, q: str, a: str = "Open Settings, then Security, then Reset.") -> int:
    out = cache.store(sc, q, a, model="m", tier="cheap", usage=Usage(10, 20), gate_passed=True)
    assert out.stored, out.reason
    assert out.entry_id is not None
    return out.entry_id


Factory = Callable[..., ResponseCache]


@pytest.fixture
def replicas(redis_url: str, redis_prefix: str, embedder: WordLlamaEmbedder, tmp_path: Path) -> Iterator[Factory]:
    opened: list[ResponseCache] = []

    def make(**kw: object) -> ResponseCache:
        fields = {"backend": "redis", "redis_url": redis_url, "redis_prefix": redis_prefix, "sync_interval_s": SYNC_S}
        cfg = CacheConfig.model_validate({**fields, "max_size": 1000, **kw, "dir": str(tmp_path / f"r{len(opened)}")})
        c = ResponseCache.from_config(cfg, embedder=embedder)
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.close()


def test_exact_entry_of_one_replica_is_served_by_another_at_once(replicas: Factory) -> None:
    a, b = replicas(), replicas()
    eid = put(a, scope(), "How do I reset my password?")
    hit = b.lookup(scope(), "How do I reset my password?")  # no wait: the exact level reads Redis
    assert hit is not None and hit.kind == "exact" and hit.entry_id == eid
    assert hit.tier == "cheap" and hit.usage == Usage(10, 20) and hit.text.startswith("Open Settings")


def test_semantic_entry_becomes_visible_within_the_sync_interval(replicas: Factory) -> None:
    a, b = replicas(), replicas()
    assert b.lookup(scope(), "How can I reset my password?") is None  # b's mirror read the log now
    put(a, scope(), "How do I reset my password?")
    time.sleep(SYNC_S * 3)
    hit = b.lookup(scope(), "How can I reset my password?")
    assert hit is not None and hit.kind == "semantic" and hit.cached_query == "How do I reset my password?"
    c = replicas()  # a replica started later loads the entries at start
    assert len(c) == 1


def test_same_keys_and_guard_as_the_embedded_store(replicas: Factory) -> None:
    a, b = replicas(), replicas()
    put(a, scope("tenant-a"), "What is my account balance?", "Tenant A balance: 1,234")
    put(a, scope(system="Answer in French."), "What is the capital of France?", "Paris (en français)")
    time.sleep(SYNC_S * 3)
    for q in ("What is my account balance?", "what is my account balance", "What's my account balance?"):
        assert b.lookup(scope("tenant-b"), q) is None  # another tenant's scope
    assert b.lookup(scope(system="Answer in German."), "What is the capital of France?") is None
    put(a, scope(), "What is 12 plus 30?", "42")
    time.sleep(SYNC_S * 3)
    assert b.lookup(scope(), "What is 12 plus 31?") is None  # the guard's number check
    assert b.stats.rejections  # ...decided by the guard, on b's mirror


def test_admission_is_the_same(replicas: Factory) -> None:
    a, b = replicas(), replicas()
    out = a.store(scope(), "Is it raining?", "Yes.", model="m", gate_passed=False)
    assert not out.stored and out.reason == "gate_failed"
    out = a.store(scope(), "Is it raining?", "Yes, it is.", model="m", gate_passed=True, finish_reason="length")
    assert out.reason == "partial"
    assert b.lookup(scope(), "Is it raining?") is None
    eid = put(b, scope(), "Is it raining?", "Yes, it is raining now.")
    dup = a.store(scope(), "Is it raining?", "Yes, it rains.", model="m", gate_passed=True)
    assert not dup.stored and dup.reason == "duplicate" and dup.entry_id == eid  # one entry per key


def test_invalidation_reaches_every_replica(replicas: Factory) -> None:
    a, b = replicas(), replicas()
    put(a, scope(), "How do I reset my password?")
    put(a, scope("other"), "How do I close my account?")
    time.sleep(SYNC_S * 3)
    assert b.lookup(scope(), "How can I reset my password?") is not None
    assert a.invalidate("acme") == 1
    time.sleep(SYNC_S * 3)
    assert b.lookup(scope(), "How can I reset my password?") is None
    assert b.lookup(scope(), "How do I reset my password?") is None
    assert b.lookup(scope("other"), "How do I close my account?") is not None


def test_invalidation_on_an_exact_only_replica_drops_other_replicas_entries(replicas: Factory) -> None:
    a, b = replicas(semantic="off"), replicas(semantic="off")  # no semantic lookup ever reads the log
    put(a, scope(), "How do I reset my password?")
    assert b.invalidate("acme") == 1  # read the log first: a's entry is b's to drop too
    assert a.lookup(scope(), "How do I reset my password?") is None
    assert b.lookup(scope(), "How do I reset my password?") is None


def test_ttl_expires_entries_on_every_replica_and_in_redis(
    replicas: Factory, redis_url: str, redis_prefix: str
) -> None:
    import redis

    a, b = replicas(ttl_s=1.0), replicas(ttl_s=1.0)
    eid = put(a, scope(), "How do I reset my password?")
    time.sleep(SYNC_S * 3)
    assert b.lookup(scope(), "How can I reset my password?") is not None
    client = redis.Redis.from_url(redis_url)
    (entry_key,) = client.keys(f"{redis_prefix}:*:e:{eid}")
    assert 0 < client.ttl(entry_key) <= 1  # Redis drops it too
    time.sleep(1.1)
    assert b.lookup(scope(), "How can I reset my password?") is None
    assert a.lookup(scope(), "How do I reset my password?") is None


def test_max_size_evicts_the_oldest_everywhere(replicas: Factory) -> None:
    a, b = replicas(max_size=2), replicas(max_size=2)
    first = put(a, scope(), "How do I reset my password?")
    put(a, scope(), "What is the capital of France?", "Paris.")
    put(b, scope(), "How do I close my account?", "Settings, then Close account.")
    time.sleep(SYNC_S * 3)
    assert a.lookup(scope(), "How do I reset my password?") is None
    assert b.lookup(scope(), "How can I reset my password?") is None
    assert first not in b._entries and len(a) == len(b) == 2


def test_redis_losing_its_data_empties_every_mirror(replicas: Factory, redis_url: str, redis_prefix: str) -> None:
    import redis

    a, b = replicas(), replicas()
    put(a, scope(), "How do I reset my password?")
    time.sleep(SYNC_S * 3)
    assert b.lookup(scope(), "How can I reset my password?") is not None
    client = redis.Redis.from_url(redis_url)
    client.delete(*client.scan_iter(match=f"{redis_prefix}*"))  # what a restart without persistence does
    time.sleep(SYNC_S * 3)
    assert b.lookup(scope(), "How can I reset my password?") is None  # the mirror followed Redis
    put(b, scope(), "What is the capital of France?", "Paris.")
    time.sleep(SYNC_S * 3)
    assert a.lookup(scope(), "What's the capital of France?") is not None
    assert len(a) == 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_redis_unreachable_is_a_miss_and_a_skipped_store(
    embedder: WordLlamaEmbedder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    cfg = CacheConfig(backend="redis", redis_url=url, dir=str(tmp_path / "c"), sync_interval_s=SYNC_S)
    with ResponseCache.from_config(cfg, embedder=embedder) as cache:
        for _ in range(3):
            out = cache.store(scope(), "How do I reset my password?", "Settings.", model="m", gate_passed=True)
            assert not out.stored and out.reason == "unavailable"
            assert cache.find(scope(), "How do I reset my password?").hit is None
            assert cache.find(scope(), "How can I reset my password?").hit is None
        assert cache.stats.errors["redis"] >= 3 and cache.stats.misses == 6
    warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warnings) == 1  # one warning per outage, not one per request


def test_backend_redis_without_a_url_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COSTROUTER_REDIS_URL", raising=False)
    with pytest.raises(ConfigError, match=r"cache\.redis_url"):
        ResponseCache.from_config(CacheConfig(backend="redis"))
    cfg = CostRouterConfig.from_dict({"tiers": [{"name": "t", "model": "m"}], "cache": {"backend": "redis"}})
    assert cfg.cache.redis_url_env == "COSTROUTER_REDIS_URL"


def _router(server: LocalOpenAIServer, cache: dict[str, object], ledger: MemoryLedger) -> ChatCostRouter:
    tier = {"name": "cheap", "model": "openai/cheap", "api_base": server.base_url, "price": {"input": 1, "output": 4}}
    cfg = CostRouterConfig.from_dict({"tiers": [tier], "ledger": {"backend": "memory"}, "cache": cache})
    return ChatCostRouter(config=cfg, ledger=ledger)


def test_chat_models_share_answers_and_survive_redis_down(redis_url: str, redis_prefix: str, tmp_path: Path) -> None:
    """Through ChatCostRouter: a second replica serves the first one's answer without a call; with
    Redis unreachable, requests are answered fresh and recorded, never failed."""
    answer = "The capital of France is Paris, on the river Seine."
    cache = {"enabled": True, "backend": "redis", "redis_url": redis_url, "redis_prefix": redis_prefix}
    with LocalOpenAIServer(Script(models={"cheap": ModelScript(reply=answer)})) as server:
        ledgers = [MemoryLedger(), MemoryLedger()]
        a, b = (_router(server, {**cache, "dir": str(tmp_path / n)}, led) for n, led in zip("ab", ledgers, strict=True))
        assert a.invoke("What is the capital of France?").content == answer
        assert b.invoke("What is the capital of France?").content == answer
        assert len(server.requests) == 1  # b was served a's entry
        assert [r.kind for r in ledgers[1].records()] == ["cache_hit"]
        down = {**cache, "redis_url": f"redis://127.0.0.1:{_closed_port()}/0", "dir": str(tmp_path / "c")}
        ledger = MemoryLedger()
        c = _router(server, down, ledger)
        for _ in range(2):
            assert c.invoke("What is the capital of France?").content == answer
        assert len(server.requests) == 3  # answered fresh each time: nothing could be cached
        assert [r.kind for r in ledger.records()] == ["completion", "completion"]


def test_cache_status_counts_the_shared_entries(
    replicas: Factory, redis_url: str, redis_prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    import yaml

    from langchain_costrouter.cli import main

    a = replicas()
    put(a, scope(), "How do I reset my password?")
    put(a, scope(), "What is the capital of France?", "Paris.")
    cache = {"enabled": True, "backend": "redis", "redis_url": redis_url, "redis_prefix": redis_prefix}
    path = tmp_path / "costrouter.yaml"
    path.write_text(yaml.safe_dump({"tiers": [{"name": "t", "model": "m"}], "cache": cache}), encoding="utf-8")
    assert main(["cache", "status", "--config", str(path), "--json", "-"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["entries"] == 2 and st["backend"] == "redis" and st["directory"].startswith(f"redis {redis_prefix}:")


def test_bench_cache_times_the_shared_store_and_removes_its_keys(
    redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    import redis

    from langchain_costrouter.cli import main

    out = tmp_path / "bench.json"
    argv = ["bench", "cache", "--pairs", "langchain_costrouter/data/support_pairs.jsonl", "--sizes", "200"]
    argv += ["--queries", "40", "--no-gptcache", "--redis-url", redis_url, "--no-progress", "--json", str(out)]
    assert main(argv) == 0
    shared = json.loads(out.read_text())["latency"]["200"]["redis"]
    assert shared["replica_loaded"] == 200 and shared["exact_hits"]["n"] == 20
    assert "shared Redis store: exact hit p50" in capsys.readouterr().out
    assert not list(redis.Redis.from_url(redis_url).scan_iter(match="costrouter-bench:*"))
