"""The cascade as a LiteLLM custom provider: the SDK ``Router`` and the proxy drive the core pipeline.

``build_router`` and the proxy YAML declare one deployment per entry point, whose model is
``costrouter/<config id>:<target>`` (``route`` for task routing, ``tier:<name>`` to start on a
tier); LiteLLM hands those calls to :class:`CascadeHandler` (registered in
``litellm.custom_provider_map``), which runs the same
:class:`~langchain_costrouter.core.pipeline.RequestPipeline` as ``ChatCostRouter``: tenant,
route, cache, compression, retries, gates, budget, best answer, ledger records and metadata are
the core's, for sync and async calls and for streams (gated tiers buffered and replayed only
when they pass). Only the tier call is LiteLLM's: ``litellm.completion`` / ``acompletion`` with
the tier's deployment parameters, no retries of its own, and ``no-log`` (callers' loggers see one
call: the cascade's, with its total cost as ``response_cost``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from langchain_costrouter.core.errors import (
    BudgetExceededError,
    BudgetUnavailableError,
    CascadeExhaustedError,
    CostRouterError,
)
from langchain_costrouter.core.gates.composite import AllOfGate
from langchain_costrouter.core.gates.logprob import LogprobGate
from langchain_costrouter.core.ledger import new_request_id
from langchain_costrouter.core.pipeline import CallTier, StreamOutcome, run_async, run_sync, stream_async, stream_sync
from langchain_costrouter.core.routing import RouteDecision, start_on
from langchain_costrouter.core.runtime import CostRouterRuntime
from langchain_costrouter.core.types import Completion, key_of
from litellm_hooks import _convert as cv
from litellm_hooks._client import deployment_params
from litellm_hooks._direct import DirectClients, collect_chunks, is_openai_compatible

__all__ = ["PROVIDER", "CascadeHandler", "register", "unregister"]

logger = logging.getLogger(__name__)

PROVIDER = "costrouter"
"""The custom provider name of the cascade's entry deployments."""

ROUTE_TARGET = "route"
TIER_TARGET = "tier:"

_registry_lock = threading.Lock()
_registry: dict[str, CostRouterRuntime] = {}
_direct: dict[str, DirectClients] = {}


def register(fingerprint: str, runtime: CostRouterRuntime) -> None:
    """Makes ``costrouter/<fingerprint>:...`` deployments run on ``runtime`` (and installs the handler)."""
    import litellm

    with _registry_lock:
        _registry[fingerprint] = runtime
        _direct[fingerprint] = DirectClients()
        if not any(p.get("provider") == PROVIDER for p in litellm.custom_provider_map):
            litellm.custom_provider_map = [
                *litellm.custom_provider_map,
                {"provider": PROVIDER, "custom_handler": CascadeHandler()},
            ]
            from litellm.utils import custom_llm_setup

            custom_llm_setup()  # type: ignore[no-untyped-call]


def unregister(fingerprint: str, runtime: CostRouterRuntime) -> None:
    """Forgets ``runtime`` (when it is still the one registered for ``fingerprint``)."""
    with _registry_lock:
        if _registry.get(fingerprint) is runtime:
            del _registry[fingerprint]
            _direct.pop(fingerprint, None)


def _resolve(model: str) -> tuple[CostRouterRuntime, DirectClients, str]:
    fingerprint, _, target = model.partition(":")
    with _registry_lock:
        runtime = _registry.get(fingerprint)
        direct = _direct.get(fingerprint)
    if runtime is None or direct is None:
        from langchain_costrouter.core.errors import ConfigError

        raise ConfigError(
            "model",
            f"no costrouter configuration {fingerprint!r} in this process: build the router and the hooks "
            "from the same costrouter.yaml (CostRouterHooks.install / build_router)",
        )
    return runtime, direct, target


def _wants_logprobs(gate: Any) -> bool:
    if isinstance(gate, LogprobGate):
        return True
    return isinstance(gate, AllOfGate) and any(_wants_logprobs(g) for g in gate.gates)


def _base() -> type[Any]:
    from litellm.llms.custom_llm import CustomLLM

    base: type[Any] = CustomLLM
    return base


