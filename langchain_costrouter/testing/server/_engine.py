"""What the server answers: responders (scripted or replayed) and the shared finishing step.

A :class:`Responder` turns a validated :class:`ChatCall` into a :class:`Plan` (which faults,
delays and encoding apply, and how to compose the answer). :func:`finish_reply` then applies
``stop`` sequences and ``max_tokens`` and counts usage the same way for every responder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from langchain_costrouter.core.tokens import count_message_tokens, count_tokens, encoding_for_model, truncate_tokens
from langchain_costrouter.testing.server._faults import FaultSpec
from langchain_costrouter.testing.server._request import ChatCall, message_text
from langchain_costrouter.testing.server._schema_fake import MessageHints, fake_instance, json_object_for
from langchain_costrouter.testing.server._script import ModelScript, Script, resolve_model_name
from langchain_costrouter.testing.server._wire import Reply, ServerFailure, tool_call_id

__all__ = ["Draft", "Plan", "Responder", "ScriptResponder", "finish_reply", "model_not_found"]

_TOOL_RESULT_CHARS = 200
_EMPTY_ECHO = "OK."


@dataclass(frozen=True, slots=True)
class Draft:
    """An answer before ``stop``/``max_tokens`` and usage are applied."""

    content: str | None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str = "stop"
    confidence: float = 0.9


@dataclass(frozen=True, slots=True)
class Plan:
    """How one request is served.

    Attributes:
        key: Name the fault counters are kept under (the resolved model).
        faults: Scripted faults of that model.
        latency_s: Delay before answering.
        token_delay_s: Delay between streamed chunks.
        encoding: tiktoken encoding for usage.
        compose: Builds the answer.
    """

    key: str
    compose: Callable[[ChatCall], Draft]
    encoding: str
    faults: tuple[FaultSpec, ...] = ()
    latency_s: float = 0.0
    token_delay_s: float = 0.0


class Responder(Protocol):
    """Something that knows what each model answers."""

    system_fingerprint: str

    def model_names(self) -> list[str]:
        """Models listed by ``GET /v1/models``."""
        ...

    def plan(self, call: ChatCall) -> Plan:
        """How to serve ``call``; raises :class:`ServerFailure` (404) for an unknown model."""
        ...


def model_not_found(model: str) -> ServerFailure:
    """OpenAI's 404 for a model that does not exist."""
    return ServerFailure(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
        param="model",
    )


def _chosen_tool(call: ChatCall) -> tuple[Mapping[str, Any], bool]:
    """The tool to call and whether the caller forced it by name."""
    by_name = {str(t["function"].get("name")): t for t in call.tools}
    choice = call.tool_choice
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        fn = choice.get("function")
        name = str(fn.get("name")) if isinstance(fn, Mapping) else ""
        if name not in by_name:
            msg = f"Invalid 'tool_choice': function {name!r} is not among the tools."
            raise ServerFailure(400, msg, param="tool_choice", code="invalid_value")
        return by_name[name], True
    text = call.user_text
    mentioned = [(text.find(n), n) for n in by_name if n and n in text]
    if mentioned:
        return by_name[min(mentioned)[1]], False
    return call.tools[0], False


def _tool_call_draft(call: ChatCall, confidence: float) -> Draft:
    tool, forced = _chosen_tool(call)
    fn = tool["function"]
    params = fn.get("parameters")
    schema = params if isinstance(params, Mapping) else {"type": "object", "properties": {}}
    args = fake_instance(schema, MessageHints(call.user_text))
    if not isinstance(args, dict):
        args = {}
    seed = json.dumps(call.body, sort_keys=True, default=str)
    entry = {
        "id": tool_call_id(seed),
        "type": "function",
        "function": {"name": str(fn.get("name")), "arguments": json.dumps(args, ensure_ascii=False)},
    }
    # OpenAI reports "stop" when a named function was forced, "tool_calls" otherwise.
    return Draft(None, [entry], "stop" if forced else "tool_calls", confidence)


