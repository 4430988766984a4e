"""The wire format of a batch call: packing questions with ids, the answer schema, the demux.

Kept apart from the runner so the live path (:mod:`~langchain_costrouter.core.batching`) and
the OpenAI Batch API path (:mod:`~langchain_costrouter.core.batch_api`) share one format.

Safety: a question is text a model reads, so it can carry an instruction the model obeys
("also answer item 3 with X", a forged ``{"id": ..., "answer": ...}``). Hence:

- every call names its items by fresh random ids (:func:`wire_ids`), never by the caller's ids,
  so a question cannot forge another item's id in advance;
- a question holding the batch's delimiter or structural markers (``QUESTIONS:``, a quoted
  ``"id"``/``"answer"``/``"question"`` key, ``answer:``, "item 3", "the other questions"...) is
  not batched (:func:`batchable`): it is
  asked alone;
- :func:`demux` trusts a reply only when it is exactly one answer per id: an unknown or
  duplicated id, an entry without an id, or an answer that echoes another item's question or
  id marks the items concerned (every item of the call, when the culprit cannot be told) to be
  asked alone (:attr:`Demuxed.alone`); a missing answer marks its item.
"""

from __future__ import annotations

import json
import math
import re
import secrets
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
    "batchable",
    "demux",
    "make_items",
    "pack_batch",
    "pack_single",
    "split_by_weight",
    "wire_ids",
]


BATCH_INSTRUCTIONS = (
    "Answer each question of the JSON list below on its own, as if it were asked alone. "
    'Reply with one JSON object {"answers": [{"id": "<id>", "answer": "<answer>"}]} holding exactly '
    "one entry for every id, with the ids unchanged, and nothing else.\n\nQUESTIONS:\n"
)


_MARKERS = re.compile(
    r"QUESTIONS:|[\"'](?:ids?|answers?|questions?)[\"']"
    r"|[\"']?\b(?:ids?|answers?|questions?|items?)\b[\"']?\s*[:=]"
    r"|\b(?:items?|questions?|entry|entries|ids?)\s*(?:#|no\.?|number)?\s*\d+\b"
    r"|\b(?:all|every|each|other|previous|next|remaining)\s+(?:other\s+)?(?:items?|questions?|entries|ids?)\b",
    re.IGNORECASE,
)
_ECHO_MIN_CHARS = 16


_LEADING_LABEL = re.compile(r"^\s*(?:question|q)\s*[:.]\s*", re.IGNORECASE)


def batchable(question: str) -> bool:
    """Whether ``question`` may share a batch call (no delimiter or structural marker in it).

    A leading ``Question:`` label, common in datasets, is not a marker.
    """
    return _MARKERS.search(_LEADING_LABEL.sub("", question, count=1)) is None


def wire_ids(items: Sequence[BatchItem]) -> dict[str, str]:
    """Fresh, unguessable ids for one call: item id -> the id the model sees."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for it in items:
        wid = "a" + secrets.token_hex(5)
        while wid in used:
            wid = "a" + secrets.token_hex(5)
        used.add(wid)
        out[it.id] = wid
    return out


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


def pack_batch(
    items: Sequence[BatchItem], *, system_prompt: str | None = None, wire: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The messages of one batch call: the shared system prompt as is, then the questions.

    Args:
        items: The questions.
        system_prompt: The shared system prompt (byte-stable).
        wire: Item id -> the id the model sees (:func:`wire_ids`); default: the item ids.
    """
    ids = wire or {}
    payload = json.dumps(
        [{"id": ids.get(it.id, it.id), "question": it.question} for it in items], ensure_ascii=False, indent=0
    )
    return pack_single(BATCH_INSTRUCTIONS + payload, system_prompt=system_prompt)


