"""One request pipeline for every adapter, written once for sync, async and streaming callers.

route -> cache lookup -> (per tier: compression -> call -> output contract -> gate -> ledger)* -> cache store

The output contract is the request's own (a ``response_format`` JSON schema, JSON mode, a forced
function: :mod:`~langchain_costrouter.core.gates.structured`): an answer that breaks it is a
rejection that escalates, checked on every gated tier whatever its gate, before the gate runs.

:meth:`RequestPipeline.flow` is a generator in the style of httpx's auth flows: it decides
everything (through :class:`~langchain_costrouter.core.cascade.CascadeRun`, the one state
machine) and *yields* an effect each time it needs I/O; a driver performs the effect and sends
the result back (or throws the exception in). Four thin drivers run it:
:func:`run_sync`, :func:`run_async`, :func:`stream_sync` and :func:`stream_async`. The only
adapter-specific I/O is the tier call itself (:class:`TierIO` / :class:`StreamIO`): the
LangChain model and the LiteLLM handler each implement it in a few lines, so both adapters
behave the same by construction (tenant, cache scope, budget, retries, gate, best answer,
ledger records, metadata).

Streaming: the last tier of a ladder (or every tier with ``cascade.buffer_streams: false``)
streams to the caller token by token (*direct*); any other tier is *buffered*: its chunks are
collected, gated, and replayed only when the answer passes, so a caller never sees a rejected
answer. A direct stream that breaks after sending tokens cannot escalate: the error is raised
after the partial answer is recorded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from langchain_costrouter.core.cascade import CascadeEngine, CascadeResult, CascadeRun, TierStep
from langchain_costrouter.core.gates.base import GateVerdict
from langchain_costrouter.core.gates.structured import contract_verdict
from langchain_costrouter.core.routing import RouteDecision
from langchain_costrouter.core.types import ChatRequest, Completion

if TYPE_CHECKING:
    from langchain_costrouter.core.cache.shadow import ShadowCandidate
    from langchain_costrouter.core.compression import CompressedMessages, PromptCompressor
    from langchain_costrouter.core.pipeline_cache import CacheStep

__all__ = [
    "Abandoned",
    "CallFailed",
    "CallTier",
    "CheckGate",
    "Compress",
    "Effect",
    "LookupCache",
    "Observer",
    "RequestPipeline",
    "Sleep",
    "StoreCache",
    "StreamDeadlineError",
    "StreamIO",
    "StreamOutcome",
    "TierIO",
    "TierReply",
    "run_async",
    "run_sync",
    "stream_async",
    "stream_sync",
]

logger = logging.getLogger(__name__)

Messages = tuple[Mapping[str, Any], ...]
StreamMode = Literal["none", "direct", "buffered"]
ChunkT = TypeVar("ChunkT")


# ---------------------------------------------------------------------------------- effects
@dataclass(frozen=True, slots=True)
class CallTier:
    """Call ``step``'s tier with ``messages`` (possibly compressed); reply a :class:`TierReply`."""

    step: TierStep
    request: ChatRequest
    messages: Messages
    stream: StreamMode = "none"

    @property
    def compressed(self) -> bool:
        """Whether ``messages`` differ from the request's own messages."""
        return self.messages is not self.request.messages


@dataclass(frozen=True, slots=True)
class TierReply:
    """A tier's answer and how long the call took."""

    completion: Completion
    latency_ms: float


