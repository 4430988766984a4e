"""Safe response cache: exact level, then a semantic level on GPTCache behind a false-hit guard.

Public API::

    cache = ResponseCache.from_config(cfg.cache)             # or ResponseCache(directory=...)
    scope = CacheScope.from_request(request, model="premium")
    hit = cache.lookup(scope, request.last_user_text)         # CacheHit | None
    cache.store(scope, request.last_user_text, text, model=..., tier=..., usage=..., gate_passed=True)
    record_cache_hit(accountant, hit, request_id=request.request_id)
"""

from __future__ import annotations

from langchain_costrouter.core.cache.engine import ResponseCache
from langchain_costrouter.core.cache.entries import (
    CacheEntry,
    CacheHit,
    CacheJudge,
    CacheStats,
    JudgeVerdict,
    StoreOutcome,
    record_cache_hit,
)
from langchain_costrouter.core.cache.guard import FalseHitGuard, GuardDecision, GuardPolicy
from langchain_costrouter.core.cache.policy import default_policy, load_policy
from langchain_costrouter.core.cache.scope import CacheScope, normalize_query, query_of
from langchain_costrouter.core.cache.verifier import PairVerifier
from langchain_costrouter.core.embeddings import (
    CallableEmbedder,
    Embedder,
    MiniLMEmbedder,
    WordLlamaEmbedder,
    make_embedder,
)

__all__ = [
    "CacheEntry",
    "CacheHit",
    "CacheJudge",
    "CacheScope",
    "CacheStats",
    "CallableEmbedder",
    "Embedder",
    "FalseHitGuard",
    "GuardDecision",
    "GuardPolicy",
    "JudgeVerdict",
    "MiniLMEmbedder",
    "PairVerifier",
    "ResponseCache",
    "StoreOutcome",
    "WordLlamaEmbedder",
    "default_policy",
    "load_policy",
    "make_embedder",
    "normalize_query",
    "query_of",
    "record_cache_hit",
]
