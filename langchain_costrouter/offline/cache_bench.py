"""``costrouter bench cache``: accuracy on labelled pairs and lookup latency at scale.

Accuracy: for each pair, ``a`` is stored (with an answer) in a scope of its own and ``b`` is
looked up through the real :class:`ResponseCache` (exact level, vector store, guard), so pairs
never interfere. The same pairs go through GPTCache's default similarity setup (its
``SearchDistanceEvaluation`` and ``Config`` threshold on the same embeddings, through
``gptcache.adapter.api.put/get``) in the same run.

Latency: the cache is filled with N synthetic entries in one scope (sentences generated from
templates, all distinct), then the lookup time of stored and unseen queries is measured.
"""

from __future__ import annotations

import logging
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from langchain_costrouter.core.cache.engine import ResponseCache
from langchain_costrouter.core.cache.entries import JudgeVerdict
from langchain_costrouter.core.cache.guard import GuardPolicy
from langchain_costrouter.core.cache.scope import CacheScope
from langchain_costrouter.core.cache.store import disable_runtime_install
from langchain_costrouter.core.embeddings import Embedder, estimate_tokens
from langchain_costrouter.core.pricing import ModelPrice
from langchain_costrouter.core.types import OverheadCall
from langchain_costrouter.core.usage import Usage
from langchain_costrouter.offline.cache_calibration import LabelledPair

__all__ = ["bench_gptcache_default", "bench_judge", "bench_latency", "bench_pairs", "synthetic_queries"]

logger = logging.getLogger(__name__)


def _metrics(hits: Sequence[bool], pairs: Sequence[LabelledPair]) -> dict[str, Any]:
    tp = sum(h for h, p in zip(hits, pairs, strict=True) if p.same_answer)
    fp = sum(h for h, p in zip(hits, pairs, strict=True) if not p.same_answer)
    pos = sum(p.same_answer for p in pairs)
    neg = len(pairs) - pos
    by_cat: dict[str, Counter[str]] = {}
    for h, p in zip(hits, pairs, strict=True):
        c = by_cat.setdefault(p.category or "-", Counter())
        c["n"] += 1
        c["hits"] += int(h)
    return {
        "pairs": len(pairs),
        "positives": pos,
        "negatives": neg,
        "recall": tp / pos if pos else None,
        "false_hit_rate": fp / neg if neg else None,
        "precision": tp / (tp + fp) if tp + fp else None,
        "false_hits": fp,
        "by_category": {k: {"n": v["n"], "hit_rate": v["hits"] / v["n"]} for k, v in sorted(by_cat.items())},
    }


def bench_pairs(
    pairs: Sequence[LabelledPair], embedder: Embedder, *, policy: GuardPolicy | None = None
) -> dict[str, Any]:
    """Recall / false-hit rate / precision of the cache on ``pairs`` (each pair in its own scope)."""
    hits: list[bool] = []
    reasons: Counter[str] = Counter()
    with ResponseCache(embedder, policy=policy, max_size=max(10, 2 * len(pairs))) as cache:
        for i, p in enumerate(pairs):
            # each pair in its own namespace; a conversation's earlier turns are part of its scope
            cache.store(p.scope("a", f"pair-{i}"), p.a, f"answer {i}", model="bench", gate_passed=True)
            hit = cache.lookup(p.scope("b", f"pair-{i}"), p.b)
            hits.append(hit is not None)
        reasons.update(cache.stats.rejections)
        used = cache.policy
    out = _metrics(hits, pairs)
    out["policy"] = used.to_dict()
    out["rejections"] = dict(reasons)
    return out


class _SimulatedJudge:
    """A judge that knows each pair's label and is wrong with probability ``error`` (seeded).

    It stands in for a cheap-tier LLM judge (none can be called offline); its calls are priced
    like one: the prompt's tokens and a one-token reply.
    """

    def __init__(self, labels: dict[tuple[str, str], bool], error: float, seed: int = 0) -> None:
        self.labels = labels
        self.error = error
        self.rng = random.Random(seed)
        self.calls = 0
        self.input_tokens = 0

    def judge(self, query: str, cached_query: str, answer: str = "") -> JudgeVerdict:
        self.calls += 1
        tokens = 120 + estimate_tokens([query, cached_query, answer])  # the prompt template is ~120 tokens
        self.input_tokens += tokens
        same = self.labels.get((cached_query, query), False) != (self.rng.random() < self.error)
        return JudgeVerdict(same, OverheadCall("judge-sim", Usage(tokens, 1), "judge"))


