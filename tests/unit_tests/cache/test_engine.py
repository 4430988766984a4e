from __future__ import annotations

import asyncio
import threading

import pytest

from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.cache import CacheScope, ResponseCache, record_cache_hit
from langchain_costrouter.core.ledger import MemoryLedger
from langchain_costrouter.core.pricing import ModelPrice, PriceBook
from langchain_costrouter.core.types import ChatRequest
from langchain_costrouter.core.usage import Usage


def scope(ns: str = "t1", model: str = "m", system: str = "You are helpful.") -> CacheScope:
    req = ChatRequest(messages=({"role": "system", "content": system}, {"role": "user", "content": "x"}), tenant=ns)
    return CacheScope.from_request(req, model=model, params={"temperature": 0})


def put(cache: ResponseCache, sc: CacheScope, q: str, a: str = "the answer") -> None:
    out = cache.store(sc, q, a, model="m", tier="cheap", usage=Usage(10, 20), gate_passed=True)
    assert out.stored, out.reason


def test_exact_then_semantic_hit(cache: ResponseCache) -> None:
    put(cache, scope(), "How do I reset my password?")
    hit = cache.lookup(scope(), "How do I reset my password?")
    assert hit is not None and hit.kind == "exact" and hit.tier == "cheap" and hit.usage == Usage(10, 20)
    hit = cache.lookup(scope(), "How can I reset my password?")
    assert hit is not None and hit.kind == "semantic" and hit.similarity < 1.0


def test_adversarial_tenant_never_crosses(cache: ResponseCache) -> None:
    put(cache, scope("tenant-a"), "What is my account balance?", "Tenant A balance: 1,234")
    for q in ("What is my account balance?", "what is my account balance", "What's my account balance?"):
        assert cache.lookup(scope("tenant-b"), q) is None
    assert cache.lookup(scope("tenant-a"), "What is my account balance?") is not None


def test_system_prompt_and_model_scope(cache: ResponseCache) -> None:
    put(cache, scope(system="Answer in French."), "What is the capital of France?", "Paris (en français)")
    assert cache.lookup(scope(system="Answer in German."), "What is the capital of France?") is None
    assert cache.lookup(scope(model="other"), "What is the capital of France?") is None
    assert cache.lookup(scope(system="Answer in French."), "What is the capital of France?") is not None


def test_history_and_params_are_scope() -> None:
    base = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    a = CacheScope.build(namespace="n", model="m", messages=[*base, {"role": "user", "content": "q"}])
    q = [{"role": "user", "content": "q"}]
    b = CacheScope.build(namespace="n", model="m", messages=q)
    c = CacheScope.build(namespace="n", model="m", messages=q, params={"temperature": 1})
    d = CacheScope.build(namespace="n", model="m", messages=q, params={"stream": True})
    assert len({a.key, b.key, c.key}) == 3
    assert d.key == b.key  # streaming does not change the answer


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"gate_passed": False}, "gate_failed"),
        ({"gate_passed": True, "error": "boom"}, "error"),
        ({"gate_passed": True, "refusal": "no"}, "refusal"),
        ({"gate_passed": True, "partial": True}, "partial"),
        ({"gate_passed": True, "finish_reason": "length"}, "partial"),
        ({"gate_passed": True, "tool_calls": [{"id": "1"}]}, "tool_call"),
    ],
)
def test_errors_refusals_partials_tool_calls_not_cached(cache: ResponseCache, kwargs, reason) -> None:
    out = cache.store(scope(), "Is it raining?", "Yes.", model="m", **kwargs)
    assert not out.stored and out.reason == reason
    assert cache.lookup(scope(), "Is it raining?") is None


def test_refusal_text_not_cached(cache: ResponseCache) -> None:
    out = cache.store(scope(), "Tell me X", "I'm sorry, but I can't help with that.", model="m", gate_passed=True)
    assert out.reason == "refusal"


