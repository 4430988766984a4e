"""The response cache for LiteLLM: one cache shared by the SDK ``Router`` and the proxy.

LiteLLM's cache layer calls ``get_cache`` / ``set_cache`` of a cache backend with the request's
``messages``, ``model`` and parameters in ``kwargs`` (its own semantic caches read the prompt the
same way). :class:`CostRouterLiteLLMCache` is such a backend on :class:`ResponseCache`: the scope
comes from the model, parameters, system prompt, tools and earlier turns; only the last user
turn is embedded; the guard decides semantic hits. Install it with :func:`install`::

    from litellm_hooks.cache_hook import install
    install(ResponseCache.from_config(cfg.cache))      # litellm.cache now uses it

Only complete answers (``finish_reason`` stop, no tool calls) are stored; errors never reach
``set_cache``.

**The cascade.** With ``cache.enabled: true`` in ``costrouter.yaml``, :class:`CostRouterHooks`
builds the engine and installs this backend bound to its runtime (the proxy does the same when it
loads the hooks). An attempt on one of the configuration's tiers is then scoped to the
*cascade*, not to the tier: the lookup made before the first tier is called serves an answer
stored from any tier, so a question that once needed the premium tier costs nothing the second
time. LiteLLM's own write after each attempt is skipped for such attempts; the quality gate
stores the answer it accepted instead, with its tier, so an answer that failed its gate is never
cached. Sync calls read the cache but do not store (the sync gate sees only the answer's text).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from langchain_costrouter.core.cache import CacheScope, ResponseCache, query_of
from langchain_costrouter.core.usage import Usage
from litellm_hooks import _convert as cv
from litellm_hooks.routing_hook import ROUTE_METADATA_KEY

if TYPE_CHECKING:
    from litellm_hooks._runtime import HookRuntime

__all__ = ["CostRouterLiteLLMCache", "install", "uninstall", "use_backend"]

logger = logging.getLogger(__name__)

_PARAM_KEYS = (
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed", "n", "presence_penalty",
    "frequency_penalty", "logit_bias", "response_format", "tool_choice", "reasoning_effort", "logprobs", "top_logprobs",
)  # fmt: skip


def _backend_base() -> type[Any]:
    from litellm.caching.base_cache import BaseCache

    base: type[Any] = BaseCache
    return base


def _mark_hit(kwargs: Mapping[str, Any], kind: str, similarity: float) -> None:
    meta = kwargs.get("metadata")
    if isinstance(meta, dict):
        meta["semantic-similarity"] = similarity
        meta[cv.CACHE_HIT_KIND_KEY] = kind


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
        runtime: The hooks' runtime: attempts on its tiers are scoped to the cascade (see the
            module docstring) and stored by the quality gate, not by LiteLLM.
        entry_model: The model name that asks for task routing.
    """

    def __init__(
        self,
        cache: ResponseCache,
        *,
        namespace: str = "default",
        runtime: HookRuntime | None = None,
        entry_model: str = "costrouter",
    ) -> None:
        super().__init__()
        self.cache = cache
        self.namespace = namespace
        self.runtime = runtime
        self.entry_model = entry_model
        tier_params: set[str] = {"max_tokens"}
        if runtime is not None:
            for spec in (*runtime.config.tiers, *runtime.config.models):
                tier_params |= set(spec.model_kwargs)
        # Parameters a deployment sets itself differ between tiers; they are not the request's.
        self._tier_params = frozenset(tier_params)

    def is_cascade(self, kwargs: Mapping[str, Any]) -> bool:
        """Whether ``kwargs`` is an attempt on one of the bound runtime's tiers."""
        rt = self.runtime
        if rt is None or cv.is_internal(kwargs):
            return False
        tier = cv.tier_of(kwargs)
        return tier is not None and tier in rt.tiers and rt.owns(kwargs)

    def _cascade_model(self, kwargs: Mapping[str, Any], rt: HookRuntime) -> str:
        """The scope's model for a cascade attempt: the configuration and where its ladder starts.

        Every attempt of one request (and of a later request for the same route) shares it, so
        the lookup before the first tier finds what any tier stored; a request that asks for a
        tier directly ("premium") starts elsewhere and never gets a cheaper tier's answer.
        """
        request_id = cv.trace_id(kwargs) or cv.call_id(kwargs)
        state = rt.peek(request_id) if request_id else None
        if state is not None and state.decision is not None and state.decision.ladder:
            start = state.decision.ladder[0]
        else:
            carried = cv.metadata_of(kwargs).get(ROUTE_METADATA_KEY)
            ladder = carried.get("ladder") if isinstance(carried, Mapping) else None
            if ladder:
                start = str(ladder[0])
            else:  # sync calls: no deployment hook decided a route
                group = cv.model_group(kwargs)
                start = rt.entry_chain[0] if group == self.entry_model else str(cv.tier_of(kwargs))
        return f"costrouter-cascade:{rt.fingerprint}:{start}"

    def _scope(self, kwargs: Mapping[str, Any]) -> tuple[CacheScope, str] | None:
        messages = list(kwargs.get("messages") or [])
        query = query_of(messages)
        if not query:
            return None
        meta = kwargs.get("metadata") or {}
        tenant = kwargs.get("user") or (meta.get("tenant") if isinstance(meta, Mapping) else None)
        ns = f"{self.namespace}:{tenant}" if tenant else self.namespace
        params = {k: kwargs[k] for k in _PARAM_KEYS if kwargs.get(k) is not None}
        model = str(kwargs.get("model", ""))
        if self.runtime is not None and self.is_cascade(kwargs):
            model = self._cascade_model(kwargs, self.runtime)
            params = {k: v for k, v in params.items() if k not in self._tier_params}
        scope = CacheScope.build(
            namespace=ns,
            model=model,
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
        _mark_hit(kwargs, hit.kind, hit.similarity)
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
        if hit is None:
            return None
        _mark_hit(kwargs, hit.kind, hit.similarity)
        return json.loads(str(hit.message.get("response", "null")))

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
        """Stores a complete answer (tool calls, truncations and refusals are skipped).

        Cascade attempts are skipped: the quality gate stores what it accepts (:meth:`astore_accepted`).
        """
        if self.is_cascade(kwargs):
            return
        try:
            args = self._store_args(value, kwargs)
            if args is not None:
                self.cache.store(args.pop("scope"), args.pop("query"), args.pop("answer"), **args)
        except Exception:
            logger.warning("cache store failed", exc_info=True)

    async def async_set_cache(self, key: str, value: Any, **kwargs: Any) -> None:
        """Async :meth:`set_cache`."""
        if self.is_cascade(kwargs):
            return
        try:
            args = self._store_args(value, kwargs)
            if args is not None:
                await self.cache.astore(args.pop("scope"), args.pop("query"), args.pop("answer"), **args)
        except Exception:
            logger.warning("cache store failed", exc_info=True)

    async def astore_accepted(self, kwargs: Mapping[str, Any], response: Any, tier: str) -> None:
        """Stores an answer the quality gate accepted on ``tier``, under the cascade's scope (never raises)."""
        try:
            dump = getattr(response, "model_dump_json", None)
            raw = dump(exclude_unset=True) if callable(dump) else json.dumps(_as_dict(response))
            # the value LiteLLM itself writes, so that its cache read path decodes our hits
            args = self._store_args({"timestamp": time.time(), "response": raw}, kwargs)
            if args is not None:
                args["tier"] = tier
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
    subclass adds the model (and the deployment's ``model_info``, which makes an attempt on a
    tier a cascade lookup), the user, the tools and the sampling parameters.
    """

    class _ScopedCache(cache_cls):  # type: ignore[misc]
        @staticmethod
        def _get_safe_cache_lookup_kwargs(kwargs: Mapping[str, object]) -> dict[str, object]:
            out: dict[str, object] = dict(cache_cls._get_safe_cache_lookup_kwargs(kwargs))
            for k in ("model", "model_info", "user", "tools", *_PARAM_KEYS):
                if k in kwargs:
                    out[k] = kwargs[k]
            return out

    return _ScopedCache


def install(
    cache: ResponseCache, *, namespace: str = "default", runtime: HookRuntime | None = None
) -> CostRouterLiteLLMCache:
    """Makes ``litellm.cache`` use ``cache`` (for the SDK, the Router and the proxy)."""
    return use_backend(CostRouterLiteLLMCache(cache, namespace=namespace, runtime=runtime))


def use_backend(backend: CostRouterLiteLLMCache) -> CostRouterLiteLLMCache:
    """Makes ``litellm.cache`` use ``backend``; returns it."""
    import litellm
    from litellm.caching.caching import Cache, LiteLLMCacheType

    lc = _scoped_cache_class(Cache)(type=LiteLLMCacheType.LOCAL)
    lc.cache = backend
    litellm.cache = lc
    return backend


def uninstall(backend: CostRouterLiteLLMCache) -> None:
    """Clears ``litellm.cache`` if it still uses ``backend``."""
    import litellm

    if litellm.cache is not None and getattr(litellm.cache, "cache", None) is backend:
        litellm.cache = None