class _Call:
    """One cascade call: its runtime, request and route, and the tier calls it makes."""

    def __init__(
        self, model: str, messages: Sequence[Any], optional_params: Mapping[str, Any], litellm_params: Any
    ) -> None:
        self.runtime, direct, target = _resolve(model)
        params = dict(optional_params or {})
        meta = cv.metadata_of({"litellm_params": litellm_params or {}})
        call_id = cv.get(litellm_params, "litellm_call_id")
        request_id = str(meta.get("costrouter_request_id") or call_id or new_request_id())
        user = params.get("user")
        tenant = self.runtime.tenant(meta, user=user if isinstance(user, str) else None)
        self.request = cv.request_of(messages, params, request_id=request_id, tenant=tenant, key=key_of(meta))
        self.decision = self._decision(target)
        self.io = _TierIO(self.runtime, direct)

    def _decision(self, target: str) -> RouteDecision | None:
        if target == ROUTE_TARGET:
            return None  # the router decides
        return start_on(self.runtime.config, target.removeprefix(TIER_TARGET), self.runtime.prices)

    def flow(self, *, stream: bool) -> Any:
        return self.runtime.pipeline.flow(self.request, stream=stream, decision=self.decision)

    def model_name(self, answered_by: str) -> str:
        try:
            return self.runtime.config.deployment(answered_by).provider_model
        except KeyError:
            return answered_by

    def finish(self, outcome: StreamOutcome[Any]) -> Iterator[dict[str, Any]]:
        """The tail of a stream in ``GenericStreamingChunk`` form."""
        result = outcome.result
        if not outcome.streamed:
            if outcome.replay is not None:
                yield from (cv.generic_chunk(c) for c in outcome.replay)
            else:
                yield from _whole(result.completion)
        usage = result.completion.usage
        yield {
            "text": "",
            "tool_use": None,
            "is_finished": True,
            "finish_reason": result.completion.finish_reason or "stop",
            "usage": {
                "prompt_tokens": usage.input_tokens,
                "completion_tokens": usage.output_tokens,
                "total_tokens": usage.total_tokens,
            },
            "index": 0,
        }


def _whole(completion: Completion) -> Iterator[dict[str, Any]]:
    """A whole answer (a cache hit, a best answer never streamed) as stream chunks."""
    yield {"text": completion.text, "tool_use": None, "is_finished": False, "finish_reason": "", "usage": None,
           "index": 0}  # fmt: skip
    for i, tc in enumerate(completion.tool_calls):
        fn = tc.get("function") or {}
        tool = {"id": tc.get("id"), "type": "function", "index": i,
                "function": {"name": fn.get("name"), "arguments": fn.get("arguments") or "{}"}}  # fmt: skip
        yield {"text": "", "tool_use": tool, "is_finished": False, "finish_reason": "", "usage": None, "index": 0}


@contextmanager
def _as_litellm_errors(model: str) -> Iterator[None]:
    """The cascade's own terminal errors as LiteLLM exceptions, so the proxy answers with the right status.

    A budget that stops a request is LiteLLM's ``BudgetExceededError`` (the proxy's
    ``budget_exceeded`` answer), a budget store that cannot be reached a 503, an exhausted cascade
    a 502. The original error is the ``__cause__`` and the ``costrouter_error`` attribute.
    Provider errors of the tiers are LiteLLM's already and pass through unchanged.
    """
    try:
        yield
    except CostRouterError as exc:
        from litellm.exceptions import APIError, ServiceUnavailableError
        from litellm.exceptions import BudgetExceededError as LiteLLMBudgetError

        out: Exception
        if isinstance(exc, BudgetUnavailableError):
            out = ServiceUnavailableError(message=str(exc), llm_provider=PROVIDER, model=model)
        elif isinstance(exc, BudgetExceededError):
            out = LiteLLMBudgetError(
                current_cost=exc.spent_usd, max_budget=exc.limit_usd, message=str(exc), llm_provider=PROVIDER
            )
        elif isinstance(exc, CascadeExhaustedError):
            out = APIError(status_code=502, message=str(exc), llm_provider=PROVIDER, model=model)
        else:
            raise
        setattr(out, "costrouter_error", exc)  # noqa: B010 - an attribute LiteLLM exceptions lack
        raise out from exc


