"""The response cache for plain LiteLLM calls (outside the cascade).

The cascade caches inside its own pipeline (``cache:`` in ``costrouter.yaml``); this module is for
apps that want the same guarded cache on their *other* LiteLLM calls. LiteLLM's cache layer calls
``get_cache`` / ``set_cache`` of a cache backend with the request in ``kwargs``;
:class:`CostRouterLiteLLMCache` is such a backend on :class:`ResponseCache` (scope: the model,
the tenant, the answer parameters, system prompt, tools and earlier turns; only the last user turn
is embedded; the guard decides semantic hits). Install it with :func:`install`::

    from litellm_hooks.cache_hook import install
    install(ResponseCache.from_config(cfg.cache))      # litellm.cache now uses it

Only complete answers (``finish_reason`` stop, no tool calls) are stored; errors never reach
``set_cache``. A cache failure is logged and treated as a miss, never raised into a request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from langchain_costrouter.core.cache import CacheScope, ResponseCache, query_of
from langchain_costrouter.core.types import answer_params, tenant_of
from langchain_costrouter.core.usage import Usage
from litellm_hooks import _convert as cv

__all__ = ["CACHE_HIT_KIND_KEY", "CostRouterLiteLLMCache", "install", "uninstall"]

logger = logging.getLogger(__name__)

CACHE_HIT_KIND_KEY = "costrouter_cache_hit"
"""Request metadata key set on a hit: ``exact`` or ``semantic``."""

# LiteLLM hands a cache backend its own bookkeeping arguments too (call ids, logging objects):
# the key takes the OpenAI parameters that can change an answer, as LiteLLM's own caches do.
_ANSWER_PARAMS = (
    "temperature", "top_p", "n", "stop", "max_tokens", "max_completion_tokens", "presence_penalty",
    "frequency_penalty", "logit_bias", "seed", "tool_choice", "parallel_tool_calls", "logprobs", "top_logprobs",
    "reasoning_effort", "modalities", "audio", "prediction", "verbosity", "web_search_options", "service_tier",
    "functions", "function_call", "thinking",
)  # fmt: skip


def _backend_base() -> type[Any]:
    from litellm.caching.base_cache import BaseCache

    base: type[Any] = BaseCache
    return base


def _as_dict(value: Any) -> dict[str, Any] | None:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        try:
            obj = json.loads(value)
        except json.JSONDecodeError:
            return None
        return obj if isinstance(obj, dict) else None
    dump = getattr(value, "model_dump", None)
    return dump() if callable(dump) else None


class CostRouterLiteLLMCache(_backend_base()):  # type: ignore[misc]
    """A LiteLLM cache backend serving guarded hits from :class:`ResponseCache`.

    Args:
        cache: The engine.
        namespace: The namespace; a request's tenant (metadata, proxy key or ``user``) refines it.
    """

    def __init__(self, cache: ResponseCache, *, namespace: str = "default") -> None:
        super().__init__()
        self.cache = cache
        self.namespace = namespace

    def _scope(self, kwargs: Mapping[str, Any]) -> tuple[CacheScope, str] | None:
        messages = list(kwargs.get("messages") or [])
        query = query_of(messages)
        if not query:
            return None
        user = kwargs.get("user")
        tenant = tenant_of(cv.metadata_of(kwargs), user=user if isinstance(user, str) else None, default="")
        params = answer_params({k: kwargs[k] for k in _ANSWER_PARAMS if k in kwargs})
        scope = CacheScope.build(
            namespace=f"{self.namespace}:{tenant}" if tenant else self.namespace,
            model=str(kwargs.get("model", "")),
            messages=messages,
            params=params,
            tools=list(kwargs.get("tools") or []),
            response_format=kwargs.get("response_format"),
        )
        return scope, query

    def _found(self, kwargs: Mapping[str, Any], hit: Any) -> Any:
        if hit is None:
            return None
        meta = kwargs.get("metadata")
        if isinstance(meta, dict):
            meta["semantic-similarity"] = hit.similarity
            meta[CACHE_HIT_KIND_KEY] = hit.kind
        return json.loads(str(hit.message.get("response", "null")))

    def get_cache(self, key: str, **kwargs: Any) -> Any:
        """The cached response for the request in ``kwargs`` (``None`` on a miss or a failure)."""
        try:
            sq = self._scope(kwargs)
            return None if sq is None else self._found(kwargs, self.cache.lookup(*sq))
        except Exception:
            logger.warning("cache lookup failed; treating as a miss", exc_info=True)
            return None

    async def async_get_cache(self, key: str, **kwargs: Any) -> Any:
        """Async :meth:`get_cache` (never raises either)."""
        try:
            sq = self._scope(kwargs)
            return None if sq is None else self._found(kwargs, await self.cache.alookup(*sq))
        except Exception:
            logger.warning("cache lookup failed; treating as a miss", exc_info=True)
            return None

    def _store_args(self, value: Any, kwargs: Mapping[str, Any]) -> dict[str, Any] | None:
        sq = self._scope(kwargs)
        data = _as_dict(value)
        if sq is None or data is None:
            return None
        resp = _as_dict(data.get("response")) or data  # litellm wraps {"timestamp", "response"}
        choices = resp.get("choices") or []
        if len(choices) != 1:
            return None
        choice = choices[0]
        msg = choice.get("message") or {}
        return {
            "scope": sq[0],
            "query": sq[1],
            "answer": str(msg.get("content") or ""),
            "model": str(resp.get("model") or kwargs.get("model", "")),
            "usage": Usage.from_openai(resp.get("usage")),
            "gate_passed": True,
            "finish_reason": choice.get("finish_reason"),
            "tool_calls": msg.get("tool_calls") or [],
            "refusal": msg.get("refusal"),
            "message": {"response": json.dumps(data, default=repr)},
        }

    def set_cache(self, key: str, value: Any, **kwargs: Any) -> None:
        """Stores a complete answer (tool calls, truncations and refusals are skipped)."""
        try:
            args = self._store_args(value, kwargs)
            if args is not None:
                self.cache.store(args.pop("scope"), args.pop("query"), args.pop("answer"), **args)
        except Exception:
            logger.warning("cache store failed", exc_info=True)

    async def async_set_cache(self, key: str, value: Any, **kwargs: Any) -> None:
        """Async :meth:`set_cache` (never raises either)."""
        try:
            args = self._store_args(value, kwargs)
            if args is not None:
                await self.cache.astore(args.pop("scope"), args.pop("query"), args.pop("answer"), **args)
        except Exception:
            logger.warning("cache store failed", exc_info=True)

    async def async_set_cache_pipeline(self, cache_list: list[tuple[str, Any]], **kwargs: Any) -> None:
        """Stores several answers."""
        for key, value in cache_list:
            await self.async_set_cache(key, value, **kwargs)

    async def disconnect(self) -> None:
        """Flushes the vector index."""
        self.cache.flush()


def _scoped_cache_class(cache_cls: type[Any]) -> type[Any]:
    """LiteLLM's ``Cache`` passing the scope's fields to a *sync* backend lookup too.

    LiteLLM 1.110 hands a sync ``get_cache`` only ``messages`` and ``metadata`` (the async
    path gets every argument), so a backend could not tell two models or tenants apart; this
    subclass passes the call's arguments through.
    """

    class _ScopedCache(cache_cls):  # type: ignore[misc]
        @staticmethod
        def _get_safe_cache_lookup_kwargs(kwargs: Mapping[str, object]) -> dict[str, object]:
            out: dict[str, object] = dict(cache_cls._get_safe_cache_lookup_kwargs(kwargs))
            for k in ("model", "user", "tools", "response_format", "metadata", *_ANSWER_PARAMS):
                if k in kwargs and k not in out:
                    out[k] = kwargs[k]
            return out

    return _ScopedCache


def install(cache: ResponseCache, *, namespace: str = "default") -> CostRouterLiteLLMCache:
    """Makes ``litellm.cache`` use ``cache`` (for plain ``litellm.completion`` calls and Routers)."""
    import litellm
    from litellm.caching.caching import Cache, LiteLLMCacheType

    backend = CostRouterLiteLLMCache(cache, namespace=namespace)
    lc = _scoped_cache_class(Cache)(type=LiteLLMCacheType.LOCAL)
    lc.cache = backend
    litellm.cache = lc
    return backend


def uninstall(backend: CostRouterLiteLLMCache) -> None:
    """Clears ``litellm.cache`` if it still uses ``backend``."""
    import litellm

    if litellm.cache is not None and getattr(litellm.cache, "cache", None) is backend:
        litellm.cache = None
