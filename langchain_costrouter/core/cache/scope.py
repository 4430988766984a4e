"""What a cached answer is valid for: :class:`CacheScope`, built by :func:`cache_scope`.

An answer may only be served to a request with the same namespace (tenant), end user, model
ladder, answer parameters (sampling, ``stop``, ``seed``, ``logit_bias``, ``reasoning_effort``,
``n``, ``logprobs``, unknown ones...), system prompt, tool schemas and tool choice,
structured-output format, earlier turns (every content part), and the same non-text parts
(images, files, audio, by content hash) in the last user turn. All of that is hashed into
:attr:`CacheScope.key`; only the text of the last user turn varies. The exact level matches that
text byte for byte (whitespace, Unicode forms and case included); only the semantic level
normalises it (:func:`normalize_query`) and compares meanings. Exact and semantic lookups both
filter on the key, so no answer ever crosses a tenant, a user, a system prompt or a model.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_costrouter.core.types import ChatRequest, content_text

__all__ = ["NON_SEMANTIC_PARAMS", "CacheScope", "cache_scope", "normalize_query", "query_of"]

# Request parameters that do not change the answer (transport, tracing, streaming).
NON_SEMANTIC_PARAMS: frozenset[str] = frozenset(
    {
        "stream",
        "stream_options",
        "user",
        "metadata",
        "timeout",
        "request_timeout",
        "request_id",
        "callbacks",
        "tags",
        "run_name",
        "api_key",
        "api_base",
        "base_url",
        "headers",
        "extra_headers",
        "max_retries",
        "caching",
        "cache",
        "no-cache",
        "litellm_call_id",
        "litellm_logging_obj",
        "mock_response",
    }
)

_WS = re.compile(r"\s+")


def normalize_query(text: str) -> str:
    """The semantic level's input form of a query: Unicode NFKC, whitespace collapsed, ends stripped.

    The exact level does not use it: "2¹⁰" and "210", or two code snippets differing only in
    indentation, are different requests there.
    """
    return _WS.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=repr)


def _digest(value: Any) -> str:
    return hashlib.sha256(_canonical(value).encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class CacheScope:
    """Everything besides the last user turn that an answer depends on.

    Attributes:
        namespace: Tenant / user namespace; :meth:`ResponseCache.invalidate` drops one.
        model: The model or tier the answer is for (a cheaper tier's answer is cached under
            the requested model/tier key, with the producing tier recorded in the entry).
        params: Canonical JSON of the sampling parameters.
        system: The system/developer prompt.
        tools: Digest of the tool schemas and tool choice.
        history: Digest of the earlier turns.
        response_format: Digest of the structured-output format.
        user: The end user the request names (OpenAI's ``user``), ``""`` when none.
        attachments: Digest of the last user turn's content layout: its non-text parts (images,
            files, audio) by content hash and where its text parts stand (``""`` for plain text).
    """

    namespace: str
    model: str
    params: str = "{}"
    system: str = ""
    tools: str = ""
    history: str = ""
    response_format: str = ""
    user: str = ""
    attachments: str = ""

    @property
    def key(self) -> str:
        """A stable hash of the whole scope."""
        parts: list[str] = [
            self.namespace,
            self.model,
            self.params,
            self.system,
            self.tools,
            self.history,
            self.response_format,
        ]
        if self.user or self.attachments:  # keys of scopes without them stay as they were
            parts += [self.user, self.attachments]
        return _digest(parts)

    @classmethod
    def build(
        cls,
        *,
        namespace: str,
        model: str,
        messages: Sequence[Mapping[str, Any]] = (),
        params: Mapping[str, Any] | None = None,
        tools: Sequence[Mapping[str, Any]] = (),
        response_format: Any = None,
        user: str | None = None,
    ) -> CacheScope:
        """A scope from OpenAI-format parts; ``messages`` is the whole conversation.

        The text of the last user message is the query (not part of the scope), its other parts
        are (``attachments``); system/developer messages form ``system``; every other message
        before the last user turn forms ``history``.
        """
        last_user = _last_user_index(messages)
        system_parts: list[str] = []
        history: list[Any] = []
        for i, m in enumerate(messages):
            role = m.get("role")
            if i == last_user:
                continue
            if role in {"system", "developer"}:
                content = m.get("content")
                text = content_text(content)
                # a system prompt with images or files: its parts count, not only its text
                system_parts.append(text if isinstance(content, str | None) else f"{text}\x00{_digest(content)}")
            else:
                history.append(
                    {
                        "role": role,
                        "content": m.get("content"),
                        "tool_calls": m.get("tool_calls"),
                        "tool_call_id": m.get("tool_call_id"),
                        "name": m.get("name"),
                    }
                )
        clean = {k: v for k, v in (params or {}).items() if k not in NON_SEMANTIC_PARAMS and v is not None}
        tool_choice = clean.pop("tool_choice", None)
        rf = response_format if response_format is not None else clean.pop("response_format", None)
        clean.pop("tools", None)
        return cls(
            namespace=namespace,
            model=model,
            params=_canonical(clean),
            system="\n".join(system_parts),
            tools=_digest([list(tools), tool_choice]) if tools or tool_choice else "",
            history=_digest(history) if history else "",
            response_format=_digest(_jsonable(rf)) if rf is not None else "",
            user=user if user is not None else str((params or {}).get("user") or ""),
            attachments=_attachments(messages[last_user].get("content")) if last_user >= 0 else "",
        )

    @classmethod
    def from_request(
        cls,
        request: ChatRequest,
        *,
        model: str,
        namespace: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> CacheScope:
        """The scope of a :class:`ChatRequest` for ``model`` (or tier).

        Args:
            request: The request; its ``tenant`` is the namespace unless ``namespace`` is given.
            model: The model or tier name the answer is for.
            namespace: Overrides the namespace (e.g. ``f"{config_namespace}:{tenant}"``).
            params: Overrides ``request.params`` (e.g. the tier's effective parameters).
        """
        return cls.build(
            namespace=namespace if namespace is not None else request.tenant,
            model=model,
            messages=request.messages,
            params=params if params is not None else request.params,
            tools=request.tools,
            response_format=request.response_format,
            user=request.user,
        )


def cache_scope(request: ChatRequest, *, ladder: Sequence[str], namespace: str) -> CacheScope:
    """The cache key of a request: the one function both adapters' pipeline calls.

    Args:
        request: The core request; everything in it that can change the answer is keyed: every
            content part (non-text ones by content hash), every answer parameter
            (``request.params``: unknown ones included), tools and tool choice, the response
            format, the end ``user`` and the ``tenant``.
        ladder: The model names of the route's ladder, cheapest first: an answer of any tier of
            that ladder (that passed its gate) may serve the request, no other answer may.
        namespace: The configured cache namespace (``cache.namespace``); the tenant refines it.

    Returns:
        The scope; look the request up with ``cache.lookup(scope, request.last_user_text)``
        (:func:`query_of` gives ``None`` when the conversation does not end on a user turn:
        such a request is not cacheable).
    """
    return CacheScope.build(
        namespace=f"{namespace}:{request.tenant}",
        model="ladder:" + "|".join(ladder),
        messages=request.messages,
        params=request.params,
        tools=request.tools,
        response_format=request.response_format,
        user=request.user,
    )


def _attachments(content: Any) -> str:
    """Digest of a content list's layout: non-text parts by content hash, text parts as slots."""
    if content is None or isinstance(content, str):
        return ""
    layout: list[Any] = []
    for part in content if isinstance(content, Sequence) else [content]:
        if isinstance(part, str) or (isinstance(part, Mapping) and part.get("type") == "text"):
            layout.append("text")
        else:
            layout.append(_digest(part))
    return "" if layout == ["text"] else _digest(layout)


def _last_user_index(messages: Sequence[Mapping[str, Any]]) -> int:
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "user":
            return i
    return -1


def _jsonable(value: Any) -> Any:
    """Pydantic classes / models become their JSON schema so they hash stably."""
    schema = getattr(value, "model_json_schema", None)
    if callable(schema):
        try:
            return schema()
        except Exception:  # pragma: no cover - defensive: fall back to repr
            return repr(value)
    return value


def query_of(messages: Sequence[Mapping[str, Any]]) -> str | None:
    """The text of the last user turn, or ``None`` when the conversation does not end on one.

    A conversation ending with a tool result or an assistant message is not cacheable.
    """
    if not messages or messages[-1].get("role") != "user":
        return None
    return content_text(messages[-1].get("content"))
