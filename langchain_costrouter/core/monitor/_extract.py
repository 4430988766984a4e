r"""Final answers of two texts and whether they agree (the ``agreement`` grader's comparisons).

Each kind compares what a user would read as *the answer*, not the wording around it:

- ``number``: the stated final number (after ``####``, ``\boxed{``, "the answer is"...,
  otherwise the last number of the text), equal up to rounding;
- ``choice``: a multiple-choice letter ("Answer: (B)", "the correct option is c", or a reply
  that is just the letter);
- ``json``: the JSON object or array of the answer (fenced or bare), compared field by field;
  with ``fields`` only those top-level fields count;
- ``text``: the text lowered, with punctuation, articles and extra spaces removed.

``auto`` picks the first kind that both texts yield: JSON, then a choice letter, then a number,
then text.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Sequence
from typing import Any, Literal

from langchain_costrouter.core.gates._arith import final_answer, numbers_close

__all__ = ["AgreementKind", "agreement", "extract_choice", "extract_json", "normalise_text"]

AgreementKind = Literal["auto", "number", "choice", "json", "text"]

# "Answer: (b)", "the correct option is C": a bracketed letter, or a capital standing alone.
_CHOICE_MARKED = re.compile(
    r"(?i:answer|option|choice)\s*(?i:is|:)?\s*(?i:option\s*)?(?:[\(\[]([A-Ha-h])[\)\]]|([A-H])(?![A-Za-z0-9']))"
)
_CHOICE_ALONE = re.compile(r"^\s*[\(\[]?([A-Ha-h])[\)\].:]?\s*$")
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_SPACES = re.compile(r"\s+")
_PUNCT = str.maketrans("", "", string.punctuation)


def extract_choice(text: str) -> str | None:
    """The multiple-choice letter a text answers with (upper case), if it states one."""
    m = _CHOICE_ALONE.match(text)
    if m:
        return m.group(1).upper()
    found = _CHOICE_MARKED.findall(text)
    return "".join(found[-1]).upper() if found else None


def extract_json(text: str) -> Any:
    """The JSON object or array of a text (a fenced block first, then the outermost braces)."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)]
    s = text.strip()
    candidates.append(s)
    for open_c, close_c in (("{", "}"), ("[", "]")):
        i, j = s.find(open_c), s.rfind(close_c)
        if 0 <= i < j:
            candidates.append(s[i : j + 1])
    for c in candidates:
        try:
            value = json.loads(c)
        except ValueError:
            continue
        if isinstance(value, dict | list):
            return value
    return None


def normalise_text(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces."""
    t = _ARTICLES.sub(" ", text.lower().translate(_PUNCT))
    return _SPACES.sub(" ", t).strip()


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool | str):
        return numbers_close(float(a), float(b))
    if isinstance(a, str) and isinstance(b, str):
        return normalise_text(a) == normalise_text(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _json_score(a: Any, b: Any, fields: Sequence[str]) -> float:
    if fields and isinstance(a, dict) and isinstance(b, dict):
        return sum(_json_equal(a.get(f), b.get(f)) for f in fields) / len(fields)
    if isinstance(a, dict) and isinstance(b, dict) and b:
        keys = set(a) | set(b)
        return sum(_json_equal(a.get(k), b.get(k)) for k in keys) / len(keys)
    return float(_json_equal(a, b))


def agreement(  # noqa: PLR0911 - one return per answer kind, kept flat
    answer: str, reference: str, kind: AgreementKind = "auto", fields: Sequence[str] = ()
) -> float | None:
    """How much ``answer`` agrees with ``reference``, in [0, 1].

    Args:
        answer: The answer graded.
        reference: The reference answer (the premium tier's).
        kind: Which final answers to compare (see the module docstring).
        fields: JSON fields that count (``json``); all of them when empty.

    Returns:
        1 for the same final answer, 0 for a different one (a JSON answer scores the share of
        equal fields); ``None`` when the kind cannot be read from the reference (nothing to
        compare with). An answer that states nothing of that kind scores 0.
    """
    if kind in ("auto", "json"):
        ref_j = extract_json(reference)
        if ref_j is not None:
            ans_j = extract_json(answer)
            return 0.0 if ans_j is None else _json_score(ans_j, ref_j, fields)
        if kind == "json":
            return None
    if kind in ("auto", "choice"):
        ref_c = extract_choice(reference)
        if ref_c is not None:
            return float(extract_choice(answer) == ref_c)
        if kind == "choice":
            return None
    if kind in ("auto", "number"):
        ref_n, _ = final_answer(reference)
        if ref_n is not None:
            ans_n, _ = final_answer(answer)
            return float(ans_n is not None and numbers_close(ans_n, ref_n))
        if kind == "number":
            return None
    ref_t = normalise_text(reference)
    if not ref_t:
        return None
    return float(normalise_text(answer) == ref_t)
