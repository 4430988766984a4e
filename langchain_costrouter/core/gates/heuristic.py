"""The seed-like heuristic gate, kept as a baseline: length, word overlap, no refusal."""

from __future__ import annotations

import re

from langchain_costrouter.core.gates.base import BaseGate
from langchain_costrouter.core.types import ChatRequest, Completion

__all__ = ["REFUSAL_PATTERN", "HeuristicGate", "looks_like_refusal"]

REFUSAL_PATTERN = re.compile(
    r"\b(?:i\s*(?:am|'m)\s*(?:sorry|unable|not able)|i\s*can(?:no|')t\s+(?:help|assist|answer|do)|"
    r"as an ai\b|i\s*(?:do not|don't)\s+know)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z0-9]+")


def looks_like_refusal(completion: Completion) -> bool:
    """A refusal flagged by the provider or worded as one at the start of the answer."""
    if completion.refusal or completion.finish_reason == "content_filter":
        return True
    return bool(REFUSAL_PATTERN.search(completion.text[:200]))


class HeuristicGate(BaseGate):
    """Accepts answers that are long enough, share words with the question and do not refuse.

    Score: 0 for an empty, refused or truncated answer; otherwise the smaller of
    ``min(1, chars / min_chars)`` and ``min(1, overlap / min_overlap)`` (1 when
    ``min_overlap`` is 0), so with the default threshold 1.0 both conditions must hold.
    A tool-call answer scores 1 (nothing textual to judge).
    """

    name = "heuristic"

    def __init__(self, threshold: float = 1.0, *, min_chars: int = 20, min_overlap: float = 0.0) -> None:
        super().__init__(threshold)
        self.min_chars = min_chars
        self.min_overlap = min_overlap

    @staticmethod
    def overlap(question: str, answer: str) -> float:
        """Share of the question's distinct words (3+ letters) that the answer repeats."""
        q = {w for w in _WORD.findall(question.lower()) if len(w) > 2}
        if not q:
            return 1.0
        a = set(_WORD.findall(answer.lower()))
        return len(q & a) / len(q)

    def score(self, request: ChatRequest, completion: Completion) -> float:
        if completion.tool_calls:
            return 1.0
        text = completion.text.strip()
        if not text or looks_like_refusal(completion) or completion.finish_reason == "length":
            return 0.0
        length = 1.0 if self.min_chars == 0 else min(1.0, len(text) / self.min_chars)
        if self.min_overlap <= 0:
            ov = 1.0
        else:
            ov = min(1.0, self.overlap(request.last_user_text, text) / self.min_overlap)
        return min(length, ov)

    def reason(self, request: ChatRequest, completion: Completion, score: float) -> str:
        if completion.tool_calls:
            return "tool call"
        if looks_like_refusal(completion):
            return "refusal"
        if completion.finish_reason == "length":
            return "truncated"
        return f"{len(completion.text.strip())} chars"
