r"""Replicas benchmark: N real LiteLLM proxies on one Postgres ledger and one Redis (budgets + cache).

Run it as ``costrouter bench replicas --replicas 3 --clients 30 --requests 900 --faults --json out.json``.

The bench starts the project's local OpenAI-compatible server (the upstream, whose request log is
the bill), a private ``redis-server`` on a free port (append-only file, so a restart keeps the
settled budget spend, as production runs it), a Postgres database of its own
(``costrouter_bench_<random>`` on ``--postgres-url``'s server, dropped at the end) and N proxy
processes rendered by ``costrouter litellm-config`` from one config per replica (each its own
outbox folder). ``clients`` concurrent clients send ``requests`` chat completions spread over the
replicas (request i to replica i mod N): two tenants (each on every replica), ``acme`` with a daily budget set to about
40 % of what its fresh answers cost (so it is reached mid-run) and ``globex`` without one; every
question is asked about three times in a shuffled order, so a replica often serves an entry
another replica stored. The budget fails closed (``on_store_down: closed``) so a Redis outage
cannot let the tenant through unchecked.

With ``--faults`` the private Redis is restarted after 30 % of the requests and the bench
database's connections are killed (``pg_terminate_backend``) after 50 % and 75 %. The same load
(and the same faults) first runs on replica 0 alone, under other tenant names, for
``throughput_vs_single``.

Figures (``--json``): ``requests``, ``ledger_records``, ``lost_records`` (upstream billed
responses minus distinct recorded attempts), ``duplicate_records`` (an attempt recorded twice),
``budget_limit_usd``, ``budget_spent_usd`` (the budgeted tenant's ledger spend),
``in_flight_max`` (the most budgeted requests in flight at once), ``max_request_cost_usd``,
``cross_replica_cache_hits`` (hits on a replica that never answered that question itself),
``throughput_rps`` and ``throughput_vs_single``.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["DEFAULT_POSTGRES_URL", "Phase", "check", "run_benchmark"]

ANSWER = "Paris is the capital of France; it has been the seat of government for centuries."
PRICE = {"input": 100.0, "output": 400.0}  # $/1M tokens: a cent a call, so a budget is reached quickly
MAX_TOKENS = 40
UPSTREAM_LATENCY_S = 0.05
BUDGET_SHARE = 0.4
TEMPLATES = (
    "What is {a} times {b}?",
    "How many minutes are there in {a} hours and {b} minutes?",
    "What is the sum of {a} and {b}?",
    "If a box holds {b} apples, how many apples are in {a} boxes?",
)
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class Phase:
    """What the clients saw in one load phase."""

    requests: int = 0
    ok: int = 0
    refused: int = 0
    budget_refusals: int = 0
    errors: int = 0
    hits: int = 0
    seconds: float = 0.0
    in_flight_max: int = 0
    error_statuses: dict[int, int] = field(default_factory=dict)
    fresh: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    hit_on: list[tuple[int, str, str]] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)

    @property
    def throughput_rps(self) -> float:
        """Requests answered (served or refused) per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    def record(self, replica: int, tenant: str, question: str, status: int, cache: str, *, budgeted: bool) -> None:
        """Counts one answer (``status`` 0: no HTTP answer; ``cache``: the ``x-costrouter-cache`` header)."""
        if status == 200:
            self.ok += 1
            if cache in ("exact", "semantic"):
                self.hits += 1
                self.hit_on.append((replica, tenant, question))
            else:
                self.fresh.setdefault((tenant, question), set()).add(replica)
        elif status in (400, 429, 503):
            self.refused += 1
            self.budget_refusals += budgeted
        else:
            self.errors += 1
            self.error_statuses[status] = self.error_statuses.get(status, 0) + 1

    def cross_replica_hits(self) -> int:
        """Hits served by a replica that never answered that tenant's question fresh."""
        return sum(1 for r, t, q in self.hit_on if r not in self.fresh.get((t, q), set()))


