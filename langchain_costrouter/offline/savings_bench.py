"""``costrouter bench savings``: what compression and batching save, measured over real HTTP.

The seed's case: a fixed system prompt of ``system_tokens`` tokens and ``requests_per_day``
requests. A seeded sample of requests (short questions and, for ``long_share`` of them, a
pasted document of ``long_tokens`` tokens with code, JSON and figures) is sent through the
local OpenAI-compatible server four ways, each with fresh caches:

- ``unoptimised``: one call per request (system prompt + question);
- ``compression``: :class:`PromptCompressor` first (its calls counted as overhead), then the call;
- ``batching``: :class:`BatchRunner`, ``batch_size`` questions per call sharing the system prompt,
  with ``malformed_share`` of the answers malformed on the first try (their retries counted);
- ``compression+batching``: questions compressed, then batched;
- ``batch API``: the batching calls' files at the Batch API discount (failed items re-run live).

Token counts come from the server's ``usage`` (tiktoken), dollars from the configuration's
prices. The local compressor keeps an even ``target_ratio`` share of the prose words, which is
what the configuration asks a real compressor to do. Provider prefix caching is *modelled*:
the shared prefix of each call (system prompt, plus the constant batch instructions) is billed
at the cache-read price in 64-token blocks; the figures are given with and without it.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_costrouter.core.batch_api import build_batch_api_file, parse_batch_output, simulate_batch_output
from langchain_costrouter.core.batching import BATCH_INSTRUCTIONS, BatchReport, BatchRunner, make_items
from langchain_costrouter.core.client import ModelClient
from langchain_costrouter.core.compression import PromptCompressor
from langchain_costrouter.core.config import BatchingConfig, CompressionConfig
from langchain_costrouter.core.pricing import PriceBook
from langchain_costrouter.core.tokens import count_message_tokens, count_tokens, encoding_for_model, truncate_tokens
from langchain_costrouter.core.usage import Usage

__all__ = ["BenchSettings", "Scenario", "Workload", "build_workload", "decision_examples", "run_target"]

CACHE_BLOCK = 64
_WORD_TEXT = (
    "customer order parcel courier delivery refund invoice account warehouse schedule team "
    "meeting contract supplier quality report region forecast budget review process detail "
    "update status payment partner service network support request issue response change"
)
_WORDS = tuple(_WORD_TEXT.split())
_PRODUCTS = ("router", "thermostat", "camera", "speaker", "doorbell", "light strip", "hub", "sensor")
_ACTIONS = ("reset", "update", "return", "pair", "register", "clean", "replace the battery of", "mount")


@dataclass(frozen=True, slots=True)
class BenchSettings:
    """Knobs of the benchmark (defaults: the seed's case)."""

    requests_per_day: int = 10_000
    system_tokens: int = 2_000
    sample: int = 200
    long_share: float = 0.3
    long_tokens: int = 1_500
    batch_size: int = 10
    malformed_share: float = 0.05
    seed: int = 0


@dataclass(frozen=True, slots=True)
class Workload:
    """The sampled requests."""

    system_prompt: str
    questions: tuple[str, ...]

    @property
    def long_count(self) -> int:
        """Requests carrying a pasted document."""
        return sum(1 for q in self.questions if "```" in q)


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(8, 16))]
    if rng.random() < 0.2:
        words.insert(rng.randint(0, len(words)), f"{rng.randint(2, 990)}")
    return " ".join(words).capitalize() + "."


def build_workload(s: BenchSettings, encoding: str) -> Workload:
    """A seeded sample: exactly ``system_tokens`` of system prompt, short and long requests."""
    rng = random.Random(s.seed)
    rules = [
        f"Rule {i + 1}: you must {rng.choice(_ACTIONS)} the {rng.choice(_PRODUCTS)} only after checking "
        f"the {rng.choice(_WORDS)} {rng.choice(_WORDS)}; never promise a {rng.choice(_WORDS)}."
        for i in range(400)
    ]
    system, _ = truncate_tokens("You are ACME's support assistant.\n" + "\n".join(rules), s.system_tokens, encoding)
    questions: list[str] = []
    n_long = round(s.sample * s.long_share)
    long_at = set(rng.sample(range(s.sample), n_long))
    for i in range(s.sample):
        product = rng.choice(_PRODUCTS)
        question = f"How do I {rng.choice(_ACTIONS)} my {product} (order {10_000 + i})?"
        if i not in long_at:
            questions.append(question)
            continue
        prose: list[str] = []
        while count_tokens(" ".join(prose), encoding) < s.long_tokens - 120:
            prose.append(_sentence(rng))
        code = f"```\nstatus = check({product!r}, order={10_000 + i})\n```"
        payload = f'{{"order": {10_000 + i}, "product": "{product}", "amount": {rng.randint(10, 900)}.99}}'
        questions.append(f"{' '.join(prose)}\n{code}\nRecord: {payload}\n{question}")
    return Workload(system, tuple(questions))


