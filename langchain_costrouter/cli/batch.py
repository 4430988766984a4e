r"""``costrouter batch``: answer a file of independent questions in batched calls (and ``bench savings``).

Live batching (answers now, failed items retried alone)::

    costrouter batch --data questions.jsonl -o answers.jsonl -c costrouter.yaml

OpenAI Batch API (half price, within 24 h): write the request file, optionally upload it, then
read the provider's output file::

    costrouter batch --data questions.jsonl -o requests.jsonl -c costrouter.yaml --batch-api [--submit]
    costrouter batch --data requests.jsonl --results output.jsonl -o answers.jsonl -c costrouter.yaml --batch-api

Input (questions.jsonl): UTF-8 JSON Lines, one question per line, either an object with a
"question" string and an optional "id" (a string or an integer, unique), or a bare JSON
string; blank lines are skipped, anything else stops the command naming the line:

    {"id": "q1", "question": "What is the capital of Peru?"}
    "How many legs does a spider have?"

Output (answers.jsonl): one object per question with "id", "question", "answer", "error",
"attempts" and "cost_usd". The model is --model, else batching.model, else the cheapest tier.

The benchmark of compression and batching (the seed's case)::

    costrouter bench savings -c examples/costrouter.yaml
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["register", "register_bench"]


def register(subparsers: Any) -> None:
    """Adds ``batch``."""
    from langchain_costrouter.cli._style import add_command, add_config, add_data, add_out, add_progress, hidden_alias

    p = add_command(
        subparsers,
        "batch",
        help="answer a JSONL file of independent questions in batched calls (or via the OpenAI Batch API)",
        description=__doc__,
    )
    add_data(p, required=False, help="questions JSONL (with --results: the Batch API requests file written before)")
    hidden_alias(p, "--input", dest="data", type=Path)
    add_out(p, required=True, help="answers JSONL (with --batch-api and no --results: the requests file)")
    add_config(p)
    p.add_argument("--model", metavar="NAME", help="tier or model name (default: batching.model, else the first tier)")
    p.add_argument("--system-prompt", type=Path, metavar="FILE", help="file holding the shared system prompt")
    p.add_argument("--batch-api", action="store_true", help="use the OpenAI Batch API file format and discount")
    p.add_argument("--submit", action="store_true", help="upload the file and create the batch (needs the API key)")
    p.add_argument("--results", type=Path, metavar="FILE", help="a Batch API output file to demultiplex and price")
    add_progress(p)
    p.set_defaults(func=_batch)


def register_bench(sub: Any) -> None:
    """Adds ``bench savings`` under ``bench``."""
    from langchain_costrouter.cli._style import add_command, add_config, add_json, add_progress

    p = add_command(sub, "savings", help="compression and batching vs unoptimised calls, over the local server")
    add_config(
        p,
        required=False,
        default=Path(__file__).resolve().parents[1] / "examples" / "costrouter.yaml",
        help="costrouter YAML: prices and tiers (default: the example shipped with the package)",
    )
    p.add_argument("--targets", metavar="TIERS", help="comma-separated tiers to answer with (default: first and last)")
    p.add_argument("--requests-per-day", type=int, default=10_000, help="daily traffic the figures are scaled to")
    p.add_argument("--system-tokens", type=int, default=2_000, help="tokens of the shared system prompt")
    p.add_argument("--sample", type=int, default=200, help="requests actually sent per scenario")
    p.add_argument("--long-share", type=float, default=0.3, help="share of requests with a pasted document")
    p.add_argument("--long-tokens", type=int, default=1_500, help="tokens of a pasted document")
    p.add_argument("--batch-size", type=int, default=10, help="questions per batched call")
    p.add_argument("--malformed-share", type=float, default=0.05, help="batch answers malformed on the first try")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic traffic")
    add_json(p, help="also write every figure as JSON to PATH ('-': stdout)")
    p.add_argument("--markdown", action="store_true", help="print Markdown tables (for BENCHMARKS.md)")
    add_progress(p)
    p.set_defaults(func=_bench)


# ---------------------------------------------------------------------------------------- batch
def _read_questions(path: Path) -> tuple[list[str], list[str]]:
    """Ids and questions of a questions JSONL file.

    Raises:
        DataError: The file cannot be read, is not UTF-8, or a line is not a JSON string or an
            object with a ``question`` string (a truncated line is an error, never a question).
    """
    from langchain_costrouter.core.errors import DataError

    ids: list[str] = []
    questions: list[str] = []
    lines = _read_text(path, "--data").splitlines()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            msg = f'{path}:{n}: not a JSON line (truncated?); expected "a question" or {{"question": "..."}}'
            raise DataError(msg) from None
        if isinstance(row, dict) and isinstance(row.get("question"), str) and row["question"].strip():
            qid = row.get("id", f"q{len(ids) + 1}")
            if isinstance(qid, bool) or not isinstance(qid, str | int) or not str(qid).strip():
                msg = f"{path}:{n}: 'id' must be a non-empty string or an integer, got {json.dumps(qid)[:40]}"
                raise DataError(msg)
            ids.append(str(qid))
            questions.append(row["question"])
        elif isinstance(row, str) and row.strip():
            ids.append(f"q{len(ids) + 1}")
            questions.append(row)
        else:
            msg = f"{path}:{n}: expected a JSON string or an object with a non-empty 'question' string"
            raise DataError(msg)
    if not questions:
        msg = f"{path} holds no question (empty file?)"
        raise DataError(msg)
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:3]
        msg = f"{path}: duplicate question ids {dup}"
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


class _Counted:
    """A model client that ticks a progress bar after each call."""

    def __init__(self, inner: Any, tick: Any) -> None:
        self._inner = inner
        self._tick = tick

    @property
    def model(self) -> str:
        return str(self._inner.model)

    def complete(self, messages: Any, **params: Any) -> Any:
        try:
            return self._inner.complete(messages, **params)
        finally:
            self._tick(1)

    async def acomplete(self, messages: Any, **params: Any) -> Any:
        try:
            return await self._inner.acomplete(messages, **params)
        finally:
            self._tick(1)


def _batch(args: argparse.Namespace) -> int:
    from langchain_costrouter._tiers import LangChainModelClient, build_tier_model
    from langchain_costrouter.cli._style import require
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
    from langchain_costrouter.offline.progress import Steps, progress_enabled

    require(args, "data", "--data")
    cfg = CostRouterConfig.from_yaml(args.config)
    name = args.model or cfg.batching.model or cfg.tiers[0].name
    try:
        spec = cfg.deployment(name)
    except KeyError:
        raise ConfigError("--model", f"unknown tier or model {name!r}") from None
    system = _read_text(args.system_prompt, "--system-prompt") if args.system_prompt else None
    runtime = CostRouterRuntime(cfg)
    try:
        if args.batch_api and args.results is not None:
            file = BatchApiFile.read(args.data)
            out_lines = _read_text(args.results, "--results").splitlines()
            report = parse_batch_output(
                out_lines, file, accountant=runtime.accountant, discount=cfg.batching.batch_api_discount
            )
            _write_answers(args.out, report)
            print(
                f"{len(report.results) - len(report.failed)}/{len(report.results)} answered from {len(report.calls)} "
                f"batch lines, ${report.total_cost_usd:.6f} after the Batch API discount -> {args.out}"
            )
            return 0 if not report.failed else 1
        ids, questions = _read_questions(args.data)
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
        with Steps(enabled=progress_enabled(args.no_progress)) as steps:
            tick = steps.add(f"{len(items)} questions on {name}, batched calls", total=None)
            runner = BatchRunner(
                _Counted(client, tick), accountant=runtime.accountant, config=cfg.batching, system_prompt=system
            )
            report = runner.run(items)
        _write_answers(args.out, report)
        print(
            f"{len(items) - len(report.failed)}/{len(items)} answered in {len(report.calls)} calls, "
            f"${report.total_cost_usd:.6f} -> {args.out}"
        )
        return 0 if not report.failed else 1
    finally:
        runtime.close()


def _read_text(path: Path, option: str) -> str:
    """A UTF-8 text input file.

    Raises:
        DataError: It cannot be read or is not UTF-8 text (named with ``option``).
    """
    from langchain_costrouter.core.errors import DataError

    try:
        return path.read_bytes().decode("utf-8")
    except OSError as exc:
        msg = f"{option} {path}: cannot read it ({exc.strerror or exc})"
        raise DataError(msg) from None
    except UnicodeDecodeError as exc:
        msg = f"{option} {path}: not UTF-8 text (byte {exc.start})"
        raise DataError(msg) from None


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

    from langchain_costrouter.cli._style import write_json
    from langchain_costrouter.offline.progress import Steps, progress_enabled
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
    with Steps(enabled=progress_enabled(args.no_progress)) as steps:
        result = steps.run("sending the scenarios to the local server", run_bench, args.config, settings, targets)
    result["wall_s"] = time.perf_counter() - t0
    result["date"] = time.strftime("%Y-%m-%d")
    result["machine"] = f"{os.cpu_count()} cores, {platform.machine()} {platform.system()}, " + (
        f"python {platform.python_version()}"
    )
    to_stdout = args.json_out == "-"
    render(result, Console(width=200, stderr=to_stdout))
    if args.markdown:
        print(render_markdown(result), file=sys.stderr if to_stdout else sys.stdout)
    if args.json_out:
        write_json(args.json_out, result)
    return 0
