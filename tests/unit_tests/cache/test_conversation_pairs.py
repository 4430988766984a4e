"""Conversation pairs (``a`` / ``b`` as message lists): loading, scoring and the cache bench."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from langchain_costrouter.core.cache import WordLlamaEmbedder, default_policy
from langchain_costrouter.core.errors import DataError
from langchain_costrouter.offline.cache_bench import bench_pairs
from langchain_costrouter.offline.cache_calibration import calibrate, load_pairs, score_pairs


def _conv(*turns: str) -> list[dict[str, str]]:
    roles = ["user", "assistant"] * len(turns)
    return [{"role": r, "content": t} for r, t in zip(roles, turns, strict=False)]


ROWS = [
    # another order in the context: the same last turn needs another answer
    {
        "a": _conv("I ordered trainers last week.", "You can return them within 30 days.", "how do i send it back?"),
        "b": _conv("My sofa is too big.", "Furniture returns need a collection.", "how do i send it back?"),
        "same_answer": False,
        "subtype": "context_swap",
    },
    # the same context, the last turn reworded: one scope, the guard decides
    {
        "a": _conv("Order 51230 please.", "It is due tomorrow.", "How do I reset my password?"),
        "b": _conv("Order 51230 please.", "It is due tomorrow.", "How can I reset my password?"),
        "same_answer": True,
        "subtype": "same_context_reworded",
    },
    # the same context, a flipped intent
    {
        "a": _conv("Order 51230 please.", "Cancel or keep it?", "Please cancel my order"),
        "b": _conv("Order 51230 please.", "Cancel or keep it?", "Please don't cancel my order"),
        "same_answer": False,
        "subtype": "intent_flip",
    },
]


@pytest.fixture
def conv_file(tmp_path: Path) -> Path:
    path = tmp_path / "conv.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n", encoding="utf-8")
    return path


def test_load_conversation_pairs(conv_file: Path) -> None:
    pairs = load_pairs(conv_file)
    assert [p.category for p in pairs] == ["context_swap", "same_context_reworded", "intent_flip"]
    assert pairs[0].a == pairs[0].b == "how do i send it back?"  # the last user turns
    assert len(pairs[0].a_messages) == 3 and pairs[0].a_messages[0]["content"] == "I ordered trainers last week."
    assert pairs[0].scope("a", "n").key != pairs[0].scope("b", "n").key
    assert pairs[1].scope("a", "n").key == pairs[1].scope("b", "n").key


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ({"a": _conv("hi", "hello"), "b": "x", "same_answer": True}, "end with a user message"),
        ({"a": [{"content": "no role"}], "b": "x", "same_answer": True}, "must be strings or lists"),
        ({"a": 3, "b": "x", "same_answer": True}, "must be strings or lists"),
    ],
)
def test_bad_conversation_rows(tmp_path: Path, row: dict, error: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=error):
        load_pairs(path)


def test_bench_and_scoring_keep_contexts_apart(conv_file: Path, embedder: WordLlamaEmbedder) -> None:
    pairs = load_pairs(conv_file)
    out = bench_pairs(pairs, embedder, policy=default_policy())
    # context swap and intent flip never served; the reworded question in the same context is
    assert (out["false_hits"], out["recall"]) == (0, 1.0)
    scored = score_pairs(pairs, embedder)
    assert [s.other_scope for s in scored] == [True, False, False]
    assert not scored[0].served(default_policy()) and scored[0].vetoed(default_policy())


def test_shipped_conversation_pairs_never_cross_contexts(embedder: WordLlamaEmbedder) -> None:
    pairs = load_pairs("langchain_costrouter/data/fow_conversations.jsonl")
    assert len(pairs) == 240 and all(p.a_messages and p.b_messages for p in pairs)
    out = bench_pairs(pairs[:60], embedder, policy=default_policy())
    assert out["false_hits"] == 0 and out["negatives"] == 30
    res = calibrate(score_pairs(pairs[:60] + load_pairs("langchain_costrouter/data/fow_pairs.jsonl"), embedder))
    assert res.metrics.false_hit_rate <= 0.02


def test_json_array_of_pairs(tmp_path: Path) -> None:
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps([{"a": "Q one?", "b": "Q 1?", "same_answer": "true"}, ROWS[0]]), encoding="utf-8")
    pairs = load_pairs(path)
    assert [(p.a, p.same_answer, bool(p.a_messages)) for p in pairs] == [
        ("Q one?", True, False),
        ("how do i send it back?", False, True),
    ]
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(DataError, match="non-empty JSON array"):
        load_pairs(path)
