"""The aiohttp application: routes, auth, faults, JSON and SSE answers, the request log."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from aiohttp import web

from langchain_costrouter.core.errors import ConfigError
from langchain_costrouter.core.tokens import count_message_tokens, count_tokens
from langchain_costrouter.testing.server._bill import BillLine, BillLog, BillStatus
from langchain_costrouter.testing.server._engine import Responder, finish_reply, model_not_found
from langchain_costrouter.testing.server._faults import (
    FAULT_HEADER,
    FaultSpec,
    FaultState,
    RandomFaults,
    parse_fault_string,
)
from langchain_costrouter.testing.server._request import ChatCall, parse_chat_call
from langchain_costrouter.testing.server._wire import (
    SSE_DONE,
    Reply,
    ServerFailure,
    completion_body,
    sse_event,
    stream_chunks,
)

__all__ = ["AppState", "RequestLog", "build_app"]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024 * 1024
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RequestLog(Sequence[Any]):
    """Thread-safe, append-only list of the JSON bodies the server received."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Any] = []

    def append(self, body: Any) -> None:
        """Records one body."""
        with self._lock:
            self._items.append(body)

    def clear(self) -> None:
        """Forgets every recorded body."""
        with self._lock:
            self._items.clear()

    def snapshot(self) -> list[Any]:
        """A copy of the bodies received so far."""
        with self._lock:
            return list(self._items)

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...
    def __getitem__(self, index: int | slice) -> Any:
        with self._lock:
            return self._items[index]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.snapshot())

    def __repr__(self) -> str:
        return f"RequestLog({len(self)} requests)"


@dataclass(slots=True)
class AppState:
    """Everything a running server shares between requests."""

    responder: Responder
    api_key: str | None = None
    requests: RequestLog = field(default_factory=RequestLog)
    faults: FaultState = field(default_factory=FaultState)
    bill: BillLog = field(default_factory=BillLog)
    chaos: RandomFaults | None = None


@dataclass(slots=True)
class _Meter:
    """What one request has been billed so far; writes its bill line once (see ``_bill``)."""

    log: BillLog
    seq: int
    model: str = ""
    tag: str | None = None
    stream: bool = False
    fault: str | None = None
    prompt: int | None = None  # set once the request is admitted (processing started)
    completion: int = 0
    closed: bool = False

    def admit(self, call: ChatCall, encoding: str) -> None:
        self.prompt = count_message_tokens(call.messages, encoding, tools=call.tools or None)

    def close(self, status: BillStatus, http_status: int | None = None) -> None:
        if self.closed:
            return
        self.closed = True
        if status == "broken" and self.completion == 0:
            status = "dropped"
        billed = status in {"complete", "broken", "abandoned"} and self.prompt is not None
        prompt, completion = (self.prompt or 0, self.completion) if billed else (0, 0)
        self.log.add(
            BillLine(self.seq, self.tag, self.model, self.stream, status, http_status, prompt, completion, self.fault)
        )


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(body, ensure_ascii=False).encode(),
        status=status,
        headers=headers,
        content_type="application/json",
    )


def _failure_response(failure: ServerFailure) -> web.Response:
    return _json(failure.body, failure.status, failure.headers)


def _fault_failure(fault: FaultSpec, call: ChatCall) -> ServerFailure | None:
    status = fault.status
    if status is None:
        return None
    if fault.kind == "context_length":
        msg = fault.message or (
            f"This model's maximum context length has been exceeded by your messages (simulated for {call.model})."
        )
        return ServerFailure(400, msg, code="context_length_exceeded", param="messages")
    if status == 429:
        retry = 1.0 if fault.retry_after is None else fault.retry_after
        msg = fault.message or f"Rate limit reached for {call.model} (simulated). Please try again in {retry:g}s."
        headers = {
            "retry-after": f"{retry:g}",
            "retry-after-ms": str(int(retry * 1000)),
            "x-ratelimit-remaining-requests": "0",
        }
        return ServerFailure(429, msg, type_="requests", code="rate_limit_exceeded", headers=headers)
    if status >= 500:
        msg = fault.message or "The server had an error while processing your request. Sorry about that! (simulated)"
        return ServerFailure(status, msg, type_="server_error")
    return ServerFailure(status, fault.message or f"Simulated error {status}.", code=f"simulated_{status}")


def _request_fault(request: web.Request, call: ChatCall) -> FaultSpec | None:
    raw = request.headers.get(FAULT_HEADER) or call.marker_fault
    if not raw:
        return None
    try:
        return parse_fault_string(raw)
    except ConfigError as exc:
        raise ServerFailure(400, f"Invalid fault {raw!r}: {exc.reason}", param=FAULT_HEADER) from exc


async def _abort(request: web.Request) -> None:
    """Drops the connection once what was written has left the buffer (abort discards the rest)."""
    transport = request.transport
    if transport is None:
        return
    for _ in range(1000):
        if transport.is_closing() or transport.get_write_buffer_size() == 0:
            break
        await asyncio.sleep(0.001)
    transport.abort()


def _event_tokens(chunk: dict[str, Any], encoding: str) -> int:
    """Completion tokens a stream chunk carries (content, or tool-call argument text)."""
    n = 0
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        n += count_tokens(delta.get("content") or "", encoding)
        for tc in delta.get("tool_calls") or ():
            fn = tc.get("function") or {}
            n += count_tokens(fn.get("name") or "", encoding) + count_tokens(fn.get("arguments") or "", encoding)
    return n


