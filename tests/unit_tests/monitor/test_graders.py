"""Graders: agreement (final answers, embeddings), judge (rubric, numeric score, cost), feedback."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from langchain_costrouter.core.embeddings import CallableEmbedder
from langchain_costrouter.core.monitor.graders import AgreementGrader, FeedbackGrader, JudgeGrader
from langchain_costrouter.core.types import ChatRequest, Completion
from langchain_costrouter.core.usage import Usage

REQ = ChatRequest(({"role": "user", "content": "What is 4 + 3?"},))


def ans(text: str) -> Completion:
    return Completion(text, "m")


class Judge:
    def __init__(self, reply: str | Exception) -> None:
        self.reply = reply
        self.prompts: list[str] = []

    @property
    def model(self) -> str:
        return "judge-m"

    def complete(self, messages: Sequence[Mapping[str, Any]], **params: Any) -> Completion:
        self.prompts.append(str(messages[-1]["content"]))
        if isinstance(self.reply, Exception):
            raise self.reply
        return Completion(self.reply, "judge-m", Usage(120, 2))

    async def acomplete(self, messages: Sequence[Mapping[str, Any]], **params: Any) -> Completion:
        return self.complete(messages, **params)


def test_agreement_grader() -> None:
    g = AgreementGrader()
    assert g.grade(REQ, ans("4 + 3 = 7\n#### 7"), ans("It is 7.")).score == 1.0
    assert g.grade(REQ, ans("#### 8"), ans("It is 7.")).score == 0.0
    assert g.grade(REQ, ans("#### 8"), None).score is None
    assert AgreementGrader("choice").grade(REQ, ans("B"), ans("It is 7.")).score is None  # nothing to compare


def test_embedding_agreement() -> None:
    vectors = {"same answer": [1.0, 0.0], "same answer, reworded": [0.95, 0.05], "unrelated": [0.0, 1.0]}
    emb = CallableEmbedder(lambda texts: np.array([vectors[t] for t in texts]), 2)
    g = AgreementGrader("embedding", embedder=emb, similarity_threshold=0.9)
    assert g.grade(REQ, ans("same answer, reworded"), ans("same answer")).score == 1.0
    assert g.grade(REQ, ans("unrelated"), ans("same answer")).score == 0.0


def test_judge_grader_scores_against_the_reference_and_reports_its_call() -> None:
    judge = Judge("8/10")
    grade = JudgeGrader(judge).grade(REQ, ans("Seven."), ans("4 + 3 = 7"))
    assert grade.score == pytest.approx(0.8)
    (call,) = grade.overhead
    assert (call.model, call.kind, call.usage.input_tokens) == ("judge-m", "judge", 120)
    assert "Seven." in judge.prompts[0] and "4 + 3 = 7" in judge.prompts[0] and "What is 4 + 3?" in judge.prompts[0]


def test_judge_failures_lose_the_grade_only() -> None:
    assert JudgeGrader(Judge(TimeoutError("slow"))).grade(REQ, ans("7"), ans("7")).score is None
    unparsed = JudgeGrader(Judge("excellent")).grade(REQ, ans("7"), ans("7"))
    assert unparsed.score is None and len(unparsed.overhead) == 1  # the call was still paid for


def test_feedback_grader_needs_no_reference() -> None:
    g = FeedbackGrader()
    assert not g.needs_reference
    assert g.grade(REQ, ans("7"), None).score is None
