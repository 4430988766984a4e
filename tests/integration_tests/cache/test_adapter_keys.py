"""Both adapters: two requests that differ in any one part that can change the answer never share a cache entry.

Each adapter (``ChatCostRouter`` and the LiteLLM SDK Router, each with its own cache) stores one
answer, serves its exact repeat from the cache, then sees variants of the request that differ in
one component (an image part, stop, logit_bias, reasoning_effort, seed, response_format, tools,
tool_choice, user, tenant): every variant must reach the model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from langchain_costrouter import ChatCostRouter, CostRouterConfig
from langchain_costrouter.core.ledger import MemoryLedger
from langchain_costrouter.testing.server import LocalOpenAIServer, ModelScript, Script

pytestmark = pytest.mark.server

ANSWER = "Refunds are issued within five working days to the original payment method."
QUESTION = "How long does a refund take?"
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
IMAGE_A = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9aw"
    "AAAABJRU5ErkJggg=="
)
IMAGE_B = IMAGE_A.replace("R42mNk", "R42mPk")

# name -> (extra call parameters, tenant, image url)
VARIANTS: dict[str, tuple[dict[str, Any], str | None, str | None]] = {
    "image_a": ({}, None, IMAGE_A),
    "image_b": ({}, None, IMAGE_B),
    "stop": ({"stop": ["\n"]}, None, None),
    "logit_bias": ({"logit_bias": {"1734": -100}}, None, None),
    "reasoning_effort": ({"reasoning_effort": "low"}, None, None),
    "seed": ({"seed": 7}, None, None),
    "response_format": ({"response_format": {"type": "json_object"}}, None, None),
    "tools": ({"tools": [TOOL]}, None, None),
    "tool_choice": ({"tools": [TOOL], "tool_choice": "none"}, None, None),
    "user": ({"user": "bob"}, None, None),
    "tenant": ({}, "globex", None),
}


@pytest.fixture(scope="module")
def server() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(Script(models={"m": ModelScript(reply=ANSWER)}, strict=False)) as srv:
        yield srv


def _config(server: LocalOpenAIServer, folder: Path) -> CostRouterConfig:
    return CostRouterConfig.from_dict(
        {
            "tiers": [
                {"name": "only", "model": "openai/m", "api_base": server.base_url, "price": {"input": 1, "output": 2}}
            ],
            "cache": {"enabled": True, "dir": str(folder / "cache")},
            "ledger": {"backend": "memory"},
        }
    )


def _langchain(server: LocalOpenAIServer, folder: Path) -> Callable[..., Any]:
    llm = ChatCostRouter(config=_config(server, folder), ledger=MemoryLedger())

    def ask(params: dict[str, Any], tenant: str | None, image: str | None) -> Any:
        content: Any = QUESTION
        if image is not None:
            content = [{"type": "text", "text": QUESTION}, {"type": "image_url", "image_url": {"url": image}}]
        config: Any = {"metadata": {"tenant": tenant}} if tenant else None
        msg = llm.invoke([("user", content)], config=config, **params)
        return msg.response_metadata["costrouter"]["cache"]

    return ask


def _litellm(server: LocalOpenAIServer, folder: Path) -> Callable[..., Any]:
    from litellm_hooks import CostRouterHooks, build_router

    hooks = CostRouterHooks(_config(server, folder), ledger=MemoryLedger())
    router = build_router(hooks.config, hooks=hooks)

    def ask(params: dict[str, Any], tenant: str | None, image: str | None) -> Any:
        content: Any = QUESTION
        if image is not None:
            content = [{"type": "text", "text": QUESTION}, {"type": "image_url", "image_url": {"url": image}}]
        extra = {"metadata": {"costrouter_tenant": tenant}} if tenant else {}
        resp = router.completion(model="costrouter", messages=[{"role": "user", "content": content}], **extra, **params)
        return resp._hidden_params["costrouter"]["cache"]

    return ask


@pytest.mark.parametrize("adapter", [_langchain, _litellm], ids=["langchain", "litellm"])
def test_any_one_key_component_is_another_entry(
    server: LocalOpenAIServer, tmp_path: Path, adapter: Callable[..., Callable[..., Any]]
) -> None:
    ask = adapter(server, tmp_path)
    assert ask({}, None, None) is None  # stored
    assert ask({}, None, None)["kind"] == "exact"  # its exact repeat is served from the cache
    for name, (params, tenant, image) in VARIANTS.items():
        before = len(server.requests)
        assert ask(params, tenant, image) is None, f"{name}: served another request's entry"
        assert len(server.requests) == before + 1, name
    # the image variants are two entries: each of them is served back to itself only
    assert ask({}, None, IMAGE_A)["kind"] == "exact"
    assert ask({}, None, IMAGE_B)["kind"] == "exact"
