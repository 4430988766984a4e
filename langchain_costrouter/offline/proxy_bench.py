r"""Load benchmark: the LiteLLM proxy serving the cascade against the plain proxy over the same tiers.

Both proxies are rendered from one ``costrouter.yaml`` (``costrouter litellm-config`` with and
without ``--no-hooks``) in front of the project's local OpenAI-compatible server (its own process,
no artificial latency). The plain proxy's entry model is the first tier; the other runs the
cascade (routing, the quality gate, the SQLite ledger, and the cache when asked). ``clients``
concurrent clients send ``requests`` chat completions in total to the entry model over loopback;
every answer passes the first tier's gate, so both proxies make exactly one upstream call per
request and the difference is the cascade's cost. Both proxies run
side by side and are loaded in alternating rounds (medians reported)::

    costrouter bench proxy --clients 50 --requests 2000
    python -m langchain_costrouter.offline.proxy_bench --clients 50 --requests 2000

Prints throughput (requests/s), p50/p99 latency, the proxy process's CPU time per request
(robust to busy neighbours on a shared machine) and the throughput ratio hooks/plain, and
checks that the hooked proxy's ledger holds one record per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import yaml

__all__ = ["LoadResult", "add_arguments", "load", "main", "run_benchmark", "run_cli"]

ANSWER = "Paris is the capital of France; it has been the seat of government for centuries."
_UPSTREAM = """
import sys, time
from langchain_costrouter.testing.server import LocalOpenAIServer, Script, ModelScript
reply = sys.argv[2]
script = Script(models={m: ModelScript(reply=reply) for m in ("cheap-m", "mid-m", "prem-m")})
with LocalOpenAIServer(script, port=int(sys.argv[1])):
    print("ready", flush=True)
    while True:
        time.sleep(3600)
