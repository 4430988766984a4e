"""LiteLLM-shaped kwargs and responses for unit tests (the shapes the hooks receive)."""

from __future__ import annotations

import uuid
from typing import Any

from litellm.types.utils import ModelResponse

from langchain_costrouter.core.config import CostRouterConfig
from litellm_hooks.router import build_model_list


def deployment_kwargs(
    config: CostRouterConfig,
    group: str,
    text: str = "What is the capital of France?",
    *,
    trace_id: str | None = None,
    call_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    dep = next(d for d in build_model_list(config) if d["model_name"] == group)
    trace = trace_id or uuid.uuid4().hex
    return {
        "model": dep["litellm_params"]["model"],
        "messages": [{"role": "user", "content": text}],
        "metadata": {"model_group": group},
        "model_info": dep["model_info"],
        "litellm_trace_id": trace,
        "litellm_call_id": call_id or uuid.uuid4().hex,
        **extra,
    }


def response(text: str, prompt_tokens: int = 10, completion_tokens: int = 12) -> ModelResponse:
    return ModelResponse(
        choices=[{"message": {"role": "assistant", "content": text}, "finish_reason": "stop", "index": 0}],
        usage={
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    )
