"""Builds gates from :class:`GateSpec` config entries."""

from __future__ import annotations

from collections.abc import Callable

from langchain_costrouter.core.client import ModelClient
from langchain_costrouter.core.config import GateSpec
from langchain_costrouter.core.errors import GateError
from langchain_costrouter.core.gates.base import AlwaysPass, BaseGate
from langchain_costrouter.core.gates.composite import AllOfGate
from langchain_costrouter.core.gates.heuristic import HeuristicGate
from langchain_costrouter.core.gates.judge import JudgeGate
from langchain_costrouter.core.gates.logprob import LogprobGate
from langchain_costrouter.core.gates.validators import CallableGate, JsonSchemaGate, PydanticGate, RegexGate

__all__ = ["JudgeClientFactory", "build_gate"]

JudgeClientFactory = Callable[[str], ModelClient]
"""Returns a client for a tier/model name (the adapter knows how to call it)."""


def build_gate(spec: GateSpec | None, *, judge_clients: JudgeClientFactory | None = None) -> BaseGate:
    """The gate a spec describes; ``None`` means no gate (always pass).

    Raises:
        GateError: the spec cannot be built (missing judge client, bad target, bad gate file).
    """
    t = 0.5 if spec is None or spec.threshold is None else spec.threshold
    if spec is None or spec.type == "none":
        base: BaseGate = AlwaysPass()
    elif spec.type == "heuristic":
        base = HeuristicGate(
            1.0 if spec.threshold is None else t, min_chars=spec.min_chars, min_overlap=spec.min_overlap
        )
    elif spec.type == "regex":
        base = RegexGate(spec.pattern, spec.forbid, threshold=t)
    elif spec.type == "json_schema":
        base = JsonSchemaGate(spec.json_schema or {}, threshold=t)
    elif spec.type == "pydantic":
        base = PydanticGate(spec.target or "", threshold=t)
    elif spec.type == "callable":
        base = CallableGate(spec.target or "", threshold=t)
    elif spec.type == "logprob":
        base = LogprobGate(t, aggregate=spec.aggregate)
    elif spec.type == "judge":
        if judge_clients is None:
            msg = "a judge gate needs a model client factory (the adapter provides it)"
            raise GateError(msg)
        base = JudgeGate(
            judge_clients(spec.judge_model or ""), threshold=0.7 if spec.threshold is None else t, prompt=spec.prompt
        )
    elif spec.type == "learned":
        from langchain_costrouter.core.gates.learned import LearnedGate

        base = LearnedGate.load(spec.path or "", threshold=spec.threshold)
    else:  # pragma: no cover - GateSpec.type is a closed Literal
        msg = f"unknown gate type {spec.type!r}"
        raise GateError(msg)
    if spec is not None and spec.all_of:
        parts = [build_gate(s, judge_clients=judge_clients) for s in spec.all_of]
        return AllOfGate([base, *parts]) if spec.type != "none" else AllOfGate(parts)
    return base
