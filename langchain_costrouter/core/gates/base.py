"""The quality-gate interface.

A gate scores an answer in [0, 1]; the answer passes when ``score >= threshold``. Gates that
call a model (the LLM judge) report that call as an :class:`OverheadCall` in their verdict, so
the cascade records its cost. Gates are synchronous and asynchronous; a gate that does no I/O
only implements :meth:`BaseGate.score`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass

from langchain_costrouter.core.types import ChatRequest, Completion, OverheadCall

__all__ = ["AlwaysPass", "BaseGate", "GateVerdict"]


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """The outcome of one gate check."""

    score: float
    passed: bool
    gate: str
    reason: str = ""
    overhead: tuple[OverheadCall, ...] = ()


class BaseGate(ABC):
    """A quality gate with a threshold.

    Subclasses implement :meth:`score` (pure) or override :meth:`evaluate` / :meth:`aevaluate`
    when they need I/O.
    """

    name: str = "gate"

    def __init__(self, threshold: float = 0.5) -> None:
        if not 0.0 <= threshold <= 1.0:
            msg = f"threshold must be in [0, 1], got {threshold}"
            raise ValueError(msg)
        self.threshold = threshold

    @abstractmethod
    def score(self, request: ChatRequest, completion: Completion) -> float:
        """A quality score in [0, 1] (higher is better)."""

    def reason(self, request: ChatRequest, completion: Completion, score: float) -> str:
        """A short human explanation of a score (optional)."""
        return ""

    def evaluate(self, request: ChatRequest, completion: Completion) -> GateVerdict:
        """Scores and thresholds an answer."""
        s = min(1.0, max(0.0, float(self.score(request, completion))))
        return GateVerdict(s, s >= self.threshold, self.name, self.reason(request, completion, s))

    async def aevaluate(self, request: ChatRequest, completion: Completion) -> GateVerdict:
        """Async :meth:`evaluate`; pure gates run inline, I/O gates override this."""
        await asyncio.sleep(0)
        return self.evaluate(request, completion)

    def estimate_overhead(self, request: ChatRequest, answer_tokens: int) -> tuple[OverheadCall, ...]:
        """The side calls this gate makes for an answer of ``answer_tokens`` tokens, before it exists.

        The cascade adds their cost to a tier's estimate when it checks the budget; gates that
        call no model make none.
        """
        return ()


class AlwaysPass(BaseGate):
    """Accepts every answer (the premium tier's default, ``type: none``)."""

    name = "none"

    def __init__(self) -> None:
        super().__init__(0.0)

    def score(self, request: ChatRequest, completion: Completion) -> float:
        return 1.0