def questions(requests: int, seed: int = 7) -> list[str]:
    """``requests`` questions, each distinct one asked about three times, shuffled.

    Distinct questions differ in their numbers, so the cache's guard keeps them apart (a
    semantic hit between two of them would be a false hit).
    """
    distinct = max(1, requests // 3)
    pool = [TEMPLATES[i % len(TEMPLATES)].format(a=12 + i, b=3 + i % 9) for i in range(distinct)]
    out = [pool[i % distinct] for i in range(requests)]
    random.Random(seed).shuffle(out)
    return out


def tenant_of(i: int, replicas: int) -> int:
    """Tenant of request ``i`` (0: the budgeted one, 1: the other), each on every replica.

    Tenants alternate per round over the replicas: with two replicas, ``i % 2`` would tie a
    tenant to one replica, and scopes include the tenant.
    """
    return (i // replicas) % 2


async def run_load(
    urls: list[str],
    key: str,
    *,
    clients: int,
    tenants: tuple[str, str],
    asks: list[str],
    faults: list[tuple[float, Callable[[], str]]],
) -> Phase:
    """Sends every question of ``asks`` (request i to ``urls[i % len(urls)]``, tenants alternating)."""
    import aiohttp

    phase = Phase(requests=len(asks))
    budgeted = tenants[0]
    in_flight = 0
    jobs = list(enumerate(asks))
    jobs.reverse()
    pending = sorted(faults, key=lambda f: f[0])
    done = 0
    loop = asyncio.get_running_loop()
    fault_tasks: list[asyncio.Future[str]] = []
    headers = {"Authorization": f"Bearer {key}"}
    timeout = aiohttp.ClientTimeout(total=120)

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal in_flight, done
        while jobs:
            i, question = jobs.pop()
            replica, tenant = i % len(urls), tenants[tenant_of(i, len(urls))]
            body = {
                "model": "costrouter",
                "messages": [{"role": "user", "content": question}],
                "metadata": {"costrouter_tenant": tenant},
            }
            if tenant == budgeted:
                in_flight += 1
                phase.in_flight_max = max(phase.in_flight_max, in_flight)
            try:
                async with session.post(f"{urls[replica]}/chat/completions", json=body, headers=headers) as resp:
                    await resp.read()
                    status, cache = resp.status, resp.headers.get("x-costrouter-cache", "miss")
            except (aiohttp.ClientError, TimeoutError):
                status, cache = 0, "miss"
            finally:
                if tenant == budgeted:
                    in_flight -= 1
            phase.record(replica, tenant, question, status, cache, budgeted=tenant == budgeted)
            done += 1
            while pending and done >= pending[0][0] * phase.requests:
                _, fault = pending.pop(0)
                fault_tasks.append(loop.run_in_executor(None, fault))

    t0 = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients), timeout=timeout) as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    phase.seconds = time.perf_counter() - t0
    phase.faults = [str(x) for x in await asyncio.gather(*fault_tasks)]
    return phase


def _replica_config(workdir: Path, i: int, *, upstream: str, ledger_url: str, redis_url: str, limit: float) -> Path:
    cfg: dict[str, Any] = {
        "tiers": [
            {
                "name": "cheap",
                "model": "openai/cheap-m",
                "api_base": upstream,
                "price": PRICE,
                "max_tokens": MAX_TOKENS,
                "gate": {"type": "heuristic", "min_chars": 20},
            }
        ],
        "ledger": {
            "backend": "postgres",
            "url": ledger_url,
            "table": "cost_records",
            "outbox_dir": str(workdir / f"outbox-{i}"),
            "flush_interval_s": 0.2,
        },
        "budget": {
            "backend": "redis",
            "redis_url": redis_url,
            "key_prefix": "bench:budget",
            "on_store_down": "closed",
            "tenants": {"acme": {"daily_usd": limit}, "solo-acme": {"daily_usd": limit}},
        },
        "cache": {
            "enabled": True,
            "backend": "redis",
            "redis_url": redis_url,
            "redis_prefix": "bench:cache",
            "dir": str(workdir / f"cache-{i}"),
        },
    }
    path = workdir / f"costrouter-{i}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def _call_cost(upstream: str, question: str) -> float:
    """What one fresh answer costs at :data:`PRICE` (asked of the upstream once, outside the run)."""
    import httpx

    body = {"model": "cheap-m", "messages": [{"role": "user", "content": question}], "max_tokens": MAX_TOKENS}
    usage = httpx.post(f"{upstream}/chat/completions", json=body, timeout=30).json()["usage"]
    return float(usage["prompt_tokens"] * PRICE["input"] + usage["completion_tokens"] * PRICE["output"]) / 1e6


def ledger_figures(url: str, tenants: tuple[str, str]) -> dict[str, Any]:
    """Counts, duplicates and spend of the two tenants' records, aggregated in Postgres."""
    import psycopg

    scope = "FROM cost_records WHERE tenant = ANY(%(t)s)"
    attempt = "request_id, kind, escalation_step, coalesce(tier, ''), coalesce(cache_hit, '')"
    args = {"t": list(tenants), "b": tenants[0]}
    with psycopg.connect(url, connect_timeout=5) as conn:

        def one(sql: str) -> Any:
            row = conn.execute(sql, args).fetchone()
            return row[0] if row else None

        return {
            "records": int(one(f"SELECT count(*) {scope}") or 0),
            "attempts": int(one(f"SELECT count(DISTINCT ({attempt})) {scope} AND kind = 'completion'") or 0),
            "duplicates": int(
                one(f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) n {scope} GROUP BY {attempt}) d") or 0  # noqa: S608
            ),
            "cache_hit_records": int(one(f"SELECT count(*) {scope} AND kind = 'cache_hit'") or 0),
            "budget_spent_usd": float(one(f"SELECT coalesce(sum(cost_usd), 0) {scope} AND tenant = %(b)s") or 0.0),
            "max_request_cost_usd": float(
                one(f"SELECT coalesce(max(c), 0) FROM (SELECT sum(cost_usd) c {scope} GROUP BY request_id) r") or 0.0  # noqa: S608
            ),
        }


def _drain(workdir: Path, url: str, replicas: int) -> int:
    """Ships what the stopped proxies left in their outboxes (a ledger opened on a folder adopts it).

    Returns:
        How many records that added to the table.
    """
    import psycopg

    from langchain_costrouter.core.ledger.postgres import PostgresLedger

    def count() -> int:
        with psycopg.connect(url, connect_timeout=5) as conn:
            exists = conn.execute("SELECT to_regclass('cost_records')").fetchone()
            row = conn.execute("SELECT count(*) FROM cost_records").fetchone() if exists and exists[0] else None
        return int(row[0]) if row else 0

    before = count()
    for i in range(replicas):
        ledger = PostgresLedger(url, outbox_dir=workdir / f"outbox-{i}", application_name="costrouter-bench-drain")
        try:
            ledger.flush(60.0)
        finally:
            ledger.close()
    return count() - before


def _cpu_s(procs: list[Any]) -> float:
    """User + system CPU seconds of every proxy process so far (0 where it cannot be read)."""
    from langchain_costrouter.offline.proxy_bench import process_cpu_s

    return sum(process_cpu_s(p.pid) or 0.0 for p in procs)


