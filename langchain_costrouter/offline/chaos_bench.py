"""Chaos benchmark: concurrent requests under faults and sabotage; the ledger against the server's bill.

One local OpenAI-compatible server, in a process of its own
(:mod:`~langchain_costrouter.offline._chaos_server`), plays three models: a cheap one (that answers the "hard"
questions badly), a premium one and a judge (that grades the cheap answers, so bad ones
escalate). It injects random faults into a share of the requests it receives (429, 500, 503,
a timeout past the client's, a slow answer, a stream broken after content, a connection dropped
before any) and keeps its own bill (:class:`~langchain_costrouter.testing.server.BillLog`).

:func:`run_chaos` sends the requests through :class:`~langchain_costrouter.ChatCostRouter` all at
once (``ainvoke`` and ``astream`` mixed), or through ``litellm.Router`` with the project's hooks
(``acompletion``, streamed or not), cancels some of them at random moments (while a tier
or the judge answers, or while a stream is read), and as the run progresses (by the share of
requests finished, not by the clock, so it hits mid-run on any machine):

- deletes the SQLite ledger file (a hard link made first keeps the records already written, so
  the bench can still count them: what the deletion tests is that no later record is lost);
- locks the ledger with another connection's exclusive transaction for a few seconds (longer
  than the ledger's busy timeout, so writes fail and wait in memory);
- locks the response cache's database for a few seconds (cache writes fail).

It then closes the router (flushing what waits) and compares every ledger record with the
server's bill (:func:`~langchain_costrouter.offline._chaos_compare.compare`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from langchain_costrouter.offline._chaos_compare import ESTIMATE_RULE, Comparison, compare
from langchain_costrouter.offline._chaos_server import HARD, chaos_script
from langchain_costrouter.testing.server import BillLine

__all__ = ["ChaosResult", "ChaosSettings", "chaos_script", "run_chaos"]

logger = logging.getLogger(__name__)

KEY_ENV = "COSTROUTER_CHAOS_KEY"
PRICES = {"chaos-cheap": (0.15, 0.60), "chaos-premium": (5.0, 15.0), "chaos-judge": (0.10, 0.40)}
_QUESTIONS = (
    "What is the capital of {x}?",
    "Summarise the history of {x} in two sentences.",
    "Name three rivers of {x}.",
    "Give one fact about the economy of {x}.",
)
_PLACES = ("Peru", "Norway", "Kenya", "Japan", "Chile", "Egypt", "Canada", "Nepal", "Spain", "Laos")
_START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ChaosSettings:
    """What a chaos run does.

    Attributes:
        requests: Requests sent (all started at once, up to ``concurrency`` in flight).
        adapter: ``langchain`` (``ChatCostRouter``: ``ainvoke``/``astream``) or ``litellm``
            (``litellm.Router`` with the hooks: ``acompletion``, streaming or not).
        concurrency: Most requests in flight at a time.
        fault_rate: Share of the server's requests that get a fault.
        cancel_rate: Share of requests the client cancels at a random moment.
        stream_share: Share of requests made with ``astream`` (the rest ``ainvoke``).
        hard_share: Share of questions the cheap model answers badly (they escalate).
        repeat_share: Share of requests that repeat an earlier one once it finished (cache
            hits); the requests of one tag never overlap, so their calls stay in order.
        seed: Seed of every draw (questions, modes, cancellations, faults).
        timeout_s: The tiers' ``timeout_s`` (a ``timeout`` fault holds a request 5 s longer).
        ledger_busy_s: The ledger's busy timeout (a lock held longer makes writes fail).
        lock_s: How long the ledger is held locked.
        cache_lock_s: How long the cache's database is held locked (longer than its driver's
            5 s busy timeout, so cache writes fail).
        delete_at, lock_ledger_at, lock_cache_at: Progress (share of requests finished) at
            which the ledger file is deleted, the ledger locked, the cache locked (``None``: never).
        workdir: Folder of the ledger, the cache and the server's bill (``server-bill.jsonl``);
            default: a temporary one, removed after.
    """

    requests: int = 2000
    adapter: Literal["langchain", "litellm"] = "langchain"
    concurrency: int = 2000
    fault_rate: float = 0.2
    cancel_rate: float = 0.05
    stream_share: float = 0.4
    hard_share: float = 0.3
    repeat_share: float = 0.1
    seed: int = 0
    timeout_s: float = 60.0
    ledger_busy_s: float = 1.0
    lock_s: float = 3.0
    cache_lock_s: float = 8.0
    delete_at: float | None = 0.25
    lock_ledger_at: float | None = 0.45
    lock_cache_at: float | None = 0.6
    workdir: Path | None = None


@dataclass
class ChaosResult:
    """What a chaos run measured (``to_dict`` for JSON)."""

    settings: ChaosSettings
    wall_s: float
    outcomes: Counter[str]
    modes: Counter[str]
    faults: dict[str, int]
    cancelled: int
    sabotage: list[dict[str, Any]]
    ledger_records: int
    records_in_deleted_file: int
    pending_after_close: int
    ledger_reopened: int
    cache_store_failures: int
    cache_hits: int
    abandoned_judges: int
    comparison: Comparison = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        s = asdict(self.settings)
        s["workdir"] = None if self.settings.workdir is None else str(self.settings.workdir)
        return {
            "settings": s,
            "wall_s": round(self.wall_s, 2),
            "requests": sum(self.outcomes.values()),
            "outcomes": dict(self.outcomes),
            "modes": dict(self.modes),
            "faults_injected": dict(self.faults),
            "cancelled": self.cancelled,
            "sabotage": self.sabotage,
            "ledger_records": self.ledger_records,
            "records_in_deleted_file": self.records_in_deleted_file,
            "pending_after_close": self.pending_after_close,
            "ledger_reopened": self.ledger_reopened,
            "cache_store_failures": self.cache_store_failures,
            "cache_hits": self.cache_hits,
            "abandoned_judge_records": self.abandoned_judges,
            "comparison": self.comparison.to_dict(),
            "estimate_rule": ESTIMATE_RULE,
        }


def _config(base_url: str, settings: ChaosSettings, workdir: Path) -> Any:
    from langchain_costrouter.core.config import CostRouterConfig

    def tier(name: str, model: str, **extra: Any) -> dict[str, Any]:
        inp, out = PRICES[model]
        spec = {
            "name": name,
            "model": f"openai/{model}",
            "api_base": base_url,
            "api_key_env": KEY_ENV,
            "price": {"input": inp, "output": out},
            "max_tokens": 64,
            "timeout_s": settings.timeout_s,
        }
        return {**spec, **extra}

    return CostRouterConfig.from_dict(
        {
            "tiers": [
                tier("cheap", "chaos-cheap", gate={"type": "judge", "judge_model": "judge", "threshold": 0.7}),
                tier("premium", "chaos-premium"),
            ],
            "models": [tier("judge", "chaos-judge")],
            "cascade": {"retries": 1, "retry_backoff_s": 0.05},
            "ledger": {"backend": "sqlite", "path": str(workdir / "ledger.sqlite")},
            "cache": {"enabled": True, "semantic": "off", "dir": str(workdir / "cache")},
        }
    )


@dataclass
class _Plan:
    tag: str
    text: str
    stream: bool
    cancel_after: float | None
    repeat_of: int | None = None


def _plans(settings: ChaosSettings) -> list[_Plan]:
    rng = random.Random(settings.seed)
    plans: list[_Plan] = []
    n_repeat = int(settings.requests * settings.repeat_share)
    for i in range(settings.requests - n_repeat):
        q = rng.choice(_QUESTIONS).format(x=rng.choice(_PLACES))
        text = f"[[ref:q{i:05d}]] {HARD + ' ' if rng.random() < settings.hard_share else ''}{q}"
        # log-uniform from 5 ms to the timeout: some before the call is out, some while a tier,
        # the judge or a stream answers, whatever the load
        cancel = (
            math.exp(rng.uniform(math.log(0.005), math.log(settings.timeout_s)))
            if rng.random() < settings.cancel_rate
            else None
        )
        plans.append(_Plan(f"q{i:05d}", text, rng.random() < settings.stream_share, cancel))
    originals = len(plans)
    last = {p.tag: i for i, p in enumerate(plans)}
    for _ in range(n_repeat):
        k = rng.randrange(originals)
        # a repeat waits for the last request of its tag: the calls of one tag stay in sequence
        plans.append(_Plan(plans[k].tag, plans[k].text, rng.random() < settings.stream_share, None, last[plans[k].tag]))
        last[plans[k].tag] = len(plans) - 1
    return plans


def _hold_lock(db: Path, seconds: float, events: list[dict[str, Any]], what: str, progress: float) -> None:
    """Holds an exclusive transaction on ``db`` for ``seconds`` (in a thread of its own)."""
    t0 = time.time()
    try:
        conn = sqlite3.connect(db, timeout=30, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        time.sleep(seconds)
        conn.execute("ROLLBACK")
        conn.close()
        events.append({"event": what, "at_progress": round(progress, 3), "held_s": round(time.time() - t0, 2)})
    except sqlite3.Error as exc:
        events.append({"event": what, "at_progress": round(progress, 3), "error": str(exc)})


class _Saboteur:
    """Fires the sabotage events when the share of finished requests passes their marks."""

    def __init__(self, settings: ChaosSettings, ledger_path: Path, cache_dir: Path, total: int) -> None:
        self.settings = settings
        self.ledger_path = ledger_path
        self.deleted_copy = ledger_path.with_name("ledger-deleted.sqlite")
        self.cache_dir = cache_dir
        self.total = total
        self.done = 0
        self.events: list[dict[str, Any]] = []
        self.threads: list[threading.Thread] = []
        self._fired: set[str] = set()

    def finished_one(self) -> None:
        self.done += 1
        progress = self.done / self.total
        s = self.settings
        for name, mark in (("delete", s.delete_at), ("lock_ledger", s.lock_ledger_at), ("lock_cache", s.lock_cache_at)):
            if mark is not None and name not in self._fired and progress >= mark:
                self._fired.add(name)
                self._fire(name, progress)

    def _fire(self, name: str, progress: float) -> None:
        if name == "delete":
            try:
                os.link(self.ledger_path, self.deleted_copy)
                self.ledger_path.unlink()
                self.events.append({"event": "ledger_deleted", "at_progress": round(progress, 3)})
            except OSError as exc:
                self.events.append({"event": "ledger_deleted", "at_progress": round(progress, 3), "error": str(exc)})
            return
        if name == "lock_ledger":
            target, what = self.ledger_path, "ledger_locked"
        else:
            dbs = sorted(self.cache_dir.rglob("*.db")) + sorted(self.cache_dir.rglob("*.sqlite"))
            if not dbs:
                self.events.append({"event": "cache_locked", "at_progress": round(progress, 3), "error": "no cache db"})
                return
            target, what = dbs[0], "cache_locked"
        hold = self.settings.lock_s if name == "lock_ledger" else self.settings.cache_lock_s
        t = threading.Thread(target=_hold_lock, args=(target, hold, self.events, what, progress), daemon=True)
        t.start()
        self.threads.append(t)


class _Client:
    """One adapter under test: ``ChatCostRouter`` (``langchain``) or ``litellm.Router`` (``litellm``)."""

    def __init__(self, adapter: str, config: Any, ledger: Any) -> None:
        self.adapter = adapter
        if adapter == "litellm":
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            from litellm_hooks import CostRouterHooks, build_router

            self._hooks = CostRouterHooks(config, ledger=ledger)
            self._router = build_router(config, hooks=self._hooks)
            self.runtime = self._hooks.runtime
        else:
            from langchain_costrouter import ChatCostRouter

            self._router = ChatCostRouter(config=config, ledger=ledger)
            self.runtime = self._router.runtime

    async def send(self, plan: _Plan) -> str:
        """Sends one request (reading a stream to its end)."""
        if self.adapter == "litellm":
            messages = [{"role": "user", "content": plan.text}]
            meta = {"tenant": plan.tag}
            if plan.stream:
                stream = await self._router.acompletion(
                    model="costrouter", messages=messages, metadata=meta, stream=True
                )
                async for _ in stream:
                    pass
            else:
                await self._router.acompletion(model="costrouter", messages=messages, metadata=meta)
            return "ok"
        config = {"metadata": {"tenant": plan.tag}}
        if plan.stream:
            async for _ in self._router.astream(plan.text, config=config):
                pass
        else:
            await self._router.ainvoke(plan.text, config=config)
        return "ok"

    def close(self) -> None:
        """Flushes and closes the ledger and the cache."""
        (self._hooks if self.adapter == "litellm" else self._router).close()


async def _drive(client: _Client, plans: list[_Plan], settings: ChaosSettings, saboteur: _Saboteur) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    gate = asyncio.Semaphore(settings.concurrency)
    finished = [asyncio.Event() for _ in plans]

    async def run(i: int, plan: _Plan) -> None:
        if plan.repeat_of is not None:
            await finished[plan.repeat_of].wait()
        async with gate:
            try:
                if plan.cancel_after is not None:
                    await asyncio.wait_for(client.send(plan), plan.cancel_after)
                    outcome = "ok"
                else:
                    outcome = await client.send(plan)
            except TimeoutError as exc:  # wait_for's, or a stream that ran past its deadline
                cancelled = type(exc) is TimeoutError and plan.cancel_after is not None
                outcome = "cancelled" if cancelled else f"error:{type(exc).__name__}"
            except Exception as exc:  # a request may fail; the ledger must still hold what it cost
                outcome = f"error:{type(exc).__name__}"
        outcomes[outcome] += 1
        finished[i].set()
        saboteur.finished_one()

    await asyncio.gather(*(run(i, p) for i, p in enumerate(plans)))
    return outcomes


def _read_records(path: Path) -> list[Any]:
    from langchain_costrouter.core.ledger import SQLiteLedger

    if not path.exists():
        return []
    ledger = SQLiteLedger(path)
    try:
        return ledger.records()
    finally:
        ledger.close()


def run_chaos(settings: ChaosSettings) -> ChaosResult:
    """Runs the chaos benchmark (see the module docstring)."""
    if settings.workdir is not None:
        settings.workdir.mkdir(parents=True, exist_ok=True)
        return _run_in(settings, settings.workdir)
    with tempfile.TemporaryDirectory(prefix="costrouter-chaos-") as tmp:
        return _run_in(settings, Path(tmp))


@contextlib.contextmanager
def _server_process(settings: ChaosSettings, workdir: Path) -> Iterator[tuple[str, Path]]:
    """The chaos server in a child process: yields its base URL and its bill file; stops it after."""
    bill = workdir / "server-bill.jsonl"
    bill.unlink(missing_ok=True)
    port_file = workdir / "server.port"
    port_file.unlink(missing_ok=True)
    cmd = [
        sys.executable, "-m", "langchain_costrouter.offline._chaos_server",
        "--bill", str(bill), "--port-file", str(port_file),
        "--fault-rate", str(settings.fault_rate), "--seed", str(settings.seed), "--timeout", str(settings.timeout_s),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)  # noqa: S603 - our own module, no shell
    try:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not port_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                msg = f"the chaos server did not start (exit code {proc.poll()})"
                raise RuntimeError(msg)
            time.sleep(0.05)
        port = int(port_file.read_text(encoding="utf-8"))
        yield f"http://127.0.0.1:{port}/v1", bill
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _read_bill(path: Path) -> list[BillLine]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [BillLine(**json.loads(line)) for line in fh if line.strip()]


def _run_in(settings: ChaosSettings, workdir: Path) -> ChaosResult:
    from langchain_costrouter.core.ledger import SQLiteLedger
    from langchain_costrouter.core.usage import Usage

    os.environ.setdefault(KEY_ENV, "sk-chaos-local")
    plans = _plans(settings)
    with _server_process(settings, workdir) as (base_url, bill_path):
        config = _config(base_url, settings, workdir)
        ledger_path = Path(config.ledger.path)
        ledger = SQLiteLedger(ledger_path, busy_timeout_s=settings.ledger_busy_s)
        client = _Client(settings.adapter, config, ledger)
        saboteur = _Saboteur(settings, ledger_path, workdir / "cache", len(plans))
        t0 = time.perf_counter()
        outcomes = asyncio.run(_drive(client, plans, settings, saboteur))
        wall = time.perf_counter() - t0
        for t in saboteur.threads:
            t.join()
        accountant = client.runtime.accountant
        cache = client.runtime.response_cache
        cache_stats = cache.status()["stats"] if cache is not None else {}
        cache_failures = int(cache_stats.get("errors", {}).get("store", 0))
        client.close()
        pending = accountant.pending
    lines = [line for line in _read_bill(bill_path) if line.tag is not None]
    faults = dict(Counter(line.fault for line in lines if line.fault is not None))
    live = _read_records(ledger_path)
    deleted = _read_records(saboteur.deleted_copy)
    records = deleted + live

    def price(model: str, prompt: int, completion: int) -> float:
        return float(accountant.cost_usd(model, Usage(prompt, completion)))

    comparison = compare(lines, records, price)
    return ChaosResult(
        settings=settings,
        wall_s=wall,
        outcomes=outcomes,
        modes=Counter("stream" if p.stream else "call" for p in plans),
        faults=faults,
        cancelled=outcomes.get("cancelled", 0),
        sabotage=saboteur.events,
        ledger_records=len(records),
        records_in_deleted_file=len(deleted),
        pending_after_close=pending,
        ledger_reopened=ledger.reopened,
        cache_store_failures=cache_failures,
        cache_hits=int(cache_stats.get("hits", 0)),
        abandoned_judges=sum(1 for r in records if r.kind == "judge" and "abandoned" in r.extra),
        comparison=comparison,
    )