async def _stream(
    request: web.Request, call: ChatCall, reply: Reply, fault: FaultSpec | None, *, delay: float, meter: _Meter
) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    chunks = list(stream_chunks(reply, include_usage=call.include_usage))
    events = [sse_event(c) for c in chunks]
    tokens = [_event_tokens(c, reply.encoding) for c in chunks]
    if fault is not None and fault.kind == "broken_stream":
        k = fault.chunks_before_break
        meter.completion = sum(tokens[:k])
        if events[:k]:
            await resp.write(b"".join(events[:k]))  # write() waits until the bytes are flushed
        meter.close("broken")
        await _abort(request)
        return resp
    if delay > 0:
        for event, n in zip(events, tokens, strict=True):
            meter.completion += n
            await resp.write(event)
            await asyncio.sleep(delay)
        await resp.write(SSE_DONE)
    else:
        meter.completion = sum(tokens)
        await resp.write(b"".join(events) + SSE_DONE)
    meter.completion = reply.completion_tokens
    meter.close("complete", 200)
    await resp.write_eof()
    return resp


def _error(message: str, status: int, *, type_: str = "invalid_request_error", code: str | None = None) -> web.Response:
    return _json({"error": {"message": message, "type": type_, "param": None, "code": code}}, status)


class _Routes:
    """Request handlers and middlewares bound to one :class:`AppState`."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    @web.middleware
    async def errors(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """Turns aiohttp errors and bugs into OpenAI-style JSON errors."""
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _error(exc.reason, exc.status)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("local server failed on %s %s", request.method, request.path)
            return _error(
                "The local server failed while processing your request (see its log).", 500, type_="server_error"
            )

    @web.middleware
    async def auth(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """Checks ``Authorization: Bearer <key>`` (or ``api-key``) on ``/v1/*`` when a key is set."""
        key = self.state.api_key
        if key is None or not request.path.startswith("/v1/"):
            return await handler(request)
        header = request.headers.get("Authorization", "")
        given = header[7:].strip() if header[:7].lower() == "bearer " else request.headers.get("api-key", "")
        if not given:
            msg = "You didn't provide an API key. Provide it in the Authorization header (Bearer auth)."
            return _error(msg, 401)
        if not hmac.compare_digest(given.encode(), key.encode()):
            return _error("Incorrect API key provided.", 401, code="invalid_api_key")
        return await handler(request)

    async def health(self, _: web.Request) -> web.Response:
        """``GET /health``."""
        return _json({"status": "ok"})

    @staticmethod
    def _model_entry(name: str) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": 0, "owned_by": "costrouter-local"}

    async def list_models(self, _: web.Request) -> web.Response:
        """``GET /v1/models``."""
        return _json({"object": "list", "data": [self._model_entry(m) for m in self.state.responder.model_names()]})

    async def get_model(self, request: web.Request) -> web.Response:
        """``GET /v1/models/{model}``."""
        name = request.match_info["model"]
        if name not in self.state.responder.model_names():
            return _failure_response(model_not_found(name))
        return _json(self._model_entry(name))

    async def chat(self, request: web.Request) -> web.StreamResponse:
        """``POST /v1/chat/completions``."""
        try:
            body = await request.json()
        except ValueError:
            return _error("We could not parse the JSON body of your request.", 400)
        state = self.state
        state.requests.append(body)
        meter = _Meter(state.bill, state.bill.next_seq())
        try:
            return await self._answer(request, body, meter)
        except asyncio.CancelledError:  # the client went away: the prompt was processed
            meter.close("abandoned")
            raise
        finally:
            meter.close("error", 500)  # a bug answered by the error middleware

    async def _answer(self, request: web.Request, body: Any, meter: _Meter) -> web.StreamResponse:
        state = self.state
        try:
            if isinstance(body, dict):
                meter.model = str(body.get("model") or "")
                meter.stream = bool(body.get("stream") or False)
                messages = body.get("messages")
                meter.tag = state.bill.tag_of(messages) if isinstance(messages, list) else None
            call = parse_chat_call(body)
            fault = _request_fault(request, call)
            plan = state.responder.plan(call)
            if fault is None:
                fault = state.faults.pick(plan.key, plan.faults)
            if fault is None and state.chaos is not None:
                fault = state.chaos.pick(call.model)
            meter.fault = None if fault is None else fault.kind
            if fault is not None:
                failure = _fault_failure(fault, call)
                if failure is not None:
                    raise failure
            meter.admit(call, plan.encoding)
            if fault is not None and fault.delay > 0:
                await asyncio.sleep(fault.delay)
            if plan.latency_s > 0:
                await asyncio.sleep(plan.latency_s)
            reply = finish_reply(call, plan, plan.compose(call), state.responder.system_fingerprint)
        except ServerFailure as failure:
            meter.close("error", failure.status)
            return _failure_response(failure)
        if call.stream:
            return await _stream(request, call, reply, fault, delay=plan.token_delay_s, meter=meter)
        if fault is not None and fault.kind == "broken_stream":
            meter.close("dropped")
            await _abort(request)
            return web.Response(status=500)
        meter.completion = reply.completion_tokens
        meter.close("complete", 200)
        return _json(completion_body(reply))


def build_app(state: AppState) -> web.Application:
    """The aiohttp application serving ``state``."""
    routes = _Routes(state)
    app = web.Application(middlewares=[routes.errors, routes.auth], client_max_size=MAX_BODY_BYTES)
    app.router.add_get("/health", routes.health)
    app.router.add_get("/v1/models", routes.list_models)
    app.router.add_get("/v1/models/{model:.+}", routes.get_model)
    app.router.add_post("/v1/chat/completions", routes.chat)
    app.router.add_post("/chat/completions", routes.chat)
    return app
