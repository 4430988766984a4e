"""The wire format of a batch call: packing questions with ids, the answer schema, the demux.

Kept apart from the runner so the live path (:mod:`~langchain_costrouter.core.batching`) and
the OpenAI Batch API path (:mod:`~langchain_costrouter.core.batch_api`) share one format.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_costrouter.core.errors import ConfigError
from langchain_costrouter.core.ledger import new_request_id

__all__ = [
    "BATCH_INSTRUCTIONS",
    "BatchItem",
    "Demuxed",
    "batch_response_format",
    "demux",
    "make_items",
    "pack_batch",
    "split_by_weight",
]


BATCH_INSTRUCTIONS = (
    "Answer each question of the JSON list below on its own, as if it were asked alone. "
    'Reply with one JSON object {"answers": [{"id": "<id>", "answer": "<answer>"}]} holding exactly '
    "one entry for every id, with the ids unchanged, and nothing else.\n\nQUESTIONS:\n"
)


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One question of a batch job; ``request_id`` groups its ledger records."""

    id: str
    question: str
    request_id: str = field(default_factory=new_request_id)


def make_items(questions: Sequence[str], ids: Sequence[str] | None = None) -> list[BatchItem]:
    """Batch items with ids ``q1``... (or the given ones).

    Raises:
        ConfigError: ``ids`` has duplicates or a different length (field ``ids``).
    """
    if ids is None:
        ids = [f"q{i + 1}" for i in range(len(questions))]
    ids = [str(i) for i in ids]
    if len(ids) != len(questions):
        raise ConfigError("ids", f"{len(ids)} ids for {len(questions)} questions")
    if len(set(ids)) != len(ids):
        raise ConfigError("ids", "ids must be unique")
    return [BatchItem(i, q) for i, q in zip(ids, questions, strict=True)]


def batch_response_format() -> dict[str, Any]:
    """The ``response_format`` of a batch call (a strict JSON schema)."""
    item = {
        "type": "object",
        "properties": {"id": {"type": "string"}, "answer": {"type": "string"}},
        "required": ["id", "answer"],
        "additionalProperties": False,
    }
    schema = {
        "type": "object",
        "properties": {"answers": {"type": "array", "items": item}},
        "required": ["answers"],
        "additionalProperties": False,
    }
    return {"type": "json_schema", "json_schema": {"name": "batch_answers", "strict": True, "schema": schema}}


def pack_batch(items: Sequence[BatchItem], *, system_prompt: str | None = None) -> list[dict[str, Any]]:
    """The messages of one batch call: the shared system prompt as is, then the questions."""
    payload = json.dumps([{"id": it.id, "question": it.question} for it in items], ensure_ascii=False, indent=0)
    messages: list[dict[str, Any]] = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    messages.append({"role": "user", "content": BATCH_INSTRUCTIONS + payload})
    return messages


@dataclass(frozen=True, slots=True)
class Demuxed:
    """Answers of one batch reply, by id.

    Attributes:
        answers: Well-formed answers by item id.
        failed: Reason by item id, for every item without a usable answer.
        problems: What was wrong with the reply as a whole (count, unknown ids, JSON).
        received: Number of answer entries in the reply.
        parsed: Whether the reply was valid JSON of the expected shape.
    """

    answers: Mapping[str, str]
    failed: Mapping[str, str]
    problems: tuple[str, ...] = ()
    received: int = 0
    parsed: bool = True


def _strip_fence(text: str) -> str:
    t = text.strip()
    if t.startswith("```"):
        t = t.split("\n", 1)[1] if "\n" in t else ""
        t = t.rsplit("```", 1)[0]
    return t.strip()


def demux(text: str, items: Sequence[BatchItem]) -> Demuxed:
    """Maps a batch reply back to its items by id, with a count check; never guesses."""
    expected = [it.id for it in items]
    try:
        data = json.loads(_strip_fence(text))
    except ValueError as exc:
        why = f"unparseable JSON: {exc}"
        return Demuxed({}, dict.fromkeys(expected, why), (why,), 0, False)
    entries = data.get("answers") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        why = "reply is not {'answers': [...]}"
        return Demuxed({}, dict.fromkeys(expected, why), (why,), 0, False)
    problems: list[str] = []
    if len(entries) != len(expected):
        problems.append(f"count mismatch: expected {len(expected)} answers, got {len(entries)}")
    found: dict[str, list[Any]] = {}
    for k, entry in enumerate(entries):
        if not isinstance(entry, dict) or "id" not in entry:
            problems.append(f"entry {k} has no id")
            continue
        key = str(entry["id"])
        if key not in expected:
            problems.append(f"unknown id {key!r}")
            continue
        found.setdefault(key, []).append(entry.get("answer"))
    answers: dict[str, str] = {}
    failed: dict[str, str] = {}
    for key in expected:
        got = found.get(key)
        if not got:
            failed[key] = "missing answer"
        elif len(got) > 1:
            failed[key] = f"{len(got)} answers for one id"
        elif not isinstance(got[0], str) or not got[0].strip():
            failed[key] = "malformed answer (not a non-empty string)"
        else:
            answers[key] = got[0]
    return Demuxed(answers, failed, tuple(problems), len(entries), True)


def split_by_weight(total: int, weights: Sequence[float]) -> list[int]:
    """Splits an integer ``total`` by ``weights`` (largest remainder): the parts sum to ``total``."""
    if not weights:
        return []
    w = [max(0.0, x) for x in weights]
    s = sum(w)
    if s <= 0:
        w, s = [1.0] * len(w), float(len(w))
    raw = [total * x / s for x in w]
    parts = [math.floor(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (raw[i] - parts[i], -i), reverse=True)
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts
