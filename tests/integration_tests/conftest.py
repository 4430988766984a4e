"""Integration tests: real HTTP against the project's own servers on loopback, or cassettes.

- Tests marked ``vcr`` replay cassettes recorded from the local servers. In the default
  ``--record-mode=none`` sockets are disabled entirely, so a cassette miss fails loudly instead
  of reaching a server. ``make record`` re-records them (``--record-mode=rewrite``), which
  starts the local servers on their fixed ports.
- Other tests (marked ``server`` or ``proxy``) talk to live processes on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import pytest_socket

SECRET_HEADERS = [
    "authorization",
    "api-key",
    "x-api-key",
    "cookie",
    "set-cookie",
    "openai-organization",
    "openai-project",
]


_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.IGNORECASE)


def _normalise(value: Any, ids: dict[str, str]) -> Any:
    """Replaces random UUIDs (tool-call ids made by LangChain helpers) with stable placeholders."""
    if isinstance(value, dict):
        return {k: _normalise(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v, ids) for v in value]
    if isinstance(value, str) and _UUID.match(value):
        return ids.setdefault(value, f"<uuid-{len(ids)}>")
    return value


def _json_body(r1: Any, r2: Any) -> None:
    """Body matcher: JSON bodies compare equal up to random UUIDs; other bodies byte for byte."""
    b1, b2 = r1.body or b"", r2.body or b""
    try:
        j1, j2 = json.loads(b1), json.loads(b2)
    except (ValueError, UnicodeDecodeError):
        assert b1 == b2
        return
    assert _normalise(j1, {}) == _normalise(j2, {})


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    vcr.register_matcher("json_body", _json_body)


def recording(request: pytest.FixtureRequest) -> bool:
    """True when cassettes are being (re-)recorded, i.e. live servers must run."""
    return str(request.config.getoption("--record-mode", default="none")) != "none"


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {
        "filter_headers": SECRET_HEADERS,
        "filter_query_parameters": ["api_key", "key"],
        "decode_compressed_response": True,
        "match_on": ["method", "scheme", "host", "port", "path", "query", "json_body"],
        "record_on_exception": False,
    }


@pytest.fixture(autouse=True)
def _network_policy(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("vcr") is not None and not recording(request):
        pytest_socket.disable_socket(allow_unix_socket=True)
    else:
        pytest_socket.socket_allow_hosts(["127.0.0.1", "localhost", "::1"], allow_unix_socket=True)
    yield
    pytest_socket.enable_socket()
