"""In-process doubles for the optimize unit tests (no sockets: HTTP is covered by integration tests)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.ledger import MemoryLedger
from langchain_costrouter.core.pricing import ModelPrice, PriceBook
from langchain_costrouter.core.tokens import count_message_tokens, count_tokens
from langchain_costrouter.core.types import Completion
from langchain_costrouter.core.usage import Usage
from langchain_costrouter.testing.responders import answer_for, shorten

PRICES = {
    # dollars per million tokens: a premium target with a prefix-cache price, a cheap compressor
    "target": ModelPrice.per_million(10.0, 30.0, cache_read=2.5),
    "cheap": ModelPrice.per_million(0.5, 1.5),
}


class FakeClient:
    """A ModelClient computed in-process: compresses like the bench's scripted compressor."""

    def __init__(self, model: str, reply: Any = None) -> None:
        self._model = model
        self.reply = reply
        self.calls: list[list[Mapping[str, Any]]] = []

    @property
    def model(self) -> str:
        return self._model

    def complete(self, messages: Sequence[Mapping[str, Any]], **params: Any) -> Completion:
        self.calls.append(list(messages))
        user = str(messages[-1]["content"])
        if callable(self.reply):
            text = str(self.reply(user))
        elif self.reply is not None:
            text = str(self.reply)
        elif "TEXT:\n" in user:
            text = shorten(user.split("TEXT:\n", 1)[1], 0.5)
        else:
            text = answer_for(user)
        usage = Usage(count_message_tokens(messages), count_tokens(text))
        return Completion(text, self._model, usage)

    async def acomplete(self, messages: Sequence[Mapping[str, Any]], **params: Any) -> Completion:
        return self.complete(messages, **params)


@pytest.fixture
def prices() -> PriceBook:
    return PriceBook(PRICES, use_litellm_map=False)


@pytest.fixture
def accountant(prices: PriceBook) -> CostAccountant:
    return CostAccountant(prices, MemoryLedger(), premium_model="target")
