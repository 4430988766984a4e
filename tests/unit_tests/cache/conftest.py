from __future__ import annotations

from collections.abc import Iterator

import pytest

from langchain_costrouter.core.cache import ResponseCache, WordLlamaEmbedder


@pytest.fixture(scope="session")
def embedder() -> WordLlamaEmbedder:
    return WordLlamaEmbedder()


@pytest.fixture
def cache(embedder: WordLlamaEmbedder, tmp_path) -> Iterator[ResponseCache]:
    with ResponseCache(embedder, directory=tmp_path / "c", max_size=1000) as c:
        yield c