def _start_all(procs: list[Any]) -> None:
    errors: list[BaseException] = []

    def start(p: Any) -> None:
        try:
            p.start()
        except BaseException as exc:
            errors.append(RuntimeError(f"{exc}\n{p.log_tail()}"))

    threads = [threading.Thread(target=start, args=(p,)) for p in procs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def run_benchmark(
    *,
    replicas: int = 3,
    clients: int = 30,
    requests: int = 900,
    faults: bool = False,
    postgres_url: str | None = None,
    redis_persistence: bool = True,
) -> dict[str, Any]:
    """Runs the single-replica phase, then the N-replica phase; returns the figures and details.

    ``redis_persistence=False`` runs the private Redis without its append-only file: a restart
    then loses the settled budget spend and the cache (what the docs warn about).
    """
    from langchain_costrouter.offline._replicas_services import BenchDatabase, PrivateRedis
    from langchain_costrouter.testing.server import LocalOpenAIServer, ModelScript, Script
    from litellm_hooks.proxy_config import write_proxy_config
    from litellm_hooks.proxy_process import ProxyProcess

    if replicas < 1 or clients < 1 or requests < 2:
        msg = "--replicas and --clients must be at least 1, --requests at least 2"
        raise ValueError(msg)
    admin = postgres_url or os.environ.get("COSTROUTER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    key = "sk-bench-" + secrets.token_hex(8)
    asks = questions(requests)
    script = Script(models={"cheap-m": ModelScript(reply=ANSWER, latency_s=UPSTREAM_LATENCY_S)})
    with (
        tempfile.TemporaryDirectory(prefix="costrouter-replicas-") as tmp,
        LocalOpenAIServer(script) as upstream,
        BenchDatabase(admin) as db,
        PrivateRedis(Path(tmp) / "redis", persist=redis_persistence) as redis_server,
    ):
        workdir = Path(tmp)
        unit = _call_cost(upstream.base_url, asks[0])
        fresh_budgeted = len({q for i, q in enumerate(asks) if tenant_of(i, replicas) == 0})
        limit = round(BUDGET_SHARE * fresh_budgeted * unit, 6)
        procs = []
        for i in range(replicas):
            cfg = _replica_config(
                workdir, i, upstream=upstream.base_url, ledger_url=db.url, redis_url=redis_server.url, limit=limit
            )
            rendered = write_proxy_config(cfg, workdir / f"proxy-{i}.yaml")
            procs.append(ProxyProcess(rendered, env={"LITELLM_MASTER_KEY": key}))
        try:
            _start_all(procs)
            plan: list[tuple[float, Callable[[], str]]] = []
            if faults:
                plan = [
                    (0.30, lambda: f"redis restarted ({redis_server.restart():.2f} s down)"),
                    (0.50, lambda: f"{db.kill_connections()} ledger connections killed"),
                    (0.75, lambda: f"{db.kill_connections()} ledger connections killed"),
                ]
            urls = [p.base_url for p in procs]
            billed0, cpu0 = len(upstream.requests), _cpu_s(procs)
            single = asyncio.run(
                run_load(urls[:1], key, clients=clients, tenants=("solo-acme", "solo-globex"), asks=asks, faults=plan)
            )
            billed1, cpu1 = len(upstream.requests), _cpu_s(procs)
            multi = asyncio.run(
                run_load(urls, key, clients=clients, tenants=("acme", "globex"), asks=asks, faults=plan)
            )
            billed2, cpu2 = len(upstream.requests), _cpu_s(procs)
        finally:
            for p in procs:
                p.stop()
        adopted = _drain(workdir, db.url, replicas)
        fig = ledger_figures(db.url, ("acme", "globex"))
        solo = ledger_figures(db.url, ("solo-acme", "solo-globex"))
    billed = billed2 - billed1
    return {
        "requests": multi.requests,
        "ledger_records": fig["records"],
        "lost_records": max(0, billed - fig["attempts"]),
        "duplicate_records": fig["duplicates"],
        "budget_limit_usd": limit,
        "budget_spent_usd": round(fig["budget_spent_usd"], 6),
        "in_flight_max": multi.in_flight_max,
        "max_request_cost_usd": round(fig["max_request_cost_usd"], 6),
        "cross_replica_cache_hits": multi.cross_replica_hits(),
        "throughput_rps": round(multi.throughput_rps, 2),
        "throughput_vs_single": round(multi.throughput_rps / single.throughput_rps, 3) if single.seconds else 0.0,
        "_details": {
            "replicas": replicas,
            "clients": clients,
            "faults": multi.faults,
            "single_faults": single.faults,
            "upstream_billed": billed,
            "recorded_attempts": fig["attempts"],
            "served": multi.ok,
            "refused": multi.refused,
            "budget_refusals": multi.budget_refusals,
            "errors": multi.errors,
            "error_statuses": multi.error_statuses,
            "cache_hits": multi.hits,
            "cache_hit_records": fig["cache_hit_records"],
            "single_rps": round(single.throughput_rps, 2),
            "proxy_cpu_ms_per_request": round((cpu2 - cpu1) / requests * 1000, 2),
            "single_proxy_cpu_ms_per_request": round((cpu1 - cpu0) / requests * 1000, 2),
            "shipped_from_stopped_outboxes": adopted,
            "single_lost": max(0, (billed1 - billed0) - solo["attempts"]),
            "single_duplicates": solo["duplicates"],
        },
    }


def check(res: dict[str, Any], details: dict[str, Any]) -> list[str]:
    """The acceptance invariants the figures break (empty: all hold)."""
    bound = res["budget_limit_usd"] + res["in_flight_max"] * res["max_request_cost_usd"]
    out = []
    if res["lost_records"]:
        out.append(f"{res['lost_records']} billed responses missing from the ledger")
    if res["duplicate_records"]:
        out.append(f"{res['duplicate_records']} attempts recorded twice")
    if res["budget_spent_usd"] > bound + 1e-9:
        out.append(f"budget spend {res['budget_spent_usd']:.6f} > limit + in-flight bound {bound:.6f}")
    if not details["budget_refusals"] or res["budget_spent_usd"] < res["budget_limit_usd"] / 2:
        out.append("the budget was not reached during the run")
    if res["cross_replica_cache_hits"] <= 0:
        out.append("no replica served another replica's cache entry")
    return out
