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
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableBinding
from pydantic import ConfigDict, Field, PrivateAttr

from langchain_costrouter._cache_glue import CacheGlue
from langchain_costrouter._convert import completion_from_message, openai_tools, request_from_messages, strip_chunk
from langchain_costrouter._structured import structured_output_runnable
from langchain_costrouter._tiers import LangChainModelClient, build_tier_model
from langchain_costrouter.compression import amaybe_compress_messages, build_compressor, maybe_compress_messages
from langchain_costrouter.core.cache import ResponseCache
from langchain_costrouter.core.cascade import CascadeResult, CascadeRun, TierStep
from langchain_costrouter.core.compression import PromptCompressor
from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.gates.composite import AllOfGate
from langchain_costrouter.core.gates.logprob import LogprobGate
from langchain_costrouter.core.ledger import LedgerBackend
from langchain_costrouter.core.runtime import CostRouterRuntime
from langchain_costrouter.core.types import ChatRequest

__all__ = ["ChatCostRouter"]

_TENANT_KEYS = ("costrouter_tenant", "tenant", "user_id")


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
        tenant: Default tenant/user tag of the ledger records (a per-call
            ``config={"metadata": {"tenant": ...}}`` wins).
        ledger: A ledger backend replacing the one the config names.
        response_cache: A :class:`~langchain_costrouter.core.cache.ResponseCache` (default: built from
            ``config.cache`` when it is enabled). Hits are served before routing's first
            call, streaming included; only answers that passed their gate are stored.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    config: CostRouterConfig
    tier_models: dict[str, BaseChatModel] = Field(default_factory=dict)
    tenant: str | None = None
    ledger: Any = Field(default=None, exclude=True)
    response_cache: Any = Field(default=None, exclude=True)

    _runtime: CostRouterRuntime = PrivateAttr()
    _models: dict[str, BaseChatModel] = PrivateAttr(default_factory=dict)
    _cache: CacheGlue | None = PrivateAttr(default=None)
    _compressor: PromptCompressor | None = PrivateAttr(default=None)

    def model_post_init(self, context: Any, /) -> None:
        """Builds the tier models and the cascade runtime (no network)."""
        models: dict[str, BaseChatModel] = {}
        specs = [("tiers", i, s) for i, s in enumerate(self.config.tiers)]
        specs += [("models", i, s) for i, s in enumerate(self.config.models)]
        for section, i, spec in specs:
            given = self.tier_models.get(spec.name)
            models[spec.name] = given if given is not None else build_tier_model(spec, field=f"{section}[{i}]")
        self._models = models

        def judge(name: str) -> LangChainModelClient:
            return LangChainModelClient(models[name], self.config.deployment(name).model)

        ledger: LedgerBackend | None = self.ledger
        self._runtime = CostRouterRuntime(self.config, ledger=ledger, judge_clients=judge)
        cache: ResponseCache | None = self.response_cache
        if cache is None and self.config.cache.enabled:
            cache = ResponseCache.from_config(self.config.cache, accountant=self._runtime.accountant)
        if cache is not None:
            self._cache = CacheGlue(cache, self._runtime.accountant, self.config)
        if self.config.compression.enabled:
            self._compressor = build_compressor(self.config, models=models, accountant=self._runtime.accountant)

    @classmethod
    def from_config(
        cls,
        config: str | os.PathLike[str] | CostRouterConfig | Mapping[str, Any],
        **kwargs: Any,
    ) -> ChatCostRouter:
        """Builds the router from a YAML path, a mapping or a config object."""
        if isinstance(config, CostRouterConfig):
            cfg = config
        elif isinstance(config, str | os.PathLike):
            cfg = CostRouterConfig.from_yaml(Path(config))
        else:
            cfg = CostRouterConfig.from_dict(config)
        return cls(config=cfg, **kwargs)

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
        """The framework-neutral runtime (prices, ledger, router, cascade engine)."""
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

    # ------------------------------------------------------------------ helpers
    def _request(self, messages: list[BaseMessage], run_manager: Any, kwargs: Mapping[str, Any]) -> ChatRequest:
        if "model" in kwargs:
            msg = (
                "ChatCostRouter chooses the model of each call; a per-call 'model' override is not "
                "supported (change the config's tiers, or pass tier_models)"
            )
            raise ValueError(msg)
        meta = dict(getattr(run_manager, "metadata", None) or {})
        tenant = next((str(meta[k]) for k in _TENANT_KEYS if meta.get(k)), None)
        tenant = tenant or self.tenant or self.config.ledger.tenant
        return request_from_messages(messages, tenant=tenant, kwargs=kwargs)

    def _tier_call(self, step: TierStep, kwargs: Mapping[str, Any]) -> tuple[BaseChatModel, dict[str, Any]]:
        """The tier's chat model and the kwargs of its raw ``_generate``/``_stream`` call.

        Tools go through the tier model's own ``bind_tools`` (so any provider's tool format
        works); the binding's kwargs are then passed to the raw call.
        """
        model = self._models[step.tier.name]
        call_kwargs = dict(kwargs)
        call_kwargs.pop("ls_structured_output_format", None)
        tools = call_kwargs.pop("tools", None)
        tool_choice = call_kwargs.pop("tool_choice", None)
        if tools:
            bound = model.bind_tools(tools, tool_choice=tool_choice) if tool_choice else model.bind_tools(tools)
            if isinstance(bound, RunnableBinding):
                call_kwargs = {**bound.kwargs, **call_kwargs}
        if _wants_logprobs(step.tier.gate):
            call_kwargs.setdefault("logprobs", True)
        return model, call_kwargs

    def _message(self, result: CascadeResult) -> AIMessage:
        raw = result.completion.raw
        base = raw if isinstance(raw, BaseMessage) else AIMessage(content=result.completion.text)
        spec = self.config.deployment(result.answered_by)
        meta = dict(base.response_metadata or {})
        meta["model_name"] = str(meta.get("model_name") or spec.provider_model)
        meta["costrouter"] = result.metadata()
        usage = getattr(base, "usage_metadata", None) or result.completion.usage.to_langchain()
        tool_calls = list(getattr(base, "tool_calls", []) or [])
        return AIMessage(
            content=base.content,
            additional_kwargs=dict(base.additional_kwargs),
            response_metadata=meta,
            tool_calls=tool_calls,
            invalid_tool_calls=list(getattr(base, "invalid_tool_calls", []) or []),
            usage_metadata=usage,
            id=base.id,
        )

    def _final_chunk(self, result: CascadeResult) -> ChatGenerationChunk:
        msg = self._message(result)
        return ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                response_metadata=msg.response_metadata,
                usage_metadata=msg.usage_metadata,
                chunk_position="last",
            )
        )

    # ------------------------------------------------------------------ invoke
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, run_manager, kwargs)
        run = self._runtime.engine.start(request)
        if self._cache is not None and (found := self._cache.lookup(run)) is not None:
            return _single(self._cache.served_message(run, *found))
        while (step := run.next_step()) is not None:
            model, call_kwargs = self._tier_call(step, kwargs)
            t0 = time.perf_counter()
            try:
                sent = self._compress(run, step, messages)
                msg = _message_of(model._generate(sent, stop=stop, **call_kwargs))
            except Exception as exc:
                run.on_error(step, exc, (time.perf_counter() - t0) * 1000)
                continue
            run.on_answer(step, completion_from_message(msg, model=step.tier.model), (time.perf_counter() - t0) * 1000)
        return self._chat_result(self._finish(run))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, run_manager, kwargs)
        run = self._runtime.engine.start(request)
        if self._cache is not None and (found := await self._cache.alookup(run)) is not None:
            return _single(self._cache.served_message(run, *found))
        while (step := run.next_step()) is not None:
            model, call_kwargs = self._tier_call(step, kwargs)
            t0 = time.perf_counter()
            try:
                sent = await self._acompress(run, step, messages)
                msg = _message_of(await model._agenerate(sent, stop=stop, **call_kwargs))
            except Exception as exc:
                run.on_error(step, exc, (time.perf_counter() - t0) * 1000)
                continue
            completion = completion_from_message(msg, model=step.tier.model)
            await run.aon_answer(step, completion, (time.perf_counter() - t0) * 1000)
        return self._chat_result(await self._afinish(run))

    def _compress(self, run: CascadeRun, step: TierStep, messages: list[BaseMessage]) -> list[BaseMessage]:
        """The messages to send to this tier: compressed when it pays (decided per tier price).

        Gates and the cache still see the original request; the compression call's cost is in
        the ledger and counts against the request's budget.
        """
        if self._compressor is None:
            return messages
        sent, info = maybe_compress_messages(
            messages,
            compressor=self._compressor,
            target_model=step.tier.model,
            request_id=run.request.request_id,
            tenant=run.request.tenant,
        )
        if info is not None:
            run.charge(info.cost_usd)
        return sent

    async def _acompress(self, run: CascadeRun, step: TierStep, messages: list[BaseMessage]) -> list[BaseMessage]:
        if self._compressor is None:
            return messages
        sent, info = await amaybe_compress_messages(
            messages,
            compressor=self._compressor,
            target_model=step.tier.model,
            request_id=run.request.request_id,
            tenant=run.request.tenant,
        )
        if info is not None:
            run.charge(info.cost_usd)
        return sent

    def _finish(self, run: CascadeRun) -> CascadeResult:
        """The run's result, stored in the cache when it passed its gate."""
        result = run.result()
        if self._cache is not None:
            self._cache.store(run, result)
        return result

    async def _afinish(self, run: CascadeRun) -> CascadeResult:
        result = run.result()
        if self._cache is not None:
            await self._cache.astore(run, result)
        return result

    def _chat_result(self, result: CascadeResult) -> ChatResult:
        message = self._message(result)
        return ChatResult(
            generations=[ChatGeneration(message=message)],
            llm_output={"model_name": message.response_metadata["model_name"], "costrouter": result.metadata()},
        )

    # ------------------------------------------------------------------ streaming
    def _streams_directly(self, step: TierStep) -> bool:
        return step.is_last or not self.config.cascade.buffer_streams

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        request = self._request(messages, run_manager, kwargs)
        run = self._runtime.engine.start(request)
        emit = _emitter(run_manager.on_llm_new_token if run_manager else None)
        if self._cache is not None and (found := self._cache.lookup(run)) is not None:
            yield from _stream_message(self._cache.served_message(run, *found), emit)
            return
        while (step := run.next_step()) is not None:
            model, call_kwargs = self._tier_call(step, kwargs)
            direct = self._streams_directly(step)
            chunks: list[AIMessageChunk] = []
            t0 = time.perf_counter()
            try:
                for gen in model._stream(self._compress(run, step, messages), stop=stop, **call_kwargs):
                    part = _chunk_of(gen)
                    chunks.append(part)
                    if direct:
                        yield emit(strip_chunk(part))
            except Exception as exc:
                run.on_error(step, exc, (time.perf_counter() - t0) * 1000)
                if chunks and direct:
                    raise  # tokens were already sent: nothing can escalate this stream
                continue
            latency = (time.perf_counter() - t0) * 1000
            completion = completion_from_message(_aggregate(chunks), model=step.tier.model)
            if direct:
                run.on_streamed(step, completion, latency)
                yield self._final_chunk(self._finish(run))
                return
            if run.on_answer(step, completion, latency):
                for part in chunks:
                    yield emit(strip_chunk(part))
                yield self._final_chunk(self._finish(run))
                return
        yield from self._replay_best(run, emit)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        request = self._request(messages, run_manager, kwargs)
        run = self._runtime.engine.start(request)
        if self._cache is not None and (found := await self._cache.alookup(run)) is not None:
            for out in _stream_message(self._cache.served_message(run, *found), _emitter(None)):
                yield await _anotify(run_manager, out)
            return
        while (step := run.next_step()) is not None:
            model, call_kwargs = self._tier_call(step, kwargs)
            direct = self._streams_directly(step)
            chunks: list[AIMessageChunk] = []
            t0 = time.perf_counter()
            try:
                sent = await self._acompress(run, step, messages)
                async for gen in model._astream(sent, stop=stop, **call_kwargs):
                    part = _chunk_of(gen)
                    chunks.append(part)
                    if direct:
                        yield await _anotify(run_manager, ChatGenerationChunk(message=strip_chunk(part)))
            except Exception as exc:
                latency = (time.perf_counter() - t0) * 1000
                run.on_error(step, exc, latency)
                if chunks and direct:
                    raise
                continue
            latency = (time.perf_counter() - t0) * 1000
            completion = completion_from_message(_aggregate(chunks), model=step.tier.model)
            if direct:
                run.on_streamed(step, completion, latency)
                yield self._final_chunk(await self._afinish(run))
                return
            if await run.aon_answer(step, completion, latency):
                for part in chunks:
                    yield await _anotify(run_manager, ChatGenerationChunk(message=strip_chunk(part)))
                yield self._final_chunk(await self._afinish(run))
                return
        for out in self._replay_best(run, lambda c: ChatGenerationChunk(message=c)):
            yield out

    def _replay_best(
        self, run: CascadeRun, emit: Callable[[AIMessageChunk], ChatGenerationChunk]
    ) -> Iterator[ChatGenerationChunk]:
        """Every buffered tier failed: stream the best answer (flagged) or raise."""
        result = run.result()
        raw = result.completion.raw
        if isinstance(raw, AIMessage):
            yield emit(
                AIMessageChunk(
                    content=raw.content,
                    id=raw.id,
                    tool_call_chunks=[
                        {"name": tc["name"], "args": _json(tc.get("args")), "id": tc.get("id"), "index": i}
                        for i, tc in enumerate(raw.tool_calls)
                    ],
                )
            )
        yield self._final_chunk(result)


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


