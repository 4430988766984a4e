"""LangChain adapters of the response cache.

- :class:`CostRouterLLMCache`: a ``BaseCache`` (sync and async) for ``set_llm_cache``. The
  prompt LangChain passes (serialized messages) is split into scope (system prompt, earlier
  turns) and query (last user turn); ``llm_string`` (model + parameters + bound tools) is part
  of the scope *and* checked again on every hit, as ``RedisSemanticCache.lookup`` does.
- :class:`LangChainEmbedder`: any LangChain ``Embeddings`` as the cache's embedder (MiniLM via
  ``HuggingFaceEmbeddings``, an API model with ``priced_model`` set so its cost is recorded).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.embeddings import Embeddings
from langchain_core.load import dumps, loads
from langchain_core.messages import BaseMessage, convert_to_openai_messages
from langchain_core.outputs import ChatGeneration, Generation

from langchain_costrouter.core.cache import CacheScope, ResponseCache, query_of
from langchain_costrouter.core.embeddings import Vectors, unit_rows
from langchain_costrouter.core.usage import Usage

__all__ = ["CostRouterLLMCache", "LangChainEmbedder"]

logger = logging.getLogger(__name__)


class LangChainEmbedder:
    """Adapts a LangChain ``Embeddings`` to the cache's :class:`Embedder` protocol.

    Args:
        embeddings: The LangChain embeddings object.
        name: Model identity (part of the store path; defaults to class + model name).
        dimension: Vector length (probed with one call when omitted).
        priced_model: A priced model name when calls cost money (recorded as overhead).
    """

    def __init__(
        self,
        embeddings: Embeddings,
        *,
        name: str | None = None,
        dimension: int | None = None,
        priced_model: str | None = None,
    ) -> None:
        self.embeddings = embeddings
        model = getattr(embeddings, "model", None) or getattr(embeddings, "model_name", None) or ""
        self.name = name or f"lc-{type(embeddings).__name__}-{model}".rstrip("-")
        self.priced_model = priced_model
        self.dimension = dimension if dimension is not None else len(embeddings.embed_query("dimension probe"))

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit-length vectors from ``embed_documents``."""
        return unit_rows(self.embeddings.embed_documents(list(texts)))


def _split_prompt(prompt: str) -> tuple[list[dict[str, Any]], str | None]:
    """OpenAI-format messages and the last user text of a LangChain cache prompt."""
    try:
        obj = loads(prompt, allowed_objects="messages")
    except Exception:
        obj = None
    if isinstance(obj, list) and obj and all(isinstance(m, BaseMessage) for m in obj):
        msgs = [dict(m) for m in convert_to_openai_messages(obj)]
        return msgs, query_of(msgs)
    return [{"role": "user", "content": prompt}], prompt  # a plain LLM prompt


def _llm_key(llm_string: str) -> str:
    return hashlib.sha256(llm_string.encode("utf-8")).hexdigest()[:32]


class CostRouterLLMCache(BaseCache):
    """``set_llm_cache(CostRouterLLMCache(ResponseCache(...)))``: exact + guarded semantic hits.

    Only single, complete, non-tool-call answers are stored; a hit is served only when its
    stored ``llm_string`` equals the caller's.

    Args:
        cache: The engine.
        namespace: Tenant/user namespace of this LangChain app.
    """

    def __init__(self, cache: ResponseCache, *, namespace: str = "default") -> None:
        self.cache = cache
        self.namespace = namespace

    def _scope(self, prompt: str, llm_string: str) -> tuple[CacheScope, str | None]:
        messages, query = _split_prompt(prompt)
        scope = CacheScope.build(namespace=self.namespace, model=_llm_key(llm_string), messages=messages)
        return scope, query

    def _rebuild(self, hit: Any, llm_string: str) -> RETURN_VAL_TYPE | None:
        stored = hit.message.get("llm_string")
        if stored != llm_string:  # mirror RedisSemanticCache: never serve another model's answer
            return None
        raw = hit.message.get("generations")
        try:
            gens = loads(raw, allowed_objects="core") if isinstance(raw, str) else None
        except Exception:
            logger.warning("unreadable cached generations; treating as a miss", exc_info=True)
            return None
        if not isinstance(gens, list):
            return None
        for g in gens:
            if isinstance(g, ChatGeneration):
                meta = dict(g.message.response_metadata or {})
                meta |= {"cache_hit": hit.kind, "cache_similarity": round(hit.similarity, 4)}
                g.message.response_metadata = meta
        return gens

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """A cached answer for this prompt and model configuration, or ``None``."""
        scope, query = self._scope(prompt, llm_string)
        if query is None:
            return None
        hit = self.cache.lookup(scope, query)
        return None if hit is None else self._rebuild(hit, llm_string)

    async def alookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """Async :meth:`lookup`."""
        scope, query = self._scope(prompt, llm_string)
        if query is None:
            return None
        hit = await self.cache.alookup(scope, query)
        return None if hit is None else self._rebuild(hit, llm_string)

    def _store_args(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> dict[str, Any] | None:
        scope, query = self._scope(prompt, llm_string)
        if query is None or len(return_val) != 1:
            return None
        gen: Generation = return_val[0]
        kwargs: dict[str, Any] = {"gate_passed": True, "model": llm_string[:200]}
        if isinstance(gen, ChatGeneration):
            msg = gen.message
            meta = msg.response_metadata or {}
            kwargs["model"] = str(meta.get("model_name") or kwargs["model"])
            kwargs["finish_reason"] = meta.get("finish_reason")
            kwargs["tool_calls"] = list(getattr(msg, "tool_calls", None) or [])
            kwargs["refusal"] = (msg.additional_kwargs or {}).get("refusal")
            usage = getattr(msg, "usage_metadata", None)
            kwargs["usage"] = Usage.from_langchain(usage) if usage else Usage()
        else:
            kwargs["finish_reason"] = (gen.generation_info or {}).get("finish_reason")
        kwargs["message"] = {"llm_string": llm_string, "generations": dumps(list(return_val))}
        return {"scope": scope, "query": query, "answer": gen.text, **kwargs}

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        """Stores a complete answer (errors never reach here; tool calls and partials are skipped)."""
        args = self._store_args(prompt, llm_string, return_val)
        if args is not None:
            self.cache.store(args.pop("scope"), args.pop("query"), args.pop("answer"), **args)

    async def aupdate(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        """Async :meth:`update`."""
        args = self._store_args(prompt, llm_string, return_val)
        if args is not None:
            await self.cache.astore(args.pop("scope"), args.pop("query"), args.pop("answer"), **args)

    def clear(self, **kwargs: Any) -> None:
        """Drops this namespace's entries (``namespace=...`` drops another one)."""
        self.cache.invalidate(str(kwargs.get("namespace", self.namespace)))

    async def aclear(self, **kwargs: Any) -> None:
        """Async :meth:`clear`."""
        self.clear(**kwargs)
