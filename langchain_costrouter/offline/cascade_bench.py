"""The cascade benchmark through the real pipeline: ``ChatCostRouter`` → HTTP → replay server.

Every item of a recorded data set (RouteLLM CSV: prompt, both models' answers and qualities) is
sent through a :class:`~langchain_costrouter.ChatCostRouter` whose tiers are ``cheap → premium``
models of a replay server, once per policy; gates, the cascade, pricing and the cost ledger run
for real. A policy's quality is read from the data's quality column of the tier that answered;
its cost is what the ledger recorded (every attempt, rejected ones included).

Policies through the pipeline (one router each, tenant = policy name in the ledger):

- ``always_premium``: a one-tier ladder ``[premium]`` (the reference of every ratio);
- ``always_cheap``: ``[cheap, premium]`` with no gate on the cheap tier;
- ``heuristic``: the seed-like gate (at least 300 characters repeating half the question's words);
- ``learned``: a learned gate from a gate file, or by K-fold cross-validation: for every fold a
  gate fitted and thresholded on the other folds (:func:`~.core.cascade_bench.fit_fold_gates`)
  is written to a gate file that the fold's router config loads (``gate: {type: learned}``).

``oracle`` and ``random_at_learned_rate`` are computed from the recorded answers and the per-item
costs the ledger recorded for always-cheap and always-premium (no extra calls).

Usage::

    result = run_cascade_bench("dev.csv", CascadeBenchSettings("mistralai/Mixtral-8x7B-Instruct-v0.1",
                                                               "gpt-4-1106-preview"))
    for row in result.rows: ...
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import tempfile
import time
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from langchain_costrouter.chat_model import ChatCostRouter
from langchain_costrouter.core.errors import DataError
from langchain_costrouter.core.gates.learned import LearnedGate
from langchain_costrouter.core.ledger import CostRecord, LedgerBackend, MemoryLedger, SQLiteLedger
from langchain_costrouter.core.pricing import ModelPrice
from langchain_costrouter.offline._bench_overhead import OverheadStats, measure_overhead
from langchain_costrouter.offline._bench_pipeline import (
    CHEAP_TIER,
    PREMIUM_TIER,
    Served,
    Wiring,
    ledger_index,
    max_tokens_for,
    run_policy,
)
from langchain_costrouter.offline.cascade_policies import (
    BenchRow,
    FoldGate,
    PolicyOutcome,
    PriceResolution,
    fit_fold_gates,
    policy_rows,
    recorded_policies,
    resolve_prices,
)
from langchain_costrouter.offline.data import RoutedDataset, load_routellm_csv
from langchain_costrouter.offline.policy_eval import (
    HEURISTIC_MIN_CHARS,
    HEURISTIC_MIN_OVERLAP,
    ItemCosts,
    SweepPoint,
    threshold_sweep,
)

__all__ = [
    "PIPELINE_POLICIES",
    "CascadeBenchResult",
    "CascadeBenchSettings",
    "OverheadStats",
    "arun_cascade_bench",
    "load_bench_data",
    "run_cascade_bench",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

PIPELINE_POLICIES: tuple[str, ...] = ("always_premium", "always_cheap", "heuristic", "learned")
"""Policies whose every item goes through the router, in run order."""


@dataclass(frozen=True, slots=True)
class CascadeBenchSettings:
    """What to benchmark and how.

    Attributes:
        cheap: Cheap model name as in the data (its ``<model>`` and ``<model>_response`` columns).
        premium: Premium model name as in the data.
        prices: Price overrides by model name (win over LiteLLM's bundled map).
        gate_file: A learned-gate file to evaluate; ``None`` calibrates one per fold in-run.
        folds: Cross-validation folds of the in-run calibration.
        seed: Seed of the fold shuffles.
        target_quality: Share of premium quality the in-run thresholds aim for.
        margin_z: Safety margin of the in-run thresholds (standard errors).
        heuristic_min_chars: The seed-like heuristic gate's minimum answer length.
        heuristic_min_overlap: The seed-like heuristic gate's minimum word overlap.
        concurrency: Requests in flight at once.
        overhead_requests: Sequential requests timed through the router and directly (0: skip).
        ledger_path: SQLite ledger to write (every policy, tenant = policy name); ``None``: in memory.
        work_dir: Where the fold gate files go (a temporary folder by default).
        progress: Show progress bars (rich, on stderr).
    """

    cheap: str
    premium: str
    prices: Mapping[str, ModelPrice] = field(default_factory=dict)
    gate_file: Path | None = None
    folds: int = 5
    seed: int = 0
    target_quality: float = 0.95
    margin_z: float = 1.0
    heuristic_min_chars: int = HEURISTIC_MIN_CHARS
    heuristic_min_overlap: float = HEURISTIC_MIN_OVERLAP
    concurrency: int = 48
    overhead_requests: int = 200
    ledger_path: Path | None = None
    work_dir: Path | None = None
    progress: bool = True


@dataclass(frozen=True, slots=True)
class CascadeBenchResult:
    """Everything one benchmark run measured.

    Attributes:
        rows: One row per policy (pipeline ones first, then oracle and random).
        sweep: The learned gate's threshold sweep on its (held-out) scores and measured costs.
        outcomes: Per-item outcomes by policy name.
        prices: The price used for each model and where it came from.
        learned_gate: How the learned gate was obtained (gate file or cross-validation).
        thresholds: The learned gate's threshold(s) (one per fold in cross-validation).
        overhead: Router vs direct ``ChatOpenAI`` latency (``None`` when skipped).
        n_items: Items benchmarked.
        calls: Model calls made through the pipeline.
        answer_mismatches: Served answers that differ from the recording of the tier that
            answered (should be 0: the replay server returns recordings verbatim).
        ledger_totals: Sum of ``cost_usd`` of each policy's ledger records.
        ledger_path: The SQLite ledger written, if any.
        seconds: Wall time by phase (``gates``, each policy, ``pipeline``, ``overhead``, ``total``).
    """

    rows: tuple[BenchRow, ...]
    sweep: tuple[SweepPoint, ...]
    outcomes: Mapping[str, PolicyOutcome]
    prices: Mapping[str, PriceResolution]
    learned_gate: str
    thresholds: tuple[float, ...]
    overhead: OverheadStats | None
    n_items: int
    calls: int
    answer_mismatches: int
    ledger_totals: Mapping[str, float]
    ledger_path: str | None
    seconds: Mapping[str, float]

    def row(self, policy: str) -> BenchRow:
        """The row of ``policy``.

        Raises:
            KeyError: No such policy.
        """
        for r in self.rows:
            if r.policy == policy:
                return r
        raise KeyError(policy)


def load_bench_data(path: str | Path, cheap: str, premium: str, *, limit: int | None = None) -> RoutedDataset:
    """Reads the data for ``cheap`` and ``premium``; ``limit`` keeps the first rows.

    Rows the replay server cannot serve as recorded are dropped with a warning: a repeated
    prompt (the server answers it with the first recording) and an empty answer (no recording).

    Raises:
        DataError: Malformed data, unknown models, or a bad ``limit``.
    """
    if cheap == premium:
        msg = f"cheap and premium models must differ (both {cheap!r})"
        raise DataError(msg)
    if limit is not None and limit < 1:
        msg = f"--limit must be at least 1, got {limit}"
        raise DataError(msg)
    data = load_routellm_csv(path, [cheap, premium])
    seen: set[str] = set()
    keep: list[int] = []
    duplicates = empty = 0
    for i, prompt in enumerate(data.prompts):
        if prompt in seen:
            duplicates += 1
            continue
        seen.add(prompt)
        if not data.answers(cheap)[i].strip() or not data.answers(premium)[i].strip():
            empty += 1
            continue
        keep.append(i)
    if duplicates or empty:
        logger.warning(
            "%s: %d repeated prompt(s) and %d row(s) with an empty answer left out (the replay server serves "
            "the first recording of a prompt and has none for an empty cell)",
            path,
            duplicates,
            empty,
        )
    if not keep:
        msg = f"{path}: no row with both models' answers"
        raise DataError(msg)
    if limit is not None:
        keep = keep[:limit]
    return data if len(keep) == len(data) else data.subset(keep)


def _outcome(
    policy: str,
    served: Mapping[int, Served],
    data: RoutedDataset,
    settings: CascadeBenchSettings,
    index: tuple[Mapping[tuple[str, str], float], Mapping[tuple[str, str], float]],
    *,
    threshold: str | None,
) -> tuple[PolicyOutcome, int]:
    """A pipeline policy's per-item outcome (costs and gate scores from the ledger) and its answer mismatches."""
    ledger_cost, ledger_score = index
    n = len(data)
    qc, qp = data.quality_of(settings.cheap), data.quality_of(settings.premium)
    answers = {CHEAP_TIER: data.answers(settings.cheap), PREMIUM_TIER: data.answers(settings.premium)}
    esc, qual, cost = np.zeros(n), np.zeros(n), np.zeros(n)
    scores = np.full(n, np.nan)
    mismatches = calls = 0
    for i in range(n):
        s = served[i]
        key = (policy, s.request_id)
        if key not in ledger_cost:
            msg = f"{policy}: item {i} (request {s.request_id}) has no ledger record"
            raise DataError(msg)
        cost[i] = ledger_cost[key]
        esc[i] = float(s.premium_called)
        qual[i] = qc[i] if s.tier == CHEAP_TIER else qp[i]
        scores[i] = ledger_score.get(key, np.nan)
        mismatches += s.text != answers[s.tier][i]
        calls += s.calls
    has_scores = policy in {"heuristic", "learned"} and not np.isnan(scores).any()
    out = PolicyOutcome(policy, "pipeline", esc, qual, cost, scores if has_scores else None, None, threshold, calls)
    return out, mismatches


def _learned_groups(
    data: RoutedDataset, settings: CascadeBenchSettings, prices: Mapping[str, ModelPrice], work: Path
) -> tuple[list[tuple[Path, Sequence[int]]], str, tuple[float, ...]]:
    """Gate files and the items each one scores."""
    if settings.gate_file is not None:
        gate = LearnedGate.load(settings.gate_file)  # validates the file before any request
        return [(settings.gate_file, range(len(data)))], f"gate file {settings.gate_file}", (gate.threshold,)
    fold_gates: tuple[FoldGate, ...] = fit_fold_gates(
        data,
        settings.cheap,
        settings.premium,
        prices=prices,
        folds=settings.folds,
        seed=settings.seed,
        target_quality=settings.target_quality,
        margin_z=settings.margin_z,
    )
    groups: list[tuple[Path, Sequence[int]]] = [
        (fg.gate.save(work / f"gate-fold{fg.fold}.json"), [int(i) for i in fg.test]) for fg in fold_gates
    ]
    how = (
        f"{settings.folds}-fold cross-validation: each item scored by a gate fitted and thresholded "
        f"without it (target {settings.target_quality:.0%} of premium quality, margin_z {settings.margin_z:g})"
    )
    return groups, how, tuple(fg.threshold for fg in fold_gates)


def _plans(
    wiring: Wiring, settings: CascadeBenchSettings, groups: Sequence[tuple[Path, Sequence[int]]], n: int, ledger: Any
) -> dict[str, list[tuple[ChatCostRouter, Sequence[int]]]]:
    """The routers of every pipeline policy and the items each one answers."""
    heuristic = {
        "type": "heuristic",
        "min_chars": settings.heuristic_min_chars,
        "min_overlap": settings.heuristic_min_overlap,
    }
    everything = range(n)
    return {
        "always_premium": [(wiring.router("always_premium", None, ledger), everything)],
        "always_cheap": [(wiring.router("always_cheap", None, ledger), everything)],
        "heuristic": [(wiring.router("heuristic", heuristic, ledger), everything)],
        "learned": [
            (wiring.router("learned", {"type": "learned", "path": str(path)}, ledger), ix) for path, ix in groups
        ],
    }


@dataclass(frozen=True, slots=True)
class _Figures:
    outcomes: dict[str, PolicyOutcome]
    sweep: tuple[SweepPoint, ...]
    mismatches: int
    totals: dict[str, float]


def _figures(
    served: Mapping[str, Mapping[int, Served]],
    data: RoutedDataset,
    settings: CascadeBenchSettings,
    records: Sequence[CostRecord],
    thresholds: Sequence[float],
) -> _Figures:
    """Every policy's outcome: pipeline ones from the ledger, oracle and random from the recordings."""
    index = ledger_index(records)
    thr_text = {
        "heuristic": f"min {settings.heuristic_min_chars} chars, {settings.heuristic_min_overlap:.0%} overlap",
        "learned": "/".join(f"{t:.3f}" for t in thresholds),
    }
    outcomes: dict[str, PolicyOutcome] = {}
    mismatches = 0
    for policy in PIPELINE_POLICIES:
        o, mm = _outcome(policy, served[policy], data, settings, index, threshold=thr_text.get(policy))
        outcomes[policy] = o
        mismatches += mm
    if mismatches:
        logger.warning("%d served answers differ from the recordings", mismatches)
    qc, qp = data.quality_of(settings.cheap), data.quality_of(settings.premium)
    c_cost, p_cost = outcomes["always_cheap"].cost_usd, outcomes["always_premium"].cost_usd
    learned = outcomes["learned"]
    oracle, random = recorded_policies(qc, qp, c_cost, p_cost, random_rate=float(np.mean(learned.escalated)))
    outcomes[oracle.name], outcomes[random.name] = oracle, random
    sweep: tuple[SweepPoint, ...] = ()
    if learned.scores is not None:
        sweep = threshold_sweep(learned.scores, qc, qp, ItemCosts(c_cost, p_cost))
    totals: dict[str, float] = {}
    for r in records:
        totals[r.tenant] = totals.get(r.tenant, 0.0) + r.cost_usd
    return _Figures(outcomes, sweep, mismatches, totals)


async def arun_cascade_bench(data: RoutedDataset, base_url: str, settings: CascadeBenchSettings) -> CascadeBenchResult:
    """Runs every policy on ``data`` against an OpenAI-compatible server at ``base_url``.

    The server must answer ``settings.cheap`` and ``settings.premium`` with their recorded
    answers (:meth:`LocalOpenAIServer.replay <langchain_costrouter.testing.server.LocalOpenAIServer.replay>`).

    Raises:
        UnknownModelPriceError: A model has no price.
        DataError: Bad data, or a served item without a ledger record.
        ProviderError: A request failed.
        GateError: The gate file is invalid or a gate cannot be fitted.
    """
    t_start = time.perf_counter()
    prices = resolve_prices([settings.cheap, settings.premium], settings.prices)
    seconds: dict[str, float] = {}
    ledger: LedgerBackend = MemoryLedger() if settings.ledger_path is None else SQLiteLedger(settings.ledger_path)
    tmp = None
    if settings.work_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="costrouter-bench-")
        work = Path(tmp.name)
    else:
        work = settings.work_dir
        work.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        groups, how, thresholds = _learned_groups(data, settings, {m: r.price for m, r in prices.items()}, work)
        seconds["gates"] = time.perf_counter() - t0
        wiring = Wiring(base_url, prices[settings.cheap], prices[settings.premium], max_tokens_for(data))
        plans = _plans(wiring, settings, groups, len(data), ledger)
        served: dict[str, dict[int, Served]] = {}
        t_pipe = time.perf_counter()
        for policy in PIPELINE_POLICIES:
            t0 = time.perf_counter()
            served[policy] = await run_policy(
                policy, plans[policy], data.prompts, concurrency=settings.concurrency, progress=settings.progress
            )
            seconds[policy] = time.perf_counter() - t0
        seconds["pipeline"] = time.perf_counter() - t_pipe
        fig = _figures(served, data, settings, ledger.records(), thresholds)
        overhead = None
        if settings.overhead_requests > 0:
            t0 = time.perf_counter()
            n_over = min(settings.overhead_requests, len(data))
            overhead = await measure_overhead(wiring.tier(CHEAP_TIER, None), data.prompts[:n_over])
            seconds["overhead"] = time.perf_counter() - t0
        seconds["total"] = time.perf_counter() - t_start
        qc, qp = data.quality_of(settings.cheap), data.quality_of(settings.premium)
        return CascadeBenchResult(
            rows=policy_rows(list(fig.outcomes.values()), qc, qp),
            sweep=fig.sweep,
            outcomes=fig.outcomes,
            prices=prices,
            learned_gate=how,
            thresholds=thresholds,
            overhead=overhead,
            n_items=len(data),
            calls=sum(o.calls for o in fig.outcomes.values()),
            answer_mismatches=fig.mismatches,
            ledger_totals=fig.totals,
            ledger_path=None if settings.ledger_path is None else str(settings.ledger_path),
            seconds=seconds,
        )
    finally:
        ledger.close()
        if tmp is not None:
            tmp.cleanup()


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Runs ``coro`` to completion, also from code that already runs an event loop (notebooks)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def run_cascade_bench(
    data_path: str | Path,
    settings: CascadeBenchSettings,
    *,
    limit: int | None = None,
    base_url: str | None = None,
) -> CascadeBenchResult:
    """Loads the data, starts a replay server on it (unless ``base_url`` is given) and runs the benchmark.

    Args:
        data_path: RouteLLM-format CSV with both models' answers and qualities.
        settings: Models, prices, gate and run options.
        limit: Benchmark only the first ``limit`` items.
        base_url: An already running server answering the data's models.

    Raises:
        UnknownModelPriceError: A model has no price (before any request is made).
        DataError: Bad data.
        ProviderError: A request failed.
        GateError: The gate file is invalid or a gate cannot be fitted.
    """
    resolve_prices([settings.cheap, settings.premium], settings.prices)  # fail before any work
    data = load_bench_data(data_path, settings.cheap, settings.premium, limit=limit)
    if base_url is not None:
        return _run(arun_cascade_bench(data, base_url, settings))
    from langchain_costrouter.testing.server import LocalOpenAIServer

    with LocalOpenAIServer.replay(data_path) as server:
        return _run(arun_cascade_bench(data, server.base_url, settings))
