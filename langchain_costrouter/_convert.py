"""Conversions between LangChain messages and the core's neutral shapes (the only place)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, convert_to_openai_messages
from langchain_core.utils.function_calling import convert_to_openai_tool

from langchain_costrouter.core.types import ChatRequest, Completion, answer_params
from langchain_costrouter.core.usage import Usage

__all__ = [
    "completion_from_message",
    "openai_tools",
    "request_from_messages",
    "strip_chunk",
]


def openai_tools(tools: Sequence[Any]) -> list[dict[str, Any]]:
    """Tools (pydantic models, functions, LangChain tools, dicts) in OpenAI format."""
    return [convert_to_openai_tool(t) for t in tools]


def request_from_messages(
    messages: Sequence[BaseMessage],
    *,
    tenant: str,
    request_id: str | None = None,
    kwargs: Mapping[str, Any] | None = None,
    key: str | None = None,
) -> ChatRequest:
    """A :class:`ChatRequest` from LangChain messages and call kwargs (every answer parameter kept)."""
    kwargs = dict(kwargs or {})
    oa = convert_to_openai_messages(list(messages))
    msgs = tuple(oa if isinstance(oa, list) else [oa])
    tools = tuple(kwargs.get("tools") or ())
    params = answer_params(kwargs)
    user = kwargs.get("user")
    extra: dict[str, Any] = {}
    if request_id:
        extra["request_id"] = request_id
    return ChatRequest(
        messages=msgs,
        tenant=tenant,
        tools=tools,
        response_format=kwargs.get("response_format"),
        params=params,
        user=user if isinstance(user, str) and user else None,
        key=key,
        **extra,
    )


def _logprobs(metadata: Mapping[str, Any]) -> tuple[float, ...] | None:
    lp = metadata.get("logprobs")
    if not isinstance(lp, Mapping):
        return None
    content = lp.get("content")
    if not isinstance(content, list):
        return None
    values = [float(t["logprob"]) for t in content if isinstance(t, Mapping) and "logprob" in t]
    return tuple(values) if values else None


def completion_from_message(message: BaseMessage, *, model: str) -> Completion:
    """A :class:`Completion` from a tier's ``AIMessage``; priced as ``model``."""
    meta = dict(message.response_metadata or {})
    usage = Usage.from_langchain(getattr(message, "usage_metadata", None))
    if usage.total_tokens == 0 and isinstance(meta.get("token_usage"), Mapping):
        usage = Usage.from_openai(meta["token_usage"])
    tool_calls: tuple[Mapping[str, Any], ...] = ()
    if isinstance(message, AIMessage) and message.tool_calls:
        tool_calls = tuple(
            {
                "id": tc.get("id"),
                "type": "function",
                "function": {"name": tc["name"], "arguments": json.dumps(tc.get("args", {}))},
            }
            for tc in message.tool_calls
        )
    refusal = message.additional_kwargs.get("refusal") if message.additional_kwargs else None
    return Completion(
        text=message.text,
        model=model,
        usage=usage,
        tool_calls=tool_calls,
        finish_reason=meta.get("finish_reason"),
        logprobs=_logprobs(meta),
        refusal=refusal if isinstance(refusal, str) else None,
        raw=message,
    )


def strip_chunk(chunk: AIMessageChunk) -> AIMessageChunk:
    """A tier's stream chunk without usage and provider metadata (the router adds its own once)."""
    return AIMessageChunk(
        content=chunk.content,
        id=chunk.id,
        tool_call_chunks=list(chunk.tool_call_chunks),
        additional_kwargs={k: v for k, v in chunk.additional_kwargs.items() if k != "usage"},
    )
