"""Tier calls to OpenAI-compatible endpoints with the ``openai`` SDK itself (the cascade's fast path).

A tier with an ``api_base`` (vLLM, Ollama, another LiteLLM proxy, any OpenAI-compatible server)
or an ``openai/`` model speaks the OpenAI protocol: the cascade calls it with a cached
``openai.OpenAI`` / ``AsyncOpenAI`` client, as ``ChatCostRouter``'s ``ChatOpenAI`` does, instead of
going through a second ``litellm.completion`` inside the cascade's own LiteLLM call (which costs
about 5 ms of CPU per tier call on top). Other providers go through LiteLLM (:mod:`.handler`).
Parameters the SDK does not name are sent in ``extra_body``, as LiteLLM would.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from functools import cache
from typing import Any

from langchain_costrouter.core.config import TierSpec
from langchain_costrouter.core.pipeline import CallTier
from langchain_costrouter.core.types import Completion
from langchain_costrouter.core.usage import Usage
from litellm_hooks import _convert as cv
from litellm_hooks._client import LOCAL_KEY

__all__ = ["DirectClients", "collect_chunks", "is_openai_compatible"]


def is_openai_compatible(spec: TierSpec) -> bool:
    """Whether the tier is an OpenAI-compatible endpoint the ``openai`` SDK can call as is."""
    return spec.api_base is not None or spec.model.startswith("openai/")


@cache
def _named_params() -> frozenset[str]:
    from openai.resources.chat.completions import Completions

    return frozenset(inspect.signature(Completions.create).parameters) - {"self"}


def _arguments(effect: CallTier, *, stream: bool, logprobs: bool) -> dict[str, Any]:
    spec = effect.step.tier.spec
    base = {"max_tokens": spec.max_tokens, **spec.model_kwargs}
    params = cv.tier_params(effect.request, base, logprobs=logprobs, stream=stream)
    named = _named_params()
    out = {k: v for k, v in params.items() if k in named}
    extra = {k: v for k, v in params.items() if k not in named}
    if extra:
        out["extra_body"] = extra
    out["model"] = spec.provider_model
    out["messages"] = [dict(m) for m in effect.messages]
    out["timeout"] = spec.timeout_s
    return out


class DirectClients:
    """One ``openai`` client per tier, built on first use.

    Async clients are kept per event loop: their connections belong to the loop that opened
    them, and a script may run several loops (``asyncio.run`` in a loop).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sync: dict[str, Any] = {}
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = weakref.WeakKeyDictionary()

    def _client(self, spec: TierSpec, *, is_async: bool) -> Any:
        import openai

        with self._lock:
            store = self._async.setdefault(asyncio.get_running_loop(), {}) if is_async else self._sync
            client = store.get(spec.name)
            if client is None:
                key = spec.resolve_api_key()
                kwargs: dict[str, Any] = {
                    "api_key": key.get_secret_value() if key is not None else LOCAL_KEY,
                    "max_retries": 0,  # the cascade retries, recording every attempt
                }
                if spec.api_base is not None:
                    kwargs["base_url"] = spec.api_base
                client = (openai.AsyncOpenAI if is_async else openai.OpenAI)(**kwargs)
                store[spec.name] = client
            return client

    def call(self, effect: CallTier, *, logprobs: bool) -> Completion:
        client = self._client(effect.step.tier.spec, is_async=False)
        response = client.chat.completions.create(**_arguments(effect, stream=False, logprobs=logprobs))
        return cv.completion_from_response(response, model=effect.step.tier.model)

    async def acall(self, effect: CallTier, *, logprobs: bool) -> Completion:
        client = self._client(effect.step.tier.spec, is_async=True)
        response = await client.chat.completions.create(**_arguments(effect, stream=False, logprobs=logprobs))
        return cv.completion_from_response(response, model=effect.step.tier.model)

    def stream(self, effect: CallTier, *, logprobs: bool) -> Iterator[Any]:
        client = self._client(effect.step.tier.spec, is_async=False)
        yield from client.chat.completions.create(**_arguments(effect, stream=True, logprobs=logprobs))

    async def astream(self, effect: CallTier, *, logprobs: bool) -> AsyncIterator[Any]:
        client = self._client(effect.step.tier.spec, is_async=True)
        async for chunk in await client.chat.completions.create(**_arguments(effect, stream=True, logprobs=logprobs)):
            yield chunk


def collect_chunks(chunks: Sequence[Any], *, model: str) -> Completion:
    """The answer OpenAI-format stream chunks make up (text, tool calls, finish reason, usage)."""
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish: str | None = None
    usage = Usage()
    for chunk in chunks:
        if cv.get(chunk, "usage") is not None:
            usage = cv.usage_of(chunk)
        for choice in cv.get(chunk, "choices") or ():
            finish = cv.get(choice, "finish_reason") or finish
            delta = cv.get(choice, "delta")
            content = cv.get(delta, "content")
            if isinstance(content, str):
                text.append(content)
            for tc in cv.get(delta, "tool_calls") or ():
                slot = calls.setdefault(int(cv.get(tc, "index") or 0), {"id": None, "name": "", "arguments": ""})
                fn = cv.get(tc, "function")
                slot["id"] = cv.get(tc, "id") or slot["id"]
                slot["name"] += cv.get(fn, "name") or ""
                slot["arguments"] += cv.get(fn, "arguments") or ""
    tool_calls: tuple[Mapping[str, Any], ...] = tuple(
        {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"] or "{}"}}
        for _, c in sorted(calls.items())
    )
    return Completion(
        text="".join(text),
        model=model,
        usage=usage,
        tool_calls=tool_calls,
        finish_reason=finish,
        raw=None,
    )
