"""LLM-judge gate: a cheap model grades the answer from 0 to 10; its cost is recorded."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Any

from langchain_costrouter.core.client import ModelClient
from langchain_costrouter.core.faults import provider_processed
from langchain_costrouter.core.gates.base import BaseGate, GateVerdict
from langchain_costrouter.core.types import ChatRequest, Completion, OverheadCall
from langchain_costrouter.core.usage import Usage

__all__ = ["DEFAULT_JUDGE_PROMPT", "JudgeGate", "parse_grade"]

logger = logging.getLogger(__name__)

DEFAULT_JUDGE_PROMPT = (
    "You grade answers for correctness and completeness.\n"
    "Question:\n{question}\n\nAnswer:\n{answer}\n\n"
    "Reply with one integer from 0 (wrong or useless) to 10 (fully correct and complete), nothing else."
)
_GRADE_TOKENS = 4
_NUMBER = re.compile(r"(?<![\d.])(10|\d)(?:\s*/\s*10)?(?![\d.])")


def parse_grade(text: str) -> float | None:
    """The first 0-10 grade in a judge reply, scaled to [0, 1]; ``None`` if there is none."""
    m = _NUMBER.search(text)
    return None if m is None else int(m.group(1)) / 10


class JudgeGate(BaseGate):
    """Asks ``client`` to grade the answer.

    An unparseable grade or a failed judge call fails the gate (the answer escalates), and
    the judge's tokens are still reported as overhead when the call returned.
    """

    name = "judge"

    def __init__(self, client: ModelClient, *, threshold: float = 0.7, prompt: str | None = None) -> None:
        super().__init__(threshold)
        self.client = client
        self.prompt = prompt or DEFAULT_JUDGE_PROMPT

    def _messages(self, request: ChatRequest, completion: Completion) -> list[Mapping[str, Any]]:
        answer = completion.text
        if completion.tool_calls:
            answer += "\n[tool calls] " + repr([dict(tc) for tc in completion.tool_calls])
        text = self.prompt.format(question=request.last_user_text, answer=answer)
        return [{"role": "user", "content": text}]

    def score(self, request: ChatRequest, completion: Completion) -> float:
        return self.evaluate(request, completion).score

    def estimate_overhead(self, request: ChatRequest, answer_tokens: int) -> tuple[OverheadCall, ...]:
        from langchain_costrouter.core.tokens import count_tokens

        prompt = count_tokens(self.prompt.format(question=request.last_user_text, answer="")) + answer_tokens
        return (OverheadCall(self.client.model, Usage(prompt, _GRADE_TOKENS), "judge"),)

    def _failed(self, messages: list[Mapping[str, Any]], exc: Exception, latency_ms: float) -> GateVerdict:
        """The verdict of a judge call that raised: a rejection.

        A call that timed out after it was sent was processed, and billed, by the provider: its
        prompt is reported as an estimated overhead, so the ledger does not lose it.
        """
        logger.warning("judge call failed: %s", type(exc).__name__)
        overhead: tuple[OverheadCall, ...] = ()
        if provider_processed(exc):
            from langchain_costrouter.core.tokens import count_message_tokens

            usage = Usage(count_message_tokens(messages), 0)
            overhead = (OverheadCall(self.client.model, usage, "judge", latency_ms, estimated=True),)
        return GateVerdict(0.0, False, self.name, f"judge failed: {type(exc).__name__}", overhead)

    def _verdict(self, reply: Completion, latency_ms: float) -> GateVerdict:
        overhead = (OverheadCall(reply.model, reply.usage, "judge", latency_ms),)
        grade = parse_grade(reply.text)
        if grade is None:
            return GateVerdict(0.0, False, self.name, f"unparseable grade {reply.text[:40]!r}", overhead)
        return GateVerdict(grade, grade >= self.threshold, self.name, f"judge grade {grade:.1f}", overhead)

    def evaluate(self, request: ChatRequest, completion: Completion) -> GateVerdict:
        t0 = time.perf_counter()
        messages: list[Mapping[str, Any]] = []
        try:
            messages = self._messages(request, completion)
            reply = self.client.complete(messages, temperature=0, max_tokens=_GRADE_TOKENS)
        except Exception as exc:  # a judge outage must escalate, not crash the request
            return self._failed(messages, exc, (time.perf_counter() - t0) * 1000)
        return self._verdict(reply, (time.perf_counter() - t0) * 1000)

    async def aevaluate(self, request: ChatRequest, completion: Completion) -> GateVerdict:
        t0 = time.perf_counter()
        messages: list[Mapping[str, Any]] = []
        try:
            messages = self._messages(request, completion)
            reply = await self.client.acomplete(messages, temperature=0, max_tokens=_GRADE_TOKENS)
        except Exception as exc:
            return self._failed(messages, exc, (time.perf_counter() - t0) * 1000)
        return self._verdict(reply, (time.perf_counter() - t0) * 1000)
