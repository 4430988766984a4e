"""Logprob confidence gate: the answer's token probabilities, when the provider returns them."""

from __future__ import annotations

import math

from langchain_costrouter.core.gates.base import BaseGate, GateVerdict
from langchain_costrouter.core.types import ChatRequest, Completion

__all__ = ["LogprobGate"]


class LogprobGate(BaseGate):
    """Scores the mean (geometric) or minimum token probability of the answer.

    ``mean`` is ``exp(mean(logprobs))``; ``min`` is the least confident token. An answer
    without logprobs cannot be judged: it fails when ``missing="fail"`` (the default, so a
    provider that silently drops logprobs escalates rather than passing unchecked) and passes
    with ``missing="pass"``.
    """

    name = "logprob"

    def __init__(self, threshold: float = 0.5, *, aggregate: str = "mean", missing: str = "fail") -> None:
        super().__init__(threshold)
        if aggregate not in {"mean", "min"}:
            msg = f"aggregate must be 'mean' or 'min', got {aggregate!r}"
            raise ValueError(msg)
        self.aggregate = aggregate
        self.missing = missing

    def score(self, request: ChatRequest, completion: Completion) -> float:
        lps = completion.logprobs
        if not lps:
            return 1.0 if self.missing == "pass" else 0.0
        if self.aggregate == "min":
            return math.exp(min(lps))
        return math.exp(sum(lps) / len(lps))

    def evaluate(self, request: ChatRequest, completion: Completion) -> GateVerdict:
        verdict = super().evaluate(request, completion)
        if completion.tool_calls and not completion.logprobs:
            return GateVerdict(1.0, True, self.name, "tool call (no logprobs)")
        if not completion.logprobs:
            return GateVerdict(verdict.score, verdict.passed, self.name, "provider returned no logprobs")
        return GateVerdict(verdict.score, verdict.passed, self.name, f"{self.aggregate} p={verdict.score:.3f}")
