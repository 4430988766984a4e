r"""``costrouter batch`` (offline batch jobs) and ``costrouter bench savings``.

Live batching (answers now, failed items retried alone)::

    costrouter batch --input questions.jsonl --out answers.jsonl --config costrouter.yaml

OpenAI Batch API (half price, within 24 h): write the request file, optionally upload it, then
read the provider's output file::

    costrouter batch --input questions.jsonl --out requests.jsonl --config c.yaml --batch-api [--submit]
    costrouter batch --input requests.jsonl --results output.jsonl --out answers.jsonl --config c.yaml --batch-api

``questions.jsonl``: one question per line, as ``{"id": ..., "question": ...}`` or a JSON string.
``answers.jsonl``: ``{"id", "question", "answer", "error", "attempts", "cost_usd"}`` per line.

The benchmark of compression and batching (the seed's case)::

    costrouter bench savings --config examples/costrouter.yaml
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

__all__ = ["register", "register_bench"]


def register(subparsers: Any) -> None:
    """Adds ``batch``."""
    p = subparsers.add_parser(
        "batch",
        help="answer a JSONL file of independent questions in batched calls (or via the OpenAI Batch API)",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    p.add_argument("--input", required=True, type=Path, help="questions JSONL (or, with --results, the requests file)")
    p.add_argument("--out", required=True, type=Path, help="answers JSONL (with --batch-api: the requests file)")
    p.add_argument("--config", required=True, type=Path, help="costrouter YAML")
    p.add_argument("--model", help="tier or model name (default: batching.model, else the cheapest tier)")
    p.add_argument("--system-prompt", type=Path, help="file holding the shared system prompt")
    p.add_argument("--batch-api", action="store_true", help="use the OpenAI Batch API file format and discount")
    p.add_argument("--submit", action="store_true", help="upload the file and create the batch (needs the API key)")
    p.add_argument("--results", type=Path, help="a Batch API output file to demultiplex and price")
    p.set_defaults(func=_batch)


def register_bench(sub: Any) -> None:
    """Adds ``bench savings`` under ``bench``."""
    p = sub.add_parser("savings", help="compression and batching vs unoptimised calls, over the local server")
    p.add_argument("--config", type=Path, default=Path("examples/costrouter.yaml"), help="prices and tiers")
    p.add_argument("--targets", help="comma-separated tiers to answer with (default: first and last tier)")
    p.add_argument("--requests-per-day", type=int, default=10_000)
    p.add_argument("--system-tokens", type=int, default=2_000)
    p.add_argument("--sample", type=int, default=200, help="requests actually sent per scenario")
    p.add_argument("--long-share", type=float, default=0.3, help="share of requests with a pasted document")
    p.add_argument("--long-tokens", type=int, default=1_500)
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--malformed-share", type=float, default=0.05, help="batch answers malformed on the first try")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", dest="json_out", type=Path, help="write every figure as JSON")
    p.add_argument("--markdown", action="store_true", help="print Markdown tables (for BENCHMARKS.md)")
    p.set_defaults(func=_bench)


# ---------------------------------------------------------------------------------------- batch
def _read_questions(path: Path) -> tuple[list[str], list[str]]:
    from langchain_costrouter.core.errors import DataError

    ids: list[str] = []
    questions: list[str] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        msg = f"cannot read {path}: {exc}"
        raise DataError(msg) from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            row = line
        if isinstance(row, dict) and isinstance(row.get("question"), str):
            ids.append(str(row.get("id", f"q{len(ids) + 1}")))
            questions.append(row["question"])
        elif isinstance(row, str):
            ids.append(f"q{len(ids) + 1}")
            questions.append(row)
        else:
            msg = f"{path}:{n}: expected a JSON string or an object with a 'question' string"
            raise DataError(msg)
    return ids, questions


def _write_answers(path: Path, report: Any) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for r in report.results:
            row = {
                "id": r.id,
                "question": r.question,
                "answer": r.answer,
                "error": r.error,
                "attempts": r.attempts,
                "cost_usd": r.cost_usd,
            }
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _batch(args: argparse.Namespace) -> int:
    from langchain_costrouter._tiers import LangChainModelClient, build_tier_model
    from langchain_costrouter.core.batch_api import (
        BatchApiFile,
        build_batch_api_file,
        estimate_batch_api_cost,
        parse_batch_output,
    )
    from langchain_costrouter.core.batching import BatchRunner, make_items
    from langchain_costrouter.core.config import CostRouterConfig
    from langchain_costrouter.core.errors import ConfigError
    from langchain_costrouter.core.runtime import CostRouterRuntime

    cfg = CostRouterConfig.from_yaml(args.config)
    name = args.model or cfg.batching.model or cfg.tiers[0].name
    try:
        spec = cfg.deployment(name)
    except KeyError:
        raise ConfigError("--model", f"unknown tier or model {name!r}") from None
    system = args.system_prompt.read_text(encoding="utf-8") if args.system_prompt else None
    runtime = CostRouterRuntime(cfg)
    try:
        if args.batch_api and args.results is not None:
            file = BatchApiFile.read(args.input)
            out_lines = args.results.read_text(encoding="utf-8").splitlines()
            report = parse_batch_output(
                out_lines, file, accountant=runtime.accountant, discount=cfg.batching.batch_api_discount
            )
            _write_answers(args.out, report)
            print(
                f"{len(report.results) - len(report.failed)}/{len(report.results)} answered from {len(report.calls)} "
                f"batch lines, ${report.total_cost_usd:.6f} after the Batch API discount -> {args.out}"
            )
            return 0 if not report.failed else 1
        ids, questions = _read_questions(args.input)
        items = make_items(questions, ids)
        if args.batch_api:
            file = build_batch_api_file(items, model=spec.model, system_prompt=system, config=cfg.batching)
            manifest = file.write(args.out)
            live, discounted = estimate_batch_api_cost(file, runtime.prices, discount=cfg.batching.batch_api_discount)
            print(f"{len(file.lines)} requests for {len(items)} questions -> {args.out} (manifest {manifest})")
            print(f"estimated ${live:.6f} live, ${discounted:.6f} through the Batch API")
            if args.submit:
                print(f"submitted batch {_submit(args.out, spec)}")
            return 0
        client = LangChainModelClient(build_tier_model(spec, field=f"--model {name}"), spec.model)
        runner = BatchRunner(client, accountant=runtime.accountant, config=cfg.batching, system_prompt=system)
        report = runner.run(items)
        _write_answers(args.out, report)
        print(
            f"{len(items) - len(report.failed)}/{len(items)} answered in {len(report.calls)} calls, "
            f"${report.total_cost_usd:.6f} -> {args.out}"
        )
        return 0 if not report.failed else 1
    finally:
        runtime.close()


def _submit(path: Path, spec: Any) -> str:
    """Uploads ``path`` and creates a Batch API job; only with an explicit ``--submit``."""
    from openai import OpenAI

    from langchain_costrouter.core.errors import ConfigError

    key = spec.resolve_api_key()
    if key is None:
        raise ConfigError(f"{spec.name}.api_key_env", "the Batch API upload needs the tier's API key")
    client = OpenAI(api_key=key.get_secret_value(), base_url=spec.api_base)
    with path.open("rb") as fh:
        uploaded = client.files.create(file=fh, purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    return str(batch.id)


# ---------------------------------------------------------------------------------------- bench
def _bench(args: argparse.Namespace) -> int:
    from rich.console import Console

    from langchain_costrouter.offline.savings_bench import BenchSettings
    from langchain_costrouter.offline.savings_run import render, render_markdown, run_bench

    settings = BenchSettings(
        requests_per_day=args.requests_per_day,
        system_tokens=args.system_tokens,
        sample=args.sample,
        long_share=args.long_share,
        long_tokens=args.long_tokens,
        batch_size=args.batch_size,
        malformed_share=args.malformed_share,
        seed=args.seed,
    )
    targets = [t.strip() for t in args.targets.split(",")] if args.targets else None
    t0 = time.perf_counter()
    result = run_bench(args.config, settings, targets)
    result["wall_s"] = time.perf_counter() - t0
    result["date"] = time.strftime("%Y-%m-%d")
    result["machine"] = f"{os.cpu_count()} cores, {platform.machine()} {platform.system()}, " + (
        f"python {platform.python_version()}"
    )
    render(result, Console(width=200))
    if args.markdown:
        print(render_markdown(result))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    return 0
