"""Safe response cache: exact level, then a semantic level on GPTCache behind a false-hit guard.

Public API::

    cache = ResponseCache.from_config(cfg.cache, accountant=acct, clients=clients)
    scope = cache_scope(request, ladder=[t.model for t in ladder], namespace=cfg.cache.namespace)
    found = cache.find(scope, request.last_user_text)         # CacheLookup: .hit / .shadow
    if found.hit:                                             # serve it
        record_cache_hit(accountant, found.hit, request_id=request.request_id)
    else:                                                     # answer fresh, then
        cache.store(scope, request.last_user_text, text, model=..., tier=..., usage=..., gate_passed=True)
        cache.observe_shadow(found.shadow, text)              # shadow / auto modes
"""

from __future__ import annotations

from langchain_costrouter.core.cache.admission import answer_problem, refuse_reason
from langchain_costrouter.core.cache.engine import ResponseCache
from langchain_costrouter.core.cache.entries import (
    CacheEntry,
    CacheHit,
    CacheJudge,
    CacheLookup,
    CacheStats,
    JudgeVerdict,
    StoreOutcome,
    record_cache_hit,
)
from langchain_costrouter.core.cache.guard import FalseHitGuard, GuardDecision, GuardPolicy
from langchain_costrouter.core.cache.judges import CrossEncoderJudge, LLMJudge
from langchain_costrouter.core.cache.policy import default_policy, load_policy
from langchain_costrouter.core.cache.scope import CacheScope, cache_scope, normalize_query, query_of
from langchain_costrouter.core.cache.shadow import ShadowCandidate, ShadowStats
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
    "CacheLookup",
    "CacheScope",
    "CacheStats",
    "CallableEmbedder",
    "CrossEncoderJudge",
    "Embedder",
    "FalseHitGuard",
    "GuardDecision",
    "GuardPolicy",
    "JudgeVerdict",
    "LLMJudge",
    "MiniLMEmbedder",
    "PairVerifier",
    "ResponseCache",
    "ShadowCandidate",
    "ShadowStats",
    "StoreOutcome",
    "WordLlamaEmbedder",
    "answer_problem",
    "cache_scope",
    "default_policy",
    "load_policy",
    "make_embedder",
    "normalize_query",
    "query_of",
    "record_cache_hit",
    "refuse_reason",
]
