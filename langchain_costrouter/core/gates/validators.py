"""Validator gates: regex, JSON Schema, pydantic model, any callable.

Scores are 0 or 1 (a callable may return a score in [0, 1]).
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from langchain_costrouter.core.errors import GateError
from langchain_costrouter.core.gates.base import BaseGate
from langchain_costrouter.core.types import ChatRequest, Completion

__all__ = ["CallableGate", "JsonSchemaGate", "PydanticGate", "RegexGate", "extract_json", "import_object"]

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL | re.IGNORECASE)


def import_object(target: str) -> Any:
    """Imports ``package.module:attribute``.

    Raises:
        GateError: the module or attribute does not exist.
    """
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        msg = f"cannot import {module_name!r} for gate target {target!r}: {exc}"
        raise GateError(msg) from exc
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            msg = f"{module_name!r} has no attribute {attr!r} (gate target {target!r})"
            raise GateError(msg) from exc
    return obj


def extract_json(text: str) -> Any:
    """Parses a JSON answer, tolerating a Markdown code fence around it.

    Raises:
        ValueError: the text is not JSON.
    """
    stripped = text.strip()
    m = _FENCE.match(stripped)
    if m:
        stripped = m.group(1)
    return json.loads(stripped)


def _answer_payload(completion: Completion) -> str:
    if completion.tool_calls:
        fn = completion.tool_calls[0].get("function") or {}
        args = fn.get("arguments", completion.tool_calls[0].get("args", ""))
        return args if isinstance(args, str) else json.dumps(args)
    return completion.text


class RegexGate(BaseGate):
    """Passes when ``pattern`` matches (if given) and ``forbid`` does not (if given)."""

    name = "regex"

    def __init__(self, pattern: str | None = None, forbid: str | None = None, *, threshold: float = 0.5) -> None:
        super().__init__(threshold)
        if pattern is None and forbid is None:
            msg = "a regex gate needs a pattern or a forbid pattern"
            raise GateError(msg)
        self.pattern = re.compile(pattern, re.DOTALL) if pattern else None
        self.forbid = re.compile(forbid, re.DOTALL) if forbid else None

    def score(self, request: ChatRequest, completion: Completion) -> float:
        text = completion.text
        if self.pattern is not None and not self.pattern.search(text):
            return 0.0
        if self.forbid is not None and self.forbid.search(text):
            return 0.0
        return 1.0


class JsonSchemaGate(BaseGate):
    """Passes when the answer (or the first tool call's arguments) is JSON valid for a schema."""

    name = "json_schema"

    def __init__(self, schema: Mapping[str, Any], *, threshold: float = 0.5) -> None:
        super().__init__(threshold)
        import jsonschema

        try:
            validator_cls = jsonschema.validators.validator_for(schema)
            validator_cls.check_schema(schema)
        except jsonschema.SchemaError as exc:
            msg = f"invalid JSON schema for gate: {exc.message}"
            raise GateError(msg) from exc
        self._validator = validator_cls(schema)

    def score(self, request: ChatRequest, completion: Completion) -> float:
        try:
            data = extract_json(_answer_payload(completion))
        except ValueError:
            return 0.0
        return 1.0 if self._validator.is_valid(data) else 0.0

    def reason(self, request: ChatRequest, completion: Completion, score: float) -> str:
        if score >= 1.0:
            return "valid"
        try:
            data = extract_json(_answer_payload(completion))
        except ValueError:
            return "not JSON"
        err = next(iter(self._validator.iter_errors(data)), None)
        return f"schema: {err.message}" if err is not None else "invalid"


class PydanticGate(BaseGate):
    """Passes when the answer parses as a pydantic model (``Model.model_validate_json``)."""

    name = "pydantic"

    def __init__(self, model: type[Any] | str, *, threshold: float = 0.5) -> None:
        super().__init__(threshold)
        cls = import_object(model) if isinstance(model, str) else model
        if not hasattr(cls, "model_validate_json"):
            msg = f"{cls!r} is not a pydantic v2 model"
            raise GateError(msg)
        self.model = cls

    def score(self, request: ChatRequest, completion: Completion) -> float:
        payload = _answer_payload(completion).strip()
        m = _FENCE.match(payload)
        try:
            self.model.model_validate_json(m.group(1) if m else payload)
        except ValueError:  # pydantic.ValidationError derives from ValueError
            return 0.0
        return 1.0


class CallableGate(BaseGate):
    """Wraps a function ``f(question, answer) -> bool | float`` (or ``f(request, completion)``).

    The function is called with the question text and answer text when it takes two
    parameters named anything but ``request``/``completion``; with the core objects otherwise.
    """

    name = "callable"

    def __init__(self, func: Callable[..., Any] | str, *, threshold: float = 0.5) -> None:
        super().__init__(threshold)
        fn = import_object(func) if isinstance(func, str) else func
        if not callable(fn):
            msg = f"gate target {func!r} is not callable"
            raise GateError(msg)
        self.func: Callable[..., Any] = fn
        params = list(inspect.signature(fn).parameters)
        self._core_args = params[:2] == ["request", "completion"]

    def score(self, request: ChatRequest, completion: Completion) -> float:
        if self._core_args:
            out = self.func(request, completion)
        else:
            out = self.func(request.last_user_text, completion.text)
        if isinstance(out, bool):
            return 1.0 if out else 0.0
        if isinstance(out, int | float):
            return float(out)
        msg = f"gate callable returned {type(out).__name__}, expected bool or float"
        raise GateError(msg)
