"""A cache database damaged while the router runs: requests are answered and billed, the store's
failure is logged, never raised into the request."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from langchain_costrouter import ChatCostRouter
from langchain_costrouter.core.ledger import MemoryLedger
from langchain_costrouter.testing.server import LocalOpenAIServer, ModelScript, Script

pytestmark = pytest.mark.server

SCRIPT = Script(models={"cheap-m": ModelScript(reply="Answer to: {{user}}")}, strict=True)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_cache_db_damaged_mid_run_is_a_logged_miss(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    ledger = MemoryLedger()
    with LocalOpenAIServer(SCRIPT, port=0) as server:
        config = {
            "tiers": [
                {
                    "name": "cheap",
                    "model": "openai/cheap-m",
                    "api_base": server.base_url,
                    "price": {"input": 1, "output": 2},
                }
            ],
            "cache": {"enabled": True, "dir": str(tmp_path / "cache"), "semantic": "off"},
            "ledger": {"backend": "memory"},
        }
        with ChatCostRouter.from_config(config, ledger=ledger) as router:
            assert router.invoke("What is the capital of Peru?").content == "Answer to: What is the capital of Peru?"
            asked = len(server.requests)
            router.invoke("What is the capital of Peru?")
            assert len(server.requests) == asked  # served from the cache
            (db,) = (tmp_path / "cache").rglob("sqlite.db")
            data = db.read_bytes()
            with db.open("r+b") as fh:  # damaged in place, under the open connection
                fh.write(bytes(range(256)) * 64 if damage == "garbage" else b"\0" * min(len(data), 4096))
            for f in db.parent.glob("sqlite.db-*"):
                f.write_bytes(b"\xff" * 512)
            before = len(server.requests)
            with caplog.at_level(logging.WARNING):
                for q in ("What is the capital of Peru?", "What is the capital of Chile?"):
                    assert router.invoke(q).content == f"Answer to: {q}"
        # The new question is answered fresh (a miss, not an error); the repeat may still be served
        # from what the process holds in memory, with the right answer either way.
        assert before + 1 <= len(server.requests) <= before + 2
        sent = len(server.requests)
    assert [r.outcome for r in ledger.records() if r.kind == "completion"].count("error") == 0
    paid = [r for r in ledger.records() if r.kind == "completion" and r.cost_usd > 0]
    assert len(paid) == sent  # every provider call is billed
    assert any("cache" in r.getMessage().lower() for r in caplog.records if r.levelno >= logging.WARNING)
