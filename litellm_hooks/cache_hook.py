"""The response cache for LiteLLM: one cache shared by the SDK ``Router`` and the proxy.

LiteLLM's cache layer calls ``get_cache`` / ``set_cache`` of a cache backend with the request's
``messages``, ``model`` and parameters in ``kwargs`` (its own semantic caches read the prompt the
same way). :class:`CostRouterLiteLLMCache` is such a backend on :class:`ResponseCache`: the scope
comes from the model, parameters, system prompt, tools and earlier turns; only the last user
turn is embedded; the guard decides semantic hits. Install it with :func:`install`::

    from litellm_hooks.cache_hook import install
    install(ResponseCache.from_config(cfg.cache))      # litellm.cache now uses it

Only complete answers (``finish_reason`` stop, no tool calls) are stored; errors never reach
``set_cache``. In the proxy, ``litellm_settings: {cache: true}`` plus a callback module calling
:func:`install` at import time uses the same engine.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from langchain_costrouter.core.cache import CacheScope, ResponseCache, query_of
from langchain_costrouter.core.usage import Usage

__all__ = ["CostRouterLiteLLMCache", "install"]

logger = logging.getLogger(__name__)

_PARAM_KEYS = (
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed", "n", "presence_penalty",
    "frequency_penalty", "logit_bias", "response_format", "tool_choice", "reasoning_effort", "logprobs", "top_logprobs",
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
        namespace: Default namespace; a request's ``user`` (or ``metadata.tenant``) refines it.
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
        meta = kwargs.get("metadata") or {}
        tenant = kwargs.get("user") or (meta.get("tenant") if isinstance(meta, Mapping) else None)
        ns = f"{self.namespace}:{tenant}" if tenant else self.namespace
        params = {k: kwargs[k] for k in _PARAM_KEYS if kwargs.get(k) is not None}
        scope = CacheScope.build(
            namespace=ns,
            model=str(kwargs.get("model", "")),
            messages=messages,
            params=params,
            tools=list(kwargs.get("tools") or []),
        )
        return scope, query

    def get_cache(self, key: str, **kwargs: Any) -> Any:
        """The cached response for the request in ``kwargs`` (``None`` on a miss)."""
        try:
            sq = self._scope(kwargs)
            if sq is None:
                return None
            hit = self.cache.lookup(*sq)
        except Exception:
            logger.warning("cache lookup failed; treating as a miss", exc_info=True)
            return None
        if hit is None:
            return None
        if isinstance(kwargs.get("metadata"), dict):
            kwargs["metadata"]["semantic-similarity"] = hit.similarity
        return json.loads(str(hit.message.get("response", "null")))

    async def async_get_cache(self, key: str, **kwargs: Any) -> Any:
        """Async :meth:`get_cache`."""
        sq = self._scope(kwargs)
        if sq is None:
            return None
        try:
            hit = await self.cache.alookup(*sq)
        except Exception:
            logger.warning("cache lookup failed; treating as a miss", exc_info=True)
            return None
        return None if hit is None else json.loads(str(hit.message.get("response", "null")))

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
        usage = Usage.from_openai(resp.get("usage"))
        return {
            "scope": sq[0],
            "query": sq[1],
            "answer": str(msg.get("content") or ""),
            "model": str(resp.get("model") or kwargs.get("model", "")),
            "usage": usage,
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
        """Async :meth:`set_cache`."""
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
    subclass adds the model, the user, the tools and the sampling parameters.
    """

    class _ScopedCache(cache_cls):  # type: ignore[misc]
        @staticmethod
        def _get_safe_cache_lookup_kwargs(kwargs: Mapping[str, object]) -> dict[str, object]:
            out: dict[str, object] = dict(cache_cls._get_safe_cache_lookup_kwargs(kwargs))
            for k in ("model", "user", "tools", *_PARAM_KEYS):
                if k in kwargs:
                    out[k] = kwargs[k]
            return out

    return _ScopedCache


def install(cache: ResponseCache, *, namespace: str = "default") -> CostRouterLiteLLMCache:
    """Makes ``litellm.cache`` use ``cache`` (for the SDK, the Router and the proxy)."""
    import litellm
    from litellm.caching.caching import Cache, LiteLLMCacheType

    backend = CostRouterLiteLLMCache(cache, namespace=namespace)
    lc = _scoped_cache_class(Cache)(type=LiteLLMCacheType.LOCAL)
    lc.cache = backend
    litellm.cache = lc
    return backend
