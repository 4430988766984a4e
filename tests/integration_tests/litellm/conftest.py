"""Fixtures of the LiteLLM integration tests: the local OpenAI-compatible server and configs.

Every test talks real HTTP on 127.0.0.1: to the project's local server (scripted models) and,
for the proxy tests, to a real ``litellm`` proxy process started once per module.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from langchain_costrouter.core.ledger import CostRecord, LedgerBackend
from langchain_costrouter.testing.server import FaultSpec, LocalOpenAIServer, ModelScript, ReplyRule, Script

GOOD = "Paris is the capital of France; it has been for centuries."
PRICES = {
    "cheap": (0.1, 0.4),
    "mid": (1.0, 4.0),
    "premium": (5.0, 20.0),
    "translator": (0.5, 2.0),
    "flaky": (1.0, 4.0),
    "judge": (0.2, 0.2),
}


def script() -> Script:
    """cheap-m answers well only about France (else "dunno"); flaky-m rate-limits its first call."""
    good = ModelScript(reply=GOOD)
    return Script(
        models={
            "cheap-m": ModelScript(
                reply="dunno", rules=(ReplyRule(reply=GOOD, contains="France"), ReplyRule(reply=GOOD, contains="[ok]"))
            ),
            "mid-m": good,
            "prem-m": good,
            "trans-m": ModelScript(reply="Bonjour : voici une traduction soignee de votre texte."),
            "flaky-m": ModelScript(reply=GOOD, faults=(FaultSpec(kind="429", times=1, retry_after=0),)),
            "judge-m": ModelScript(reply="9"),
        },
        strict=True,
    )


def config_data(base_url: str, ledger_path: str | None = None) -> dict[str, Any]:
    """The costrouter config of these tests (prices from :data:`PRICES`)."""

    def dep(name: str, model: str, gate: bool = False) -> dict[str, Any]:
        pin, pout = PRICES[name]
        out: dict[str, Any] = {
            "name": name,
            "model": f"openai/{model}",
            "api_base": base_url,
            "price": {"input": pin, "output": pout},
        }
        if gate:
            out["gate"] = {"type": "heuristic", "min_chars": 20}
        return out

    return {
        "tiers": [dep("cheap", "cheap-m", True), dep("mid", "mid-m", True), dep("premium", "prem-m")],
        "models": [dep("translator", "trans-m"), dep("flaky", "flaky-m"), dep("judge", "judge-m")],
        "routing": {
            "type": "rules",
            "routes": [{"name": "translate", "model": "translator", "keywords": ["translate"]}],
        },
        "ledger": {"backend": "sqlite", "path": ledger_path} if ledger_path else {"backend": "memory"},
    }


def expected_cost(record: CostRecord) -> float:
    """What a record must cost: its tokens at the configured per-million prices."""
    pin, pout = PRICES[record.tier or ""]
    return (record.input_tokens * pin + record.output_tokens * pout) / 1e6


def wait_for(
    ledger: LedgerBackend, predicate: Callable[[list[CostRecord]], bool], timeout_s: float = 5.0
) -> list[CostRecord]:
    """Polls the ledger until ``predicate(records)`` holds (logging callbacks run after responses)."""
    deadline = time.monotonic() + timeout_s
    records = ledger.records()
    while not predicate(records) and time.monotonic() < deadline:
        time.sleep(0.05)
        records = ledger.records()
    return records


async def await_for(
    ledger: LedgerBackend, predicate: Callable[[list[CostRecord]], bool], timeout_s: float = 5.0
) -> list[CostRecord]:
    """:func:`wait_for` for async tests: lets the event loop run LiteLLM's logging tasks."""
    deadline = time.monotonic() + timeout_s
    records = ledger.records()
    while not predicate(records) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        records = ledger.records()
    return records


@pytest.fixture(scope="module")
def local_server() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(script()) as server:
        yield server


@pytest.fixture(scope="module")
def config_file(local_server: LocalOpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("costrouter")
    path = folder / "costrouter.yaml"
    path.write_text(yaml.safe_dump(config_data(local_server.base_url, "ledger.sqlite")), encoding="utf-8")
    return path
