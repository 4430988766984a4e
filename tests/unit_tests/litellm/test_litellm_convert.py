"""The one conversion module: LiteLLM kwargs/responses to ChatRequest / Completion / Usage."""

from __future__ import annotations

from litellm.types.utils import ModelResponse

from langchain_costrouter.core.config import CostRouterConfig
from litellm_hooks import _convert as cv
from tests.unit_tests.litellm._kwargs import deployment_kwargs, response


def test_request_from_kwargs_keeps_messages_tools_and_sampling() -> None:
    kwargs = {
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        "optional_params": {"temperature": 0.2, "max_completion_tokens": 50, "tools": [{"type": "function"}]},
        "response_format": {"type": "json_object"},
    }
    req = cv.request_from_kwargs(kwargs, request_id="r1", tenant="acme", task="t")
    assert req.last_user_text == "hi"
    assert req.system_text == "be brief"
    assert req.params == {"temperature": 0.2, "max_completion_tokens": 50, "max_tokens": 50}
    assert req.tools == ({"type": "function"},)
    assert req.response_format == {"type": "json_object"}
    assert (req.request_id, req.tenant, req.task) == ("r1", "acme", "t")


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


def test_completion_from_plain_dict_body() -> None:
    body = {"choices": [{"message": {"content": "ok"}}], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}
    c = cv.completion_from_response(body, model="m")
    assert c.text == "ok"
    assert c.usage.total_tokens == 4


def test_ids_tier_and_metadata_from_both_kwargs_shapes(config: CostRouterConfig) -> None:
    hook_kwargs = deployment_kwargs(config, "mid", trace_id="T", call_id="C")
    assert cv.trace_id(hook_kwargs) == "T"
    assert cv.call_id(hook_kwargs) == "C"
    assert cv.tier_of(hook_kwargs) == "mid"
    assert cv.model_group(hook_kwargs) == "mid"
    assert cv.attempt_key(hook_kwargs) == "C:mid"
    # a logger's model_call_details: the same under litellm_params; the payload's trace id wins
    logger_kwargs = {
        "litellm_trace_id": "other",
        "litellm_call_id": "C",
        "litellm_params": {
            "metadata": {"model_group": "mid", "tenant": "acme"},
            "model_info": hook_kwargs["model_info"],
        },
        "standard_logging_object": {"trace_id": "T"},
    }
    assert cv.trace_id(logger_kwargs) == "T"
    assert cv.tier_of(logger_kwargs) == "mid"
    assert cv.tenant_of(logger_kwargs, "default") == "acme"
    assert cv.config_id_of(logger_kwargs) == cv.config_id_of(hook_kwargs)


def test_flags() -> None:
    assert cv.is_internal({"metadata": {cv.INTERNAL_FLAG: True}})
    assert not cv.is_internal({"metadata": {}})
    assert cv.is_stream({"stream": True})
    assert cv.is_stream({"litellm_params": {"stream": True}})
    assert cv.usage_of(response("x", 4, 2)).total_tokens == 6
    assert cv.usage_of(None).total_tokens == 0
