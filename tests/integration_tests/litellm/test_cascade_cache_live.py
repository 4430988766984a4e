"""The cascade's response cache through ``build_router``, over real HTTP.

``cache.enabled: true`` in the config: the cascade's pipeline looks every request up before its
first tier and stores what a gate accepted, for sync, async and streaming calls alike. A repeat
(or a guarded paraphrase) of a question is served from the cache without any HTTP
call, whichever tier answered it first; an answer that failed its gate is never stored; a trap
still reaches the models.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from langchain_costrouter.core.cache import ResponseCache
from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.ledger import MemoryLedger
from langchain_costrouter.testing.server import LocalOpenAIServer
from litellm_hooks import CostRouterHooks, build_router
from tests.integration_tests.litellm.conftest import GOOD, await_for, config_data

pytestmark = pytest.mark.server


@pytest.fixture
def cached(local_server: LocalOpenAIServer, tmp_path: Path) -> Iterator[tuple[Any, CostRouterHooks]]:
    import litellm

    data = config_data(local_server.base_url)
    data["cache"] = {"enabled": True, "dir": str(tmp_path / "cache"), "namespace": "tests"}
    cfg = CostRouterConfig.from_dict(data)
    previous = litellm.cache
    hooks = CostRouterHooks(cfg, ledger=MemoryLedger())
    router = build_router(cfg, hooks=hooks)
    try:
        yield router, hooks
    finally:
        hooks.close()
        litellm.cache = previous


def _calls(server: LocalOpenAIServer) -> int:
    return len(server.requests)


async def _ask(router: Any, text: str) -> Any:
    return await router.acompletion(model="costrouter", messages=[{"role": "user", "content": text}])


def _cache(hooks: CostRouterHooks) -> ResponseCache:
    assert hooks.response_cache is not None
    return hooks.response_cache


async def _stored(hooks: CostRouterHooks, n: int) -> None:
    cache = _cache(hooks)
    for _ in range(100):
        if cache.stats.stores >= n:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {n} stores, got {cache.stats.stores}")


async def test_cheap_answer_cached_for_repeats_and_paraphrases(
    cached: tuple[Any, CostRouterHooks], local_server: LocalOpenAIServer
) -> None:
    router, hooks = cached
    cache = _cache(hooks)
    before = _calls(local_server)
    first = await _ask(router, "What is the capital of France?")
    assert first.choices[0].message.content == GOOD and _calls(local_server) == before + 1
    await _stored(hooks, 1)
    again = await _ask(router, "What is the capital of France?")
    para = await _ask(router, "What's the capital of France?")
    assert again.choices[0].message.content == para.choices[0].message.content == GOOD
    assert _calls(local_server) == before + 1  # both served without a request
    assert (cache.stats.exact_hits, cache.stats.semantic_hits) == (1, 1)
    # the hits are in the ledger, at $0, with the premium baseline they saved
    recs = await await_for(hooks.ledger, lambda rs: sum(r.kind == "cache_hit" for r in rs) >= 2)
    hits = [r for r in recs if r.kind == "cache_hit"]
    assert sorted(str(r.cache_hit) for r in hits) == ["exact", "semantic"]
    assert all(r.cost_usd == 0 and r.baseline_cost_usd > 0 and r.tier == "cheap" for r in hits)
    # a trap (another city) is not served from the entry
    before = _calls(local_server)
    await _ask(router, "What is the capital of Germany?")
    assert _calls(local_server) > before


async def test_escalated_answer_cached_with_its_tier_rejected_one_never(
    cached: tuple[Any, CostRouterHooks], local_server: LocalOpenAIServer
) -> None:
    router, hooks = cached
    cache = _cache(hooks)
    before = _calls(local_server)
    first = await _ask(router, "Tell me a fact about volcanoes.")
    trail = first._hidden_params["costrouter"]
    assert (trail["tier"], trail["escalations"]) == ("mid", 1)  # cheap said "dunno": rejected
    assert _calls(local_server) == before + 2
    await _stored(hooks, 1)
    assert cache.stats.stores == 1  # the rejected cheap answer was not stored
    (entry,) = list(cache._entries.values())
    assert (entry.tier, entry.text) == ("mid", GOOD)
    again = await _ask(router, "Tell me a fact about volcanoes.")
    assert again.choices[0].message.content == GOOD
    assert _calls(local_server) == before + 2  # neither cheap nor mid was called again


async def test_other_tenant_and_other_params_miss(
    cached: tuple[Any, CostRouterHooks], local_server: LocalOpenAIServer
) -> None:
    router, hooks = cached
    q = [{"role": "user", "content": "Capital of France, please?"}]
    await router.acompletion(model="costrouter", messages=q, user="alice")
    await _stored(hooks, 1)
    before = _calls(local_server)
    await router.acompletion(model="costrouter", messages=q, user="alice")
    assert _calls(local_server) == before
    await router.acompletion(model="costrouter", messages=q, user="bob")
    assert _calls(local_server) == before + 1
    await router.acompletion(model="costrouter", messages=q, user="alice", temperature=1.5)
    assert _calls(local_server) == before + 2


async def test_sync_calls_read_and_store_like_async_ones(
    cached: tuple[Any, CostRouterHooks], local_server: LocalOpenAIServer
) -> None:
    router, hooks = cached
    await _ask(router, "Is France in Europe?")
    await _stored(hooks, 1)
    before = _calls(local_server)
    resp = router.completion(model="costrouter", messages=[{"role": "user", "content": "Is France in Europe?"}])
    assert resp.choices[0].message.content == GOOD
    assert resp._hidden_params["costrouter"]["cache"]["kind"] == "exact"
    assert _calls(local_server) == before
    router.completion(model="costrouter", messages=[{"role": "user", "content": "Is France a republic?"}])
    assert _calls(local_server) == before + 1
    assert hooks.response_cache is not None and hooks.response_cache.stats.stores == 2


async def test_a_tier_asked_for_directly_has_its_own_scope(
    cached: tuple[Any, CostRouterHooks], local_server: LocalOpenAIServer
) -> None:
    """An answer stored by the cascade (cheap) is not served to a request for the premium tier."""
    router, hooks = cached
    q = [{"role": "user", "content": "Where is the Louvre, in France?"}]
    await router.acompletion(model="costrouter", messages=q)
    await _stored(hooks, 1)
    premium_before = sum(1 for b in local_server.requests if b.get("model") == "prem-m")
    await router.acompletion(model="premium", messages=q)
    assert sum(1 for b in local_server.requests if b.get("model") == "prem-m") == premium_before + 1
    await _stored(hooks, 2)
    before = len(local_server.requests)
    await router.acompletion(model="premium", messages=q)  # now premium's own entry
    await router.acompletion(model="costrouter", messages=q)
    assert len(local_server.requests) == before


async def test_streams_read_the_cache_and_store_gated_answers(
    cached: tuple[Any, CostRouterHooks], local_server: LocalOpenAIServer
) -> None:
    router, hooks = cached
    q = [{"role": "user", "content": "Is Lyon in France?"}]
    await router.acompletion(model="costrouter", messages=q)
    await _stored(hooks, 1)
    before = _calls(local_server)
    stream = await router.acompletion(model="costrouter", messages=q, stream=True)
    text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    assert text == GOOD and _calls(local_server) == before  # replayed from the cache as a stream
    other = await router.acompletion(
        model="costrouter", messages=[{"role": "user", "content": "Is Nice in France?"}], stream=True
    )
    assert "".join([chunk.choices[0].delta.content or "" async for chunk in other if chunk.choices]) == GOOD
    assert _calls(local_server) == before + 1
    # the cheap tier's stream was buffered and passed its gate: it is stored like any accepted answer
    assert hooks.response_cache is not None and hooks.response_cache.stats.stores == 2
