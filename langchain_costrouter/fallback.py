"""The cascade as one LCEL runnable whose tier calls are traced as child runs.

``build_fallback_chain(config)`` returns a ``Runnable`` (messages or a prompt in, the answering
tier's ``AIMessage`` out) that runs the same request pipeline as
:class:`~langchain_costrouter.ChatCostRouter` (routing, cache, compression, retries, gates,
budget, best answer, ledger) but calls each tier through the tier model's own ``invoke`` /
``ainvoke`` with the caller's ``RunnableConfig``, so tracers and callbacks see every attempt as a
child run (``ChatCostRouter`` shows one run per request). The answer's
``response_metadata["costrouter"]`` holds the trail.

Use ``ChatCostRouter`` when you need ``bind_tools``, ``with_structured_output`` or streaming.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda

from langchain_costrouter._convert import completion_from_message
from langchain_costrouter.chat_model import ChatCostRouter, _TierIO
from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.ledger import LedgerBackend
from langchain_costrouter.core.pipeline import CallTier, run_async, run_sync
from langchain_costrouter.core.types import Completion

__all__ = ["build_fallback_chain"]


class _TracedTierIO(_TierIO):
    """Tier calls through the tier model's ``invoke`` with the caller's config (child runs)."""

    def __init__(self, router: ChatCostRouter, messages: list[BaseMessage], config: RunnableConfig) -> None:
        super().__init__(router, messages, {})
        self.config = config

    def call(self, effect: CallTier) -> Completion:
        model, messages, call = self._target(effect)
        return completion_from_message(model.invoke(messages, config=self.config, **call), model=effect.step.tier.model)

    async def acall(self, effect: CallTier) -> Completion:
        model, messages, call = self._target(effect)
        msg = await model.ainvoke(messages, config=self.config, **call)
        return completion_from_message(msg, model=effect.step.tier.model)


class _Cascade:
    def __init__(self, router: ChatCostRouter) -> None:
        self.router = router

    def _start(self, value: LanguageModelInput, config: RunnableConfig) -> tuple[Any, _TracedTierIO]:
        router = self.router
        messages = router._convert_input(value).to_messages()
        request = router._request(messages, None, config.get("metadata"), {})
        return router.runtime.pipeline.flow(request), _TracedTierIO(router, messages, config)

    def invoke(self, value: LanguageModelInput, config: RunnableConfig) -> BaseMessage:
        flow, io = self._start(value, config)
        return self.router._message(run_sync(flow, io))

    async def ainvoke(self, value: LanguageModelInput, config: RunnableConfig) -> BaseMessage:
        flow, io = self._start(value, config)
        return self.router._message(await run_async(flow, io))


def build_fallback_chain(
    config: CostRouterConfig,
    *,
    tier_models: Mapping[str, BaseChatModel] | None = None,
    ledger: LedgerBackend | None = None,
) -> Runnable[LanguageModelInput, BaseMessage]:
    """The cascade as an LCEL runnable whose tier calls are child runs (see the module docstring).

    Args:
        config: The configuration.
        tier_models: Chat models by tier name replacing the ones built from the config.
        ledger: Ledger backend replacing the config's.
    """
    cascade = _Cascade(ChatCostRouter(config=config, tier_models=dict(tier_models or {}), ledger=ledger))
    return RunnableLambda(cascade.invoke, afunc=cascade.ainvoke, name="costrouter_cascade")
