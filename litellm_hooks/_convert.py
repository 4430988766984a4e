"""Untyped LiteLLM kwargs and response objects to the core's neutral shapes (the only place).

LiteLLM hands hooks and loggers loosely shaped dicts: a deployment hook gets the call kwargs
(``metadata``, ``model_info`` and ``litellm_trace_id`` at the top level), a logger gets
``model_call_details`` (the same under ``litellm_params``), and the proxy names its metadata
bucket ``litellm_metadata`` on some routes. Every read of those shapes lives here, so the hooks
work on :class:`~langchain_costrouter.core.types.ChatRequest`, :class:`Completion` and
:class:`Usage` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_costrouter.core.types import ChatRequest, Completion
from langchain_costrouter.core.usage import Usage

__all__ = [
    "CACHE_HIT_KIND_KEY",
    "CONFIG_KEY",
    "INTERNAL_FLAG",
    "SAMPLING_KEYS",
    "TIER_KEY",
    "attempt_key",
    "call_id",
    "completion_from_response",
    "config_id_of",
    "get",
    "is_cache_hit",
    "is_internal",
    "is_stream",
    "metadata_of",
    "model_group",
    "request_from_kwargs",
    "tenant_of",
    "tier_of",
    "trace_id",
    "usage_of",
]

CONFIG_KEY = "costrouter_config"
"""``model_info`` key holding the fingerprint of the configuration a deployment was built from."""

CACHE_HIT_KIND_KEY = "costrouter_cache_hit"
"""Request metadata key the cascade cache sets on a hit: ``exact`` or ``semantic``."""

TIER_KEY = "costrouter_tier"
"""``model_info`` key naming the configured tier/model a deployment belongs to."""

INTERNAL_FLAG = "costrouter_internal"
"""Metadata flag of calls the hooks make themselves (judge gates): they are not user attempts."""

SAMPLING_KEYS = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed")
_TENANT_KEYS = ("costrouter_tenant", "tenant", "user_api_key_user_id", "user_api_key_team_id")


def get(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` for mappings, ``obj.key`` for objects, ``default`` when absent."""
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _litellm_params(kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    params = kwargs.get("litellm_params")
    return params if isinstance(params, Mapping) else {}


def metadata_of(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The request metadata (merged from every place LiteLLM keeps it; a copy)."""
    out: dict[str, Any] = {}
    params = _litellm_params(kwargs)
    for source in (
        params.get("metadata"),
        params.get("litellm_metadata"),
        kwargs.get("litellm_metadata"),
        kwargs.get("metadata"),
    ):
        if isinstance(source, Mapping):
            out.update(source)
    return out


def _model_info(kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    for source in (kwargs.get("model_info"), _litellm_params(kwargs).get("model_info")):
        if isinstance(source, Mapping):
            return source
    return {}


def trace_id(kwargs: Mapping[str, Any]) -> str | None:
    """The id LiteLLM shares between the retries and fallbacks of one request."""
    # The proxy's logging kwargs carry a second ``litellm_trace_id`` of their own; the standard
    # logging payload's ``trace_id`` is the one the deployment hooks saw.
    for value in (
        get(kwargs.get("standard_logging_object"), "trace_id"),
        kwargs.get("litellm_trace_id"),
        _litellm_params(kwargs).get("litellm_trace_id"),
    ):
        if isinstance(value, str) and value:
            return value
    return None


def attempt_key(kwargs: Mapping[str, Any]) -> str | None:
    """Identifies an answered attempt: ``<litellm_call_id>:<tier>``.

    The proxy keeps one ``litellm_call_id`` for all the attempts of a request, and a request
    never answers twice from the same tier (an answer is accepted, or escalates away).
    """
    cid = call_id(kwargs)
    return None if cid is None else f"{cid}:{tier_of(kwargs) or model_group(kwargs) or ''}"


def call_id(kwargs: Mapping[str, Any]) -> str | None:
    """The id of this one attempt."""
    for value in (kwargs.get("litellm_call_id"), _litellm_params(kwargs).get("litellm_call_id")):
        if isinstance(value, str) and value:
            return value
    return None


def model_group(kwargs: Mapping[str, Any]) -> str | None:
    """The router model group (``model_name``) the attempt was made for."""
    group = metadata_of(kwargs).get("model_group")
    if isinstance(group, str) and group:
        return group
    slo_group = get(kwargs.get("standard_logging_object"), "model_group")
    return slo_group if isinstance(slo_group, str) and slo_group else None


def tier_of(kwargs: Mapping[str, Any]) -> str | None:
    """The configured tier/model of the deployment that made the attempt (``None`` if not ours)."""
    tier = _model_info(kwargs).get(TIER_KEY)
    return tier if isinstance(tier, str) and tier else None


def config_id_of(kwargs: Mapping[str, Any]) -> str | None:
    """The fingerprint of the configuration the attempt's deployment was built from."""
    value = _model_info(kwargs).get(CONFIG_KEY)
    return value if isinstance(value, str) and value else None


def is_internal(kwargs: Mapping[str, Any]) -> bool:
    """Whether the call was made by the hooks themselves (a judge), not by the user."""
    return bool(metadata_of(kwargs).get(INTERNAL_FLAG))


def is_cache_hit(response: Any) -> bool:
    """Whether LiteLLM served ``response`` from its cache."""
    hidden = getattr(response, "_hidden_params", None)
    return isinstance(hidden, dict) and hidden.get("cache_hit") is True


def is_stream(kwargs: Mapping[str, Any]) -> bool:
    """Whether the attempt was a streaming call."""
    return bool(kwargs.get("stream") or _litellm_params(kwargs).get("stream"))


def tenant_of(kwargs: Mapping[str, Any], default: str) -> str:
    """The tenant tag: metadata ``tenant`` / proxy key owner / ``user``, else ``default``."""
    meta = metadata_of(kwargs)
    for key in _TENANT_KEYS:
        value = meta.get(key)
        if isinstance(value, str) and value:
            return value
    user = kwargs.get("user") or get(kwargs.get("optional_params"), "user")
    return user if isinstance(user, str) and user else default


def request_from_kwargs(kwargs: Mapping[str, Any], *, request_id: str, tenant: str, task: str | None) -> ChatRequest:
    """The core request of a LiteLLM call's kwargs."""
    messages = kwargs.get("messages") or kwargs.get("input") or ()
    if isinstance(messages, str):
        messages = ({"role": "user", "content": messages},)
    msgs = tuple(dict(m) for m in messages if isinstance(m, Mapping))
    optional = kwargs.get("optional_params")
    sources = [kwargs, optional] if isinstance(optional, Mapping) else [kwargs]
    params: dict[str, Any] = {}
    for src in sources:
        for key in SAMPLING_KEYS:
            value = src.get(key)
            if value is not None and key not in params:
                params[key] = value
    if "max_tokens" not in params and "max_completion_tokens" in params:
        params["max_tokens"] = params["max_completion_tokens"]
    tools = next((s.get("tools") for s in sources if s.get("tools")), None) or ()
    response_format = next((s.get("response_format") for s in sources if s.get("response_format")), None)
    user = kwargs.get("user") or (optional.get("user") if isinstance(optional, Mapping) else None)
    return ChatRequest(
        messages=msgs,
        request_id=request_id,
        tenant=tenant,
        task=task,
        user=user if isinstance(user, str) and user else None,
        tools=tuple(dict(t) for t in tools if isinstance(t, Mapping)),
        response_format=response_format,
        params=params,
    )


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
