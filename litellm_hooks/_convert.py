"""LiteLLM's untyped call arguments and response objects to the core's shapes (the only place).

The cascade handler receives what LiteLLM gives a custom provider: ``messages``,
``optional_params`` (the OpenAI parameters of the call, ``tools`` and ``user`` included) and
``litellm_params`` (``metadata``: the caller's, plus the proxy's key owner and team). Every read
of those shapes, and every construction of a LiteLLM response or stream chunk, lives here.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_costrouter.core.cascade import CascadeResult
from langchain_costrouter.core.types import ChatRequest, Completion, answer_params
from langchain_costrouter.core.usage import Usage

__all__ = [
    "INTERNAL_FLAG",
    "completion_from_response",
    "generic_chunk",
    "get",
    "is_internal",
    "metadata_of",
    "request_of",
    "response_of",
    "tier_params",
    "usage_of",
]

INTERNAL_FLAG = "costrouter_internal"
"""Metadata flag of the calls the cascade makes itself (tiers, judges, compression)."""

_PROXY_DEFAULT_USER = "default_user_id"
_REQUEST_FIELDS = ("tools", "response_format", "user", "stream", "stream_options", "functions", "function_call")


def get(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` for mappings, ``obj.key`` for objects, ``default`` when absent."""
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def metadata_of(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The request metadata (merged from every place LiteLLM keeps it; a copy)."""
    out: dict[str, Any] = {}
    params = kwargs.get("litellm_params")
    params = params if isinstance(params, Mapping) else {}
    for source in (
        params.get("metadata"),
        params.get("litellm_metadata"),
        kwargs.get("litellm_metadata"),
        kwargs.get("metadata"),
    ):
        if isinstance(source, Mapping):
            out.update(source)
    # The proxy names requests made with its master key (no virtual key) "default_user_id": not a tenant.
    if out.get("user_api_key_user_id") == _PROXY_DEFAULT_USER:
        del out["user_api_key_user_id"]
    return out


def is_internal(kwargs: Mapping[str, Any]) -> bool:
    """Whether a call was made by the cascade itself (a tier, a judge), not by a user."""
    return bool(metadata_of(kwargs).get(INTERNAL_FLAG))


def request_of(
    messages: Sequence[Any],
    optional_params: Mapping[str, Any],
    *,
    request_id: str,
    tenant: str,
    key: str | None = None,
) -> ChatRequest:
    """The core request of a call the handler received (every answer parameter kept)."""
    msgs = tuple(dict(m) for m in messages if isinstance(m, Mapping))
    tools = optional_params.get("tools") or ()
    user = optional_params.get("user")
    params = answer_params({k: v for k, v in optional_params.items() if k not in _REQUEST_FIELDS})
    return ChatRequest(
        messages=msgs,
        request_id=request_id,
        tenant=tenant,
        tools=tuple(dict(t) for t in tools if isinstance(t, Mapping)),
        response_format=optional_params.get("response_format"),
        params=params,
        user=user if isinstance(user, str) and user else None,
        key=key,
    )


def tier_params(request: ChatRequest, base: Mapping[str, Any], *, logprobs: bool, stream: bool) -> dict[str, Any]:
    """The OpenAI parameters of one tier call: ``base`` (the tier's), then the request's own.

    The request's tools, response format and user are added; ``logprobs`` when the tier's gate
    reads them (unless the request says otherwise); a stream asks for its usage in the last chunk.
    """
    params: dict[str, Any] = {**base, **request.params}
    if request.tools:
        params["tools"] = [dict(t) for t in request.tools]
    if request.response_format is not None:
        params["response_format"] = request.response_format
    if request.user:
        params["user"] = request.user
    if logprobs:
        params.setdefault("logprobs", True)
    if stream:
        params["stream"] = True
        params["stream_options"] = {"include_usage": True}
    return params


def usage_of(response: Any) -> Usage:
    """The tokens of a LiteLLM response (``ModelResponse`` or dict); zero when absent."""
    return Usage.from_openai(get(response, "usage"))


def _tool_calls(message: Any) -> tuple[Mapping[str, Any], ...]:
    out = []
    for tc in get(message, "tool_calls") or ():
        fn = get(tc, "function")
        out.append(
            {
                "id": get(tc, "id"),
                "type": "function",
                "function": {"name": get(fn, "name"), "arguments": get(fn, "arguments") or "{}"},
            }
        )
    return tuple(out)


def _logprobs(choice: Any) -> tuple[float, ...] | None:
    content = get(get(choice, "logprobs"), "content")
    if not content:
        return None
    values = [float(lp) for t in content if isinstance(lp := get(t, "logprob"), int | float)]
    return tuple(values) if values else None


def completion_from_response(response: Any, *, model: str) -> Completion:
    """A :class:`Completion` of a LiteLLM ``ModelResponse``, priced as ``model``."""
    choices = get(response, "choices") or ()
    choice = choices[0] if choices else None
    message = get(choice, "message")
    text = get(message, "content")
    refusal = get(message, "refusal")
    return Completion(
        text=text if isinstance(text, str) else "",
        model=model,
        usage=usage_of(response),
        tool_calls=_tool_calls(message),
        finish_reason=get(choice, "finish_reason"),
        logprobs=_logprobs(choice),
        refusal=refusal if isinstance(refusal, str) else None,
        raw=response,
    )


def response_of(result: CascadeResult, *, model_name: str) -> Any:
    """The ``ModelResponse`` the caller gets: the served tier's own, or one built from the answer.

    ``_hidden_params["costrouter"]`` holds the trail (:meth:`CascadeResult.metadata`) and
    ``_hidden_params["response_cost"]`` what the whole request cost (LiteLLM reports it as the
    call's cost instead of pricing the entry model).
    """
    from litellm.types.utils import ModelResponse

    raw = result.completion.raw
    if isinstance(raw, ModelResponse):
        response = raw
    elif callable(getattr(raw, "model_dump", None)):  # the openai SDK's ChatCompletion (OpenAI-compatible tiers)
        response = ModelResponse(**raw.model_dump(exclude_none=True))
    else:
        c = result.completion
        message: dict[str, Any] = {"role": "assistant", "content": c.text}
        if c.tool_calls:
            message["tool_calls"] = [dict(tc) for tc in c.tool_calls]
        response = ModelResponse(
            id=f"chatcmpl-{uuid.uuid4().hex}",
            created=int(time.time()),
            model=model_name,
            choices=[{"index": 0, "message": message, "finish_reason": c.finish_reason or "stop"}],
            usage={
                "prompt_tokens": c.usage.input_tokens,
                "completion_tokens": c.usage.output_tokens,
                "total_tokens": c.usage.total_tokens,
            },
        )
    response._hidden_params["costrouter"] = result.metadata()
    response._hidden_params["response_cost"] = result.total_cost_usd
    return response


def generic_chunk(chunk: Any) -> dict[str, Any]:
    """A tier's stream chunk (``ModelResponseStream``) as the ``GenericStreamingChunk`` a custom provider yields."""
    choices = get(chunk, "choices") or ()
    choice = choices[0] if choices else None
    delta = get(choice, "delta")
    tool_use = None
    for tc in get(delta, "tool_calls") or ():
        fn = get(tc, "function")
        tool_use = {
            "id": get(tc, "id"),
            "type": "function",
            "function": {"name": get(fn, "name"), "arguments": get(fn, "arguments") or ""},
            "index": get(tc, "index") or 0,
        }
        break
    text = get(delta, "content")
    return {
        "text": text if isinstance(text, str) else "",
        "tool_use": tool_use,
        "is_finished": False,
        "finish_reason": "",
        "usage": None,
        "index": 0,
    }
