"""All-of composition: an answer passes when every gate passes; the score is the minimum."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_costrouter.core.gates.base import BaseGate, GateVerdict
from langchain_costrouter.core.types import ChatRequest, Completion, OverheadCall

__all__ = ["AllOfGate"]


class AllOfGate(BaseGate):
    """Every gate must pass; stops at the first failure (no judge call after a failed validator)."""

    name = "all_of"

    def __init__(self, gates: Sequence[BaseGate]) -> None:
        super().__init__(0.0)
        if not gates:
            msg = "all_of needs at least one gate"
            raise ValueError(msg)
        self.gates = tuple(gates)

    def score(self, request: ChatRequest, completion: Completion) -> float:
        return self.evaluate(request, completion).score

    @staticmethod
    def _combine(verdicts: list[GateVerdict]) -> GateVerdict:
        overhead = tuple(o for v in verdicts for o in v.overhead)
        worst = min(verdicts, key=lambda v: (v.passed, v.score))
        passed = all(v.passed for v in verdicts)
        reasons = "; ".join(f"{v.gate}: {v.reason}" if v.reason else v.gate for v in verdicts)
        return GateVerdict(worst.score, passed, "all_of", reasons, overhead)

    def estimate_overhead(self, request: ChatRequest, answer_tokens: int) -> tuple[OverheadCall, ...]:
        return tuple(o for g in self.gates for o in g.estimate_overhead(request, answer_tokens))

    def evaluate(self, request: ChatRequest, completion: Completion) -> GateVerdict:
        verdicts = []
        for g in self.gates:
            v = g.evaluate(request, completion)
            verdicts.append(v)
            if not v.passed:
                break
        return self._combine(verdicts)

    async def aevaluate(self, request: ChatRequest, completion: Completion) -> GateVerdict:
        verdicts = []
        for g in self.gates:
            v = await g.aevaluate(request, completion)
            verdicts.append(v)
            if not v.passed:
                break
        return self._combine(verdicts)
