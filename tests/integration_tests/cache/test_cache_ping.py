"""LiteLLM's ``/cache/ping`` over the costrouter cache backend: constant time and memory at 100k entries.

The proxy's route walks ``vars()`` of its cache backend (masking secrets, validating the params);
it once walked every entry, the vector index and the embedder (259 s and 10.6 GB at 100k entries).
The route function is called in-process, as the proxy calls it.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from langchain_costrouter.core.cache import CacheEntry, CacheScope, CallableEmbedder, ResponseCache
from langchain_costrouter.core.usage import Usage

DIM = 16


def _fill(cache: ResponseCache, n: int) -> None:
    """Puts ``n`` entries in the cache's in-memory index and vector graph (what a loaded store holds)."""
    import faiss
    from gptcache.manager.vector_data.base import VectorData

    scope = CacheScope(namespace="ping", model="m")
    ix = cache._ix
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((n, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    for i in range(n):
        q = f"question number {i} about the invoice for order {i * 7}"
        ix.entries[i] = CacheEntry(i, scope.key, "ping", q, f"answer {i} " * 20, "m", None, Usage(50, 200), 0.0, None)
        ix.exact[(scope.key, q)] = i
        ix.forms[i] = q
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    try:
        ix.vectors.mul_add([VectorData(id=i, data=vecs[i]) for i in range(n)])
    finally:
        faiss.omp_set_num_threads(1)


@pytest.fixture
def installed() -> Iterator[None]:
    import litellm

    before = litellm.cache
    yield
    litellm.cache = before


def _ping(cache: ResponseCache) -> tuple[float, float, object]:
    from litellm.proxy import caching_routes

    from litellm_hooks.cache_hook import install

    install(cache)
    asyncio.run(caching_routes.cache_ping())  # warm-up (imports, pydantic schemas)
    times = []
    tracemalloc.start()
    try:
        for _ in range(5):
            t0 = time.perf_counter()
            out = asyncio.run(caching_routes.cache_ping())
            times.append(time.perf_counter() - t0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return statistics.median(times), peak / 1e6, out


@pytest.mark.timeout(600)
def test_cache_ping_is_constant_in_time_and_memory(tmp_path: Path, installed: None) -> None:
    rng = np.random.default_rng(1)
    emb = CallableEmbedder(lambda t: rng.standard_normal((len(t), DIM)), DIM, name="ping16")
    results = {}
    for n in (1_000, 100_000):
        with ResponseCache(emb, directory=tmp_path / str(n), max_size=n + 10) as cache:
            _fill(cache, n)
            assert len(cache) == n
            results[n] = _ping(cache)
    (t_small, mb_small, out_small), (t_big, mb_big, out_big) = results[1_000], results[100_000]
    assert getattr(out_big, "status", None) == "healthy" == getattr(out_small, "status", None)
    assert t_big < 0.5, f"ping took {t_big:.3f} s at 100k entries"
    assert t_big < 3 * t_small + 0.05
    assert mb_big < 20 and mb_big < 2 * mb_small + 1, f"ping peaked at {mb_big:.1f} MB at 100k entries"
    # the walk sees the backend's small fields, not its entries
    assert "question number 99999" not in str(out_big)
