"""langchain-tests' standard integration suite for ChatCostRouter, replayed from cassettes.

Every tier of the cascade is a model of the project's local OpenAI-compatible server. The
cheap tier is gated, so requests whose cheap answer is too short escalate to the next tier,
and the suite exercises the cascade, not a single model. ``make record`` re-records the
cassettes (the server then runs on a fixed loopback port); CI replays them with sockets
disabled. Skipped suite tests are listed in the README with their reasons.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_costrouter import ChatCostRouter, CostRouterConfig
from langchain_costrouter.testing.server import LocalOpenAIServer, ModelScript, ReplyRule, Script
from tests.integration_tests.conftest import recording

pytestmark = pytest.mark.vcr

PORT = 18932
BASE_URL = f"http://127.0.0.1:{PORT}/v1"

SCRIPT = Script(
    models={
        # The cheap model gives a one-word answer to greetings: its gate rejects it.
        "local-cheap": ModelScript(
            reply="Hello! I am the cheap local model. How can I help you today?",
            rules=(ReplyRule(reply="Hi.", regex=r"(?i)^\s*hello\s*$"),),
        ),
        "local-mid": ModelScript(reply="Hello! I am the mid local model. How can I help you today?"),
        "local-premium": ModelScript(reply="Hello! I am the premium local model. How can I help you today?"),
    },
    strict=True,
)

CONFIG = CostRouterConfig.from_dict(
    {
        "tiers": [
            {
                "name": "cheap",
                "model": "openai/local-cheap",
                "api_base": BASE_URL,
                "price": {"input": 0.1, "output": 0.4},
                "gate": {"type": "heuristic", "min_chars": 12},
            },
            {
                "name": "mid",
                "model": "openai/local-mid",
                "api_base": BASE_URL,
                "price": {"input": 1.0, "output": 4.0},
                "gate": {"type": "heuristic", "min_chars": 12},
            },
            {
                "name": "premium",
                "model": "openai/local-premium",
                "api_base": BASE_URL,
                "price": {"input": 10.0, "output": 40.0},
            },
        ],
        "ledger": {"backend": "memory"},
    }
)


@pytest.fixture(scope="module")
def vcr_config(vcr_config: dict[str, Any]) -> dict[str, Any]:
    # test_stream_time replays the same recorded stream many times.
    return {**vcr_config, "allow_playback_repeats": True}


@pytest.fixture(scope="module", autouse=True)
def local_server(request: pytest.FixtureRequest) -> Iterator[LocalOpenAIServer | None]:
    if not recording(request):
        yield None
        return
    with LocalOpenAIServer(SCRIPT, port=PORT) as server:
        yield server


class TestChatCostRouterIntegration(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[ChatCostRouter]:
        return ChatCostRouter

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"config": CONFIG}

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True

    @property
    def enable_vcr_tests(self) -> bool:
        return True
