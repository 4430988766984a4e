"""Multi-question batching: N independent questions in one structured call, demultiplexed by id.

The questions share one system prompt (sent once, byte-stable) and go out as a JSON list of
``{"id", "question"}`` under fresh random ids; the model must answer with
``{"answers": [{"id", "answer"}]}`` (a JSON schema ``response_format``). :func:`demux` maps the
answers back by id with a count check and never guesses: a malformed or empty answer marks only
that item as failed, and the failed items of all batches of a round share retry calls (a reply
that cannot be parsed at all splits its batch in halves instead). A question that could steer
the batch (it holds the batch's delimiter or structural markers) is asked alone, and so is every
item an anomalous reply concerns (a missing, forged or duplicated id, an answer echoing another
item's question): see :mod:`~langchain_costrouter.core.batch_format`. After ``max_attempts``
calls an item is reported as failed.

Every call's real cost is split between the items it carried, by each item's share of the
call's tokens (its question plus an equal part of the shared prompt; its answer plus an equal
part of the JSON overhead), priced at the model's rates; the last item takes the rounding
remainder, so one call's ``kind="batch"`` ledger records add up to exactly that call's cost.

A job is one flow (:meth:`BatchRunner.flow`): a generator that yields each round's calls and
takes their replies, driven by :meth:`BatchRunner.run` (one call after the other) or
:meth:`BatchRunner.arun` (calls of a round concurrently).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.batch_format import (
    BATCH_INSTRUCTIONS,
    BatchItem,
    Demuxed,
    batch_response_format,
    batchable,
    demux,
    make_items,
    pack_batch,
    pack_single,
    split_by_weight,
    wire_ids,
)
from langchain_costrouter.core.client import ModelClient
from langchain_costrouter.core.config import BatchingConfig
from langchain_costrouter.core.errors import ConfigError
from langchain_costrouter.core.pricing import ModelPrice, PriceBook
from langchain_costrouter.core.tokens import count_message_tokens, count_tokens, encoding_for_model
from langchain_costrouter.core.types import Completion
from langchain_costrouter.core.usage import Usage

__all__ = [
    "BATCH_INSTRUCTIONS",
    "BatchCall",
    "BatchItem",
    "BatchOptions",
    "BatchReport",
    "BatchRunner",
    "CallPlan",
    "CallReply",
    "Demuxed",
    "ItemResult",
    "arun_batch",
    "batch_response_format",
    "batchable",
    "demux",
    "make_items",
    "pack_batch",
    "run_batch",
    "split_by_weight",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ItemResult:
    """The outcome of one question.

    Attributes:
        answer: The answer, or ``None`` when every attempt failed.
        error: Why the last attempt failed, when ``answer`` is ``None``.
        attempts: Calls this item took part in.
        cost_usd: Its share of those calls.
        usage: Its share of their tokens.
    """

    id: str
    question: str
    answer: str | None
    request_id: str
    error: str | None = None
    attempts: int = 0
    cost_usd: float = 0.0
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True, slots=True)
class BatchCall:
    """One model call of a batch job."""

    index: int
    item_ids: tuple[str, ...]
    model: str
    usage: Usage
    cost_usd: float
    latency_ms: float = 0.0
    answered: int = 0
    problems: tuple[str, ...] = ()
    error: str | None = None
    alone: bool = False


@dataclass(frozen=True, slots=True)
class CallPlan:
    """One call a job asks for: a batch under fresh wire ids, or one question asked alone.

    Attributes:
        items: The items it carries.
        alone: A plain question (no JSON format): the reply is the answer.
        wire: Item id -> the id the model sees (batches only).
        messages: The messages to send.
        params: The call's parameters.
    """

    items: tuple[BatchItem, ...]
    alone: bool
    wire: Mapping[str, str]
    messages: list[dict[str, Any]]
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallReply:
    """What a call returned (``completion``) or why it failed (``error``), and how long it took."""

    completion: Completion | None
    error: str | None = None
    latency_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class BatchReport:
    """A finished batch job: one result per question (input order) and every call made."""

    batch_id: str
    results: tuple[ItemResult, ...]
    calls: tuple[BatchCall, ...]

    @property
    def answers(self) -> list[str | None]:
        """Answers in input order (``None`` for failed items)."""
        return [r.answer for r in self.results]

    @property
    def total_cost_usd(self) -> float:
        """What the calls cost."""
        return sum(c.cost_usd for c in self.calls)

    @property
    def usage(self) -> Usage:
        """Tokens of every call."""
        total = Usage()
        for c in self.calls:
            total = total + c.usage
        return total

    @property
    def failed(self) -> list[ItemResult]:
        """Items without an answer."""
        return [r for r in self.results if r.answer is None]


class _Job:
    """Book-keeping of one batch job (what its flow and the Batch API parser share)."""

    def __init__(self, runner: BatchRunner, items: Sequence[BatchItem]) -> None:
        self.runner = runner
        self.items = list(items)
        self.batch_id = uuid.uuid4().hex[:12]
        self.attempts = dict.fromkeys((it.id for it in items), 0)
        self.answers: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self.costs = dict.fromkeys(self.attempts, 0.0)
        self.usages = {k: Usage() for k in self.attempts}
        self.calls: list[BatchCall] = []
        self._split: list[list[BatchItem]] = []
        self._retry = [it for it in self.items if batchable(it.question)]
        self._alone = [it for it in self.items if not batchable(it.question)]

    def _chunks(self, items: Sequence[BatchItem]) -> list[list[BatchItem]]:
        size = self.runner.config.max_batch
        return [list(items[i : i + size]) for i in range(0, len(items), size)]

    def next_round(self) -> list[CallPlan]:
        """The next round's calls: halves of unparseable batches, failed items pooled, items alone.

        Failed items of several batches share retry calls (up to ``max_batch`` each), so a
        retry does not pay the shared prompt once per item.
        """
        batches = self._split + self._chunks(self._retry)
        plans = [self.runner.plan_call(chunk) for chunk in batches]
        plans += [self.runner.plan_call([it], alone=True) for it in self._alone]
        self._split, self._retry, self._alone = [], [], []
        return plans

    def settle(self, plan: CallPlan, reply: CallReply) -> None:
        """Demuxes one reply, attributes its cost, and queues the items to ask again."""
        chunk = list(plan.items)
        for it in chunk:
            self.attempts[it.id] += 1
        if reply.completion is None:
            result = Demuxed({}, dict.fromkeys((it.id for it in chunk), f"call failed: {reply.error}"), (), 0, False)
            usage, model = Usage(), self.runner.client.model
        else:
            result = (
                _single(reply.completion.text, chunk[0])
                if plan.alone
                else demux(reply.completion.text, chunk, plan.wire)
            )
            usage, model = reply.completion.usage, reply.completion.model or self.runner.client.model
        cost = self.runner.call_cost(model, usage)
        call = BatchCall(len(self.calls), tuple(it.id for it in chunk), model, usage, cost, reply.latency_ms,
                         len(result.answers), result.problems, reply.error, plan.alone)  # fmt: skip
        self.calls.append(call)
        self.runner.attribute(self, call, chunk, result)
        self.answers.update(result.answers)
        self.errors.update({it.id: result.failed[it.id] for it in chunk if it.id in result.failed})
        retry = [
            it for it in chunk if it.id in result.failed and self.attempts[it.id] < self.runner.config.max_attempts
        ]
        if plan.alone or not retry:
            self._alone.extend(retry)
            return
        self._alone.extend(it for it in retry if it.id in result.alone)
        retry = [it for it in retry if it.id not in result.alone]
        if not result.parsed and len(retry) > 1:
            half = len(retry) // 2
            self._split.extend([retry[:half], retry[half:]])
        else:
            self._retry.extend(retry)

    def report(self) -> BatchReport:
        results = tuple(
            ItemResult(
                it.id,
                it.question,
                self.answers.get(it.id),
                it.request_id,
                None if it.id in self.answers else self.errors.get(it.id, "not answered"),
                self.attempts[it.id],
                self.costs[it.id],
                self.usages[it.id],
            )
            for it in self.items
        )
        return BatchReport(self.batch_id, results, tuple(self.calls))


def _single(text: str, item: BatchItem) -> Demuxed:
    """The answer of a question asked alone: the reply itself, when not empty."""
    answer = text.strip()
    if answer:
        return Demuxed({item.id: answer}, {}, (), 1, True)
    return Demuxed({}, {item.id: "empty answer"}, ("empty answer",), 0, True)


class BatchRunner:
    """Runs batch jobs on one model.

    Args:
        client: The answering model.
        prices: Prices the calls (default: the accountant's).
        accountant: Where the per-item records go (optional).
        config: ``max_batch``, ``max_attempts``, ``max_tokens_per_item``.
        system_prompt: The shared system prompt, sent byte-for-byte in every call.
        tenant: Ledger tenant.
        task: Ledger task tag.
        discount: Share of the price taken off (the OpenAI Batch API's 50%); 0 for live calls.
    """

    def __init__(
        self,
        client: ModelClient,
        *,
        prices: PriceBook | None = None,
        accountant: CostAccountant | None = None,
        config: BatchingConfig | None = None,
        system_prompt: str | None = None,
        tenant: str | None = None,
        task: str | None = None,
        discount: float = 0.0,
    ) -> None:
        if prices is None and accountant is None:
            msg = "BatchRunner needs prices or an accountant"
            raise ConfigError("prices", msg)
        self.client = client
        self.prices: PriceBook = prices if prices is not None else accountant.prices  # type: ignore[union-attr]
        self.accountant = accountant
        self.config = config or BatchingConfig(enabled=True)
        self.system_prompt = system_prompt
        self.tenant = tenant
        self.task = task
        self.discount = discount

    # ------------------------------------------------------------------ pricing
    def call_cost(self, model: str, usage: Usage) -> float:
        """Dollar cost of one call (after the Batch API discount, if any)."""
        return self.prices.cost_usd(model, usage) * (1.0 - self.discount)

    def plan_call(self, chunk: Sequence[BatchItem], *, alone: bool = False) -> CallPlan:
        """The call that asks ``chunk`` (a batch under fresh wire ids, or one question alone)."""
        items = tuple(chunk)
        if alone:
            params: dict[str, Any] = {"temperature": 0, "max_tokens": self.config.max_tokens_per_item}
            return CallPlan(items, True, {}, pack_single(items[0].question, system_prompt=self.system_prompt), params)
        wire = wire_ids(items)
        params = {
            "temperature": 0,
            "max_tokens": self.config.max_tokens_per_item * len(items) + 64,
            "response_format": batch_response_format(),
        }
        return CallPlan(items, False, wire, pack_batch(items, system_prompt=self.system_prompt, wire=wire), params)

    def attribute(self, job: _Job, call: BatchCall, chunk: Sequence[BatchItem], result: Demuxed) -> None:
        """Splits ``call``'s tokens and cost between its items and records each share."""
        enc = encoding_for_model(call.model)
        n = len(chunk)
        q_tokens = [count_tokens(json.dumps(it.question, ensure_ascii=False), enc) for it in chunk]
        a_tokens = [count_tokens(result.answers.get(it.id, ""), enc) for it in chunk]
        shared_in = max(0, call.usage.input_tokens - sum(q_tokens)) / n
        shared_out = max(0, call.usage.output_tokens - sum(a_tokens)) / n
        ins = split_by_weight(call.usage.input_tokens, [q + shared_in for q in q_tokens])
        outs = split_by_weight(call.usage.output_tokens, [a + shared_out for a in a_tokens])
        price = self._price(call.model)
        weights = [i * price.input + o * price.output for i, o in zip(ins, outs, strict=True)]
        total_w = sum(weights) or 1.0
        shares = [call.cost_usd * w / total_w for w in weights]
        if shares:
            shares[-1] = call.cost_usd - sum(shares[:-1])
        for it, i_tok, o_tok, share in zip(chunk, ins, outs, shares, strict=True):
            usage = Usage(i_tok, o_tok)
            job.costs[it.id] += share
            job.usages[it.id] = job.usages[it.id] + usage
            self._record(job, call, it, usage=usage, share=share, result=result)

    def _price(self, model: str) -> ModelPrice:
        try:
            return self.prices.price(model)
        except Exception:
            return ModelPrice(1.0, 1.0, source="weights-only")

    def _record(
        self, job: _Job, call: BatchCall, item: BatchItem, *, usage: Usage, share: float, result: Demuxed
    ) -> None:
        if self.accountant is None:
            return
        answer = result.answers.get(item.id)
        served = answer is not None
        baseline = None
        if answer is not None:
            # What the unbatched app would have sent: the system prompt and this question alone.
            enc = encoding_for_model(call.model)
            single: list[Mapping[str, Any]] = [{"role": "user", "content": item.question}]
            if self.system_prompt:
                single.insert(0, {"role": "system", "content": self.system_prompt})
            baseline = Usage(count_message_tokens(single, enc), count_tokens(answer, enc))
        why = result.failed.get(item.id)
        try:
            self.accountant.record(
                request_id=item.request_id,
                model=call.model,
                usage=usage,
                kind="batch",
                outcome="served" if served else "rejected",
                tenant=self.tenant,
                task=self.task,
                latency_ms=call.latency_ms,
                cost_usd=share,
                baseline_usage=baseline,
                error=why if not served else None,
                source="batching",
                extra={
                    "batch_id": job.batch_id,
                    "call_index": call.index,
                    "item_id": item.id,
                    "batch_size": len(call.item_ids),
                    "attempt": job.attempts[item.id],
                    "call_cost_usd": call.cost_usd,
                    "discount": self.discount,
                    "alone": call.alone,
                },
                strict=False,
            )
        except Exception as exc:  # accounting never fails the job
            logger.error("batch record failed: %s", exc)

    # ------------------------------------------------------------------ running
    def flow(self, items: Sequence[BatchItem] | Sequence[str]) -> _Flow:
        """A whole job: yields each round's calls, takes their replies (same order), returns the report."""
        job = _Job(self, _as_items(items))
        while plans := job.next_round():
            replies = yield plans
            for plan, reply in zip(plans, replies or [], strict=True):
                job.settle(plan, reply)
        return job.report()

    def _failed(self, plan: CallPlan, exc: Exception, t0: float) -> CallReply:
        logger.warning("batch call failed (%d items): %s", len(plan.items), type(exc).__name__)
        return CallReply(None, type(exc).__name__, (time.perf_counter() - t0) * 1000)

    def _call(self, plan: CallPlan) -> CallReply:
        t0 = time.perf_counter()
        try:
            reply = self.client.complete(plan.messages, **plan.params)
        except Exception as exc:
            return self._failed(plan, exc, t0)
        return CallReply(reply, None, (time.perf_counter() - t0) * 1000)

    async def _acall(self, plan: CallPlan, sem: asyncio.Semaphore) -> CallReply:
        async with sem:
            t0 = time.perf_counter()
            try:
                reply = await self.client.acomplete(plan.messages, **plan.params)
            except Exception as exc:
                return self._failed(plan, exc, t0)
            return CallReply(reply, None, (time.perf_counter() - t0) * 1000)

    def run(self, items: Sequence[BatchItem] | Sequence[str]) -> BatchReport:
        """Answers every item, one call after the other (see the module docstring)."""
        flow = self.flow(items)
        step = _advance(flow, None)
        while isinstance(step, list):
            step = _advance(flow, [self._call(p) for p in step])
        return step

    async def arun(self, items: Sequence[BatchItem] | Sequence[str], *, concurrency: int = 4) -> BatchReport:
        """Async :meth:`run`; up to ``concurrency`` calls at once."""
        sem = asyncio.Semaphore(max(1, concurrency))
        flow = self.flow(items)
        step = _advance(flow, None)
        while isinstance(step, list):
            step = _advance(flow, list(await asyncio.gather(*(self._acall(p, sem) for p in step))))
        return step


_Flow = Generator[list[CallPlan], list[CallReply] | None, BatchReport]


def _advance(flow: _Flow, replies: list[CallReply] | None) -> list[CallPlan] | BatchReport:
    """Sends a round's replies into a job's flow: the next round's calls, or the report."""
    try:
        return flow.send(replies)
    except StopIteration as done:
        report: BatchReport = done.value
        return report


def _as_items(items: Sequence[BatchItem] | Sequence[str]) -> list[BatchItem]:
    if all(isinstance(i, BatchItem) for i in items):
        return [i for i in items if isinstance(i, BatchItem)]
    return make_items([str(i) for i in items])


class BatchOptions(TypedDict, total=False):
    """Keyword options of :func:`run_batch` / :func:`arun_batch` (see :class:`BatchRunner`)."""

    accountant: CostAccountant | None
    prices: PriceBook | None
    config: BatchingConfig | None
    system_prompt: str | None
    tenant: str | None


def run_batch(
    questions: Sequence[str] | Sequence[BatchItem], client: ModelClient, **options: Unpack[BatchOptions]
) -> BatchReport:
    """The offline job API: answers ``questions`` in batches on ``client``.

    Example::

        report = run_batch(["What is 2+2?", "Capital of Peru?"], client, accountant=acct)
        report.answers  # ["4", "Lima"]
    """
    return BatchRunner(client, **options).run(questions)


async def arun_batch(
    questions: Sequence[str] | Sequence[BatchItem],
    client: ModelClient,
    *,
    concurrency: int = 4,
    **options: Unpack[BatchOptions],
) -> BatchReport:
    """Async :func:`run_batch` (up to ``concurrency`` calls at once)."""
    return await BatchRunner(client, **options).arun(questions, concurrency=concurrency)
