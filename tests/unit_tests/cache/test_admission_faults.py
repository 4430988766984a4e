"""Admission (refusal / error detector) and fault safety: the cache never fails a paid request."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from langchain_costrouter.core.cache import CacheScope, CallableEmbedder, ResponseCache, answer_problem
from langchain_costrouter.core.usage import Usage

SCOPE = CacheScope(namespace="t", model="ladder:cheap|premium")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("I can't answer that question.", "refusal"),
        ("I cannot help with that.", "refusal"),
        ("Sorry, but I'm unable to assist with this request.", "refusal"),
        ("I'm sorry, I won't do that.", "refusal"),
        ("As an AI language model, I cannot browse the internet.", "refusal"),
        ("Unfortunately, I am not able to access your account.", "refusal"),
        ("Error: upstream request failed with status 504", "error"),
        ("error: connection reset by peer", "error"),
        ("500 Internal Server Error", "error"),
        ("HTTP 503 Service Unavailable", "error"),
        ('{"error": {"message": "rate limited"}}', "error"),
        ("Request timed out.", "error"),
        ("Something went wrong. Please try again later.", "error"),
        ("An unexpected error occurred.", "error"),
        ("", "empty"),
        ("   \n", "empty"),
        (None, "empty"),
        ("To reset your password open Settings, choose Security and", "truncated"),
        ("Your order ships from our warehouse in Leeds, usually within two days, with", "truncated"),
    ],
)
def test_detector_refuses(text: str | None, problem: str) -> None:
    assert answer_problem(text) == problem


@pytest.mark.parametrize(
    "text",
    [
        "Paris is the capital of France.",
        "A 504 error means the gateway timed out; retry after a minute.",
        "The error message 'card declined' means your bank refused the payment.",
        "I can help: open Settings, then Security, then Reset password.",
        "Yes.",
        "Sorry for the wait! Your order left the warehouse today.",
        "```python\nprint('hi')\n```",
    ],
)
def test_detector_admits_answers(text: str) -> None:
    assert answer_problem(text) == ""


def test_last_tier_refusal_is_never_stored(cache: ResponseCache) -> None:
    # the last tier has no gate: its answer comes with gate_passed=True, the detector still refuses it
    for text in ("I can't answer that question.", "Error: upstream request failed with status 504"):
        out = cache.store(SCOPE, "What is the meaning of life?", text, model="premium", gate_passed=True)
        assert not out.stored and out.reason in {"refusal", "error"}
        assert cache.lookup(SCOPE, "What is the meaning of life?") is None
    assert cache.stats.skipped["refusal"] == 1 and cache.stats.skipped["error"] == 1


def test_a_write_failure_does_not_fail_the_request(cache: ResponseCache, caplog: pytest.LogCaptureFixture) -> None:
    db = cache.directory / "sqlite.db"
    locker = sqlite3.connect(db, timeout=0.1)
    locker.execute("BEGIN EXCLUSIVE")  # another process holds the database
    try:
        with caplog.at_level(logging.WARNING):
            out = cache.store(SCOPE, "How do I reset my password?", "Open Settings.", model="m", gate_passed=True)
    finally:
        locker.rollback()
        locker.close()
    assert not out.stored and out.reason == "error"
    assert cache.stats.errors["store"] == 1
    assert "cache store failed" in caplog.text
    # the cache still works once the lock is gone
    assert cache.store(SCOPE, "How do I reset my password?", "Open Settings.", model="m", gate_passed=True).stored
    assert cache.lookup(SCOPE, "How do I reset my password?") is not None


def _broken_embed(texts: list[str]) -> np.ndarray:
    raise RuntimeError("embedding service down")


def test_a_lookup_failure_is_a_miss(tmp_path: Path) -> None:
    emb = CallableEmbedder(_broken_embed, dimension=8, name="broken")
    with ResponseCache(emb, directory=tmp_path, max_size=10) as cache:
        found = cache.find(SCOPE, "How do I reset my password?")
        assert found.hit is None and found.shadow is None
        assert cache.stats.errors["lookup"] == 1 and cache.stats.misses == 1
        out = cache.store(SCOPE, "How do I reset my password?", "Open Settings.", model="m", gate_passed=True)
        assert not out.stored and out.reason == "error"


@pytest.fixture
def filled(embedder, tmp_path: Path) -> Iterator[Path]:
    with ResponseCache(embedder, directory=tmp_path, max_size=100) as cache:
        q, a = "How do I reset my password?", "Open Settings."
        cache.store(SCOPE, q, a, model="m", usage=Usage(1, 1), gate_passed=True)
        yield cache.directory


@pytest.mark.parametrize("damage", ["garbage", "truncated", "index"])
def test_a_corrupt_store_is_cleared_with_one_message(
    embedder, tmp_path: Path, filled: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    db = filled / "sqlite.db"
    if damage == "garbage":
        db.write_bytes(b"this is not a database" * 100)
    elif damage == "truncated":
        db.write_bytes(db.read_bytes()[:100])
    else:
        (filled / "hnsw.index").write_bytes(b"\x00garbage")
    with caplog.at_level(logging.WARNING), ResponseCache(embedder, directory=tmp_path, max_size=100) as cache:
        assert cache.store(SCOPE, "Where is my order?", "On its way.", model="m", gate_passed=True).stored
        assert cache.lookup(SCOPE, "Where is my order?") is not None
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    if damage == "index":  # the vectors are rebuilt from SQLite: nothing is lost
        assert all("cleared" not in r.getMessage() for r in warnings)
    else:
        (msg,) = [r.getMessage() for r in warnings if "cleared" in r.getMessage()]
        assert "\n" not in msg and str(filled) in msg