def _prefix_usage(usage: Usage, prefix_tokens: int) -> Usage:
    cached = (prefix_tokens // CACHE_BLOCK) * CACHE_BLOCK
    return Usage(usage.input_tokens, usage.output_tokens, min(cached, usage.input_tokens))


@dataclass(slots=True)
class Scenario:
    """Measured totals of one way of sending the sample."""

    name: str
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    answer_input_tokens: int = 0
    cost_usd: float = 0.0
    cost_cached_usd: float = 0.0
    overhead_usd: float = 0.0
    overhead_calls: int = 0
    failed: int = 0
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def add(
        self, usage: Usage, cost: float, cached_cost: float, *, overhead: bool = False, answering: bool = True
    ) -> None:
        """Adds one call (``answering``: to the answering model, not the compressor)."""
        self.calls += 1
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.cost_usd += cost
        self.cost_cached_usd += cached_cost
        if overhead:
            self.overhead_usd += cost
            self.overhead_calls += 1
        if answering:
            self.answer_input_tokens += usage.input_tokens

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {k: getattr(self, k) for k in self.__slots__}


class _Pricer:
    def __init__(self, prices: PriceBook, model: str, discount: float = 0.0) -> None:
        self.prices, self.model, self.factor = prices, model, 1.0 - discount

    def __call__(self, usage: Usage, prefix: int) -> tuple[float, float]:
        plain = self.prices.cost_usd(self.model, usage) * self.factor
        cached = self.prices.cost_usd(self.model, _prefix_usage(usage, prefix)) * self.factor
        return plain, cached


def _add_batch(scn: Scenario, report: BatchReport, price: _Pricer, prefix: int, batch_size: int) -> None:
    first_wave = math.ceil(len(report.results) / batch_size)
    for call in report.calls:  # calls after the first wave only carry retried items: overhead
        scn.add(call.usage, *price(call.usage, prefix), overhead=call.index >= first_wave)
    retries = sum(max(0, r.attempts - 1) for r in report.results)
    if retries:
        scn.notes.append(f"{retries} item retries")
    scn.failed += len(report.failed)


@dataclass(frozen=True, slots=True)
class _Run:
    """What every scenario of one target shares."""

    work: Workload
    s: BenchSettings
    target: ModelClient
    compressor: Callable[[], PromptCompressor]
    prices: PriceBook
    price: _Pricer
    sys_prefix: int
    batch_prefix: int
    batching: BatchingConfig

    @property
    def system(self) -> dict[str, str]:
        return {"role": "system", "content": self.work.system_prompt}

    def runner(self) -> BatchRunner:
        return BatchRunner(self.target, prices=self.prices, config=self.batching, system_prompt=self.work.system_prompt)


def _unoptimised(r: _Run) -> Scenario:
    scn = Scenario("unoptimised")
    for q in r.work.questions:
        reply = r.target.complete([r.system, {"role": "user", "content": q}], temperature=0)
        scn.add(reply.usage, *r.price(reply.usage, r.sys_prefix))
    return scn


def _compression(r: _Run) -> Scenario:
    scn = Scenario("compression")
    pc = r.compressor()
    comp_price = _Pricer(r.prices, pc.client.model)
    applied = 0
    for q in r.work.questions:
        cm = pc.compress_messages([r.system, {"role": "user", "content": q}], target_model=r.target.model)
        for o in cm.outcomes:
            if o.call_usage is not None:
                scn.add(o.call_usage, *comp_price(o.call_usage, 0), overhead=True, answering=False)
        applied += cm.applied
        reply = r.target.complete(list(cm.messages), temperature=0)
        scn.add(reply.usage, *r.price(reply.usage, r.sys_prefix))
    scn.notes.append(f"{applied} of {len(r.work.questions)} prompts compressed")
    return scn


def _batching(r: _Run, *, compress: bool) -> Scenario:
    scn = Scenario("compression+batching" if compress else "batching")
    texts = list(r.work.questions)
    if compress:
        pc = r.compressor()
        comp_price = _Pricer(r.prices, pc.client.model)
        for k, q in enumerate(r.work.questions):
            o = pc.compress_text(q, target_model=r.target.model)
            if o.call_usage is not None:
                scn.add(o.call_usage, *comp_price(o.call_usage, 0), overhead=True, answering=False)
            texts[k] = o.text
    _add_batch(scn, r.runner().run(texts), r.price, r.batch_prefix, r.s.batch_size)
    return scn


def _batch_api(r: _Run, discount: float) -> Scenario:
    scn = Scenario(f"batch API ({discount:.0%} off) + live re-run of failures")
    items = make_items(list(r.work.questions))
    file = build_batch_api_file(items, model=r.target.model, system_prompt=r.work.system_prompt, config=r.batching)
    parsed = parse_batch_output(simulate_batch_output(file, r.target), file, prices=r.prices, discount=discount)
    api_price = _Pricer(r.prices, r.target.model, discount)
    for call in parsed.calls:
        scn.add(call.usage, *api_price(call.usage, r.batch_prefix))
    failed = [it.question for it, res in zip(items, parsed.results, strict=True) if res.answer is None]
    if failed:
        rerun = r.runner().run(failed)
        for call in rerun.calls:
            scn.add(call.usage, *r.price(call.usage, r.batch_prefix), overhead=True)
        scn.failed = len(rerun.failed)
        scn.notes.append(f"{len(failed)} items re-run live")
    return scn


def run_target(
    work: Workload,
    s: BenchSettings,
    *,
    target: ModelClient,
    compressor: Callable[[], PromptCompressor],
    prices: PriceBook,
    discount: float,
    reset: Callable[[], None] = lambda: None,
) -> list[Scenario]:
    """Sends the sample to ``target`` every way (see the module docstring).

    ``reset`` is called before each batching scenario (the scripted server forgets which ids it
    answered badly, so every scenario meets the same malformed answers).
    """
    enc = encoding_for_model(target.model)
    sys_prefix = count_message_tokens([{"role": "system", "content": work.system_prompt}], enc) - 3
    r = _Run(
        work,
        s,
        target,
        compressor,
        prices,
        _Pricer(prices, target.model),
        sys_prefix,
        sys_prefix + 4 + count_tokens(BATCH_INSTRUCTIONS, enc),
        BatchingConfig(enabled=True, max_batch=s.batch_size),
    )
    steps: list[Callable[[], Scenario]] = [
        lambda: _unoptimised(r),
        lambda: _compression(r),
        lambda: _batching(r, compress=False),
        lambda: _batching(r, compress=True),
        lambda: _batch_api(r, discount),
    ]
    out = []
    for step in steps:
        reset()
        t0 = time.perf_counter()
        scn = step()
        scn.wall_s = time.perf_counter() - t0
        out.append(scn)
    return out


def decision_examples(
    work: Workload, compressor: PromptCompressor, targets: Sequence[str]
) -> list[tuple[str, str, dict[str, Any]]]:
    """The compression decision (no call made) for typical texts and every target."""
    long_q = next(q for q in work.questions if "```" in q)
    short_q = next(q for q in work.questions if "```" not in q)
    rows: list[tuple[str, str, dict[str, Any]]] = []
    for t in targets:
        enc = encoding_for_model(t)
        cases = [
            ("short question", short_q, 0),
            ("pasted document", long_q, 0),
            ("same document, already in the provider's prefix cache", long_q, count_tokens(long_q, enc)),
            ("the system prompt itself (never done; cached prefix)", work.system_prompt, s_tokens(work, enc)),
        ]
        for label, text, risk in cases:
            d = compressor.plan(text, target_model=t, cached_tokens_at_risk=risk).decision
            rows.append((t, label, d.to_dict()))
    return rows


def s_tokens(work: Workload, encoding: str) -> int:
    """Tokens of the system prompt."""
    return count_tokens(work.system_prompt, encoding)


def per_day(value: float, s: BenchSettings) -> float:
    """Scales a sample total to ``requests_per_day``."""
    return value * s.requests_per_day / max(1, s.sample)


def pct(part: float, whole: float) -> str:
    """``part`` as a percentage of ``whole``."""
    return "-" if not whole or math.isnan(whole) else f"{100 * part / whole:.1f}%"


def compression_config(base: CompressionConfig) -> CompressionConfig:
    """The configured compression, switched on (memory cache only, fresh per scenario)."""
    return base.model_copy(update={"enabled": True, "cache_path": None})