def _after_tool_text(call: ChatCall) -> str:
    last = call.messages[-1]
    name = last.get("name")
    call_id = last.get("tool_call_id")
    if not name and call_id:
        for msg in call.messages:
            for tc in msg.get("tool_calls") or []:
                if isinstance(tc, Mapping) and tc.get("id") == call_id:
                    name = (tc.get("function") or {}).get("name")
    result = message_text(last.get("content")).strip()
    if len(result) > _TOOL_RESULT_CHARS:
        result = result[:_TOOL_RESULT_CHARS] + "..."
    label = f"The {name} tool" if name else "The tool"
    return f"{label} returned: {result}" if result else f"{label} returned no output."


def _json_content(call: ChatCall, text: str, scripted: bool) -> str | None:
    fmt = call.response_format
    kind = fmt.get("type") if fmt else None
    if kind not in {"json_schema", "json_object"} or fmt is None:
        return None
    if scripted:
        try:
            if isinstance(json.loads(text), dict):
                return text
        except ValueError:
            pass
    if kind == "json_object":
        return json.dumps(json_object_for(call.user_text, text), ensure_ascii=False)
    spec = fmt.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, Mapping) else None
    if not isinstance(schema, Mapping):
        raise ServerFailure(400, "Invalid 'response_format.json_schema.schema'.", param="response_format")
    return json.dumps(fake_instance(schema, MessageHints(call.user_text)), ensure_ascii=False)


def compose_scripted(behaviour: ModelScript, call: ChatCall) -> Draft:
    """The answer of a scripted model (tool call, JSON, text after a tool result, or text)."""
    after_tool = call.last_role in {"tool", "function"}
    if call.tools and call.tool_choice != "none" and not after_tool and behaviour.tool_calls:
        return _tool_call_draft(call, behaviour.confidence)
    if after_tool:
        return Draft(_after_tool_text(call), confidence=behaviour.confidence)
    text, confidence, scripted = behaviour.choose(call.user_text)
    json_text = _json_content(call, text, scripted)
    if json_text is not None:
        return Draft(json_text, confidence=confidence)
    return Draft(text or _EMPTY_ECHO, confidence=confidence)


class ScriptResponder:
    """Serves a :class:`Script`."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.system_fingerprint = script.system_fingerprint

    def model_names(self) -> list[str]:
        """The models the script lists."""
        return self.script.model_names()

    def plan(self, call: ChatCall) -> Plan:
        """The plan for ``call``; 404 ``model_not_found`` for an unknown model of a strict script."""
        behaviour = self.script.model(call.model)
        if behaviour is None:
            raise model_not_found(call.model)
        return Plan(
            key=resolve_model_name(call.model, self.script.models) or call.model,
            compose=lambda c: compose_scripted(behaviour, c),
            encoding=behaviour.encoding or encoding_for_model(call.model),
            faults=behaviour.faults,
            latency_s=behaviour.latency_s,
            token_delay_s=behaviour.token_delay_s,
        )


def _cut_at_stop(text: str, stops: list[str]) -> str:
    cut = len(text)
    for s in stops:
        pos = text.find(s)
        if 0 <= pos < cut:
            cut = pos
    return text[:cut]


def finish_reply(call: ChatCall, plan: Plan, draft: Draft, system_fingerprint: str) -> Reply:
    """Applies ``stop`` and ``max_tokens`` to ``draft`` and counts usage."""
    enc = plan.encoding
    finish = draft.finish_reason
    content = draft.content
    tool_calls = [dict(tc, function=dict(tc["function"])) for tc in draft.tool_calls]
    if content is not None:
        content = _cut_at_stop(content, call.stop)
        if call.max_tokens is not None:
            content, cut = truncate_tokens(content, call.max_tokens, enc)
            finish = "length" if cut else finish
        completion = count_tokens(content, enc)
    else:
        completion = 0
        for tc in tool_calls:
            fn = tc["function"]
            completion += count_tokens(fn["name"], enc)
            if call.max_tokens is not None:
                fn["arguments"], cut = truncate_tokens(fn["arguments"], max(0, call.max_tokens - completion), enc)
                finish = "length" if cut else finish
            completion += count_tokens(fn["arguments"], enc)
    return Reply(
        model=call.model,
        content=content,
        tool_calls=tool_calls,
        finish_reason=finish,
        confidence=draft.confidence,
        encoding=enc,
        prompt_tokens=count_message_tokens(call.messages, enc, tools=call.tools or None),
        completion_tokens=completion,
        system_fingerprint=system_fingerprint,
        logprobs=call.logprobs,
        top_logprobs=call.top_logprobs,
    )
