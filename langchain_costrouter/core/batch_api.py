"""The OpenAI Batch API path: for work that can wait a day, at half price.

:func:`build_batch_api_file` packs the questions (same format as live batching) into the JSONL
that ``POST /v1/files`` + ``POST /v1/batches`` take, one chat-completions request per line, with
a manifest mapping each line's ``custom_id`` to its item ids. :func:`estimate_batch_api_cost`
prices it before submitting; :func:`parse_batch_output` demultiplexes the output file the
provider returns and prices every line with the Batch API discount
(``batching.batch_api_discount``), attributing each line's cost to its items like live calls.

Uploading is not done here (the core makes no provider calls); the CLI does it behind an
explicit ``--submit`` flag. :func:`simulate_batch_output` runs a file through any
:class:`ModelClient` (the local server) and writes the provider's output format, for tests and
benchmarks without a key.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.batch_format import (
    BatchItem,
    batch_response_format,
    batchable,
    pack_batch,
    pack_single,
    wire_ids,
)
from langchain_costrouter.core.batching import BatchReport, BatchRunner, CallPlan, CallReply, _Job
from langchain_costrouter.core.client import ModelClient
from langchain_costrouter.core.config import BatchingConfig
from langchain_costrouter.core.errors import DataError
from langchain_costrouter.core.pricing import PriceBook
from langchain_costrouter.core.tokens import count_message_tokens, encoding_for_model
from langchain_costrouter.core.types import Completion
from langchain_costrouter.core.usage import Usage

__all__ = [
    "BATCH_API_ENDPOINT",
    "BatchApiFile",
    "build_batch_api_file",
    "estimate_batch_api_cost",
    "parse_batch_output",
    "simulate_batch_output",
]

BATCH_API_ENDPOINT = "/v1/chat/completions"


@dataclass(frozen=True, slots=True)
class BatchApiFile:
    """A Batch API input file and how to read its output.

    Attributes:
        model: The model every line asks for (as priced).
        lines: The request lines (``custom_id``, ``method``, ``url``, ``body``).
        manifest: ``custom_id`` -> the item ids packed in that line.
        items: The items, in input order.
        wire: ``custom_id`` -> item id -> the random id the model sees in that line (empty for a
            question asked alone).
    """

    model: str
    lines: tuple[Mapping[str, Any], ...]
    manifest: Mapping[str, tuple[str, ...]]
    items: tuple[BatchItem, ...] = field(default=())
    wire: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def plan(self, custom_id: str) -> CallPlan:
        """The call a line made: its items, and whether it asked one question alone."""
        by_id = {it.id: it for it in self.items}
        items = tuple(by_id[i] for i in self.manifest[custom_id])
        wire = self.wire.get(custom_id, {it.id: it.id for it in items})
        return CallPlan(items, not wire, wire, [], {})

    def to_jsonl(self) -> str:
        """The input file's text (one JSON request per line)."""
        return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in self.lines)

    def write(self, path: str | Path) -> Path:
        """Writes the JSONL file and, next to it, ``<name>.manifest.json``; returns the manifest path."""
        p = Path(path)
        p.write_text(self.to_jsonl(), encoding="utf-8")
        manifest = p.with_suffix(".manifest.json")
        data = {
            "model": self.model,
            "manifest": {k: list(v) for k, v in self.manifest.items()},
            "wire": {k: dict(v) for k, v in self.wire.items()},
            "items": [{"id": it.id, "question": it.question, "request_id": it.request_id} for it in self.items],
        }
        manifest.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        return manifest

    @classmethod
    def read(cls, path: str | Path) -> BatchApiFile:
        """Reads a file written by :meth:`write` (the JSONL and its manifest).

        Raises:
            DataError: A file is missing or malformed.
        """
        p = Path(path)
        try:
            lines = tuple(json.loads(x) for x in p.read_text(encoding="utf-8").splitlines() if x.strip())
            data = json.loads(p.with_suffix(".manifest.json").read_text(encoding="utf-8"))
            items = tuple(BatchItem(str(i["id"]), str(i["question"]), str(i["request_id"])) for i in data["items"])
            manifest = {str(k): tuple(str(x) for x in v) for k, v in data["manifest"].items()}
            wire = {str(k): {str(i): str(w) for i, w in v.items()} for k, v in data.get("wire", {}).items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            msg = f"cannot read batch file {p} and its manifest: {exc}"
            raise DataError(msg) from exc
        return cls(str(data["model"]), lines, manifest, items, wire)


def build_batch_api_file(
    items: Sequence[BatchItem],
    *,
    model: str,
    system_prompt: str | None = None,
    config: BatchingConfig | None = None,
) -> BatchApiFile:
    """Packs ``items`` into Batch API request lines of up to ``config.max_batch`` questions.

    Each line names its questions by fresh random ids; a question that is not
    :func:`~langchain_costrouter.core.batch_format.batchable` gets a line of its own, asked alone.
    """
    cfg = config or BatchingConfig(enabled=True)
    tag = uuid.uuid4().hex[:8]
    lines: list[Mapping[str, Any]] = []
    manifest: dict[str, tuple[str, ...]] = {}
    wires: dict[str, dict[str, str]] = {}
    provider_model = model.split("/", 1)[1] if model.startswith("openai/") else model
    batched = [it for it in items if batchable(it.question)]
    chunks = [batched[k : k + cfg.max_batch] for k in range(0, len(batched), cfg.max_batch)]
    chunks += [[it] for it in items if not batchable(it.question)]
    for n, chunk in enumerate(chunks):
        custom_id = f"cr-{tag}-{n}"
        alone = len(chunk) == 1 and not batchable(chunk[0].question)
        wire = {} if alone else wire_ids(chunk)
        body: dict[str, Any] = {"model": provider_model, "temperature": 0}
        if alone:
            body |= {
                "messages": pack_single(chunk[0].question, system_prompt=system_prompt),
                "max_tokens": cfg.max_tokens_per_item,
            }
        else:
            body |= {
                "messages": pack_batch(chunk, system_prompt=system_prompt, wire=wire),
                "max_tokens": cfg.max_tokens_per_item * len(chunk) + 64,
                "response_format": batch_response_format(),
            }
        lines.append({"custom_id": custom_id, "method": "POST", "url": BATCH_API_ENDPOINT, "body": body})
        manifest[custom_id] = tuple(it.id for it in chunk)
        wires[custom_id] = wire
    return BatchApiFile(model, tuple(lines), manifest, tuple(items), wires)


def estimate_batch_api_cost(
    file: BatchApiFile,
    prices: PriceBook,
    *,
    discount: float,
    output_tokens_per_item: int = 64,
) -> tuple[float, float]:
    """Expected cost of ``file``: ``(live_usd, batch_api_usd)``.

    Input tokens are counted exactly; output tokens are ``output_tokens_per_item`` per question
    plus 10 per line of JSON overhead (an estimate: the answers are not known yet).
    """
    enc = encoding_for_model(file.model)
    live = 0.0
    for line in file.lines:
        body = line["body"]
        n = len(file.manifest[line["custom_id"]])
        usage = Usage(count_message_tokens(body["messages"], enc), output_tokens_per_item * n + 10)
        live += prices.cost_usd(file.model, usage)
    return live, live * (1.0 - discount)


class _Named:
    """A stand-in client that only names the model (parsing makes no calls)."""

    def __init__(self, model: str) -> None:
        self._model = model

    @property
    def model(self) -> str:
        return self._model

    def complete(self, messages: Sequence[Mapping[str, Any]], **params: Any) -> Completion:
        raise NotImplementedError

    async def acomplete(self, messages: Sequence[Mapping[str, Any]], **params: Any) -> Completion:
        raise NotImplementedError


def _completion(line: Mapping[str, Any], model: str) -> tuple[Completion | None, str | None]:
    if line.get("error"):
        return None, f"batch line error: {line['error']}"
    response = line.get("response") or {}
    body = response.get("body") if isinstance(response, Mapping) else None
    if not isinstance(body, Mapping) or int(response.get("status_code", 200)) >= 400:
        return None, f"batch line status {response.get('status_code') if isinstance(response, Mapping) else '?'}"
    try:
        text = body["choices"][0]["message"].get("content") or ""
    except (KeyError, IndexError, TypeError, AttributeError):
        return None, "batch line without choices"
    return Completion(str(text), model, Usage.from_openai(body.get("usage") or {})), None


def parse_batch_output(
    output: Iterable[str | Mapping[str, Any]],
    file: BatchApiFile,
    *,
    prices: PriceBook | None = None,
    accountant: CostAccountant | None = None,
    discount: float = 0.5,
    system_prompt: str | None = None,
) -> BatchReport:
    """Demultiplexes a Batch API output file and prices it with the discount.

    There are no retries here: failed items come back with ``answer=None`` (re-run them live
    with :func:`~langchain_costrouter.core.batching.run_batch` or in the next batch file).

    Raises:
        DataError: A line is not JSON or names an unknown ``custom_id``.
    """
    runner = BatchRunner(
        _Named(file.model),
        prices=prices,
        accountant=accountant,
        config=BatchingConfig(enabled=True, max_attempts=1),
        system_prompt=system_prompt,
        discount=discount,
    )
    job = _Job(runner, file.items)
    for raw in output:
        if isinstance(raw, str):
            if not raw.strip():
                continue
            try:
                line: Mapping[str, Any] = json.loads(raw)
            except ValueError as exc:
                msg = f"batch output line is not JSON: {exc}"
                raise DataError(msg) from exc
        else:
            line = raw
        custom_id = str(line.get("custom_id"))
        if custom_id not in file.manifest:
            msg = f"unknown custom_id {line.get('custom_id')!r} in the batch output"
            raise DataError(msg)
        completion, error = _completion(line, file.model)
        job.settle(file.plan(custom_id), CallReply(completion, error))
    return job.report()


def simulate_batch_output(file: BatchApiFile, client: ModelClient) -> list[dict[str, Any]]:
    """Runs every line of ``file`` through ``client`` and returns the provider's output lines.

    For tests and benchmarks against the local server (no key, no 24-hour wait).
    """
    out: list[dict[str, Any]] = []
    for k, line in enumerate(file.lines):
        body = dict(line["body"])
        messages = body.pop("messages")
        body.pop("model", None)
        try:
            reply = client.complete(messages, **body)
        except Exception as exc:
            out.append({"id": f"batch_req_{k}", "custom_id": line["custom_id"], "response": None, "error": str(exc)})
            continue
        response_body = {
            "object": "chat.completion",
            "model": reply.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text}, "finish_reason": "stop"}],
            "usage": reply.usage.to_openai(),
        }
        out.append(
            {
                "id": f"batch_req_{k}",
                "custom_id": line["custom_id"],
                "response": {"status_code": 200, "body": response_body},
                "error": None,
            }
        )
    return out