def bench_judge(
    pairs: Sequence[LabelledPair],
    embedder: Embedder,
    *,
    policy: GuardPolicy | None = None,
    error: float = 0.05,
    judge_price: ModelPrice | None = None,
    premium_price: ModelPrice | None = None,
    answer_usage: Usage | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The cache with a simulated judge on ``pairs``: recall, false hits, judge cost and net saving.

    Every candidate the guard leaves undecided (a question over its budget that the verifier would
    serve, a verifier score near its threshold) goes to the judge. The saving of a hit is
    ``answer_usage`` on the premium model; the judge's cost is its prompt and reply on the cheap
    model. Defaults: a gpt-4o-mini-priced judge ($0.15 / $0.60 per million tokens), a gpt-4o-priced
    premium answer ($2.50 / $10.00) of 200 input and 300 output tokens.
    """
    judge_price = judge_price or ModelPrice.per_million(0.15, 0.60)
    premium_price = premium_price or ModelPrice.per_million(2.50, 10.00)
    answer_usage = answer_usage or Usage(200, 300)
    labels = {(p.a, p.b): p.same_answer for p in pairs}
    judge = _SimulatedJudge(labels, error, seed)
    hits: list[bool] = []
    with ResponseCache(embedder, policy=policy, judge=judge, max_size=max(10, 2 * len(pairs))) as cache:
        for i, p in enumerate(pairs):
            cache.store(p.scope("a", f"pair-{i}"), p.a, f"answer {i}", model="bench", gate_passed=True)
            hits.append(cache.lookup(p.scope("b", f"pair-{i}"), p.b) is not None)
    out = _metrics(hits, pairs)
    served = sum(hits)
    judge_cost = judge_price.cost(Usage(judge.input_tokens, judge.calls)).total_usd
    saving = served * premium_price.cost(answer_usage).total_usd
    out |= {
        "judge_error": error,
        "judge_calls": judge.calls,
        "judge_cost_usd": judge_cost,
        "hits_saving_usd": saving,
        "net_saving_usd": saving - judge_cost,
    }
    return out


def bench_gptcache_default(pairs: Sequence[LabelledPair], embedder: Embedder) -> dict[str, Any]:
    """The same pairs through GPTCache's default similarity setup (sqlite + faiss, distance evaluation)."""
    hits: list[bool] = []
    with tempfile.TemporaryDirectory(prefix="gptcache-bench-") as tmp:
        cache, dm = _default_gptcache(embedder, tmp, max_size=10 * len(pairs) + 10)
        from gptcache.adapter import api

        for i, p in enumerate(pairs):
            api.put(p.a, f"answer {i}", cache_obj=cache)
            hits.append(api.get(p.b, cache_obj=cache) is not None)
            live = dm.s.get_ids(deleted=False)
            dm.s.mark_deleted(live)
            dm.v.delete(live)
            dm.s.clear_deleted_data()
        _close_quietly(dm)
    out = _metrics(hits, pairs)
    out["setup"] = (
        "gptcache 0.1.44: sqlite,faiss + SearchDistanceEvaluation(max_distance=4) + Config(similarity_threshold=0.8)"
    )
    return out


_SUBJECTS = (
    "my account", "the invoice", "a refund", "the delivery", "my password", "the subscription", "a booking",
    "the warranty", "my order", "the app", "a parcel", "the meter", "my card", "the report", "the team plan",
    "a ticket", "the printer", "my profile", "the database", "a payment",
)  # fmt: skip
_VERBS = (
    "cancel", "update", "check", "change", "reset", "track", "export", "renew", "transfer", "share",
    "delete", "restore", "upgrade", "verify", "schedule", "pause", "download", "print", "approve", "configure",
)  # fmt: skip
_TAILS = (
    "before {n} pm", "for order {n}", "after {n} days", "with {n} users", "in region {n}", "on floor {n}",
    "for invoice number {n}", "within {n} hours", "for {n} items", "on version {n}",
)  # fmt: skip
_FRAMES = (
    "How do I {v} {s} {t}?",
    "Can you {v} {s} {t}?",
    "What happens if I {v} {s} {t}?",
    "Why can't I {v} {s} {t}?",
)


def synthetic_queries(n: int, *, seed: int = 0) -> list[str]:
    """``n`` distinct template questions ("How do I renew my card for order 4821?")."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        q = rng.choice(_FRAMES).format(
            v=rng.choice(_VERBS), s=rng.choice(_SUBJECTS), t=rng.choice(_TAILS).format(n=rng.randint(1, 99_999))
        )
        if q not in seen:
            seen.add(q)
            out.append(q)
    return out


def _percentiles(samples: list[float]) -> dict[str, float]:
    arr = np.asarray(samples) * 1000.0
    return {"p50_ms": float(np.percentile(arr, 50)), "p99_ms": float(np.percentile(arr, 99)), "n": len(samples)}


def bench_latency(
    embedder: Embedder,
    sizes: Sequence[int] = (10_000, 100_000),
    *,
    queries: int = 1000,
    policy: GuardPolicy | None = None,
    gptcache_baseline: bool = True,
    progress: Callable[[str], None] | None = None,
    redis_url: str | None = None,
) -> dict[str, Any]:
    """Lookup latency (in process) of the cache filled with each of ``sizes`` entries.

    Half the timed queries are stored ones (exact hits), half are unseen (semantic path:
    embedding, HNSW search, guard). With ``gptcache_baseline`` GPTCache's own ``get`` on its
    flat faiss + sqlite store is timed on the same entries. With ``redis_url`` the same entries
    and queries also go through the shared store (``cache.backend: redis``, keys under a random
    prefix, deleted afterwards), and the start of a second replica (loading its mirror) is timed.
    """
    say = progress or (lambda _m: None)
    out: dict[str, Any] = {}
    scope = CacheScope(namespace="bench", model="bench")
    for size in sizes:
        texts = synthetic_queries(size + queries, seed=size)
        stored, unseen = texts[:size], texts[size:]
        rng = random.Random(1)
        probe = [rng.choice(stored) for _ in range(queries // 2)] + unseen[: queries - queries // 2]
        rng.shuffle(probe)
        with tempfile.TemporaryDirectory(prefix="cache-bench-") as tmp:
            say(f"filling the cache with {size} entries")
            cache = ResponseCache(embedder, directory=Path(tmp), policy=policy, max_size=size + 10)
            t0 = time.perf_counter()
            cache.bulk_load([(scope, q, f"answer to {q}") for q in stored], model="bench")
            fill_s = time.perf_counter() - t0
            for q in probe[:50]:  # warm-up
                cache.lookup(scope, q)
            res: dict[str, Any] = {**_timed_lookups(cache, scope, probe), "fill_s": fill_s}
            cache.close()
            if redis_url:
                say(f"timing the shared Redis store at {size} entries")
                res["redis"] = _redis_latency(
                    embedder, stored, probe, scope, url=redis_url, policy=policy, tmp=Path(tmp) / "r"
                )
            if gptcache_baseline:
                say(f"timing GPTCache's default get() at {size} entries")
                res["gptcache_default_get"] = _gptcache_latency(embedder, stored, probe[:200], Path(tmp) / "g")
            out[str(size)] = res
    return out


def _timed_lookups(cache: ResponseCache, scope: CacheScope, probe: Sequence[str]) -> dict[str, Any]:
    """Lookup times of ``probe``: all, exact hits, and the rest (the semantic path)."""
    exact_t: list[float] = []
    other_t: list[float] = []
    for q in probe:
        t = time.perf_counter()
        hit = cache.lookup(scope, q)
        (exact_t if hit is not None and hit.kind == "exact" else other_t).append(time.perf_counter() - t)
    return {
        "all": _percentiles(exact_t + other_t),
        "exact_hits": _percentiles(exact_t),
        "semantic_path": _percentiles(other_t),
    }


def _redis_latency(
    embedder: Embedder,
    stored: list[str],
    probe: list[str],
    scope: CacheScope,
    *,
    url: str,
    policy: GuardPolicy | None,
    tmp: Path,
) -> dict[str, Any]:
    """The shared store: fill time, lookups of one replica, start of a second one (mirror load)."""
    import secrets

    import redis

    from langchain_costrouter.core.cache.redis_store import redis_store_factory
    from langchain_costrouter.core.config import CacheConfig

    prefix = f"costrouter-bench:{secrets.token_hex(6)}"
    cfg = CacheConfig(backend="redis", redis_url=url, redis_prefix=prefix, max_size=len(stored) + 10)
    opts: dict[str, Any] = {"policy": policy, "max_size": len(stored) + 10}
    try:
        with ResponseCache(embedder, directory=tmp / "a", store=redis_store_factory(cfg), **opts) as cache:
            t0 = time.perf_counter()
            cache.bulk_load([(scope, q, f"answer to {q}") for q in stored], model="bench")
            fill_s = time.perf_counter() - t0
            for q in probe[:50]:  # warm-up
                cache.lookup(scope, q)
            first = _timed_lookups(cache, scope, probe)
        t0 = time.perf_counter()
        with ResponseCache(embedder, directory=tmp / "b", store=redis_store_factory(cfg), **opts) as second:
            start_s = time.perf_counter() - t0
            loaded = len(second)
        return {"fill_s": fill_s, **first, "replica_start_s": start_s, "replica_loaded": loaded}
    finally:
        client = redis.Redis.from_url(url)
        for keys in _chunks(list(client.scan_iter(match=f"{prefix}:*", count=10_000)), 10_000):
            client.delete(*keys)
        client.close()


def _chunks(items: list[Any], n: int) -> list[list[Any]]:
    return [items[i : i + n] for i in range(0, len(items), n)]


def _default_gptcache(embedder: Embedder, data_dir: str, *, max_size: int) -> tuple[Any, Any]:
    """GPTCache's default similarity setup (sqlite + faiss, distance evaluation) in ``data_dir``.

    Returns:
        The ``Cache`` and its data manager (close it with :func:`_close_quietly`).
    """
    disable_runtime_install()
    from gptcache import Cache, Config
    from gptcache.manager import manager_factory
    from gptcache.processor.pre import get_prompt
    from gptcache.similarity_evaluation.distance import SearchDistanceEvaluation

    dm = manager_factory(
        "sqlite,faiss",
        data_dir=data_dir,
        vector_params={"dimension": embedder.dimension},
        eviction_params={"max_size": max_size},
    )
    cache = Cache()
    cache.init(
        pre_embedding_func=get_prompt,
        embedding_func=lambda text, **_: embedder.embed([text])[0],
        data_manager=dm,
        similarity_evaluation=SearchDistanceEvaluation(),
        config=Config(),
    )
    return cache, dm


def _gptcache_latency(embedder: Embedder, stored: list[str], probe: list[str], tmp: Path) -> dict[str, float]:
    cache, dm = _default_gptcache(embedder, str(tmp), max_size=len(stored) + 10)
    from gptcache.adapter import api

    for start in range(0, len(stored), 5000):
        chunk = stored[start : start + 5000]
        vecs = embedder.embed(chunk)
        dm.import_data(chunk, [f"answer to {q}" for q in chunk], list(vecs), [None] * len(chunk))
    times = []
    for q in probe:
        t = time.perf_counter()
        api.get(q, cache_obj=cache)
        times.append(time.perf_counter() - t)
    _close_quietly(dm)
    return _percentiles(times)


def _close_quietly(dm: Any) -> None:
    """Closes a GPTCache data manager; its atexit hook (registered by ``Cache.init``) becomes a no-op."""
    dm.close()
    dm.close = lambda: None
