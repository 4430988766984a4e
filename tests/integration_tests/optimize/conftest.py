"""Fixtures for compression and batching over real HTTP to the local OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from langchain_openai import ChatOpenAI

from langchain_costrouter._tiers import LangChainModelClient
from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.ledger import MemoryLedger
from langchain_costrouter.core.pricing import PriceBook
from langchain_costrouter.testing.responders import OptimizeResponder
from langchain_costrouter.testing.server import LocalOpenAIServer

COMPRESSOR = "gpt-4o-mini"  # $0.15 / $0.60 per million tokens in LiteLLM's bundled map
TARGET = "gpt-4o"  # $2.50 / $10.00, cache read $1.25


@pytest.fixture
def make_server() -> Iterator[Callable[..., LocalOpenAIServer]]:
    started: list[LocalOpenAIServer] = []

    def make(**responder: Any) -> LocalOpenAIServer:
        server = LocalOpenAIServer(OptimizeResponder(**responder)).start()
        started.append(server)
        return server

    yield make
    for s in started:
        s.stop()


@pytest.fixture
def server(make_server: Callable[..., LocalOpenAIServer]) -> LocalOpenAIServer:
    return make_server()


def chat(server: LocalOpenAIServer, model: str) -> ChatOpenAI:
    return ChatOpenAI(model=model, base_url=server.base_url, api_key="sk-test", max_retries=0, timeout=30)


def client(server: LocalOpenAIServer, model: str) -> LangChainModelClient:
    return LangChainModelClient(chat(server, model), f"openai/{model}")


@pytest.fixture
def prices() -> PriceBook:
    return PriceBook()


@pytest.fixture
def accountant(prices: PriceBook) -> CostAccountant:
    return CostAccountant(prices, MemoryLedger(), premium_model=f"openai/{TARGET}")


def bodies(server: LocalOpenAIServer, model: str) -> list[dict[str, Any]]:
    """Request bodies the server received for ``model``."""
    return [b for b in server.requests.snapshot() if isinstance(b, dict) and b.get("model") == model]
