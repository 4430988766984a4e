"""Validation of ``POST /v1/chat/completions`` bodies into a :class:`ChatCall`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_costrouter.core.types import content_text
from langchain_costrouter.testing.server._faults import strip_fault_marker
from langchain_costrouter.testing.server._wire import ServerFailure

__all__ = ["ChatCall", "message_text", "parse_chat_call"]

MAX_STOP_SEQUENCES = 4
MAX_TOP_LOGPROBS = 20
_RESPONSE_FORMATS = frozenset({"text", "json_object", "json_schema"})


def message_text(content: Any) -> str:
    """The text of a message ``content`` (a string, or the text parts of a list, joined)."""
    return content_text(content)


@dataclass(slots=True)
class ChatCall:
    """A validated chat-completions request.

    Attributes:
        body: The JSON body as received.
        model: Requested model name.
        messages: The messages.
        user_text: Text of the last user message, without fault markers.
        marker_fault: Body of a ``[[fault:...]]`` marker in the last user message.
        last_role: Role of the last message (``tool`` after a tool result).
        stream: SSE streaming asked for; ``include_usage`` adds the usage chunk.
        max_tokens: ``max_completion_tokens`` or ``max_tokens``.
        stop: Stop sequences.
        logprobs: Logprobs asked for; ``top_logprobs`` alternatives per token.
        tools: Tool definitions; ``tool_choice`` as sent.
        response_format: ``response_format`` as sent.
    """

    body: Mapping[str, Any]
    model: str
    messages: list[Mapping[str, Any]]
    user_text: str = ""
    marker_fault: str | None = None
    last_role: str = "user"
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    logprobs: bool = False
    top_logprobs: int = 0
    tools: list[Mapping[str, Any]] = field(default_factory=list)
    tool_choice: Any = None
    response_format: Mapping[str, Any] | None = None


def _bad(message: str, param: str, code: str | None = None) -> ServerFailure:
    return ServerFailure(400, message, param=param, code=code)


def _positive_int(body: Mapping[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _bad(f"Invalid '{key}': expected an integer >= 1, got {value!r}.", key, "invalid_value")
    return value


def _stop(value: Any) -> list[str]:
    if value is None:
        return []
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise _bad("Invalid 'stop': expected a string or a list of strings.", "stop", "invalid_type")
    if len(stops) > MAX_STOP_SEQUENCES:
        raise _bad(f"Invalid 'stop': at most {MAX_STOP_SEQUENCES} sequences.", "stop", "invalid_value")
    return [s for s in stops if s]


def _logprobs(body: Mapping[str, Any]) -> tuple[bool, int]:
    logprobs = bool(body.get("logprobs") or False)
    top = body.get("top_logprobs")
    if top is None:
        return logprobs, 0
    if isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= MAX_TOP_LOGPROBS:
        raise _bad(f"Invalid 'top_logprobs': expected 0..{MAX_TOP_LOGPROBS}.", "top_logprobs", "invalid_value")
    if top and not logprobs:
        raise _bad("'top_logprobs' requires 'logprobs' to be true.", "top_logprobs", "invalid_value")
    return logprobs, top


def _tools(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    tools = body.get("tools") or []
    if not isinstance(tools, list) or not all(
        isinstance(t, Mapping) and isinstance(t.get("function"), Mapping) for t in tools
    ):
        raise _bad("Invalid 'tools': expected an array of function tools.", "tools", "invalid_type")
    return tools


def _response_format(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    fmt = body.get("response_format")
    if fmt is not None and (not isinstance(fmt, Mapping) or fmt.get("type") not in _RESPONSE_FORMATS):
        raise _bad("Invalid 'response_format': type must be text, json_object or json_schema.", "response_format")
    return fmt


def parse_chat_call(body: Any) -> ChatCall:
    """Validates a request body.

    Raises:
        ServerFailure: 400 with an OpenAI-style body naming the bad parameter.
    """
    if not isinstance(body, Mapping):
        raise _bad("The request body must be a JSON object.", "body")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("you must provide a model parameter", "model", "missing_required_parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("Invalid 'messages': expected a non-empty array.", "messages", "invalid_value")
    for i, msg in enumerate(messages):
        if not isinstance(msg, Mapping) or not isinstance(msg.get("role"), str):
            raise _bad(f"Invalid 'messages[{i}]': expected an object with a 'role'.", f"messages[{i}]", "invalid_type")
    n = body.get("n")
    if n is not None and n != 1:
        raise _bad("This server only supports n=1.", "n", "invalid_value")
    logprobs, top = _logprobs(body)
    tools = _tools(body)
    response_format = _response_format(body)
    stream_options = body.get("stream_options")
    max_tokens = _positive_int(body, "max_completion_tokens")
    if max_tokens is None:
        max_tokens = _positive_int(body, "max_tokens")

    user_text, marker = "", None
    for msg in reversed(messages):
        if msg["role"] == "user":
            user_text, marker = strip_fault_marker(message_text(msg.get("content")))
            break
    return ChatCall(
        body=body,
        model=model,
        messages=messages,
        user_text=user_text,
        marker_fault=marker,
        last_role=str(messages[-1]["role"]),
        stream=bool(body.get("stream") or False),
        include_usage=bool(isinstance(stream_options, Mapping) and stream_options.get("include_usage")),
        max_tokens=max_tokens,
        stop=_stop(body.get("stop")),
        logprobs=logprobs,
        top_logprobs=top,
        tools=list(tools),
        tool_choice=body.get("tool_choice"),
        response_format=response_format,
    )
