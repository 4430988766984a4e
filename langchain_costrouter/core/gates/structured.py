"""The request's own output contract, checked on every tier's answer before its gate.

A request that asks for structured output says what a usable answer is, whatever gate (if any)
the tier has:

- ``response_format: {"type": "json_schema", "json_schema": {"schema": ...}}`` (or a pydantic
  model class, as LiteLLM accepts): the answer must be JSON (a Markdown fence around it is
  tolerated, as LangChain's parsers do) that validates against the schema;
- ``response_format: {"type": "json_object"}``: the answer must be a JSON object;
- ``tool_choice`` forcing one function (``{"type": "function", "function": {"name": ...}}``) or
  any function (``"required"``/``"any"``: what LangChain's
  ``with_structured_output(method="function_calling")`` sends): the answer must call it (one of
  them), and every call's arguments must validate against its tool's ``parameters``.

:func:`contract_problem` says why an answer breaks the contract; the request pipeline turns that
into a rejection (gate ``"response_format"``, score 0) that escalates like any other, before the
tier's own gate (and its judge) runs. A schema that is itself invalid is not the answer's fault:
it is logged and not enforced.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from langchain_costrouter.core.gates.base import GateVerdict
from langchain_costrouter.core.gates.validators import extract_json
from langchain_costrouter.core.types import ChatRequest, Completion

__all__ = ["CONTRACT_GATE", "contract_problem", "contract_verdict", "schema_problem"]

logger = logging.getLogger(__name__)

CONTRACT_GATE = "response_format"
"""The gate name of a contract rejection (in the ledger's ``extra.gate`` and the trail)."""


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Any:
    import jsonschema

    schema = json.loads(schema_json)
    try:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        logger.warning("the request's JSON schema is invalid, answers are not checked against it: %s", exc.message)
        return None
    return cls(schema)


def schema_problem(data: Any, schema: Any) -> str | None:
    """Why ``data`` does not validate against the JSON ``schema`` (``None``: it does, or no usable schema)."""
    if not isinstance(schema, Mapping) or not schema:
        return None
    try:
        validator = _validator(json.dumps(schema, sort_keys=True, default=str))
    except (TypeError, ValueError):
        return None
    if validator is None:
        return None
    err = next(iter(validator.iter_errors(data)), None)
    if err is None:
        return None
    where = "/".join(str(p) for p in err.absolute_path)
    return f"does not match the schema{' at ' + where if where else ''}: {err.message}"


def _format_schema(fmt: Any) -> tuple[str, Any] | None:
    """``(kind, schema)`` of a ``response_format``: kind ``json_schema`` or ``json_object``."""
    if isinstance(fmt, type) and hasattr(fmt, "model_json_schema"):
        return "json_schema", fmt.model_json_schema()
    if not isinstance(fmt, Mapping):
        return None
    kind = fmt.get("type")
    if kind == "json_object":
        return "json_object", None
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        return "json_schema", spec.get("schema") if isinstance(spec, Mapping) else None
    return None


def _required_functions(request: ChatRequest) -> set[str] | None:
    """The functions the answer must call one of (``None``: no call is required)."""
    choice = request.params.get("tool_choice")
    offered = {str((t.get("function") or {}).get("name")) for t in request.tools if isinstance(t, Mapping)}
    if isinstance(choice, Mapping):
        fn = choice.get("function")
        name = fn.get("name") if isinstance(fn, Mapping) else None
        return {name} if isinstance(name, str) else None
    if choice in {"required", "any"}:
        return offered or None
    if isinstance(choice, str) and choice not in {"auto", "none"}:
        return {choice}
    return None


def _tool_parameters(request: ChatRequest, name: str) -> Any:
    for tool in request.tools:
        fn = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(fn, Mapping) and fn.get("name") == name:
            return fn.get("parameters")
    return None


def _tool_problem(request: ChatRequest, completion: Completion, required: set[str]) -> str | None:
    calls = [c for c in completion.tool_calls if (c.get("function") or {}).get("name") in required]
    if not calls:
        return f"the answer does not call the required function ({', '.join(sorted(required))})"
    for call in calls:
        name = call["function"]["name"]
        args = call["function"].get("arguments", "")
        try:
            data = json.loads(args) if isinstance(args, str) else args
        except ValueError:
            return f"the arguments of {name!r} are not JSON"
        problem = schema_problem(data, _tool_parameters(request, name))
        if problem:
            return f"the arguments of {name!r} {problem}"
    return None


def contract_problem(request: ChatRequest, completion: Completion) -> str | None:
    """Why ``completion`` breaks the output contract of ``request`` (see the module docstring), or ``None``."""
    required = _required_functions(request) if request.tools else None
    if required:
        return _tool_problem(request, completion, required)
    spec = _format_schema(request.response_format)
    if spec is None or (completion.tool_calls and not completion.text.strip()):
        return None
    kind, schema = spec
    try:
        data = extract_json(completion.text)
    except ValueError:
        return "the answer is not JSON"
    if kind == "json_object":
        return None if isinstance(data, dict) else "the answer is not a JSON object"
    problem = schema_problem(data, schema)
    return f"the answer {problem}" if problem else None


def contract_verdict(request: ChatRequest, completion: Completion) -> GateVerdict | None:
    """A rejection when ``completion`` breaks the request's output contract; ``None`` when it keeps it."""
    problem = contract_problem(request, completion)
    return None if problem is None else GateVerdict(0.0, False, CONTRACT_GATE, problem)