"""


@dataclass(frozen=True, slots=True)
class LoadResult:
    """One load run (``cpu_ms_per_request``: the proxy process's CPU time, when measured)."""

    name: str
    requests: int
    errors: int
    seconds: float
    throughput_rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float | None = None


def process_cpu_s(pid: int | None) -> float | None:
    """User+system CPU seconds of process ``pid`` (Linux ``/proc``; ``None`` elsewhere)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[idx]


async def load(
    base_url: str, key: str, *, clients: int, requests: int, model: str = "costrouter", unique: bool = False
) -> LoadResult:
    """Sends ``requests`` chat completions with ``clients`` concurrent clients; returns the figures.

    ``unique`` numbers each question ("... (request 17)"), so no answer can be served from a cache.
    """
    import aiohttp

    latencies: list[float] = []
    errors = 0
    remaining = requests
    salt = secrets.token_hex(4)
    headers = {"Authorization": f"Bearer {key}"}
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:

        async def client() -> None:
            nonlocal remaining, errors
            while remaining > 0:
                remaining -= 1
                question = "What is the capital of France?"
                if unique:
                    question += f" (request {salt}-{remaining})"
                body = {"model": model, "messages": [{"role": "user", "content": question}]}
                t0 = time.perf_counter()
                try:
                    async with session.post(f"{base_url}/chat/completions", json=body, headers=headers) as resp:
                        await resp.read()
                        ok = resp.status == 200
                except aiohttp.ClientError:
                    ok = False
                latencies.append((time.perf_counter() - t0) * 1000)
                if not ok:
                    errors += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        seconds = time.perf_counter() - t0
    return LoadResult(
        name=model,
        requests=requests,
        errors=errors,
        seconds=seconds,
        throughput_rps=requests / seconds if seconds else 0.0,
        p50_ms=_percentile(latencies, 50),
        p99_ms=_percentile(latencies, 99),
    )


def _wait_http(url: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback URL
                return
        except OSError:
            time.sleep(0.1)
    msg = f"{url} did not answer"
    raise RuntimeError(msg)


def _costrouter_yaml(workdir: Path, base_url: str, *, cache: bool = False) -> Path:
    cfg: dict[str, Any] = {
        "tiers": [
            {
                "name": "cheap",
                "model": "openai/cheap-m",
                "api_base": base_url,
                "price": {"input": 0.1, "output": 0.4},
                "gate": {"type": "heuristic", "min_chars": 20},
            },
            {
                "name": "mid",
                "model": "openai/mid-m",
                "api_base": base_url,
                "price": {"input": 1.0, "output": 4.0},
                "gate": {"type": "heuristic", "min_chars": 20},
            },
            {
                "name": "premium",
                "model": "openai/prem-m",
                "api_base": base_url,
                "price": {"input": 5.0, "output": 20.0},
            },
        ],
        "ledger": {"backend": "sqlite", "path": "ledger.sqlite"},
    }
    if cache:
        cfg["cache"] = {"enabled": True, "dir": str(workdir / "cache")}
    path = workdir / "costrouter.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def run_benchmark(
    *,
    clients: int = 50,
    requests: int = 2000,
    warmup: int = 100,
    rounds: int = 3,
    cache: bool = False,
    unique: bool = False,
) -> dict[str, Any]:
    """Runs the plain and the hooked proxy side by side under the same load; returns the figures.

    Both proxies are started once; each round loads the plain one, then the hooked one, so a
    busy neighbour on a shared machine affects both alike. The ratio reported is the median of
    the per-round ratios; latencies are the medians of the per-round percentiles. ``cache``
    turns the cascade's response cache on in the hooked proxy; ``unique`` makes every question
    different (with the cache: every request a lookup miss and a store).
    """
    from langchain_costrouter.core.ledger import SQLiteLedger
    from litellm_hooks.proxy_config import write_proxy_config
    from litellm_hooks.proxy_process import ProxyProcess, free_port

    key = "sk-bench-" + secrets.token_hex(8)
    results: dict[str, Any] = {
        "clients": clients,
        "requests": requests,
        "warmup": warmup,
        "rounds": rounds,
        "cache": cache,
        "unique_questions": unique,
    }
    runs: dict[str, list[LoadResult]] = {"plain": [], "hooks": []}
    with tempfile.TemporaryDirectory(prefix="costrouter-bench-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        upstream = subprocess.Popen(  # noqa: S603 - this interpreter, fixed script
            [sys.executable, "-c", _UPSTREAM, str(port), ANSWER], stdout=subprocess.DEVNULL
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_http(f"{base}/health")
            cfg_path = _costrouter_yaml(workdir, f"{base}/v1", cache=cache)
            env = {"LITELLM_MASTER_KEY": key}
            plain = ProxyProcess(write_proxy_config(cfg_path, workdir / "plain.yaml", hooks=False), env=env)
            hooked = ProxyProcess(write_proxy_config(cfg_path, workdir / "hooks.yaml", hooks=True), env=env)
            with plain, hooked:
                proxies = {"plain": plain, "hooks": hooked}
                for proxy in proxies.values():
                    asyncio.run(load(proxy.base_url, key, clients=clients, requests=warmup, unique=unique))
                for _ in range(rounds):
                    for name, proxy in proxies.items():
                        cpu0 = process_cpu_s(proxy.pid)
                        res = asyncio.run(load(proxy.base_url, key, clients=clients, requests=requests, unique=unique))
                        cpu1 = process_cpu_s(proxy.pid)
                        if cpu0 is not None and cpu1 is not None:
                            res = replace(res, cpu_ms_per_request=(cpu1 - cpu0) / requests * 1000)
                        runs[name].append(res)
            ledger = SQLiteLedger(workdir / "ledger.sqlite")
            results["ledger_records"] = ledger.count()
            ledger.close()
        finally:
            upstream.terminate()
            upstream.wait(10)
    for name, rs in runs.items():
        results[name] = {
            "throughput_rps": _median([r.throughput_rps for r in rs]),
            "p50_ms": _median([r.p50_ms for r in rs]),
            "p99_ms": _median([r.p99_ms for r in rs]),
            "errors": sum(r.errors for r in rs),
            "cpu_ms_per_request": _median([r.cpu_ms_per_request or 0.0 for r in rs]),
            "rounds": [asdict(r) for r in rs],
        }
    ratios = [h.throughput_rps / max(1e-9, p.throughput_rps) for p, h in zip(runs["plain"], runs["hooks"], strict=True)]
    results["round_ratios"] = ratios
    results["throughput_ratio"] = _median(ratios)
    return results


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The benchmark's command-line options."""
    p.add_argument("--clients", type=int, default=50, help="concurrent clients")
    p.add_argument("--requests", type=int, default=2000, help="requests per proxy")
    p.add_argument("--warmup", type=int, default=100, help="warm-up requests per proxy, not measured")
    p.add_argument("--rounds", type=int, default=3, help="alternating plain/hooks rounds")
    p.add_argument("--cache", action="store_true", help="turn the cascade's response cache on in the hooked proxy")
    p.add_argument("--unique-questions", action="store_true", help="number every question (no cache hit is possible)")
    p.add_argument(
        "--json", dest="json_out", metavar="PATH|-", help="also write the figures as JSON to PATH ('-': stdout)"
    )


def run_cli(args: argparse.Namespace) -> int:
    """Runs the benchmark and prints the table (exit 1 when requests failed)."""
    res = run_benchmark(
        clients=args.clients,
        requests=args.requests,
        warmup=args.warmup,
        rounds=args.rounds,
        cache=args.cache,
        unique=args.unique_questions,
    )
    lines = [
        "| proxy | req/s | p50 ms | p99 ms | proxy CPU ms/req | errors |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("plain", "hooks"):
        r = res[name]
        lines.append(
            f"| {name} | {r['throughput_rps']:.1f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} "
            f"| {r['cpu_ms_per_request']:.2f} | {r['errors']} |"
        )
    sys.stdout.write("\n".join(lines) + "\n")
    expected = args.requests * args.rounds + args.warmup
    sys.stdout.write(
        f"throughput ratio hooks/plain (median of rounds): {res['throughput_ratio']:.3f} "
        f"(rounds: {', '.join(f'{r:.3f}' for r in res['round_ratios'])}); "
        f"ledger records: {res['ledger_records']} (expected {expected})\n"
    )
    if args.json_out == "-":
        sys.stdout.write(json.dumps(res, indent=2) + "\n")
    elif args.json_out is not None:
        Path(args.json_out).write_text(json.dumps(res, indent=2), encoding="utf-8")
    failed = res["plain"]["errors"] + res["hooks"]["errors"]
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m langchain_costrouter.offline.proxy_bench``."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    parser = argparse.ArgumentParser(
        prog="python -m langchain_costrouter.offline.proxy_bench", description=__doc__.splitlines()[0]
    )
    add_arguments(parser)
    return run_cli(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