class CascadeHandler(_base()):  # type: ignore[misc]
    """LiteLLM's custom-provider handler of the ``costrouter`` deployments (see the module docstring)."""

    def completion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> Any:
        with _as_litellm_errors(model):
            call = _Call(model, messages, kwargs.get("optional_params") or {}, kwargs.get("litellm_params"))
            result = run_sync(call.flow(stream=False), call.io)
        return cv.response_of(result, model_name=call.model_name(result.answered_by))

    async def acompletion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> Any:
        with _as_litellm_errors(model):
            call = _Call(model, messages, kwargs.get("optional_params") or {}, kwargs.get("litellm_params"))
            result = await run_async(call.flow(stream=False), call.io)
        return cv.response_of(result, model_name=call.model_name(result.answered_by))

    def streaming(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        with _as_litellm_errors(model):
            call = _Call(model, messages, kwargs.get("optional_params") or {}, kwargs.get("litellm_params"))
            for chunk in stream_sync(call.flow(stream=True), call.io, call.finish):
                yield chunk if isinstance(chunk, dict) else cv.generic_chunk(chunk)

    async def astreaming(
        self, model: str, messages: list[Any], *args: Any, **kwargs: Any
    ) -> AsyncIterator[dict[str, Any]]:
        with _as_litellm_errors(model):
            call = _Call(model, messages, kwargs.get("optional_params") or {}, kwargs.get("litellm_params"))
            async for chunk in stream_async(call.flow(stream=True), call.io, call.finish):
                yield chunk if isinstance(chunk, dict) else cv.generic_chunk(chunk)


class _TierIO:
    """Calls a tier for the pipeline: OpenAI-compatible endpoints with the ``openai`` SDK, others with LiteLLM."""

    def __init__(self, runtime: CostRouterRuntime, direct: DirectClients) -> None:
        self.runtime = runtime
        self.direct = direct

    def _kwargs(self, effect: CallTier, *, stream: bool) -> dict[str, Any]:
        tier = effect.step.tier
        request = effect.request
        base = deployment_params(tier.spec, self.runtime.prices)
        kwargs = cv.tier_params(request, base, logprobs=_wants_logprobs(tier.gate), stream=stream)
        kwargs["messages"] = [dict(m) for m in effect.messages]
        kwargs["num_retries"] = 0  # the cascade retries, recording every attempt
        kwargs["no-log"] = True  # callers' loggers see the cascade's call, not each tier's
        kwargs["metadata"] = {cv.INTERNAL_FLAG: True, "costrouter_request_id": request.request_id}
        return kwargs

    @staticmethod
    def _fast(effect: CallTier) -> bool:
        return is_openai_compatible(effect.step.tier.spec)

    def call(self, effect: CallTier) -> Completion:
        if self._fast(effect):
            return self.direct.call(effect, logprobs=_wants_logprobs(effect.step.tier.gate))
        import litellm

        response = litellm.completion(**self._kwargs(effect, stream=False))
        return cv.completion_from_response(response, model=effect.step.tier.model)

    async def acall(self, effect: CallTier) -> Completion:
        if self._fast(effect):
            return await self.direct.acall(effect, logprobs=_wants_logprobs(effect.step.tier.gate))
        import litellm

        response = await litellm.acompletion(**self._kwargs(effect, stream=False))
        return cv.completion_from_response(response, model=effect.step.tier.model)

    def stream(self, effect: CallTier) -> Iterator[Any]:
        if self._fast(effect):
            yield from self.direct.stream(effect, logprobs=_wants_logprobs(effect.step.tier.gate))
            return
        import litellm

        yield from litellm.completion(**self._kwargs(effect, stream=True))

    async def astream(self, effect: CallTier) -> AsyncIterator[Any]:
        if self._fast(effect):
            async for chunk in self.direct.astream(effect, logprobs=_wants_logprobs(effect.step.tier.gate)):
                yield chunk
            return
        import litellm

        response = await litellm.acompletion(**self._kwargs(effect, stream=True))
        async for chunk in response:
            yield chunk

    def collect(self, effect: CallTier, chunks: Sequence[Any]) -> Completion:
        return collect_chunks(chunks, model=effect.step.tier.model)
