"""The one conversion module: LiteLLM call arguments and responses to the core's shapes and back."""

from __future__ import annotations

from litellm.types.utils import ModelResponse

from langchain_costrouter.core.cascade import CascadeResult
from langchain_costrouter.core.routing import RouteDecision
from langchain_costrouter.core.types import Completion
from langchain_costrouter.core.usage import Usage
from litellm_hooks import _convert as cv


def test_request_keeps_every_answer_parameter_content_parts_tools_and_user() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "what is this?"}, image]},
    ]
    optional = {
        "temperature": 0.2,
        "max_completion_tokens": 50,
        "stop": ["\n"],
        "logit_bias": {"1": 2},
        "reasoning_effort": "low",
        "seed": 3,
        "tool_choice": "auto",
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "response_format": {"type": "json_object"},
        "user": "bob",
        "stream": True,
        "provider_specific": 7,
    }
    req = cv.request_of(messages, optional, request_id="r1", tenant="acme")
    assert req.last_user_text == "what is this?"
    assert req.messages[1]["content"][1] == image  # the image part stays in the request
    assert req.params == {
        "temperature": 0.2,
        "max_completion_tokens": 50,
        "max_tokens": 50,
        "stop": ["\n"],
        "logit_bias": {"1": 2},
        "reasoning_effort": "low",
        "seed": 3,
        "tool_choice": "auto",
        "provider_specific": 7,
    }
    assert req.tools == ({"type": "function", "function": {"name": "f"}},)
    assert req.response_format == {"type": "json_object"}
    assert (req.request_id, req.tenant, req.user) == ("r1", "acme", "bob")


def test_completion_from_model_response_with_tool_calls_and_logprobs() -> None:
    resp = ModelResponse(
        choices=[
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
                    ],
                },
                "logprobs": {"content": [{"token": "x", "logprob": -0.1, "top_logprobs": []}]},
            }
        ],
        usage={
            "prompt_tokens": 30,
            "completion_tokens": 5,
            "total_tokens": 35,
            "prompt_tokens_details": {"cached_tokens": 10},
        },
    )
    c = cv.completion_from_response(resp, model="openai/m")
    assert c.text == ""
    assert c.finish_reason == "tool_calls"
    assert c.tool_calls[0]["function"] == {"name": "f", "arguments": '{"a": 1}'}
    assert c.logprobs == (-0.1,)
    assert (c.usage.input_tokens, c.usage.output_tokens, c.usage.cached_tokens) == (30, 5, 10)
    assert c.raw is resp


def test_response_of_a_cache_hit_carries_the_trail_and_the_cost() -> None:
    completion = Completion(text="cached answer", model="openai/m", usage=Usage(), raw={"cache": True})
    result = CascadeResult(
        "r9", completion, "cheap", (), RouteDecision(None, ("cheap",), "default"), 0.0, True, cache={"kind": "exact"}
    )
    resp = cv.response_of(result, model_name="m")
    assert resp.choices[0].message.content == "cached answer"
    assert resp.model == "m"
    assert resp._hidden_params["costrouter"]["cache"] == {"kind": "exact"}
    assert resp._hidden_params["response_cost"] == 0.0


def test_generic_chunk_and_metadata_helpers() -> None:
    from litellm.types.utils import ModelResponseStream

    chunk = ModelResponseStream(choices=[{"index": 0, "delta": {"content": "he"}}])
    assert cv.generic_chunk(chunk)["text"] == "he"
    assert cv.metadata_of({"litellm_params": {"metadata": {"a": 1}}, "metadata": {"b": 2}}) == {"a": 1, "b": 2}
    assert cv.is_internal({"metadata": {cv.INTERNAL_FLAG: True}})
    assert not cv.is_internal({"metadata": {}})
    assert cv.usage_of(None).total_tokens == 0
