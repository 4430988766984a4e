"""Scripted models for compression and batching, served by the local OpenAI-compatible server.

Used by ``costrouter bench savings`` and the integration tests; deterministic so figures can be
rerun. :class:`OptimizeResponder` plugs into :class:`~langchain_costrouter.testing.server.LocalOpenAIServer`
(any object with ``plan`` and ``model_names`` is a responder):

- a **compression** call (recognised by the compressor's system prompt, whatever the model name)
  gets the ``TEXT:`` block back with an evenly spread ``ratio`` share of its prose words, every
  ``[P0]``-style placeholder copied (or, with ``lose_placeholders``, dropped, to exercise the
  fallback);
- a **batch** prompt (``QUESTIONS:`` + a JSON list) with
  ``{"answers": [...]}``, except the questions holding a text of ``malformed`` (answer ``null``
  the first ``malformed_times`` times a question is seen) or of ``missing`` (left out); questions
  are picked by their text, as a batch names them by random ids;
- a plain question gets :func:`answer_for` the question, the same text a batch would hold, so
  batched and unbatched runs produce the same answer tokens.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import Counter
from collections.abc import Collection

from langchain_costrouter.core.compression import COMPRESSOR_SYSTEM_PROMPT
from langchain_costrouter.core.compression_fidelity import essential_words
from langchain_costrouter.core.tokens import encoding_for_model
from langchain_costrouter.testing.server._engine import Draft, Plan
from langchain_costrouter.testing.server._request import ChatCall

__all__ = ["ANSWER_WORDS", "OptimizeResponder", "answer_for", "shorten"]

ANSWER_WORDS = 40
_PLACEHOLDER = re.compile(r"\[[A-Z][A-Z0-9_]*\d+\]")
_RATIO = re.compile(r"\((\d+)% of the prose\)")
_VOCAB_TEXT = (
    "the answer depends on the context given above and on the figures in the question so we "
    "consider each part carefully then combine them into a short clear and complete reply"
)
_VOCAB = tuple(_VOCAB_TEXT.split())


def shorten(masked: str, ratio: float, *, keep_placeholders: bool = True) -> str:
    """Keeps an evenly spread ``ratio`` share of the prose words of ``masked``.

    Placeholders are always kept (or always dropped when ``keep_placeholders`` is false), and so
    are the words a faithful rewrite keeps (negations, number and date words, names: see
    :func:`~langchain_costrouter.core.compression_fidelity.essential_words`).
    """
    out: list[str] = []
    prose_index = 0
    keep = essential_words(masked)
    for word in masked.split():
        if word.strip(".,;:!?()\"'") in keep or word.strip(".,;:!?()\"'").lower() in keep:
            out.append(word)
            continue
        if _PLACEHOLDER.search(word):
            if keep_placeholders:
                out.append(word)
            else:
                rest = _PLACEHOLDER.sub("", word)
                if rest:
                    out.append(rest)
            continue
        if int((prose_index + 1) * ratio) > int(prose_index * ratio):
            out.append(word)
        prose_index += 1
    return " ".join(out)


def answer_for(question: str, words: int = ANSWER_WORDS) -> str:
    """A deterministic answer of ``words`` words to ``question``."""
    seed = int(hashlib.sha256(question.encode("utf-8")).hexdigest()[:8], 16)
    picked = [_VOCAB[(seed + 7 * i) % len(_VOCAB)] for i in range(words)]
    return (" ".join(picked) + ".").capitalize()


class OptimizeResponder:
    """A local-server responder for compressor and batch-answering models.

    Args:
        lose_placeholders: The compressor drops placeholders (its rewrites must be discarded).
        malformed: Texts: a question holding one is answered with ``null`` in a batch.
        malformed_times: How many times each malformed question is answered badly (then well).
        missing: Texts: a question holding one is left out of batch answers (every time).
        answer_words: Length of every answer.
    """

    system_fingerprint = "fp_costrouter_optimize"

    def __init__(
        self,
        *,
        lose_placeholders: bool = False,
        malformed: Collection[str] = (),
        malformed_times: int = 1,
        missing: Collection[str] = (),
        answer_words: int = ANSWER_WORDS,
    ) -> None:
        self.lose_placeholders = lose_placeholders
        self.malformed = set(malformed)
        self.malformed_times = malformed_times
        self.missing = set(missing)
        self.answer_words = answer_words
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forgets which questions were seen (malformed ones go wrong again on their next first try)."""
        with self._lock:
            self._seen.clear()

    def model_names(self) -> list[str]:
        """No fixed list: every model name answers."""
        return []

    def plan(self, call: ChatCall) -> Plan:
        """Serves ``call`` (never fails: every model name answers)."""
        return Plan(key=call.model, compose=self._compose, encoding=encoding_for_model(call.model))

    def _compose(self, call: ChatCall) -> Draft:
        text = call.user_text
        system = call.messages[0].get("content") if call.messages else None
        if system == COMPRESSOR_SYSTEM_PROMPT:
            return Draft(self._compress(text))
        if "QUESTIONS:" in text:
            return Draft(self._batch(text))
        return Draft(answer_for(text, self.answer_words))

    def _compress(self, prompt: str) -> str:
        body = prompt.split("TEXT:\n", 1)[-1]
        m = _RATIO.search(prompt)
        ratio = int(m.group(1)) / 100 if m else 0.5
        return shorten(body, ratio, keep_placeholders=not self.lose_placeholders)

    def _batch(self, prompt: str) -> str:
        try:
            questions = json.loads(prompt.split("QUESTIONS:\n", 1)[1])
        except (IndexError, ValueError):
            return "I could not read the questions."
        answers: list[dict[str, object]] = []
        for q in questions:
            qid, question = str(q.get("id")), str(q.get("question", ""))
            with self._lock:
                self._seen[question] += 1
                seen = self._seen[question]
            if any(key in question for key in self.missing):
                continue
            if any(key in question for key in self.malformed) and seen <= self.malformed_times:
                answers.append({"id": qid, "answer": None})
                continue
            answers.append({"id": qid, "answer": answer_for(question, self.answer_words)})
        return json.dumps({"answers": answers}, ensure_ascii=False)
