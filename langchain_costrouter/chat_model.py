"""``ChatCostRouter``: a drop-in LangChain chat model that routes by task and escalates on quality.

Usage::

    from langchain_costrouter import ChatCostRouter

    llm = ChatCostRouter.from_config("costrouter.yaml")
    chain = prompt | llm | StrOutputParser()

Each call is routed to its task's starting tier, answered by the cheapest tier whose answer
passes its quality gate (or the best answer when every tier fails, flagged), within the
per-request budget. Every attempt is written to the cost ledger; ``response_metadata``
carries ``model_name``, the answering tier and the whole trail under ``"costrouter"``.

Streaming: tiers that have a gate and are not the last of the ladder are *buffered*: their
stream is collected, gated, and replayed to the caller only if it passes, so the user never
sees a rejected answer (the first token arrives once the cheap answer is complete). The last
tier streams token by token. With ``cascade.buffer_streams: false`` the first tier streams
directly and escalation happens only on errors raised before its first token.

Tier models are called through their raw ``_generate`` / ``_stream`` methods, outside LangChain's
callback system: a caller's handlers (LangChain's usage handler, tracers, ours) see one LLM run
per request, the served answer under its own ``model_name``, and never count tokens twice. The
ledger and ``response_metadata["costrouter"]["attempts"]`` hold every attempt, rejected ones
included. (The tier models' own LLM caches and rate limiters are bypassed for the same reason;
use the router's cache instead.)
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, Literal, Self

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, convert_to_messages
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig, ensure_config
from pydantic import ConfigDict, Field, PrivateAttr, ValidationError

from langchain_costrouter._convert import completion_from_message, openai_tools, request_from_messages, strip_chunk
from langchain_costrouter._structured import structured_output_runnable
from langchain_costrouter._tiers import LangChainModelClient, build_tier_model
from langchain_costrouter.core.cascade import CascadeResult, TierStep
from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.credentials import require_credentials
from langchain_costrouter.core.errors import ConfigError, CostRouterError
from langchain_costrouter.core.gates.composite import AllOfGate
from langchain_costrouter.core.gates.logprob import LogprobGate
from langchain_costrouter.core.pipeline import CallTier, StreamOutcome, run_async, run_sync, stream_async, stream_sync
from langchain_costrouter.core.routing import RouteDecision, start_on
from langchain_costrouter.core.runtime import CostRouterRuntime
from langchain_costrouter.core.types import ChatRequest, Completion, key_of

__all__ = ["ChatCostRouter"]


def _wants_logprobs(gate: Any) -> bool:
    if isinstance(gate, LogprobGate):
        return True
    return isinstance(gate, AllOfGate) and any(_wants_logprobs(g) for g in gate.gates)


class ChatCostRouter(BaseChatModel):
    """A chat model over cheap → premium tiers with routing, quality gates and a budget.

    Args:
        config: The :class:`CostRouterConfig` (or use :meth:`from_config`).
        tier_models: LangChain chat models by tier name, replacing the ``ChatOpenAI`` built
            from the config for those tiers (any provider LangChain supports).
        tenant: Default tenant of the ledger records and cache (a per-call
            ``config={"metadata": {"tenant": ...}}`` wins; see ``core.types.tenant_of``).
        start: Start every request on this tier or extra model instead of task-routing it
            (what ``model="<tier>"`` does through LiteLLM): a tier escalates through the tiers
            after it, an extra model through the tiers priced above it.
        ledger: A ledger backend replacing the one the config names.
        response_cache: A :class:`~langchain_costrouter.core.cache.ResponseCache` (default: built from
            ``config.cache`` when it is enabled). Hits are served before routing's first
            call, streaming included; only answers that passed their gate are stored.

    Call :meth:`close` (or use the router as a context manager) to flush the ledger when done.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    config: CostRouterConfig
    tier_models: dict[str, BaseChatModel] = Field(default_factory=dict)
    tenant: str | None = None
    start: str | None = None
    ledger: Any = Field(default=None, exclude=True)
    response_cache: Any = Field(default=None, exclude=True)

    _runtime: CostRouterRuntime = PrivateAttr()
    _models: dict[str, BaseChatModel] = PrivateAttr(default_factory=dict)
    _start: RouteDecision | None = PrivateAttr(default=None)

    def __init__(self, **data: Any) -> None:
        """Builds the router; a bad config raises :class:`ConfigError` (never pydantic's ``ValidationError``)."""
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _typed(exc) from None

    def model_post_init(self, context: Any, /) -> None:
        """Builds the tier models and the runtime (no network).

        Raises:
            MissingCredentialsError: a tier without a model in ``tier_models`` names an unset
                ``api_key_env``.
        """
        require_credentials(self.config, skip=self.tier_models.keys())
        models: dict[str, BaseChatModel] = {}
        specs = [("tiers", i, s) for i, s in enumerate(self.config.tiers)]
        specs += [("models", i, s) for i, s in enumerate(self.config.models)]
        for section, i, spec in specs:
            given = self.tier_models.get(spec.name)
            models[spec.name] = given if given is not None else build_tier_model(spec, field=f"{section}[{i}]")
        self._models = models

        def client(name: str) -> LangChainModelClient:
            return LangChainModelClient(models[name], self.config.deployment(name).model)

        self._runtime = CostRouterRuntime(
            self.config, ledger=self.ledger, clients=client, response_cache=self.response_cache
        )
        if self.start is not None:
            self._start = start_on(self.config, self.start, self._runtime.prices)

    @classmethod
    def from_config(
        cls,
        config: str | os.PathLike[str] | CostRouterConfig | Mapping[str, Any],
        **kwargs: Any,
    ) -> ChatCostRouter:
        """Builds the router from a YAML path, a mapping or a config object."""
        return cls(config=CostRouterConfig.load(config), **kwargs)

    def close(self) -> None:
        """Writes pending ledger records and closes the ledger and the cache."""
        self._runtime.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ LangChain surface
    @property
    def _llm_type(self) -> str:
        return "costrouter"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "tiers": [t.model for t in self.config.tiers],
            "routing": self.config.routing.type,
            "budget_usd": self.config.budget.per_request_usd,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="costrouter",
            ls_model_name=str(kwargs.get("model") or self.config.tiers[0].model),
            ls_model_type="chat",
        )
        if stop:
            params["ls_stop"] = stop
        if isinstance(kwargs.get("temperature"), int | float):
            params["ls_temperature"] = kwargs["temperature"]
        if isinstance(kwargs.get("max_tokens"), int):
            params["ls_max_tokens"] = kwargs["max_tokens"]
        return params

    @property
    def runtime(self) -> CostRouterRuntime:
        """The framework-neutral runtime (prices, ledger, router, cascade engine, pipeline)."""
        return self._runtime

    @property
    def models(self) -> Mapping[str, BaseChatModel]:
        """The chat model of every tier and extra model, by name."""
        return dict(self._models)

    def bind_tools(
        self,
        tools: Sequence[Any],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Binds tools; every tier of the cascade receives them."""
        formatted = openai_tools(tools)
        if tool_choice is not None and tool_choice is not False:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: Any,
        *,
        include_raw: bool = False,
        method: Literal["function_calling", "json_schema", "json_mode"] = "function_calling",
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, Any]:
        """Structured output through the cascade (tool calling, JSON schema or JSON mode)."""
        if method == "function_calling":
            return super().with_structured_output(schema, include_raw=include_raw, **kwargs)
        return structured_output_runnable(self, schema, method=method, include_raw=include_raw, **kwargs)

    # ------------------------------------------------------------------ requests and answers
    def _request(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        meta: Mapping[str, Any] | None,
        kwargs: Mapping[str, Any],
    ) -> ChatRequest:
        """The core request of a call (``meta``: the run's metadata, where tenants and keys are named)."""
        if "model" in kwargs:
            msg = (
                "ChatCostRouter chooses the model of each call; a per-call 'model' override is not "
                "supported (change the config's tiers, or pass tier_models)"
            )
            raise ValueError(msg)
        call = dict(kwargs)
        if stop:
            call["stop"] = stop
        user = call.get("user")
        tenant = self._runtime.tenant(meta, user=user if isinstance(user, str) else None, default=self.tenant)
        return request_from_messages(messages, tenant=tenant, kwargs=call, key=key_of(meta))

    def _message(self, result: CascadeResult) -> AIMessage:
        raw = result.completion.raw
        base = raw if isinstance(raw, BaseMessage) else AIMessage(content=result.completion.text)
        meta = dict(base.response_metadata or {})
        cached_name = raw.get("model_name") if isinstance(raw, Mapping) else None
        name = meta.get("model_name") or cached_name
        if not name:
            try:
                name = self.config.deployment(result.answered_by).provider_model
            except KeyError:
                name = result.completion.model
        meta["model_name"] = str(name)
        meta.setdefault("finish_reason", result.completion.finish_reason or "stop")
        meta["costrouter"] = result.metadata()
        usage = getattr(base, "usage_metadata", None) or result.completion.usage.to_langchain()
        return AIMessage(
            content=base.content,
            additional_kwargs=dict(base.additional_kwargs),
            response_metadata=meta,
            tool_calls=list(getattr(base, "tool_calls", []) or []),
            invalid_tool_calls=list(getattr(base, "invalid_tool_calls", []) or []),
            usage_metadata=usage,
            id=base.id,
        )

    def _chat_result(self, result: CascadeResult) -> ChatResult:
        message = self._message(result)
        return ChatResult(
            generations=[ChatGeneration(message=message)],
            llm_output={"model_name": message.response_metadata["model_name"], "costrouter": result.metadata()},
        )

    def _finish(self, outcome: StreamOutcome[ChatGenerationChunk]) -> Iterator[ChatGenerationChunk]:
        """The tail of a stream: the served answer when it was not streamed yet, then its metadata."""
        msg = self._message(outcome.result)
        if not outcome.streamed:
            if outcome.replay is not None:
                yield from outcome.replay
            else:
                yield ChatGenerationChunk(message=_whole_chunk(msg))
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                response_metadata=msg.response_metadata,
                usage_metadata=msg.usage_metadata,
                chunk_position="last",
            )
        )

    # ------------------------------------------------------------------ invoke and stream
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, stop, _metadata(run_manager, kwargs), kwargs)
        io = _TierIO(self, messages, kwargs)
        return self._chat_result(run_sync(self._runtime.pipeline.flow(request, decision=self._start), io))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, stop, _metadata(run_manager, kwargs), kwargs)
        io = _TierIO(self, messages, kwargs)
        return self._chat_result(await run_async(self._runtime.pipeline.flow(request, decision=self._start), io))

    # LangChain's stream()/astream() call _stream/_astream without their run manager, so the
    # run's metadata (tenant, budget key) is handed over in a private keyword instead.
    def stream(
        self,
        input: LanguageModelInput,  # noqa: A002 - LangChain's signature
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        """Streams the answer (see :class:`BaseChatModel`); the run's metadata names the tenant."""
        kwargs[_META_KWARG] = dict(ensure_config(config).get("metadata") or {})
        yield from super().stream(input, config, stop=stop, **kwargs)

    async def astream(
        self,
        input: LanguageModelInput,  # noqa: A002 - LangChain's signature
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        """Async :meth:`stream`."""
        kwargs[_META_KWARG] = dict(ensure_config(config).get("metadata") or {})
        async for chunk in super().astream(input, config, stop=stop, **kwargs):
            yield chunk

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        request = self._request(messages, stop, _metadata(run_manager, kwargs), kwargs)
        flow = self._runtime.pipeline.flow(request, stream=True, decision=self._start)
        for chunk in stream_sync(flow, _TierIO(self, messages, kwargs), self._finish):
            if run_manager is not None and chunk.text:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        request = self._request(messages, stop, _metadata(run_manager, kwargs), kwargs)
        flow = self._runtime.pipeline.flow(request, stream=True, decision=self._start)
        async for chunk in stream_async(flow, _TierIO(self, messages, kwargs), self._finish):
            if run_manager is not None and chunk.text:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk


class _TierIO:
    """Calls a tier's LangChain chat model for the pipeline (raw ``_generate`` / ``_stream``).

    Tools go through the tier model's own ``bind_tools`` (so any provider's tool format works);
    the binding's kwargs are then passed to the raw call. The caller sees stream chunks without
    the tier's usage and provider metadata; the router adds its own once, at the end.
    """

    def __init__(self, router: ChatCostRouter, messages: list[BaseMessage], kwargs: Mapping[str, Any]) -> None:
        self.router = router
        self.messages = messages
        self.kwargs = kwargs
        self._raw: dict[int, list[AIMessageChunk]] = {}

    def _target(self, effect: CallTier) -> tuple[BaseChatModel, list[BaseMessage], dict[str, Any]]:
        step: TierStep = effect.step
        model = self.router._models[step.tier.name]
        call = dict(self.kwargs)
        call.pop("ls_structured_output_format", None)
        tools = call.pop("tools", None)
        tool_choice = call.pop("tool_choice", None)
        if tools:
            bound = model.bind_tools(tools, tool_choice=tool_choice) if tool_choice else model.bind_tools(tools)
            if isinstance(bound, RunnableBinding):
                call = {**bound.kwargs, **call}
        if _wants_logprobs(step.tier.gate):
            call.setdefault("logprobs", True)
        if "stop" in effect.request.params:
            call["stop"] = effect.request.params["stop"]
        messages = convert_to_messages([dict(m) for m in effect.messages]) if effect.compressed else self.messages
        return model, messages, call

    def call(self, effect: CallTier) -> Completion:
        model, messages, call = self._target(effect)
        return completion_from_message(_message_of(model._generate(messages, **call)), model=effect.step.tier.model)

    async def acall(self, effect: CallTier) -> Completion:
        model, messages, call = self._target(effect)
        result = await model._agenerate(messages, **call)
        return completion_from_message(_message_of(result), model=effect.step.tier.model)

    def stream(self, effect: CallTier) -> Iterator[ChatGenerationChunk]:
        model, messages, call = self._target(effect)
        raw = self._raw.setdefault(id(effect), [])
        for gen in model._stream(messages, **call):
            part = _chunk_of(gen)
            raw.append(part)
            yield ChatGenerationChunk(message=strip_chunk(part))

    async def astream(self, effect: CallTier) -> AsyncIterator[ChatGenerationChunk]:
        model, messages, call = self._target(effect)
        raw = self._raw.setdefault(id(effect), [])
        async for gen in model._astream(messages, **call):
            part = _chunk_of(gen)
            raw.append(part)
            yield ChatGenerationChunk(message=strip_chunk(part))

    def collect(self, effect: CallTier, chunks: Sequence[ChatGenerationChunk]) -> Completion:
        raw = self._raw.pop(id(effect), [])
        return completion_from_message(_aggregate(raw), model=effect.step.tier.model)


def _typed(exc: ValidationError) -> Exception:
    """The error a ``ValidationError`` of the router's constructor stands for.

    Pydantic wraps what ``model_post_init`` raises (a ``ConfigError``, an unknown price) and
    reports bad constructor arguments its own way: give the caller the project's typed error.
    """
    errors = exc.errors()
    if not errors:
        return ConfigError("ChatCostRouter", str(exc))
    first = errors[0]
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, CostRouterError):
        return cause
    where = ".".join(str(p) for p in first["loc"]) or "ChatCostRouter"
    return ConfigError(where, first["msg"])


_META_KWARG = "_costrouter_run_metadata"


def _metadata(run_manager: Any, kwargs: dict[str, Any] | None = None) -> Mapping[str, Any] | None:
    """The run's metadata: handed over by :meth:`ChatCostRouter.stream`, else the run manager's."""
    given = kwargs.pop(_META_KWARG, None) if kwargs is not None else None
    meta = getattr(run_manager, "metadata", None)
    if isinstance(given, Mapping):
        return {**given, **meta} if isinstance(meta, Mapping) else given
    return meta if isinstance(meta, Mapping) else None


def _message_of(result: ChatResult) -> AIMessage:
    """The first generation's message, with its ``generation_info`` folded into metadata."""
    gen = result.generations[0]
    msg = gen.message
    if not isinstance(msg, AIMessage):
        msg = AIMessage(content=msg.content)
    info = dict(gen.generation_info or {})
    if info:
        msg.response_metadata = {**info, **(msg.response_metadata or {})}
    return msg


def _chunk_of(gen: ChatGenerationChunk) -> AIMessageChunk:
    msg = gen.message
    chunk = msg if isinstance(msg, AIMessageChunk) else AIMessageChunk(content=msg.content)
    if gen.generation_info:
        chunk.response_metadata = {**gen.generation_info, **(chunk.response_metadata or {})}
    return chunk


def _whole_chunk(message: AIMessage) -> AIMessageChunk:
    """A whole answer (a cache hit, a best answer never streamed) as one content chunk."""
    import json

    return AIMessageChunk(
        content=message.content,
        id=message.id,
        tool_call_chunks=[
            {"name": tc["name"], "args": json.dumps(tc.get("args") or {}), "id": tc.get("id"), "index": i}
            for i, tc in enumerate(message.tool_calls)
        ],
    )


def _aggregate(chunks: Sequence[AIMessageChunk]) -> AIMessageChunk:
    if not chunks:
        return AIMessageChunk(content="")
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    return total
