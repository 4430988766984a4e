"""Graders: how good a served answer was, relative to the premium tier's answer or to the user.

A grader turns (request, served answer, reference answer) into a :class:`Grade`: a score in
[0, 1] (1: as good as the reference) and the side calls it made (their cost is recorded).

- :class:`AgreementGrader` (``agreement``): the served answer's final answer against the
  premium tier's (numbers, choice letters, JSON fields, normalised text), or the cosine
  similarity of the two answers' embeddings against a threshold. No model call.
- :class:`JudgeGrader` (``judge``): a model grades the served answer against the premium
  answer with a rubric, from 0 to 10 (numeric scores allowed); its cost is recorded.
- :class:`FeedbackGrader` (``feedback``): no shadow call; the application reports a score
  through :meth:`QualityMonitor.record_feedback
  <langchain_costrouter.core.monitor.QualityMonitor.record_feedback>`.

Graders run on the monitor's worker thread, never on the request path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from langchain_costrouter.core.client import ModelClient
from langchain_costrouter.core.config import MonitorConfig
from langchain_costrouter.core.embeddings import Embedder
from langchain_costrouter.core.gates.judge import parse_grade
from langchain_costrouter.core.monitor._extract import AgreementKind, agreement
from langchain_costrouter.core.types import ChatRequest, Completion, OverheadCall

__all__ = [
    "DEFAULT_RUBRIC",
    "AgreementGrader",
    "ClientFactory",
    "FeedbackGrader",
    "Grade",
    "Grader",
    "JudgeGrader",
    "build_grader",
]

logger = logging.getLogger(__name__)

ClientFactory = Callable[[str], ModelClient]
"""Returns a model client for a tier or model name (the adapter provides it)."""

DEFAULT_RUBRIC = (
    "You compare an answer with a reference answer written by a stronger model.\n"
    "Question:\n{question}\n\nReference answer:\n{reference}\n\nAnswer to grade:\n{answer}\n\n"
    "Score the answer from 0 (wrong, or much worse than the reference) to 10 (as correct and as "
    "useful as the reference; a different wording of the same final answer scores 10). "
    "Reply with the number only."
)


@dataclass(frozen=True, slots=True)
class Grade:
    """One grading.

    Attributes:
        score: Quality relative to the reference in [0, 1]; ``None`` when the grader could not
            tell (the observation is dropped, not counted as good or bad).
        overhead: Model calls the grader made (recorded in the ledger with their cost).
        detail: A short explanation (for logs and the ledger record).
    """

    score: float | None
    overhead: tuple[OverheadCall, ...] = ()
    detail: str = ""


@runtime_checkable
class Grader(Protocol):
    """Grades a served answer."""

    name: str
    needs_reference: bool
    """Whether the grader needs the premium tier's answer (a shadow call)."""

    def grade(self, request: ChatRequest, answer: Completion, reference: Completion | None) -> Grade:
        """The grade of ``answer`` to ``request`` (``reference``: the premium answer)."""
        ...


class AgreementGrader:
    """Final-answer agreement with the premium answer, or embedding similarity.

    Args:
        kind: ``auto``, ``number``, ``choice``, ``json``, ``text`` (see
            :func:`~langchain_costrouter.core.monitor._extract.agreement`) or ``embedding``.
        fields: JSON fields that count for ``json`` (all when empty).
        embedder: The embedder of ``embedding`` (wordllama by default).
        similarity_threshold: ``embedding``: answers at least this similar agree.
    """

    name = "agreement"
    needs_reference = True

    def __init__(
        self,
        kind: AgreementKind | str = "auto",
        *,
        fields: Sequence[str] = (),
        embedder: Embedder | None = None,
        similarity_threshold: float = 0.9,
    ) -> None:
        self.kind = kind
        self.fields = tuple(fields)
        self.similarity_threshold = similarity_threshold
        self._embedder = embedder

    def _similarity(self, a: str, b: str) -> float:
        if self._embedder is None:
            from langchain_costrouter.core.embeddings import WordLlamaEmbedder

            self._embedder = WordLlamaEmbedder()
        va, vb = self._embedder.embed([a, b])
        return float(va @ vb)

    def grade(self, request: ChatRequest, answer: Completion, reference: Completion | None) -> Grade:
        if reference is None:
            return Grade(None, detail="no reference answer")
        if self.kind == "embedding":
            sim = self._similarity(answer.text, reference.text)
            return Grade(float(sim >= self.similarity_threshold), detail=f"cosine {sim:.3f}")
        score = agreement(answer.text, reference.text, self.kind, self.fields)  # type: ignore[arg-type]
        if score is None:
            return Grade(None, detail=f"no {self.kind} answer in the reference")
        return Grade(score, detail=f"{self.kind} agreement {score:.2f}")


class JudgeGrader:
    """A model grades the served answer against the premium answer, with a rubric.

    Args:
        client: The judge model.
        rubric: A template with ``{question}``, ``{reference}`` and ``{answer}``; the reply's
            first number from 0 to 10 is the score (``7/10`` works too).
        max_tokens: Tokens the judge may answer with.
    """

    name = "judge"
    needs_reference = True

    def __init__(self, client: ModelClient, *, rubric: str | None = None, max_tokens: int = 8) -> None:
        self.client = client
        self.rubric = rubric or DEFAULT_RUBRIC
        self.max_tokens = max_tokens

    def messages(
        self, request: ChatRequest, answer: Completion, reference: Completion | None
    ) -> list[Mapping[str, Any]]:
        """The judge's prompt."""
        ref = "(none)" if reference is None else reference.text
        text = self.rubric.format(question=request.last_user_text, reference=ref, answer=answer.text)
        return [{"role": "user", "content": text}]

    def grade(self, request: ChatRequest, answer: Completion, reference: Completion | None) -> Grade:
        t0 = time.perf_counter()
        try:
            reply = self.client.complete(
                self.messages(request, answer, reference), temperature=0, max_tokens=self.max_tokens
            )
        except Exception as exc:  # a judge outage loses one grade, never a request
            logger.warning("monitor judge call failed: %s", type(exc).__name__)
            return Grade(None, detail=f"judge failed: {type(exc).__name__}")
        overhead = (OverheadCall(reply.model, reply.usage, "judge", (time.perf_counter() - t0) * 1000),)
        score = parse_grade(reply.text)
        if score is None:
            return Grade(None, overhead, f"unparseable judge reply {reply.text[:40]!r}")
        return Grade(score, overhead, f"judge grade {score:.1f}")


class FeedbackGrader:
    """Grades come from the application (``record_feedback``); no shadow call is made."""

    name = "feedback"
    needs_reference = False

    def grade(self, request: ChatRequest, answer: Completion, reference: Completion | None) -> Grade:
        return Grade(None, detail="feedback grades arrive through record_feedback")


def build_grader(config: MonitorConfig, clients: ClientFactory | None) -> Grader:
    """The grader ``monitor.grader`` names.

    Raises:
        ValueError: A judge grader without a client factory.
    """
    if config.grader == "feedback":
        return FeedbackGrader()
    if config.grader == "judge":
        if clients is None or config.judge_model is None:
            msg = "the judge grader needs judge_model and a model client factory (the adapter provides it)"
            raise ValueError(msg)
        return JudgeGrader(clients(config.judge_model), rubric=config.judge_rubric)
    return AgreementGrader(
        config.agreement, fields=config.json_fields, similarity_threshold=config.similarity_threshold
    )
