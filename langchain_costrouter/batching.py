"""Multi-question batching for LangChain: the :class:`BatchedQuestions` runnable.

::

    answers = BatchedQuestions(ChatOpenAI(model="gpt-4o-mini"), accountant=acct).invoke(
        ["What is 2+2?", "Capital of Peru?"]
    )  # ["4", "Lima"]

    # on a ChatCostRouter tier, recording into its ledger:
    batched = BatchedQuestions.from_router(router, tier="cheap", system_prompt=SYSTEM)

``invoke`` packs the questions into calls of up to ``batching.max_batch`` (one shared system
prompt, JSON answers by id), retries only the items whose answers were missing or malformed,
and returns the answers in input order (``None`` for an item that failed every attempt, or a
:class:`~langchain_costrouter.core.errors.DataError` with ``raise_on_failure``).
``.batch([questions_a, questions_b])`` packs the questions of every input together, then splits
the answers back per input. :meth:`BatchedQuestions.run` returns the full
:class:`~langchain_costrouter.core.batching.BatchReport` (costs per item, calls).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableConfig

from langchain_costrouter._tiers import LangChainModelClient
from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.batching import BatchReport, BatchRunner
from langchain_costrouter.core.client import ModelClient
from langchain_costrouter.core.config import BatchingConfig
from langchain_costrouter.core.errors import ConfigError, DataError
from langchain_costrouter.core.pricing import PriceBook

if TYPE_CHECKING:
    from langchain_costrouter.chat_model import ChatCostRouter

__all__ = ["BatchedQuestions"]

Questions = Sequence[str]


def _model_name(model: BaseChatModel) -> str | None:
    for attr in ("model_name", "model"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return None


class BatchedQuestions(Runnable[Questions, list[str | None]]):
    """Answers a list of independent questions in few structured calls.

    Args:
        model: A LangChain chat model, or any core ``ModelClient``.
        model_name: The model string used for pricing (default: the chat model's name).
        accountant: Records each item's share of every call (``kind="batch"``).
        prices: Prices the calls when there is no accountant.
        config: ``max_batch``, ``max_attempts``, ``max_tokens_per_item``.
        system_prompt: The shared system prompt, sent byte-for-byte in every call.
        tenant: Ledger tenant.
        raise_on_failure: Raise ``DataError`` when an item fails every attempt.
        concurrency: Calls in flight at once in ``ainvoke``.
    """

    def __init__(
        self,
        model: BaseChatModel | ModelClient,
        *,
        model_name: str | None = None,
        accountant: CostAccountant | None = None,
        prices: PriceBook | None = None,
        config: BatchingConfig | None = None,
        system_prompt: str | None = None,
        tenant: str | None = None,
        raise_on_failure: bool = False,
        concurrency: int = 4,
    ) -> None:
        if isinstance(model, BaseChatModel):
            name = model_name or _model_name(model)
            if name is None:
                raise ConfigError("model_name", "cannot tell the chat model's name: pass model_name for pricing")
            client: ModelClient = LangChainModelClient(model, name)
        else:
            client = model
        if accountant is None and prices is None:
            prices = PriceBook()
        self.runner = BatchRunner(
            client,
            prices=prices,
            accountant=accountant,
            config=config or BatchingConfig(enabled=True),
            system_prompt=system_prompt,
            tenant=tenant,
        )
        self.raise_on_failure = raise_on_failure
        self.concurrency = concurrency

    @classmethod
    def from_router(
        cls,
        router: ChatCostRouter,
        *,
        tier: str | None = None,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> BatchedQuestions:
        """Batches on one of ``router``'s tiers, recording into its ledger.

        Args:
            router: The ``ChatCostRouter``.
            tier: Tier or model name (default: ``batching.model``, else the cheapest tier).
            system_prompt: The shared system prompt.
            **kwargs: More :class:`BatchedQuestions` arguments.
        """
        cfg = router.config
        name = tier or cfg.batching.model or cfg.tiers[0].name
        try:
            spec = cfg.deployment(name)
        except KeyError:
            raise ConfigError("batching.model", f"unknown tier or model {name!r}") from None
        kwargs.setdefault("config", cfg.batching)
        kwargs.setdefault("tenant", router.tenant or cfg.ledger.tenant)
        return cls(
            LangChainModelClient(router.models[name], spec.model),
            accountant=router.runtime.accountant,
            system_prompt=system_prompt,
            **kwargs,
        )

    # ------------------------------------------------------------------ running
    def run(self, questions: Questions) -> BatchReport:
        """Answers ``questions`` and returns the full report."""
        return self.runner.run(list(questions))

    async def arun(self, questions: Questions) -> BatchReport:
        """Async :meth:`run`."""
        return await self.runner.arun(list(questions), concurrency=self.concurrency)

    def _answers(self, report: BatchReport) -> list[str | None]:
        if self.raise_on_failure and report.failed:
            bad = ", ".join(f"{r.id} ({r.error})" for r in report.failed)
            msg = f"{len(report.failed)} question(s) got no usable answer: {bad}"
            raise DataError(msg)
        return report.answers

    def invoke(
        self,
        input: Questions,  # noqa: A002 - LangChain's Runnable signature
        config: RunnableConfig | None = None,
        **kwargs: Any,
    ) -> list[str | None]:
        """Answers in the order of ``input``."""
        return self._call_with_config(lambda q: self._answers(self.run(q)), input, config)

    async def ainvoke(
        self,
        input: Questions,  # noqa: A002 - LangChain's Runnable signature
        config: RunnableConfig | None = None,
        **kwargs: Any,
    ) -> list[str | None]:
        """Async :meth:`invoke`."""

        async def go(q: Questions) -> list[str | None]:
            return self._answers(await self.arun(q))

        return await self._acall_with_config(go, input, config)

    @staticmethod
    def _split(inputs: Sequence[Questions], answers: list[str | None]) -> list[list[str | None]]:
        out: list[list[str | None]] = []
        pos = 0
        for qs in inputs:
            out.append(answers[pos : pos + len(qs)])
            pos += len(qs)
        return out

    def batch(
        self,
        inputs: list[Questions],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any | None,
    ) -> list[list[str | None]]:
        """Packs the questions of every input together, then splits the answers back."""
        flat = [q for qs in inputs for q in qs]
        return self._split(inputs, self.invoke(flat))

    async def abatch(
        self,
        inputs: list[Questions],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any | None,
    ) -> list[list[str | None]]:
        """Async :meth:`batch`."""
        flat = [q for qs in inputs for q in qs]
        return self._split(inputs, await self.ainvoke(flat))