async def _anotify(run_manager: AsyncCallbackManagerForLLMRun | None, out: ChatGenerationChunk) -> ChatGenerationChunk:
    """Tells the caller's callbacks about a streamed token, then returns the chunk."""
    if run_manager is not None and out.text:
        await run_manager.on_llm_new_token(out.text, chunk=out)
    return out


def _single(message: AIMessage) -> ChatResult:
    return ChatResult(generations=[ChatGeneration(message=message)])


def _stream_message(
    message: AIMessage, emit: Callable[[AIMessageChunk], ChatGenerationChunk]
) -> Iterator[ChatGenerationChunk]:
    """A whole message as a content chunk plus a final metadata chunk."""
    yield emit(AIMessageChunk(content=message.content, id=message.id))
    yield ChatGenerationChunk(
        message=AIMessageChunk(
            content="",
            response_metadata=message.response_metadata,
            usage_metadata=message.usage_metadata,
            chunk_position="last",
        )
    )


def _json(value: Any) -> str:
    import json

    return json.dumps(value or {})


def _aggregate(chunks: Sequence[AIMessageChunk]) -> AIMessageChunk:
    if not chunks:
        return AIMessageChunk(content="")
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    return total


def _emitter(
    on_token: Callable[..., Any] | None,
) -> Callable[[AIMessageChunk], ChatGenerationChunk]:
    def emit(chunk: AIMessageChunk) -> ChatGenerationChunk:
        out = ChatGenerationChunk(message=chunk)
        if on_token is not None:
            on_token(out.text, chunk=out)
        return out

    return emit
