"""What the cache admits: complete, gate-accepted answers that are neither refusals nor errors.

:func:`refuse_reason` is the engine's admission check; :func:`answer_problem` is its text part,
the refusal / error detector every answer passes before it is stored, the last tier's included:
a last tier without a gate still answers "I can't answer that question." or
"Error: upstream request failed with status 504" now and then, and such a text served from the
cache would turn one bad answer into many.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

__all__ = ["answer_problem", "refuse_reason"]

_OK_FINISH = frozenset({None, "", "stop", "end_turn", "eos", "complete", "eos_token", "stop_sequence"})

# A refusal opens the answer: an optional apology, then "I can't / I'm unable to / I won't ...".
_REFUSAL_RE = re.compile(
    r"^\W*(?:(?:i'?m |i am )?(?:so |very |really )?sorry[,.!]?\s*(?:but\s+)?|unfortunately,?\s+|apologies,?\s+)?"
    r"(?:as\s+an\s+ai(?:\s+(?:language\s+)?model)?,?\s+)?"
    r"(?:i(?:'m|\s+am)\s+(?:unable|not\s+able|not\s+allowed|afraid\s+i\s+(?:can(?:'|no)?t|cannot))"
    r"|i\s+(?:can(?:'|no)?t|cannot|could\s*n'?o?t|won'?t|will\s+not"
    r"|do\s*n'?o?t\s+(?:have\s+(?:access|enough|information)|know)))\b",
    re.IGNORECASE,
)
# An error text in place of an answer: "Error: ...", "500 Internal Server Error", a timeout...
_ERROR_RE = re.compile(
    r"^\W*(?:error\b|exception\b|traceback\b|\{?\s*\"?error\"?\s*:|internal server error\b|bad gateway\b|"
    r"service unavailable\b|gateway time-?out\b|request timed out\b|rate limit(?:ed)? exceeded\b|"
    r"(?:http\s*)?(?:4\d\d|5\d\d)\s+"
    r"(?:error|bad|internal|service|gateway|too many|not found|unauthori[sz]ed|forbidden)|"
    r"upstream\b.*\b(?:error|failed|timeout|unavailable)\b|(?:an?\s+)?(?:unexpected\s+|internal\s+)?error\s+"
    r"(?:has\s+)?occurred\b|something\s+went\s+wrong\b)",
    re.IGNORECASE,
)
# Answers that stop mid-word or mid-sentence without any closing punctuation are truncated.
_TRUNCATED_TAIL_RE = re.compile(r"(?:\b(?:and|or|the|a|an|to|of|with|for|in|on|is|are|but|that)|[,:;(\[{-])\s*$", re.I)
_MIN_TRUNCATION_WORDS = 6


def answer_problem(text: str | None) -> str:
    """Why an answer text must not be cached (``""`` when it may be).

    ``empty`` (nothing or whitespace), ``refusal`` ("I can't answer that question.", "Sorry, but
    I am unable to help", "As an AI, I cannot..."), ``error`` (an error message in place of an
    answer: "Error: upstream ... 504", "500 Internal Server Error", "Request timed out") or
    ``truncated`` (a long answer ending on a dangling word or comma, as a cut stream does).
    Only the opening of the answer is read for refusals and errors: an answer that *explains*
    an error ("The 504 error means ...") is an answer.
    """
    if text is None or not text.strip():
        return "empty"
    head = text.strip()[:300]
    if _REFUSAL_RE.match(head):
        return "refusal"
    if _ERROR_RE.match(head):
        return "error"
    tail = text.rstrip()
    if len(tail.split()) >= _MIN_TRUNCATION_WORDS and _TRUNCATED_TAIL_RE.search(tail[-40:]) and "```" not in tail:
        return "truncated"
    return ""


def refuse_reason(
    answer: str,
    *,
    gate_passed: bool,
    finish_reason: str | None = None,
    tool_calls: Sequence[Any] = (),
    refusal: str | None = None,
    error: str | None = None,
    partial: bool = False,
) -> str:
    """Why an answer must not be cached (``""`` when it may be), checks in this order.

    ``error`` (the call failed), ``gate_failed`` (its quality gate rejected it: only answers a
    gate accepted, or an ungated last tier's, are stored), ``tool_call``, ``refusal`` (flagged by
    the provider or a ``content_filter`` finish), ``partial`` (a cut stream, ``length`` or any
    unknown finish reason), then the text itself (:func:`answer_problem`).
    """
    checks = (
        (error is not None, "error"),
        (not gate_passed, "gate_failed"),
        (bool(tool_calls) or finish_reason in {"tool_calls", "function_call"}, "tool_call"),
        (bool(refusal) or finish_reason == "content_filter", "refusal"),
        (partial or finish_reason not in _OK_FINISH, "partial"),
    )
    for failed, why in checks:
        if failed:
            return why
    return answer_problem(answer)
