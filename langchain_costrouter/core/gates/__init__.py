"""Quality gates: heuristic, validators, LLM judge, logprob confidence, learned."""

from __future__ import annotations

from langchain_costrouter.core.gates.base import AlwaysPass, BaseGate, GateVerdict
from langchain_costrouter.core.gates.composite import AllOfGate
from langchain_costrouter.core.gates.factory import build_gate
from langchain_costrouter.core.gates.heuristic import HeuristicGate
from langchain_costrouter.core.gates.judge import JudgeGate
from langchain_costrouter.core.gates.logprob import LogprobGate
from langchain_costrouter.core.gates.validators import CallableGate, JsonSchemaGate, PydanticGate, RegexGate

__all__ = [
    "AllOfGate",
    "AlwaysPass",
    "BaseGate",
    "CallableGate",
    "GateVerdict",
    "HeuristicGate",
    "JsonSchemaGate",
    "JudgeGate",
    "LogprobGate",
    "PydanticGate",
    "RegexGate",
    "build_gate",
]
