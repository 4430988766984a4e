"""Framework-neutral request and answer shapes shared by routing, gates, cascade and cache.

Messages are OpenAI-format dicts (``{"role": ..., "content": ...}``); the LangChain and LiteLLM
adapters convert to and from these in exactly one place each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_costrouter.core.ledger import new_request_id
from langchain_costrouter.core.usage import Usage

__all__ = [
    "NEUTRAL_PARAMS",
    "TENANT_KEYS",
    "ChatRequest",
    "Completion",
    "OverheadCall",
    "answer_params",
    "content_text",
    "key_of",
    "tenant_of",
]

NEUTRAL_PARAMS = frozenset(
    {
        # transport and bookkeeping: they never change what the model answers
        "stream", "stream_options", "timeout", "request_timeout", "max_retries", "num_retries",
        "metadata", "litellm_metadata", "extra_headers", "headers", "api_key", "api_base", "base_url",
        "api_version", "organization", "user", "model", "messages", "tools", "response_format",
        "ls_structured_output_format", "stream_usage", "caching", "cache", "no-cache",
        "litellm_call_id", "litellm_trace_id", "litellm_logging_obj", "proxy_server_request",
        "mock_response", "mock_testing_fallbacks", "fallbacks", "context_window_fallbacks",
        "specific_deployment", "model_info", "input_cost_per_token", "output_cost_per_token",
    }
)  # fmt: skip
"""Call parameters that cannot change an answer (or are kept in their own ``ChatRequest`` field).

Every other parameter of a call (temperature, stop, seed, logit_bias, reasoning_effort,
tool_choice, n, logprobs, modalities, provider-specific ones...) is an *answer parameter*: it is
kept in :attr:`ChatRequest.params`, so the cache key and the gates see it. Unknown parameters
count as answer parameters: a cache must never assume that a parameter is harmless.
"""


def answer_params(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The answer parameters of a call's keyword arguments (``None`` values dropped)."""
    out = {k: v for k, v in kwargs.items() if v is not None and k not in NEUTRAL_PARAMS and not k.startswith("_")}
    if "max_tokens" not in out and "max_completion_tokens" in out:
        out["max_tokens"] = out["max_completion_tokens"]
    return out


TENANT_KEYS = ("costrouter_tenant", "tenant", "user_api_key_user_id", "user_api_key_team_id", "user_id")
"""Metadata keys naming a request's tenant, in order of precedence (both adapters)."""


def tenant_of(metadata: Mapping[str, Any] | None, *, user: str | None = None, default: str = "default") -> str:
    """The tenant of a request: the one rule of every adapter.

    The first non-empty value among the metadata keys :data:`TENANT_KEYS` (LangChain's
    ``config={"metadata": ...}``, LiteLLM's ``metadata`` / the proxy key's owner and team), then
    the caller's ``user``, then ``default`` (the adapter's own tenant or ``ledger.tenant``).
    """
    meta = metadata or {}
    for key in TENANT_KEYS:
        value = meta.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    if user:
        return user
    return default


KEY_KEYS = ("costrouter_key", "user_api_key_alias", "user_api_key_hash")
"""Metadata keys naming the caller's API key, for per-key budgets (the LiteLLM proxy fills the last two)."""


def key_of(metadata: Mapping[str, Any] | None) -> str | None:
    """The API key a request was made with (its alias or hash), when the metadata says so."""
    meta = metadata or {}
    for name in KEY_KEYS:
        value = meta.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def content_text(content: Any) -> str:
    """Plain text of a message ``content`` (a string or a list of OpenAI content parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, Mapping) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
        return "\n".join(parts)
    return str(content)


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One chat request as the core sees it.

    Attributes:
        messages: OpenAI-format messages, system first when there is one.
        request_id: Groups every ledger record of this request.
        tenant: User/tenant tag for the ledger and cache scoping.
        tools: OpenAI-format tool schemas bound to the request.
        response_format: A requested structured output format, if any.
        params: Every answer parameter of the call (see :data:`NEUTRAL_PARAMS`): sampling,
            ``stop``, ``seed``, ``logit_bias``, ``reasoning_effort``, ``tool_choice``...
        user: The end user the caller named (OpenAI's ``user``), when given.
        key: The API key the request came with (alias or hash; see :func:`key_of`), for
            per-key budgets.
    """

    messages: tuple[Mapping[str, Any], ...]
    request_id: str = field(default_factory=new_request_id)
    tenant: str = "default"
    task: str | None = None
    tools: tuple[Mapping[str, Any], ...] = ()
    response_format: Any = None
    params: Mapping[str, Any] = field(default_factory=dict)
    user: str | None = None
    key: str | None = None

    @property
    def last_user_text(self) -> str:
        """Text of the last user message (what routing and gates look at)."""
        for m in reversed(self.messages):
            if m.get("role") == "user":
                return content_text(m.get("content"))
        return ""

    @property
    def system_text(self) -> str:
        """Concatenated system/developer messages."""
        return "\n".join(
            content_text(m.get("content")) for m in self.messages if m.get("role") in {"system", "developer"}
        )


@dataclass(frozen=True, slots=True)
class Completion:
    """One model answer.

    Attributes:
        text: The answer's text content ("" for a pure tool call).
        model: The model that answered (as priced).
        usage: Tokens of the call.
        tool_calls: OpenAI-format tool calls, if any.
        finish_reason: ``stop``, ``length``, ``tool_calls``, ``content_filter``...
        logprobs: Log-probabilities of the generated tokens, when the provider returned them.
        refusal: A refusal message, when the provider flagged one.
        raw: The framework's own object (an ``AIMessage``, a LiteLLM ``ModelResponse``...).
    """

    text: str
    model: str
    usage: Usage = field(default_factory=Usage)
    tool_calls: tuple[Mapping[str, Any], ...] = ()
    finish_reason: str | None = None
    logprobs: tuple[float, ...] | None = None
    refusal: str | None = None
    raw: Any = None


@dataclass(frozen=True, slots=True)
class OverheadCall:
    """A call made on the side of an answer (a judge, an embedding, a compression).

    ``estimated``: the usage is an estimate (a call that timed out after it was sent is billed
    for its prompt at least), flagged so in the ledger.
    """

    model: str
    usage: Usage
    kind: str
    latency_ms: float = 0.0
    cost_usd: float | None = None
    estimated: bool = False
