from __future__ import annotations

import json

from langchain_core.globals import set_llm_cache
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from langchain_costrouter.core.cache import ResponseCache
from langchain_costrouter.lc_cache import CostRouterLLMCache
from litellm_hooks.cache_hook import CostRouterLiteLLMCache


def test_set_llm_cache_path(cache: ResponseCache) -> None:
    answers = iter([AIMessage(content="Paris."), AIMessage(content="Berlin."), AIMessage(content="Madrid.")])
    model = GenericFakeChatModel(messages=answers)
    set_llm_cache(CostRouterLLMCache(cache))
    try:
        msgs = [SystemMessage("Be brief."), HumanMessage("What is the capital of France?")]
        assert model.invoke(msgs).content == "Paris."
        again = model.invoke([SystemMessage("Be brief."), HumanMessage("What's the capital of France?")])
        assert again.content == "Paris."  # served from the cache: the fake model was not called
        other = model.invoke([SystemMessage("Be verbose."), HumanMessage("What is the capital of France?")])
        assert other.content == "Berlin."  # another system prompt never hits
    finally:
        set_llm_cache(None)


async def test_set_llm_cache_async_and_llm_string_checked(cache: ResponseCache) -> None:
    lc = CostRouterLLMCache(cache)
    from langchain_core.load import dumps
    from langchain_core.outputs import ChatGeneration

    prompt = dumps([HumanMessage("How do I reset my password?")])
    await lc.aupdate(prompt, "model-a", [ChatGeneration(message=AIMessage(content="Click 'forgot'."))])
    hit = await lc.alookup(prompt, "model-a")
    assert hit is not None and hit[0].text == "Click 'forgot'."
    assert await lc.alookup(prompt, "model-b") is None


def test_tool_call_turn_not_cached(cache: ResponseCache) -> None:
    lc = CostRouterLLMCache(cache)
    from langchain_core.load import dumps
    from langchain_core.outputs import ChatGeneration

    prompt = dumps([HumanMessage("Weather in Paris?")])
    msg = AIMessage(content="", tool_calls=[{"name": "weather", "args": {"city": "Paris"}, "id": "c1"}])
    lc.update(prompt, "m", [ChatGeneration(message=msg)])
    assert lc.lookup(prompt, "m") is None
    assert cache.stats.skipped["tool_call"] == 1


def _resp(text: str, finish: str = "stop") -> dict:
    return {
        "id": "x",
        "model": "gpt-x",
        "choices": [{"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
    }


def test_litellm_backend(cache: ResponseCache) -> None:
    be = CostRouterLiteLLMCache(cache)
    kw = {"model": "gpt-x", "messages": [{"role": "user", "content": "Do you deliver on Sundays?"}], "temperature": 0}
    be.set_cache("k", {"timestamp": 1, "response": json.dumps(_resp("Yes, we do."))}, **kw)
    got = be.get_cache("k2", **kw)
    assert got is not None and json.loads(got["response"])["choices"][0]["message"]["content"] == "Yes, we do."
    assert be.get_cache("k3", **{**kw, "model": "gpt-y"}) is None
    assert be.get_cache("k4", **{**kw, "user": "someone-else"}) is None
    trunc = {**kw, "messages": [{"role": "user", "content": "Write an essay"}]}
    be.set_cache("k5", {"timestamp": 1, "response": json.dumps(_resp("Once upon", "length"))}, **trunc)
    assert be.get_cache("k5", **trunc) is None


async def test_litellm_backend_lookups_never_raise_sync_or_async(cache: ResponseCache) -> None:
    """The async lookup used to build its scope outside its ``try`` and raise where the sync one logged."""
    be = CostRouterLiteLLMCache(cache)
    assert be.get_cache("k", model="m", messages="hello") is None
    assert await be.async_get_cache("k", model="m", messages="hello") is None
