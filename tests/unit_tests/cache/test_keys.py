"""The one key function: every request part that can change the answer is in the key."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_costrouter.core.cache import ResponseCache, cache_scope
from langchain_costrouter.core.types import ChatRequest
from langchain_costrouter.core.usage import Usage

IMG_A = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB"}}
IMG_B = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAIAAAAC"}}
FILE_A = {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9M"}}
AUDIO_A = {"type": "input_audio", "input_audio": {"data": "UklGRiQAAABXQVZFZm10IBAAAAABAAEA", "format": "wav"}}
TOOL = {"type": "function", "function": {"name": "get_order", "parameters": {"type": "object", "properties": {}}}}
TOOL_2 = {"type": "function", "function": {"name": "cancel_order", "parameters": {"type": "object", "properties": {}}}}
QUESTION = "What is in this picture?"
LADDER = ("cheap-model", "premium-model")


def request(**overrides: Any) -> ChatRequest:
    base: dict[str, Any] = {
        "messages": (
            {"role": "system", "content": "You are a support agent."},
            {"role": "user", "content": [{"type": "text", "text": QUESTION}, IMG_A]},
        ),
        "tenant": "acme",
        "params": {"temperature": 0.0},
    }
    base.update(overrides)
    return ChatRequest(**base)


def with_last(content: Any) -> tuple[Mapping[str, Any], ...]:
    return ({"role": "system", "content": "You are a support agent."}, {"role": "user", "content": content})


# Each variant differs from request() in exactly one part that can change the answer.
VARIANTS: dict[str, ChatRequest] = {
    "image": request(messages=with_last([{"type": "text", "text": QUESTION}, IMG_B])),
    "no_image": request(messages=with_last([{"type": "text", "text": QUESTION}])),
    "file": request(messages=with_last([{"type": "text", "text": QUESTION}, FILE_A])),
    "audio": request(messages=with_last([{"type": "text", "text": QUESTION}, AUDIO_A])),
    "part_order": request(messages=with_last([IMG_A, {"type": "text", "text": QUESTION}])),
    "system": request(messages=({"role": "system", "content": "Answer in French."}, with_last([IMG_A])[1])),
    "history": request(
        messages=(
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": [{"type": "text", "text": QUESTION}, IMG_A]},
        )
    ),
    "history_image": request(
        messages=(
            {"role": "user", "content": [IMG_B]},
            {"role": "assistant", "content": "A cat."},
            {"role": "user", "content": [{"type": "text", "text": QUESTION}, IMG_A]},
        )
    ),
    "temperature": request(params={"temperature": 0.7}),
    "stop": request(params={"temperature": 0.0, "stop": ["\n"]}),
    "logit_bias": request(params={"temperature": 0.0, "logit_bias": {"1734": -100}}),
    "reasoning_effort": request(params={"temperature": 0.0, "reasoning_effort": "high"}),
    "seed": request(params={"temperature": 0.0, "seed": 7}),
    "n": request(params={"temperature": 0.0, "n": 2}),
    "logprobs": request(params={"temperature": 0.0, "logprobs": True}),
    "max_tokens": request(params={"temperature": 0.0, "max_tokens": 5}),
    "unknown_param": request(params={"temperature": 0.0, "verbosity": "low"}),
    "tool_choice": request(params={"temperature": 0.0, "tool_choice": "required"}),
    "tools": request(tools=(TOOL,)),
    "other_tools": request(tools=(TOOL_2,)),
    "response_format": request(response_format={"type": "json_object"}),
    "user": request(user="bob"),
    "tenant": request(tenant="globex"),
}


def key(req: ChatRequest, ladder: tuple[str, ...] = LADDER, namespace: str = "default") -> str:
    return cache_scope(req, ladder=ladder, namespace=namespace).key


def test_the_base_key_is_stable() -> None:
    assert key(request()) == key(request())


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_any_one_component_changes_the_key(name: str) -> None:
    assert key(VARIANTS[name]) != key(request())


def test_ladder_and_namespace_change_the_key() -> None:
    assert key(request(), ladder=("premium-model",)) != key(request())
    assert key(request(), ladder=("cheap-model", "other-premium")) != key(request())
    assert key(request(), namespace="staging") != key(request())


def test_every_variant_has_its_own_key() -> None:
    keys = {name: key(req) for name, req in VARIANTS.items()}
    assert len(set(keys.values())) == len(keys)


def test_transport_parameters_do_not_change_the_key() -> None:
    # ChatRequest.params holds answer parameters only (answer_params drops transport keys); a
    # stream flag that still reaches the scope is not an answer parameter either.
    assert key(request(params={"temperature": 0.0, "stream": True})) == key(request())


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_engine_never_shares_an_entry_across_one_component(cache: ResponseCache, name: str) -> None:
    base, other = request(), VARIANTS[name]
    stored = cache.store(
        cache_scope(base, ladder=LADDER, namespace="default"),
        base.last_user_text,
        "It is a red bicycle.",
        model="premium-model",
        usage=Usage(10, 10),
        gate_passed=True,
    )
    assert stored.stored
    assert cache.lookup(cache_scope(base, ladder=LADDER, namespace="default"), base.last_user_text) is not None
    found = cache.find(cache_scope(other, ladder=LADDER, namespace="default"), other.last_user_text)
    assert found.hit is None and found.shadow is None


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        ("What is 2¹⁰?", "What is 210?"),
        ("def f():\n    return 1", "def f():\n  return 1"),
        ("a  b", "a b"),
        ("\uff28\uff45\uff4c\uff4c\uff4f", "Hello"),  # full-width letters: NFKC would merge them
        ("Reset my password ", "Reset my password"),
    ],
)
def test_exact_level_is_byte_exact(cache: ResponseCache, stored: str, asked: str) -> None:
    plain = ChatRequest(messages=({"role": "user", "content": stored},))
    sc = cache_scope(plain, ladder=LADDER, namespace="default")
    assert cache.store(sc, stored, "answer", model="m", gate_passed=True).stored
    hit = cache.lookup(sc, stored)
    assert hit is not None and hit.kind == "exact"
    other = cache.lookup(sc, asked)
    assert other is None or other.kind == "semantic"


def test_image_only_message_is_cached_by_its_image(cache: ResponseCache) -> None:
    only_a = request(messages=with_last([IMG_A]))
    only_b = request(messages=with_last([IMG_B]))
    sa = cache_scope(only_a, ladder=LADDER, namespace="default")
    assert cache.store(sa, "", "A cat.", model="m", gate_passed=True).stored
    hit = cache.lookup(sa, "")
    assert hit is not None and hit.text == "A cat."
    assert cache.lookup(cache_scope(only_b, ladder=LADDER, namespace="default"), "") is None


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(0, 2, allow_nan=False), st.text(max_size=4)
)
_params = st.dictionaries(
    st.sampled_from(["temperature", "top_p", "stop", "seed", "logit_bias", "n", "reasoning_effort", "x_custom"]),
    _scalars,
    max_size=5,
)


@settings(max_examples=150, deadline=None)
@given(a=_params, b=_params)
def test_keys_differ_exactly_when_answer_parameters_differ(a: dict[str, Any], b: dict[str, Any]) -> None:
    ka = key(request(params=a))
    kb = key(request(params=b))
    # the oracle: the JSON the provider would receive (so False and 0, 1 and 1.0 differ)
    clean_a = json.dumps({k: v for k, v in a.items() if v is not None}, sort_keys=True)
    clean_b = json.dumps({k: v for k, v in b.items() if v is not None}, sort_keys=True)
    assert (ka == kb) == (clean_a == clean_b)


@settings(max_examples=100, deadline=None)
@given(params=_params, user=st.one_of(st.none(), st.text(max_size=6)), tenant=st.text(min_size=1, max_size=6))
def test_keys_do_not_depend_on_dict_order_or_copies(params: dict[str, Any], user: str | None, tenant: str) -> None:
    req = request(params=params, user=user, tenant=tenant)
    reordered = request(params=dict(reversed(list(params.items()))), user=user, tenant=tenant)
    assert key(req) == key(reordered) == key(copy.deepcopy(req))


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=30), other=st.text(max_size=30))
def test_exact_key_never_merges_different_texts(text: str, other: str) -> None:
    a = request(messages=with_last([{"type": "text", "text": text}, IMG_A]))
    b = request(messages=with_last([{"type": "text", "text": other}, IMG_A]))
    # the text is the query, not the scope: one scope, and the exact level compares the texts
    assert key(a) == key(b)
    assert (a.last_user_text == b.last_user_text) == (text == other)
