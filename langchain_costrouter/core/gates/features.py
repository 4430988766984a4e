"""Features of a (prompt, answer) pair for the learned quality gate.

The features describe *how* an answer is written and whether it is internally consistent,
never *which* question it answers, so a gate fitted on one data set can be applied to others:

- structure: length (absolute and relative to the prompt), lines, an explicit final answer,
  a clean ending (truncation), hedging, refusal and self-correction wording, repeated lines;
- arithmetic consistency: every ``expression = value`` claim is re-computed
  (:func:`~langchain_costrouter.core.gates._arith.check_arithmetic`), and the stated final
  answer is compared with the last computed value and with the numbers of the prompt;
- grounding: share of the prompt's numbers and words the answer uses, numbers that come from
  nowhere;
- semantics (optional): cosine similarity of wordllama embeddings of prompt and answer, and a
  few principal components of both embeddings (fitted by the gate, inside training folds).

The list of features is versioned (:class:`FeatureSpec`); a gate file records the spec it was
fitted with and refuses to load with a different one.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from langchain_costrouter.core.embeddings import WordLlamaEmbedder
from langchain_costrouter.core.errors import GateError
from langchain_costrouter.core.gates._arith import check_arithmetic, extract_numbers, final_answer, numbers_close

__all__ = [
    "EMBEDDING_DIM",
    "FEATURE_VERSION",
    "HAND_FEATURES",
    "FeatureMatrix",
    "FeatureSpec",
    "embed_texts",
    "extract_features",
    "hand_features",
]

logger = logging.getLogger(__name__)

FEATURE_VERSION = 1
EMBEDDING_DIM = 256

HAND_FEATURES: tuple[str, ...] = (
    "answer_log_chars",
    "prompt_log_chars",
    "answer_prompt_log_ratio",
    "answer_log_lines",
    "has_final_marker",
    "has_final_number",
    "ends_cleanly",
    "hedge_words",
    "refusal",
    "self_correction_words",
    "repeated_lines_frac",
    "arith_log_checked",
    "arith_log_wrong",
    "arith_wrong_frac",
    "arith_last_wrong",
    "final_disagrees_last_result",
    "final_in_results",
    "final_in_prompt",
    "final_is_integer",
    "final_log_magnitude",
    "prompt_log_numbers",
    "prompt_number_recall",
    "unsupported_number_frac",
    "word_overlap",
)

_WORD = re.compile(r"[a-z0-9]+")
_HEDGE = re.compile(
    r"\b(?:approximately|roughly|about|around|assum(?:e|ing|ption)|probably|likely|perhaps|maybe|might|"
    r"unclear|ambiguous|not sure|uncertain|estimate[ds]?|it seems|cannot be determined|not enough information)\b",
    re.IGNORECASE,
)
_REFUSAL = re.compile(
    r"\b(?:i\s*(?:am|'m)\s*(?:sorry|unable|not able)|i\s*can(?:no|')t\s+(?:help|assist|answer|do)|"
    r"as an ai\b|i\s*(?:do not|don't)\s+know|it is not possible to)\b",
    re.IGNORECASE,
)
_CORRECTION = re.compile(
    r"\b(?:however|actually|wait|mistake|correction|incorrect|re-?calculat\w*|re-?evaluat\w*|"
    r"let me re\w*|instead|oops|apologi[sz]e)\b",
    re.IGNORECASE,
)
_TERMINAL = frozenset(".!?)]}\"'`*")
_NUMBER_WORDS: Mapping[str, float] = {
    "half": 0.5,
    "one": 1,
    "two": 2,
    "twice": 2,
    "double": 2,
    "three": 3,
    "thrice": 3,
    "triple": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "dozen": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "hundred": 100,
    "thousand": 1000,
    "quarter": 0.25,
    "third": 1 / 3,
}
# Numbers an answer may use without taking them from the prompt: small counts and common
# unit conversions (time, percent, thousands).
_COMMON_CONSTANTS = frozenset(
    {float(i) for i in range(13)} | {0.5, 0.25, 24.0, 30.0, 31.0, 52.0, 60.0, 100.0, 365.0, 1000.0, 3600.0}
)


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """Which features a gate uses.

    Attributes:
        version: Version of the feature definitions (:data:`FEATURE_VERSION`).
        hand: Names of the hand-written features used, a subset of :data:`HAND_FEATURES`.
        embedding_cosine: Add the cosine similarity of the prompt and answer embeddings.
        embedding_components: Principal components of the prompt and of the answer
            embeddings to add (each); 0 for none. The projection is fitted with the gate.
    """

    version: int = FEATURE_VERSION
    hand: tuple[str, ...] = HAND_FEATURES
    embedding_cosine: bool = True
    embedding_components: int = 4

    def __post_init__(self) -> None:
        unknown = [n for n in self.hand if n not in HAND_FEATURES]
        if unknown:
            msg = f"unknown gate features {unknown}; known: {list(HAND_FEATURES)}"
            raise GateError(msg)
        if self.version != FEATURE_VERSION:
            msg = f"gate feature version {self.version} is not supported (this build: {FEATURE_VERSION})"
            raise GateError(msg)
        if not 0 <= self.embedding_components <= EMBEDDING_DIM:
            msg = f"embedding_components must be in [0, {EMBEDDING_DIM}], got {self.embedding_components}"
            raise GateError(msg)

    @property
    def uses_embeddings(self) -> bool:
        """Whether extraction needs the wordllama model."""
        return self.embedding_cosine or self.embedding_components > 0

    @property
    def dense_names(self) -> tuple[str, ...]:
        """Names of the dense columns :func:`extract_features` returns, in order."""
        return self.hand + (("embedding_cosine",) if self.embedding_cosine else ())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description."""
        return {
            "version": self.version,
            "hand": list(self.hand),
            "embedding_cosine": self.embedding_cosine,
            "embedding_components": self.embedding_components,
            "embedding_model": "wordllama-l2_supercat-256" if self.uses_embeddings else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        """Reads :meth:`to_dict` output.

        Raises:
            GateError: Unknown version or feature names, or a malformed entry.
        """
        try:
            return cls(
                version=int(data["version"]),
                hand=tuple(str(n) for n in data["hand"]),
                embedding_cosine=bool(data.get("embedding_cosine", False)),
                embedding_components=int(data.get("embedding_components", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            msg = f"malformed feature spec in gate file: {exc!r}"
            raise GateError(msg) from exc


@dataclass(frozen=True, slots=True)
class FeatureMatrix:
    """Features of a batch of (prompt, answer) pairs.

    Attributes:
        dense: ``(n, len(spec.dense_names))`` hand-written (and cosine) features.
        prompt_emb: ``(n, 256)`` unit-norm prompt embeddings, when the spec needs them.
        answer_emb: ``(n, 256)`` unit-norm answer embeddings, when the spec needs them.
    """

    dense: npt.NDArray[np.float64]
    prompt_emb: npt.NDArray[np.float64] | None = None
    answer_emb: npt.NDArray[np.float64] | None = None

    def __len__(self) -> int:
        return int(self.dense.shape[0])

    def take(self, idx: npt.NDArray[np.intp] | Sequence[int]) -> FeatureMatrix:
        """The rows ``idx``."""
        ix = np.asarray(idx, dtype=np.intp)
        return FeatureMatrix(
            self.dense[ix],
            None if self.prompt_emb is None else self.prompt_emb[ix],
            None if self.answer_emb is None else self.answer_emb[ix],
        )


def _key(value: float) -> float:
    return round(value, 6)


def _in(value: float, pool: set[float]) -> bool:
    """Whether ``value`` is in ``pool`` (a set of :func:`_key` values), to 6 decimals."""
    return _key(value) in pool


def _prompt_numbers(prompt: str) -> list[float]:
    nums = extract_numbers(prompt)
    nums.extend(_NUMBER_WORDS[w] for w in _WORD.findall(prompt.lower()) if w in _NUMBER_WORDS)
    return nums


_CLOSING_NUMBER_LINE = re.compile(
    r"(?:#+|(?:the\s+)?(?:final\s+)?answer(?:\s+is)?\s*:?)?\s*\$?-?\d[\d,]*(?:\.\d+)?", re.IGNORECASE
)


def _ends_cleanly(answer: str) -> bool:
    text = answer.rstrip()
    if not text:
        return False
    if text[-1] in _TERMINAL:
        return True
    # A closing line that is only a (marked) number ("#### 18", "Answer: 42") ends cleanly too;
    # "20 + 12 = 3" does not (likely cut off).
    return bool(_CLOSING_NUMBER_LINE.fullmatch(text.splitlines()[-1].strip()))


def hand_features(prompt: str, answer: str) -> dict[str, float]:
    """Every hand-written feature of one (prompt, answer) pair, by name (see :data:`HAND_FEATURES`)."""
    a = answer.strip()
    lines = [ln.strip() for ln in a.splitlines() if ln.strip()]
    final, marked = final_answer(a)
    arith = check_arithmetic(a)
    p_nums = _prompt_numbers(prompt)
    a_nums = extract_numbers(a)
    results = arith.results
    p_pool, a_pool, r_pool = {_key(v) for v in p_nums}, {_key(v) for v in a_nums}, {_key(v) for v in results}
    distinct_p = list(dict.fromkeys(p_nums))
    recall = sum(1 for v in distinct_p if _in(v, a_pool)) / len(distinct_p) if distinct_p else 1.0
    unsupported = [v for v in a_nums if v not in _COMMON_CONSTANTS and not _in(v, p_pool) and not _in(v, r_pool)]
    q_words = {w for w in _WORD.findall(prompt.lower()) if len(w) > 2}
    a_words = set(_WORD.findall(a.lower()))
    overlap = len(q_words & a_words) / len(q_words) if q_words else 1.0
    has_calc = arith.last_result is not None
    last = arith.last_result
    return {
        "answer_log_chars": math.log1p(len(a)),
        "prompt_log_chars": math.log1p(len(prompt)),
        "answer_prompt_log_ratio": math.log1p(len(a)) - math.log1p(len(prompt)),
        "answer_log_lines": math.log1p(len(lines)),
        "has_final_marker": float(marked),
        "has_final_number": float(final is not None),
        "ends_cleanly": float(_ends_cleanly(a)),
        "hedge_words": math.log1p(len(_HEDGE.findall(a))),
        "refusal": float(bool(_REFUSAL.search(a[:400])) or not a),
        "self_correction_words": math.log1p(len(_CORRECTION.findall(a))),
        "repeated_lines_frac": (len(lines) - len(set(lines))) / len(lines) if lines else 0.0,
        "arith_log_checked": math.log1p(arith.checked),
        "arith_log_wrong": math.log1p(arith.wrong),
        "arith_wrong_frac": arith.wrong / arith.checked if arith.checked else 0.0,
        "arith_last_wrong": float(arith.last_wrong),
        "final_disagrees_last_result": float(
            has_calc and final is not None and last is not None and not numbers_close(last, final, 2)
        ),
        "final_in_results": float(final is not None and _in(final, r_pool)),
        "final_in_prompt": float(final is not None and _in(final, p_pool)),
        "final_is_integer": float(final is not None and abs(final - round(final)) < 1e-9),
        "final_log_magnitude": math.log10(1.0 + abs(final)) if final is not None else 0.0,
        "prompt_log_numbers": math.log1p(len(p_nums)),
        "prompt_number_recall": recall,
        "unsupported_number_frac": len(unsupported) / len(a_nums) if a_nums else 0.0,
        "word_overlap": overlap,
    }


def embed_texts(texts: Sequence[str]) -> npt.NDArray[np.float64]:
    """Unit-norm wordllama embeddings, ``(len(texts), 256)``; empty texts embed to zeros.

    Uses the shared offline :class:`~langchain_costrouter.core.embeddings.WordLlamaEmbedder`
    (loaded lazily once per process from the installed wheel, never downloaded).
    """
    out = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float64)
    idx = [i for i, t in enumerate(texts) if t.strip()]
    if idx:
        emb = WordLlamaEmbedder(EMBEDDING_DIM).embed([texts[i] for i in idx])
        out[idx] = np.nan_to_num(np.asarray(emb, dtype=np.float64))
    return out


def extract_features(prompts: Sequence[str], answers: Sequence[str], spec: FeatureSpec) -> FeatureMatrix:
    """Features of ``len(prompts)`` pairs as the gate model consumes them.

    Raises:
        GateError: ``prompts`` and ``answers`` differ in length.
    """
    if len(prompts) != len(answers):
        msg = f"{len(prompts)} prompts but {len(answers)} answers"
        raise GateError(msg)
    rows = [hand_features(p, a) for p, a in zip(prompts, answers, strict=True)]
    dense = np.array([[r[n] for n in spec.hand] for r in rows], dtype=np.float64).reshape(len(rows), len(spec.hand))
    p_emb = a_emb = None
    if spec.uses_embeddings:
        p_emb, a_emb = embed_texts(prompts), embed_texts(answers)
        if spec.embedding_cosine:
            dense = np.column_stack([dense, np.einsum("ij,ij->i", p_emb, a_emb)])
    if spec.embedding_components == 0:
        p_emb = a_emb = None
    return FeatureMatrix(dense, p_emb, a_emb)