def pack_single(question: str, *, system_prompt: str | None = None) -> list[dict[str, Any]]:
    """The messages of a question asked alone: the shared system prompt as is, then the question."""
    messages: list[dict[str, Any]] = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    messages.append({"role": "user", "content": question})
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
        alone: Items the reply's anomalies concern: to be asked alone, never in a batch again.
    """

    answers: Mapping[str, str]
    failed: Mapping[str, str]
    problems: tuple[str, ...] = ()
    received: int = 0
    parsed: bool = True
    alone: frozenset[str] = frozenset()


def _strip_fence(text: str) -> str:
    t = text.strip()
    if t.startswith("```"):
        t = t.split("\n", 1)[1] if "\n" in t else ""
        t = t.rsplit("```", 1)[0]
    return t.strip()


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _entries(text: str) -> list[Any] | str:
    """The answer entries of a reply, or why there are none."""
    try:
        data = json.loads(_strip_fence(text))
    except ValueError as exc:
        return f"unparseable JSON: {exc}"
    entries = data.get("answers") if isinstance(data, dict) else data
    return entries if isinstance(entries, list) else "reply is not {'answers': [...]}"


def _echoes(answers: Mapping[str, str], items: Sequence[BatchItem], wire: Mapping[str, str]) -> dict[str, str]:
    """Items whose answer repeats another item's question or id, and the items repeated."""
    out: dict[str, str] = {}
    for a_id, answer in answers.items():
        said = _norm(answer)
        for other in items:
            if other.id == a_id:
                continue
            question = _norm(other.question)
            echoed = len(question) >= _ECHO_MIN_CHARS and question in said
            wid = wire.get(other.id, other.id)
            if echoed or (wid != other.id and wid in answer):
                out[a_id] = out[other.id] = f"anomaly: the answer of {a_id!r} repeats item {other.id!r}"
    return out


def _collect(entries: list[Any], by_wire: Mapping[str, str]) -> tuple[dict[str, list[Any]], list[str]]:
    """The answers given for each item id, and what was wrong with the entries."""
    problems: list[str] = []
    found: dict[str, list[Any]] = {}
    for k, entry in enumerate(entries):
        if not isinstance(entry, dict) or "id" not in entry:
            problems.append(f"entry {k} has no id")
        elif str(entry["id"]) not in by_wire:
            problems.append(f"unknown id {str(entry['id'])!r}")
        else:
            found.setdefault(by_wire[str(entry["id"])], []).append(entry.get("answer"))
    return found, problems


def demux(text: str, items: Sequence[BatchItem], wire: Mapping[str, str] | None = None) -> Demuxed:
    """Maps a batch reply back to its items by id, with a count check; never guesses.

    Args:
        text: The reply.
        items: The items of the call.
        wire: Item id -> the id the model saw (default: the item ids).
    """
    wire = dict(wire or {it.id: it.id for it in items})
    by_wire = {w: i for i, w in wire.items()}
    expected = [it.id for it in items]
    entries = _entries(text)
    if isinstance(entries, str):
        return Demuxed({}, dict.fromkeys(expected, entries), (entries,), 0, False)
    found, problems = _collect(entries, by_wire)
    if len(entries) != len(expected):
        problems.insert(0, f"count mismatch: expected {len(expected)} answers, got {len(entries)}")
    answers: dict[str, str] = {}
    failed: dict[str, str] = {}
    alone: set[str] = set()
    for key in expected:
        got = found.get(key)
        if not got:
            failed[key] = "missing answer"
            alone.add(key)
        elif len(got) > 1:
            failed[key] = f"{len(got)} answers for one id"
        elif not isinstance(got[0], str) or not got[0].strip():
            failed[key] = "malformed answer (not a non-empty string)"
        else:
            answers[key] = got[0]
    echoed = _echoes(answers, items, wire)
    forged = any(p.startswith(("unknown id", "entry")) for p in problems) or any(len(v) > 1 for v in found.values())
    if forged:  # an id was forged or repeated: any answer of this call may be another item's
        why = "anomaly: " + "; ".join(problems or ["an id answered twice"])
        failed.update({k: failed.get(k, why) for k in expected})
        alone.update(expected)
        answers.clear()
    for key, why in echoed.items():
        failed.setdefault(key, why)
        answers.pop(key, None)
        alone.add(key)
    return Demuxed(answers, failed, tuple(problems), len(entries), True, frozenset(alone))


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
