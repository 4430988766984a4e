"""The semantic cache over real HTTP: LangChain ``set_llm_cache`` and the LiteLLM SDK.

Each test talks to the project's local OpenAI-compatible server on 127.0.0.1; the server's
request log proves which calls were served from the cache (no request) and which were not.
Stores are real: GPTCache's SQLite file and the faiss index live in ``tmp_path``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.globals import set_llm_cache
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI

from langchain_costrouter.core.cache import ResponseCache, WordLlamaEmbedder
from langchain_costrouter.lc_cache import CostRouterLLMCache
from langchain_costrouter.testing.server import LocalOpenAIServer, ModelScript, Script

pytestmark = pytest.mark.server

# The answer names the question it answers, so a wrong hit would show in the text.
SCRIPT = Script(models={"helper": ModelScript(reply="Answer to: {{user}}")}, strict=True)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(SCRIPT, port=0) as srv:
        yield srv


@pytest.fixture(scope="module")
def embedder() -> WordLlamaEmbedder:
    return WordLlamaEmbedder()


@pytest.fixture
def lc_cache(embedder: WordLlamaEmbedder, tmp_path: Path) -> Iterator[ResponseCache]:
    with ResponseCache(embedder, directory=tmp_path / "lc") as cache:
        set_llm_cache(CostRouterLLMCache(cache, namespace="tests"))
        try:
            yield cache
        finally:
            set_llm_cache(None)


def chat(server: LocalOpenAIServer) -> ChatOpenAI:
    return ChatOpenAI(model="helper", base_url=server.base_url, api_key="sk-test", max_retries=0, timeout=30)


def asked(server: LocalOpenAIServer) -> list[str]:
    """The last user message of every request the server received."""
    return [str(body["messages"][-1]["content"]) for body in list(server.requests)]


def test_langchain_exact_and_paraphrase_hits_make_no_request(
    server: LocalOpenAIServer, lc_cache: ResponseCache
) -> None:
    llm = chat(server)
    system = SystemMessage("You are a support assistant.")
    before = len(server.requests)
    first = llm.invoke([system, HumanMessage("How do I reset my password?")])
    assert first.content == "Answer to: How do I reset my password?"
    assert len(server.requests) == before + 1

    again = llm.invoke([system, HumanMessage("How do I reset my password?")])
    para = llm.invoke([system, HumanMessage("How can I reset my password?")])
    assert again.content == para.content == first.content
    assert again.response_metadata["cache_hit"] == "exact"
    assert para.response_metadata["cache_hit"] == "semantic"
    assert len(server.requests) == before + 1  # neither reached the server
    assert lc_cache.stats.exact_hits == 1 and lc_cache.stats.semantic_hits == 1


def test_langchain_traps_and_other_system_prompt_reach_the_server(
    server: LocalOpenAIServer, lc_cache: ResponseCache
) -> None:
    llm = chat(server)
    system = SystemMessage("You are a support assistant.")
    llm.invoke([system, HumanMessage("What is the status of order 48213?")])
    llm.invoke([system, HumanMessage("Cancel my subscription")])
    before = len(server.requests)
    traps = ["What is the status of order 48231?", "Don't cancel my subscription"]
    for q in traps:
        assert llm.invoke([system, HumanMessage(q)]).content == f"Answer to: {q}"
    other = llm.invoke([SystemMessage("Answer in French."), HumanMessage("Cancel my subscription")])
    assert other.content == "Answer to: Cancel my subscription"
    assert asked(server)[before:] == [*traps, "Cancel my subscription"]
    assert lc_cache.stats.semantic_hits == 0


async def test_langchain_async_path(server: LocalOpenAIServer, lc_cache: ResponseCache) -> None:
    llm = chat(server)
    before = len(server.requests)
    first = await llm.ainvoke([HumanMessage("Do you deliver on Sundays?")])
    again = await llm.ainvoke([HumanMessage("Do you deliver on Sundays?")])
    assert again.content == first.content == "Answer to: Do you deliver on Sundays?"
    assert len(server.requests) == before + 1


def test_persisted_store_serves_after_reopen(
    server: LocalOpenAIServer, embedder: WordLlamaEmbedder, tmp_path: Path
) -> None:
    directory = tmp_path / "persist"
    with ResponseCache(embedder, directory=directory) as cache:
        set_llm_cache(CostRouterLLMCache(cache))
        try:
            chat(server).invoke([HumanMessage("What are your opening hours on weekdays?")])
        finally:
            set_llm_cache(None)
    assert (directory / embedder.name / "sqlite.db").is_file()
    before = len(server.requests)
    with ResponseCache(embedder, directory=directory) as reopened:  # GPTCache's SQLite, faiss index
        set_llm_cache(CostRouterLLMCache(reopened))
        try:
            hit = chat(server).invoke([HumanMessage("What are your opening hours on weekdays?")])
        finally:
            set_llm_cache(None)
    assert hit.content == "Answer to: What are your opening hours on weekdays?"
    assert len(server.requests) == before


@pytest.fixture
def litellm_cache(embedder: WordLlamaEmbedder, tmp_path: Path) -> Iterator[ResponseCache]:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    from litellm_hooks.cache_hook import install

    previous = litellm.cache
    with ResponseCache(embedder, directory=tmp_path / "litellm") as cache:
        install(cache, namespace="tests")
        try:
            yield cache
        finally:
            litellm.cache = previous


def _complete(server: LocalOpenAIServer, text: str, temperature: float = 0) -> str:
    import litellm

    resp = litellm.completion(
        model="openai/helper",
        api_base=server.base_url,
        api_key="sk-test",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}],
        temperature=temperature,
        caching=True,
    )
    return str(resp.choices[0].message.content)


def test_litellm_sdk_second_call_hits(server: LocalOpenAIServer, litellm_cache: ResponseCache) -> None:
    before = len(server.requests)
    first = _complete(server, "How do I update my billing address?")
    assert first == "Answer to: How do I update my billing address?"
    assert len(server.requests) == before + 1
    assert _complete(server, "How do I update my billing address?") == first
    assert _complete(server, "How can I update my billing address?") == first
    assert len(server.requests) == before + 1
    assert litellm_cache.stats.exact_hits == 1 and litellm_cache.stats.semantic_hits == 1
    trap = "How do I update my billing address for order 48213?"
    assert _complete(server, trap) == f"Answer to: {trap}"
    # other sampling parameters are another scope, even for the sync lookup (LiteLLM only hands
    # a sync backend the messages; install() passes the model and parameters too)
    assert _complete(server, "How do I update my billing address?", temperature=1) == first
    assert asked(server)[before:] == [
        "How do I update my billing address?",
        trap,
        "How do I update my billing address?",
    ]


async def test_litellm_sdk_async(server: LocalOpenAIServer, litellm_cache: ResponseCache) -> None:
    import litellm

    before = len(server.requests)
    kwargs = {
        "model": "openai/helper",
        "api_base": server.base_url,
        "api_key": "sk-test",
        "messages": [{"role": "user", "content": "Is there parking at the venue?"}],
        "caching": True,
    }
    first = await litellm.acompletion(**kwargs)
    for _ in range(100):  # LiteLLM writes its cache from a background logging task
        if litellm_cache.stats.stores:
            break
        await asyncio.sleep(0.05)
    assert litellm_cache.stats.stores == 1
    second = await litellm.acompletion(**kwargs)
    assert first.choices[0].message.content == second.choices[0].message.content
    assert len(server.requests) == before + 1
    assert litellm_cache.stats.exact_hits == 1
