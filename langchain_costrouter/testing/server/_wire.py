"""OpenAI wire format: completion and chunk objects, usage, logprobs, errors, SSE framing."""

from __future__ import annotations

import hashlib
import json
import math
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_costrouter.core.tokens import split_tokens

__all__ = [
    "SSE_DONE",
    "Reply",
    "ServerFailure",
    "completion_body",
    "error_body",
    "logprob_entries",
    "sse_event",
    "stream_chunks",
    "tool_call_id",
    "usage_body",
]

SSE_DONE = b"data: [DONE]\n\n"
_ALTERNATIVES = (" the", " a", " and", " of", " to", " is", " in", ".", ",", " it", " that", " I", " you", " for")
_IMPOSSIBLE_LOGPROB = -9999.0
_TOOL_ARG_CHUNKS = 4


class ServerFailure(Exception):  # noqa: N818 - an HTTP answer, not a bug
    """An OpenAI-style error answer (raised inside the server, turned into an HTTP response).

    Attributes:
        status: HTTP status.
        body: The JSON error body.
        headers: Extra response headers (``retry-after``...).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.body = error_body(message, type_=type_, code=code, param=param)
        self.headers = dict(headers or {})
        super().__init__(f"{status}: {message}")


def error_body(message: str, *, type_: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    """An OpenAI-style error body: ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


@dataclass(slots=True)
class Reply:
    """A finished answer, ready to be serialised.

    Attributes:
        model: Model name echoed back.
        content: Text answer (``None`` for a tool call).
        tool_calls: OpenAI ``tool_calls`` entries.
        finish_reason: ``stop``, ``length`` or ``tool_calls``.
        confidence: Per-token probability reported by logprobs.
        encoding: tiktoken encoding used for usage and token pieces.
        prompt_tokens: Tokens of the request messages (and tools).
        completion_tokens: Tokens of the answer.
        system_fingerprint: Reported fingerprint.
        logprobs: Whether logprobs were asked for; ``top_logprobs`` how many alternatives.
    """

    model: str
    content: str | None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str = "stop"
    confidence: float = 0.9
    encoding: str = "cl100k_base"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    system_fingerprint: str = "fp_costrouter_local"
    logprobs: bool = False
    top_logprobs: int = 0
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex[:24]}")
    created: int = field(default_factory=lambda: int(time.time()))


def tool_call_id(seed: str, index: int = 0) -> str:
    """A deterministic ``call_...`` id derived from the request."""
    return "call_" + hashlib.sha256(f"{seed}|{index}".encode()).hexdigest()[:24]


def usage_body(reply: Reply) -> dict[str, Any]:
    """The ``usage`` object, with the detail fields OpenAI reports."""
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _logprob(confidence: float) -> float:
    return math.log(confidence) if confidence > 0 else _IMPOSSIBLE_LOGPROB


def logprob_entries(pieces: Sequence[str], confidence: float, top: int) -> list[dict[str, Any]]:
    """Per-token logprobs derived from one confidence.

    Every token has probability ``confidence``; the remaining mass is spread over ``top - 1``
    alternatives with halving probabilities.
    """
    own = _logprob(confidence)
    rest = max(0.0, 1.0 - confidence)
    entries = []
    for piece in pieces:
        alternatives: list[dict[str, Any]] = []
        if top > 0:
            alternatives.append({"token": piece, "logprob": own, "bytes": list(piece.encode())})
            share = rest / 2.0
            for alt in _ALTERNATIVES:
                if len(alternatives) >= top:
                    break
                if alt == piece:
                    continue
                alternatives.append({"token": alt, "logprob": _logprob(share), "bytes": list(alt.encode())})
                share /= 2.0
            alternatives.sort(key=lambda a: -float(a["logprob"]))
        entries.append({"token": piece, "logprob": own, "bytes": list(piece.encode()), "top_logprobs": alternatives})
    return entries


def _message(reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content, "refusal": None, "annotations": []}
    if reply.tool_calls:
        message["tool_calls"] = reply.tool_calls
    return message


def completion_body(reply: Reply) -> dict[str, Any]:
    """The ``chat.completion`` object of a non-streaming answer."""
    logprobs = None
    if reply.logprobs:
        pieces = [p for p, _ in split_tokens(reply.content or "", reply.encoding)]
        logprobs = {"content": logprob_entries(pieces, reply.confidence, reply.top_logprobs), "refusal": None}
    return {
        "id": reply.id,
        "object": "chat.completion",
        "created": reply.created,
        "model": reply.model,
        "choices": [
            {"index": 0, "message": _message(reply), "logprobs": logprobs, "finish_reason": reply.finish_reason}
        ],
        "usage": usage_body(reply),
        "service_tier": "default",
        "system_fingerprint": reply.system_fingerprint,
    }


def sse_event(obj: Mapping[str, Any]) -> bytes:
    """One ``data: {...}`` SSE event."""
    return b"data: " + json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def _split_evenly(text: str, parts: int) -> list[str]:
    if not text:
        return []
    size = max(1, math.ceil(len(text) / parts))
    return [text[i : i + size] for i in range(0, len(text), size)]


def stream_chunks(reply: Reply, *, include_usage: bool) -> Iterator[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of a streamed answer, in order (without ``[DONE]``).

    First a role chunk, then one chunk per token piece (content) or argument fragments (tool
    calls), then the chunk carrying ``finish_reason``, then, with ``include_usage``, a chunk
    with empty ``choices`` and the ``usage``.
    """
    base = {
        "id": reply.id,
        "object": "chat.completion.chunk",
        "created": reply.created,
        "model": reply.model,
        "service_tier": "default",
        "system_fingerprint": reply.system_fingerprint,
    }
    if include_usage:
        base["usage"] = None

    def chunk(delta: dict[str, Any], *, logprobs: Any = None, finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}]}

    if reply.tool_calls:
        for i, call in enumerate(reply.tool_calls):
            head = {
                "index": i,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
            delta: dict[str, Any] = {"tool_calls": [head]}
            if i == 0:
                delta = {"role": "assistant", "content": None, "refusal": None, **delta}
            yield chunk(delta)
            for frag in _split_evenly(call["function"]["arguments"], _TOOL_ARG_CHUNKS):
                yield chunk({"tool_calls": [{"index": i, "function": {"arguments": frag}}]})
    else:
        yield chunk({"role": "assistant", "content": "", "refusal": None})
        for piece, _ in split_tokens(reply.content or "", reply.encoding):
            lp = None
            if reply.logprobs:
                lp = {"content": logprob_entries([piece], reply.confidence, reply.top_logprobs), "refusal": None}
            yield chunk({"content": piece}, logprobs=lp)
    yield chunk({}, finish=reply.finish_reason)
    if include_usage:
        yield {**base, "choices": [], "usage": usage_body(reply)}
