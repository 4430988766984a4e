# ruff: noqa: E402 - the optional aiohttp is checked (with a one-line error) before the modules needing it
"""Local OpenAI-compatible servers for tests, cassettes, benchmarks and demos (framework-neutral).

- :class:`LocalOpenAIServer`: scripted models (fixed replies, rules, echo, tool calls, JSON
  output, logprobs, latency) and deterministic faults, in a background thread. Its ``bill`` is
  its own bill (:class:`BillLog`); its ``chaos`` draws random faults (:class:`RandomFaults`).
- :class:`AsyncLocalOpenAIServer`: the same in the caller's event loop.
- :class:`ReplayScript` / :meth:`LocalOpenAIServer.replay`: recorded answers from a RouteLLM CSV,
  404 ``replay_not_found`` for anything not recorded.

Endpoints: ``POST /v1/chat/completions`` (JSON and SSE), ``GET /v1/models``, ``GET /health``.
"""

from __future__ import annotations

from langchain_costrouter.core._optional import require

require("aiohttp", extra="offline", feature="the local OpenAI-compatible server")

from langchain_costrouter.testing.server._app import RequestLog
from langchain_costrouter.testing.server._bill import DEFAULT_TAG_PATTERN, BillLine, BillLog
from langchain_costrouter.testing.server._faults import FAULT_HEADER, FaultSpec, RandomFaults, parse_fault_string
from langchain_costrouter.testing.server._replay import ReplayRecord, ReplayScript
from langchain_costrouter.testing.server._schema_fake import MessageHints, fake_instance
from langchain_costrouter.testing.server._script import ModelScript, ReplyRule, Script
from langchain_costrouter.testing.server._server import (
    AsyncLocalOpenAIServer,
    LocalOpenAIServer,
    ScriptLike,
    make_responder,
)

__all__ = [
    "DEFAULT_TAG_PATTERN",
    "FAULT_HEADER",
    "AsyncLocalOpenAIServer",
    "BillLine",
    "BillLog",
    "FaultSpec",
    "LocalOpenAIServer",
    "MessageHints",
    "ModelScript",
    "RandomFaults",
    "ReplayRecord",
    "ReplayScript",
    "ReplyRule",
    "RequestLog",
    "Script",
    "ScriptLike",
    "fake_instance",
    "make_responder",
    "parse_fault_string",
]
