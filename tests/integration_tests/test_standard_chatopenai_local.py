"""langchain-tests' standard integration suite, run by ChatOpenAI against the local server.

The server is started once per module on a fixed loopback port (cassette matching includes the
port). Only the multimodal tests are skipped: they download images, PDFs and audio from the web.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_openai import ChatOpenAI
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_costrouter.testing.server import LocalOpenAIServer, ModelScript, Script

pytestmark = pytest.mark.server

PORT = 18931
MODEL = "costrouter-local-chat"
OVERRIDE_MODEL = "costrouter-local-alt"
BASE_URL = f"http://127.0.0.1:{PORT}/v1"

SCRIPT = Script(
    models={
        MODEL: ModelScript(
            reply="Hello! I am the costrouter local model. How can I help you today?",
            confidence=0.9,
        ),
        OVERRIDE_MODEL: ModelScript(reply="Hello from the alternate model."),
    },
    strict=True,
)


@pytest.fixture(scope="module")
def vcr_config(vcr_config: dict[str, Any]) -> dict[str, Any]:
    # test_stream_time benchmarks the same recorded stream many times.
    return {**vcr_config, "allow_playback_repeats": True}


@pytest.fixture(scope="module", autouse=True)
def local_server() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(SCRIPT, port=PORT) as server:
        yield server


class TestChatOpenAIOnLocalServer(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[ChatOpenAI]:
        return ChatOpenAI

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": MODEL, "base_url": BASE_URL, "api_key": "sk-test", "stream_usage": True}

    # supports_image_inputs / supports_pdf_inputs / supports_audio_inputs and the image/PDF tool
    # message flags stay False (the suite's sanctioned way to skip; overriding a test is refused):
    # those tests first download their files from w3.org, wikimedia.org and
    # raw.githubusercontent.com, which are unreachable offline.

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str | None:
        return OVERRIDE_MODEL

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True

    @property
    def enable_vcr_tests(self) -> bool:
        return True