class CallFailed(Exception):  # noqa: N818 - an event thrown into the flow, not an error type of the API
    """Thrown into the flow when a tier call failed.

    Attributes:
        error: What the call raised.
        latency_ms: Time spent.
        partial: What a broken stream had produced (``None`` for a plain call).
        sent: Some of it already reached the caller (a direct stream).
    """

    def __init__(
        self, error: BaseException, latency_ms: float, *, partial: Completion | None = None, sent: bool = False
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.latency_ms = latency_ms
        self.partial = partial
        self.sent = sent


class StreamDeadlineError(TimeoutError):
    """A tier's stream ran past its ``timeout_s`` (a total deadline, not a per-read one)."""


class Abandoned(BaseException):
    """Thrown into the flow when the caller gave up (cancellation, a closed stream, Ctrl-C).

    The flow records what the provider billed for the call or answer in hand, then re-raises
    it; the driver then re-raises the caller's own exception.
    """

    def __init__(self, reason: str, *, partial: Completion | None = None, latency_ms: float = 0.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.partial = partial
        self.latency_ms = latency_ms


@dataclass(frozen=True, slots=True)
class CheckGate:
    """Evaluate ``step``'s gate on ``completion``; reply a :class:`GateVerdict`."""

    step: TierStep
    request: ChatRequest
    completion: Completion


@dataclass(frozen=True, slots=True)
class Compress:
    """Compress the request for ``step``'s tier; reply :class:`CompressedMessages`."""

    step: TierStep
    request: ChatRequest
    compressor: PromptCompressor


@dataclass(frozen=True, slots=True)
class LookupCache:
    """Look the request up in the response cache; reply a ``Found`` (never raises)."""

    cache: CacheStep
    run: CascadeRun


@dataclass(frozen=True, slots=True)
class StoreCache:
    """Store an accepted answer (never raises)."""

    cache: CacheStep
    run: CascadeRun
    result: CascadeResult
    shadow: ShadowCandidate | None = None


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait before a retry."""

    seconds: float


Effect = CallTier | CheckGate | Compress | LookupCache | StoreCache | Sleep


class Observer(Protocol):
    """Sees every served result (e.g. the quality monitor); must never block or raise."""

    def observe(self, request: ChatRequest, result: CascadeResult) -> None:
        """Called once per served answer, after the cache store."""
        ...


# ---------------------------------------------------------------------------------- the flow
@dataclass
class RequestPipeline:
    """Route, cache, compress, call, gate, record, store: one flow for every adapter.

    Args:
        engine: The cascade engine (router, tiers, gates, accountant, budget).
        cache: The response cache step (``None``: no cache).
        compressor: Compresses prompts per tier when it pays (``None``: never).
        observers: Called with every served result (quality monitor).
    """

    engine: CascadeEngine
    cache: CacheStep | None = None
    compressor: PromptCompressor | None = None
    observers: Sequence[Observer] = field(default_factory=tuple)

    def flow(
        self, request: ChatRequest, *, stream: bool = False, decision: RouteDecision | None = None
    ) -> Generator[Effect, Any, CascadeResult]:
        """The request's whole life as a generator of effects (see the module docstring).

        Args:
            request: The request.
            stream: The caller streams (gated tiers are buffered, the last one streams).
            decision: A route decided by the caller (a request for a tier by name); the router
                decides otherwise.
        """
        run = self.engine.start(request, decision=decision)
        cache = self.cache
        shadow = None
        if cache is not None and cache.enabled:
            found = yield LookupCache(cache, run)
            if found.hit is not None:
                result = cache.served(run, found.hit, found.latency_ms)
                self._observe(request, result)
                return result
            shadow = found.shadow
        while (step := run.next_step()) is not None:
            messages = request.messages
            if self.compressor is not None:
                packed = yield from self._compress(run, step)
                messages = packed
            mode: StreamMode = "none"
            if stream:
                mode = "direct" if step.is_last or not self.engine.cascade.buffer_streams else "buffered"
            try:
                reply = yield CallTier(step, request, messages, mode)
            except CallFailed as failed:
                backoff = run.on_error(step, failed.error, failed.latency_ms, partial=failed.partial, sent=failed.sent)
                if backoff:
                    yield Sleep(backoff)
                continue
            except Abandoned as gone:  # cancelled or closed while the call ran: record what was billed
                run.on_abandoned(step, gone.partial, gone.latency_ms, gone.reason)
                raise
            except BaseException as exc:  # closed without notice (e.g. garbage-collected mid-call)
                run.on_abandoned(step, None, 0.0, type(exc).__name__)
                raise
            if mode == "direct":
                run.on_streamed(step, reply.completion, reply.latency_ms)
                break
            verdict = yield from self._gate(run, step, reply)
            run.on_answer(step, reply.completion, reply.latency_ms, verdict)
        result = run.result()
        if cache is not None and cache.enabled and cache.storable(run, result):
            yield StoreCache(cache, run, result, shadow)
        self._observe(request, result)
        return result

    def _compress(self, run: CascadeRun, step: TierStep) -> Generator[Effect, Any, Messages]:
        assert self.compressor is not None
        try:
            packed: CompressedMessages = yield Compress(step, run.request, self.compressor)
        except Exception:  # compression is a saving, never a reason to fail a request
            logger.warning("prompt compression failed for tier %r; sending the prompt as is", step.tier.name,
                           exc_info=True)  # fmt: skip
            return run.request.messages
        run.charge(packed.cost_usd)
        return packed.messages if packed.applied else run.request.messages

    @staticmethod
    def _gate(run: CascadeRun, step: TierStep, reply: TierReply) -> Generator[Effect, Any, GateVerdict]:
        try:  # the request's own output contract first (a schema, a forced function): no gate call
            broken = contract_verdict(run.request, reply.completion)
        except Exception:  # a side check never fails a paid answer
            logger.exception("checking the answer against the request's output format failed")
            broken = None
        if broken is not None:
            return broken
        try:
            verdict: GateVerdict = yield CheckGate(step, run.request, reply.completion)
        except Exception as exc:
            return run.gate_failed(step, exc)
        except BaseException as exc:  # cancelled while the gate ran: the answer (and a judge) was paid for
            reason = exc.reason if isinstance(exc, Abandoned) else type(exc).__name__
            answer_tokens = reply.completion.usage.output_tokens
            run.on_abandoned(step, reply.completion, reply.latency_ms, reason,
                             overhead=step.tier.gate.estimate_overhead(run.request, answer_tokens))  # fmt: skip
            raise
        return verdict

    def _observe(self, request: ChatRequest, result: CascadeResult) -> None:
        for obs in self.observers:
            try:
                obs.observe(request, result)
            except Exception:  # an observer is a side concern
                logger.exception("result observer %r failed", obs)


# ---------------------------------------------------------------------------------- I/O
class TierIO(Protocol):
    """An adapter's non-streaming tier call."""

    def call(self, effect: CallTier) -> Completion:
        """Calls the tier synchronously."""
        ...

    async def acall(self, effect: CallTier) -> Completion:
        """Calls the tier asynchronously."""
        ...


class StreamIO(Protocol, Generic[ChunkT]):
    """An adapter's streaming tier call, in its own chunk type."""

    def stream(self, effect: CallTier) -> Iterator[ChunkT]:
        """Streams the tier's answer synchronously."""
        ...

    def astream(self, effect: CallTier) -> AsyncIterator[ChunkT]:
        """Streams the tier's answer asynchronously."""
        ...

    def collect(self, effect: CallTier, chunks: Sequence[ChunkT]) -> Completion:
        """The answer the chunks make up (usage included when the provider sent it)."""
        ...


def _perform(effect: Effect) -> Any:
    """Performs every effect but the tier call (sync)."""
    if isinstance(effect, CheckGate):
        return effect.step.tier.gate.evaluate(effect.request, effect.completion)
    if isinstance(effect, Compress):
        return effect.compressor.compress_messages(
            effect.request.messages,
            target_model=effect.step.tier.model,
            request_id=effect.request.request_id,
            tenant=effect.request.tenant,
        )
    if isinstance(effect, LookupCache):
        return effect.cache.lookup(effect.run)
    if isinstance(effect, StoreCache):
        effect.cache.store(effect.run, effect.result, effect.shadow)
        return None
    if isinstance(effect, Sleep):
        time.sleep(effect.seconds)
        return None
    msg = f"unexpected effect {effect!r}"
    raise TypeError(msg)


async def _aperform(effect: Effect) -> Any:
    """Performs every effect but the tier call (async)."""
    if isinstance(effect, CheckGate):
        return await effect.step.tier.gate.aevaluate(effect.request, effect.completion)
    if isinstance(effect, Compress):
        return await effect.compressor.acompress_messages(
            effect.request.messages,
            target_model=effect.step.tier.model,
            request_id=effect.request.request_id,
            tenant=effect.request.tenant,
        )
    if isinstance(effect, LookupCache):
        return await effect.cache.alookup(effect.run)
    if isinstance(effect, StoreCache):
        await effect.cache.astore(effect.run, effect.result, effect.shadow)
        return None
    if isinstance(effect, Sleep):
        await asyncio.sleep(effect.seconds)
        return None
    msg = f"unexpected effect {effect!r}"
    raise TypeError(msg)


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def _check_deadline(effect: CallTier, t0: float) -> None:
    """Ends a stream that runs past its tier's ``timeout_s`` (checked between chunks)."""
    limit = effect.step.tier.spec.timeout_s
    if time.perf_counter() - t0 > limit:
        msg = f"tier {effect.step.tier.name!r} streamed for more than its timeout_s={limit:g}"
        raise StreamDeadlineError(msg)


def _close(source: Iterator[Any]) -> None:
    close = getattr(source, "close", None)
    if callable(close):
        try:
            close()
        except Exception:  # releasing a broken stream must not hide why it broke
            logger.debug("closing a tier stream failed", exc_info=True)


async def _aclose(source: AsyncIterator[Any]) -> None:
    aclose = getattr(source, "aclose", None)
    if callable(aclose):
        try:
            await aclose()
        except Exception:  # releasing a broken stream must not hide why it broke
            logger.debug("closing a tier stream failed", exc_info=True)


class _Driver:
    """The state a driver keeps between effects: what to send (or throw) into the flow next."""

    def __init__(self, flow: Generator[Effect, Any, CascadeResult]) -> None:
        self.flow = flow
        self._send: Any = None
        self._throw: BaseException | None = None
        self.result: CascadeResult | None = None

    def next_effect(self) -> Effect | None:
        """The flow's next effect, or ``None`` once it returned (its result in :attr:`result`)."""
        send, throw = self._send, self._throw
        self._send, self._throw = None, None
        try:
            return self.flow.send(send) if throw is None else self.flow.throw(throw)
        except StopIteration as stop:
            self.result = stop.value
            return None

    def reply(self, value: Any) -> None:
        self._send = value

    def throw(self, exc: BaseException) -> None:
        self._throw = exc

    def fail(self, effect: Effect, exc: Exception, t0: float) -> None:
        self.throw(CallFailed(exc, _ms(t0)) if isinstance(effect, CallTier) else exc)

    def abandon(self, exc: BaseException, *, partial: Completion | None = None, t0: float | None = None) -> None:
        """Tells the flow the caller gave up, so it records paid work (the caller re-raises ``exc``)."""
        latency = _ms(t0) if t0 is not None else 0.0
        try:
            self.flow.throw(Abandoned(type(exc).__name__, partial=partial, latency_ms=latency))
        except BaseException:  # noqa: S110 - the flow re-raises the event; the caller re-raises ``exc``
            pass
        finally:
            self.flow.close()


def run_sync(flow: Generator[Effect, Any, CascadeResult], io: TierIO) -> CascadeResult:
    """Drives a flow to its result with synchronous I/O."""
    d = _Driver(flow)
    while (effect := d.next_effect()) is not None:
        t0 = time.perf_counter()
        try:
            if isinstance(effect, CallTier):
                d.reply(TierReply(io.call(effect), _ms(t0)))
            else:
                d.reply(_perform(effect))
        except Exception as exc:
            d.fail(effect, exc, t0)
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: record what was paid, then stop
            d.abandon(exc, t0=t0)
            raise
    assert d.result is not None
    return d.result


async def run_async(flow: Generator[Effect, Any, CascadeResult], io: TierIO) -> CascadeResult:
    """Drives a flow to its result with asynchronous I/O (cancellation is thrown into the flow)."""
    d = _Driver(flow)
    while (effect := d.next_effect()) is not None:
        t0 = time.perf_counter()
        try:
            if isinstance(effect, CallTier):
                d.reply(TierReply(await io.acall(effect), _ms(t0)))
            else:
                d.reply(await _aperform(effect))
        except Exception as exc:
            d.fail(effect, exc, t0)
        except BaseException as exc:  # CancelledError: let the flow record what was paid, then stop
            d.abandon(exc, t0=t0)
            raise
    assert d.result is not None
    return d.result


@dataclass
class StreamOutcome(Generic[ChunkT]):
    """What a streaming driver needs to finish: the result and the chunks to replay, if any."""

    result: CascadeResult
    replay: list[ChunkT] | None
    streamed: bool


class _StreamState(Generic[ChunkT]):
    """One streaming request: its buffered chunks and the tier stream under way."""

    def __init__(self, io: StreamIO[ChunkT]) -> None:
        self.io = io
        self._by_answer: dict[int, list[ChunkT]] = {}
        self.streamed = False
        self.chunks: list[ChunkT] = []
        self.t0 = 0.0

    def start(self) -> None:
        self.chunks = []
        self.t0 = time.perf_counter()

    def take(self, effect: CallTier, chunk: ChunkT) -> bool:
        """Keeps a chunk; whether to pass it to the caller now (a direct tier)."""
        self.chunks.append(chunk)
        direct = effect.stream == "direct"
        self.streamed = self.streamed or direct
        _check_deadline(effect, self.t0)
        return direct

    def partial(self, effect: CallTier) -> Completion:
        return self.io.collect(effect, self.chunks)

    def failed(self, effect: CallTier, exc: Exception) -> CallFailed:
        sent = effect.stream == "direct" and bool(self.chunks)
        return CallFailed(exc, _ms(self.t0), partial=self.partial(effect), sent=sent)

    def done(self, effect: CallTier) -> TierReply:
        completion = self.partial(effect)
        if effect.stream != "direct":
            self._by_answer[id(completion)] = self.chunks
        return TierReply(completion, _ms(self.t0))

    def outcome(self, result: CascadeResult) -> StreamOutcome[ChunkT]:
        return StreamOutcome(result, self._by_answer.get(id(result.completion)), self.streamed)


def stream_sync(
    flow: Generator[Effect, Any, CascadeResult],
    io: StreamIO[ChunkT],
    finish: Callable[[StreamOutcome[ChunkT]], Iterator[ChunkT]],
) -> Iterator[ChunkT]:
    """Drives a streaming flow, yielding the caller's chunks (``finish`` yields the tail)."""
    d, st = _Driver(flow), _StreamState(io)
    while (effect := d.next_effect()) is not None:
        if not isinstance(effect, CallTier):
            try:
                d.reply(_perform(effect))
            except Exception as exc:
                d.fail(effect, exc, 0.0)
            continue
        st.start()
        source = io.stream(effect)
        try:
            for chunk in source:
                if st.take(effect, chunk):
                    yield chunk
        except Exception as exc:
            _close(source)
            d.throw(st.failed(effect, exc))
            continue
        except BaseException as exc:  # the caller stopped reading (GeneratorExit) or was interrupted
            d.abandon(exc, partial=st.partial(effect), t0=st.t0)
            raise
        d.reply(st.done(effect))
    assert d.result is not None
    yield from finish(st.outcome(d.result))


async def stream_async(
    flow: Generator[Effect, Any, CascadeResult],
    io: StreamIO[ChunkT],
    finish: Callable[[StreamOutcome[ChunkT]], Iterator[ChunkT]],
) -> AsyncIterator[ChunkT]:
    """Async :func:`stream_sync`."""
    d, st = _Driver(flow), _StreamState(io)
    while (effect := d.next_effect()) is not None:
        if not isinstance(effect, CallTier):
            try:
                d.reply(await _aperform(effect))
            except Exception as exc:
                d.fail(effect, exc, 0.0)
            except BaseException as exc:
                d.abandon(exc)
                raise
            continue
        st.start()
        source = io.astream(effect)
        try:
            async for chunk in source:
                if st.take(effect, chunk):
                    yield chunk
        except Exception as exc:
            await _aclose(source)
            d.throw(st.failed(effect, exc))
            continue
        except BaseException as exc:  # cancelled, or the caller closed the stream
            d.abandon(exc, partial=st.partial(effect), t0=st.t0)
            raise
        d.reply(st.done(effect))
    assert d.result is not None
    for chunk in finish(st.outcome(d.result)):
        yield chunk
