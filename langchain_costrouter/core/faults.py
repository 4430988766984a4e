"""Classifies provider failures without importing any SDK.

OpenAI, LiteLLM, httpx and asyncio exceptions are recognised by their class names (along the
MRO) and ``status_code`` attributes, so the core can decide to escalate on rate limits, 5xx,
timeouts, broken connections, context-window overflow and refusals, and to re-raise bad
requests and authentication errors (which another tier would not fix).
"""

from __future__ import annotations

from langchain_costrouter.core.errors import ProviderError

__all__ = ["classify_error", "provider_processed", "retry_after_s"]

_BY_NAME: tuple[tuple[str, str], ...] = (
    ("ContextWindowExceededError", "context_window"),
    ("ContextOverflowError", "context_window"),
    ("ContentPolicyViolationError", "refusal"),
    ("RateLimitError", "rate_limit"),
    ("APITimeoutError", "timeout"),
    ("Timeout", "timeout"),
    ("TimeoutError", "timeout"),
    ("ReadTimeout", "timeout"),
    ("ConnectTimeout", "timeout"),
    ("PoolTimeout", "timeout"),
    ("ServiceUnavailableError", "server"),
    ("InternalServerError", "server"),
    ("BadGatewayError", "server"),
    ("APIConnectionError", "connection"),
    ("ConnectError", "connection"),
    ("RemoteProtocolError", "connection"),
    ("ReadError", "connection"),
    ("ClientPayloadError", "connection"),
    ("ServerDisconnectedError", "connection"),
    ("IncompleteRead", "connection"),
    ("ConnectionError", "connection"),
    ("AuthenticationError", "auth"),
    ("PermissionDeniedError", "auth"),
    ("NotFoundError", "not_found"),
    ("BadRequestError", "bad_request"),
    ("UnprocessableEntityError", "bad_request"),
)
_CONTEXT_HINTS = ("context length", "context_length", "maximum context", "too many tokens", "context window")
_RETRYABLE = frozenset({"rate_limit", "server", "timeout", "connection", "context_window", "refusal", "unknown"})


def _status(exc: BaseException) -> int | None:
    for attr in ("status_code", "status", "http_status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    response = getattr(exc, "response", None)
    value = getattr(response, "status_code", None)
    return value if isinstance(value, int) else None


def classify_error(exc: BaseException) -> ProviderError:
    """Maps any exception raised by a model call to a :class:`ProviderError`.

    ``kind`` is one of ``rate_limit``, ``server``, ``timeout``, ``connection``,
    ``context_window``, ``refusal``, ``auth``, ``not_found``, ``bad_request`` or ``unknown``;
    ``retryable`` is true for the kinds another attempt or tier may fix.
    """
    if isinstance(exc, ProviderError):
        return exc
    message = str(exc) or type(exc).__name__
    names = [c.__name__ for c in type(exc).__mro__]
    kind = "unknown"
    for name, k in _BY_NAME:
        if name in names:
            kind = k
            break
    status = _status(exc)
    if kind in {"unknown", "bad_request"} and status is not None:
        if status == 429:
            kind = "rate_limit"
        elif status >= 500:
            kind = "server"
        elif status in {408, 504}:
            kind = "timeout"
        elif status in {401, 403}:
            kind = "auth"
    if kind in {"bad_request", "unknown"} and any(h in message.lower() for h in _CONTEXT_HINTS):
        kind = "context_window"
    # Never echo request payloads or keys: keep the first line, truncated.
    summary = message.splitlines()[0][:300] if message else kind
    return ProviderError(kind, f"{type(exc).__name__}: {summary}", retryable=kind in _RETRYABLE, status=status)


def retry_after_s(exc: BaseException) -> float | None:
    """Seconds a provider asked to wait (its ``Retry-After`` header), when it said so."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    value = None
    if headers is not None:
        try:
            value = headers.get("retry-after")
        except Exception:  # headers of unknown shape: no hint
            value = None
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


def provider_processed(exc: BaseException) -> bool:
    """Whether a failed call may still have been processed, and billed, by the provider.

    A client-side timeout after the request was sent is (the reply may be produced after the
    client gave up: its prompt is a lower bound of the bill); a refusal (429, 5xx), a
    connection that never opened, and a timeout before the request was sent are not: a connect
    timeout, a wait for a free connection of the client's pool, a write that did not finish.
    SDKs wrap the transport's exception (openai's ``APITimeoutError`` for all of them), so the
    whole ``__cause__``/``__context__`` chain is read.
    """
    if classify_error(exc).kind != "timeout":
        return False
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        name = type(link).__name__.lower()
        if any(word in name for word in _UNSENT_TIMEOUTS):
            return False
        link = link.__cause__ or link.__context__
    return True


_UNSENT_TIMEOUTS = ("connect", "pool", "write")