def test_guard_blocks_traps(cache: ResponseCache) -> None:
    put(cache, scope(), "Cancel my subscription", "Cancelled.")
    put(cache, scope(), "Transfer £50 from my savings to my current account", "Done.")
    put(cache, scope(), "Track order 48213", "In transit.")
    assert cache.lookup(scope(), "Don't cancel my subscription") is None
    assert cache.lookup(scope(), "Transfer £50 from my current account to my savings") is None
    assert cache.lookup(scope(), "Track order 48231") is None
    assert sum(cache.stats.rejections.values()) >= 2  # the negation falls under the threshold


def test_ttl(embedder, tmp_path) -> None:
    now = [1000.0]
    with ResponseCache(embedder, directory=tmp_path, ttl_s=10, clock=lambda: now[0]) as c:
        put(c, scope(), "How late are you open?")
        assert c.lookup(scope(), "How late are you open?") is not None
        now[0] += 11
        assert c.lookup(scope(), "How late are you open?") is None
        assert c.stats.expirations == 1 and len(c) == 0


def test_eviction_max_size(embedder, tmp_path) -> None:
    with ResponseCache(embedder, directory=tmp_path, max_size=20) as c:
        for i in range(60):
            put(c, scope(), f"What is the status of ticket {i}?")
        assert len(c) <= 20 and c.stats.evictions >= 40
        assert c.lookup(scope(), "What is the status of ticket 59?") is not None
        assert c.lookup(scope(), "What is the status of ticket 0?") is None


def test_invalidate_namespace_and_persistence(embedder, tmp_path) -> None:
    with ResponseCache(embedder, directory=tmp_path) as c:
        put(c, scope("a"), "Where is my parcel?")
        put(c, scope("b"), "Where is my parcel?")
        assert c.invalidate("a") == 1
    with ResponseCache(embedder, directory=tmp_path) as c2:  # reloaded from GPTCache's SQLite
        assert c2.lookup(scope("a"), "Where is my parcel?") is None
        assert c2.lookup(scope("b"), "Where is my parcel?") is not None
        assert c2.lookup(scope("b"), "Where's my parcel?") is not None


def test_concurrent_threads(cache: ResponseCache) -> None:
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for i in range(25):
                put(cache, scope(f"w{k}"), f"How do I renew licence number {k * 100 + i}?")
        except BaseException as exc:
            errors.append(exc)

    def reader(k: int) -> None:
        try:
            for i in range(25):
                hit = cache.lookup(scope(f"w{k}"), f"How do I renew licence number {k * 100 + i}?")
                assert hit is None or hit.cached_query.endswith(f"{k * 100 + i}?")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=f, args=(k,)) for k in range(4) for f in (writer, reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(cache) == 100
    for k in range(4):
        assert cache.lookup(scope(f"w{k}"), f"How do I renew licence number {k * 100 + 7}?") is not None


async def test_concurrent_asyncio(cache: ResponseCache) -> None:
    async def one(i: int) -> bool:
        sc = scope(f"a{i % 3}")
        await cache.astore(sc, f"Is store {i} open today?", f"Store {i}: yes", model="m", gate_passed=True)
        hit = await cache.alookup(sc, f"Is store {i} open today?")
        return hit is not None and hit.text == f"Store {i}: yes"

    results = await asyncio.gather(*(one(i) for i in range(30)))
    assert all(results)


def test_hit_recorded_in_ledger_with_savings(cache: ResponseCache) -> None:
    put(cache, scope(), "What are your opening hours?")
    hit = cache.lookup(scope(), "What are your opening hours?")
    assert hit is not None
    prices = PriceBook(overrides={"m": ModelPrice.per_million(1.0, 2.0), "premium": ModelPrice.per_million(10.0, 30.0)})
    acct = CostAccountant(prices, MemoryLedger(), premium_model="premium")
    (rec,) = record_cache_hit(acct, hit, request_id="r1")
    assert rec.kind == "cache_hit" and rec.cost_usd == 0.0 and rec.baseline_cost_usd > 0 and rec.cache_hit == "exact"
