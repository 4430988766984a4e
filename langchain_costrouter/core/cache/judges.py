"""Verifier plug-ins: a second opinion on semantic candidates the lexical guard cannot settle.

A :class:`~.entries.CacheJudge` is asked "does this stored answer correctly answer the new
question?" for candidates that passed the hard vetoes but that the guard leaves undecided (a
question whose slot words the other question does not explain, or a verifier score near its
threshold). Two plug-ins ship:

- :class:`CrossEncoderJudge`: a sentence-transformers ``CrossEncoder`` from any local model
  path (the user's own fine-tuned model, a public duplicate-question model...); local, free.
  sentence-transformers and torch are imported only when one is built.
- :class:`LLMJudge`: a cheap-tier model through the adapters' :class:`~..client.ModelClient`
  (``cache.judge_model``). Each call is an overhead record in the ledger (kind ``judge``), and
  :meth:`LLMJudge.pays` keeps it to candidates whose stored answer is worth more than
  ``min_saving_ratio`` times the expected cost of asking.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from langchain_costrouter.core.cache.entries import JudgeVerdict
from langchain_costrouter.core.embeddings import estimate_tokens
from langchain_costrouter.core.errors import ConfigError
from langchain_costrouter.core.types import OverheadCall
from langchain_costrouter.core.usage import Usage

if TYPE_CHECKING:
    from langchain_costrouter.core.accounting import CostAccountant
    from langchain_costrouter.core.client import ModelClient

__all__ = ["DEFAULT_VERIFY_PROMPT", "CrossEncoderJudge", "LLMJudge", "parse_yes_no"]

logger = logging.getLogger(__name__)

DEFAULT_VERIFY_PROMPT = (
    "A cache holds an answer written for an earlier question. Decide whether that stored answer "
    "correctly and completely answers the new question, as if it had been written for it. Answer "
    "NO if the questions differ in anything that changes the answer (the thing asked about, the "
    "kind of question, who or what is involved, direction, numbers, dates, names, negation).\n\n"
    "Earlier question: {cached_query}\n\nStored answer: {answer}\n\nNew question: {query}\n\n"
    "Reply with one word: YES or NO."
)
_YES = re.compile(r"^\W*(yes|y|true|same)\b", re.IGNORECASE)
_NO = re.compile(r"^\W*(no|n|false|different)\b", re.IGNORECASE)
_ANSWER_CHARS = 2000  # a long stored answer is cut: its opening decides what it answers


def parse_yes_no(text: str) -> bool | None:
    """``True`` for a YES, ``False`` for a NO, ``None`` for anything else."""
    if _YES.match(text):
        return True
    if _NO.match(text):
        return False
    return None


class LLMJudge:
    """Asks a cheap model whether a stored answer answers the new question.

    An unparsable reply or a failed call counts as NO (the candidate is not served).

    Args:
        client: The judge model (the adapters build it from ``cache.judge_model``).
        prompt: A template with ``{query}``, ``{cached_query}`` and ``{answer}``.
        max_tokens: Reply budget.
        accountant: Prices calls for :meth:`pays` (the engine records them in the ledger).
        min_saving_ratio: Ask only when the stored answer's premium cost is at least this many
            times the judge call's estimated cost (``0``: always ask).
    """

    def __init__(
        self,
        client: ModelClient,
        *,
        prompt: str = DEFAULT_VERIFY_PROMPT,
        max_tokens: int = 3,
        accountant: CostAccountant | None = None,
        min_saving_ratio: float = 2.0,
    ) -> None:
        missing = [k for k in ("{query}", "{cached_query}", "{answer}") if k not in prompt]
        if missing:
            raise ConfigError("cache.judge_prompt", f"the prompt must contain {', '.join(missing)}")
        self.client = client
        self.prompt = prompt
        self.max_tokens = max_tokens
        self.accountant = accountant
        self.min_saving_ratio = min_saving_ratio

    @property
    def model(self) -> str:
        """The judge's priced model name."""
        return self.client.model

    def _messages(self, query: str, cached_query: str, answer: str) -> list[dict[str, Any]]:
        text = self.prompt.format(query=query, cached_query=cached_query, answer=answer[:_ANSWER_CHARS])
        return [{"role": "user", "content": text}]

    def estimate_usd(self, query: str, cached_query: str, answer: str) -> float | None:
        """The expected cost of one call (``None`` when it cannot be priced)."""
        if self.accountant is None:
            return None
        tokens = estimate_tokens([m["content"] for m in self._messages(query, cached_query, answer)])
        try:
            return self.accountant.estimate_usd(self.model, tokens, self.max_tokens)
        except Exception:
            return None

    def pays(self, query: str, cached_query: str, answer: str, saving_usd: float | None) -> bool:
        """Whether asking is worth it: the hit's saving covers ``min_saving_ratio`` judge calls.

        Unknown prices (no accountant, an unpriced model) count as worth it.
        """
        cost = self.estimate_usd(query, cached_query, answer)
        if cost is None or saving_usd is None or self.min_saving_ratio <= 0:
            return True
        return saving_usd >= self.min_saving_ratio * cost

    def judge(self, query: str, cached_query: str, answer: str = "") -> JudgeVerdict:
        """One call; the verdict carries its cost as an overhead call."""
        t0 = time.perf_counter()
        try:
            out = self.client.complete(self._messages(query, cached_query, answer), max_tokens=self.max_tokens)
        except Exception:
            logger.warning("cache judge %s failed; the candidate is not served", self.model, exc_info=True)
            return JudgeVerdict(False)
        ms = (time.perf_counter() - t0) * 1000
        overhead = OverheadCall(out.model or self.model, out.usage or Usage(), "judge", ms)
        return JudgeVerdict(parse_yes_no(out.text) is True, overhead)


class CrossEncoderJudge:
    """A sentence-transformers ``CrossEncoder`` scoring (new question, earlier question) pairs.

    Args:
        model_path: A local model directory (or name) the user has; nothing is downloaded when
            the path exists.
        threshold: Serve when the score is at least this (scores outside [0, 1] go through a
            sigmoid first).
        loader: Builds the model from the path (tests; default: ``CrossEncoder(path)``).

    Raises:
        ConfigError: sentence-transformers is not installed, or the model cannot be loaded.
    """

    def __init__(self, model_path: str, *, threshold: float = 0.5, loader: Callable[[str], Any] | None = None) -> None:
        self.model_path = model_path
        self.threshold = threshold
        if loader is None:
            try:
                from sentence_transformers import CrossEncoder
            except ImportError:
                msg = "needs sentence-transformers and torch (pip install 'langchain-costrouter[minilm]')"
                raise ConfigError("cache.cross_encoder", msg) from None
            loader = CrossEncoder
        try:
            self._model = loader(model_path)
        except Exception as exc:
            raise ConfigError("cache.cross_encoder", f"cannot load {model_path!r}: {exc}") from None

    def score(self, query: str, cached_query: str) -> float:
        """The model's score of the pair, in [0, 1]."""
        raw = self._model.predict([(query, cached_query)])
        value = float(raw[0]) if hasattr(raw, "__len__") else float(raw)
        return value if 0.0 <= value <= 1.0 else 1.0 / (1.0 + math.exp(-value))

    def judge(self, query: str, cached_query: str, answer: str = "") -> JudgeVerdict:
        """Same answer when the score reaches the threshold (no cost: the model runs locally)."""
        try:
            return JudgeVerdict(self.score(query, cached_query) >= self.threshold)
        except Exception:
            logger.warning("cross-encoder judge failed; the candidate is not served", exc_info=True)
            return JudgeVerdict(False)
