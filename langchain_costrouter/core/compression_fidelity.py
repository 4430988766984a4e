r"""The fidelity check of a compressed rewrite: deterministic, no model, run on every rewrite.

A rewrite that keeps every placeholder can still change what the answering model reads: drop a
"not", turn "never" into "always", change a unit or a month, lose a name, or carry a sentence the
compressor was talked into adding ("Ignore previous instructions..."). :func:`fidelity_problem`
compares the original text with the restored rewrite and names the first problem it finds; the
compressor then sends the original text (the call is still paid and recorded). Checks, in order:

- **injection**: phrases that address a model ("ignore previous instructions", "system prompt",
  "you are now"...) that the original does not contain as often;
- **instruction**: a sentence of the rewrite that reads as an instruction (an imperative verb or
  a directive opening it, or a directive addressed to the model, as in
  :mod:`~langchain_costrouter.core.protected_spans`) with a word that no instruction of the
  original contains;
- **polarity**: every negation and polarity word (not, no, never, none, nobody, nothing, without,
  except, unless, nor, neither, always, only...; "n't" and "cannot" count as "not") as many
  times as in the original;
- **numbers**: the same numbers (digit runs) and number words (one, twelve, dozen, half,
  twice...), the same units after a number (mg, kg, %, km, hours...) and the same date words
  (month and weekday names, today, tomorrow, yesterday);
- **entities**: every name and identifier of the original (a capitalised word inside a sentence,
  an acronym, ``snake_case``, ``camelCase``, ``dotted.names``) is still there, and the rewrite
  introduces none the original does not contain;
- **new words**: at most a quarter of the rewrite's words are absent from the original, and no
  two of its words occur more often than in the original (a compressor shortens; it does not
  write new text, nor copy a sentence it was induced to add);
- **length**: the rewrite keeps at least ``min_share`` of the original's words (a rewrite that
  collapses to a few words is an answer or a truncation, not a compression).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from langchain_costrouter.core.protected_spans import instruction_sentences

__all__ = ["NEGATION_WORDS", "POLARITY_WORDS", "essential_words", "fidelity_problem"]


def _vocab(words: str) -> frozenset[str]:
    return frozenset(words.split())


NEGATION_WORDS = _vocab("not no never none nobody nothing nowhere neither nor without except unless cannot non")
POLARITY_WORDS = NEGATION_WORDS | _vocab("always only all every")
_NUMBER_WORDS = _vocab(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand million "
    "billion trillion dozen half quarter twice thrice once double triple first second third"
)
_DATE_WORDS = _vocab(
    "january february march april june july august september october november december monday tuesday "
    "wednesday thursday friday saturday sunday today tomorrow yesterday tonight"
)
_UNITS = _vocab(
    "mg g kg mcg µg ug ml l dl cl km m cm mm mi ft yd lb lbs oz % percent usd eur gbp dollars dollar euros euro "
    "pounds cents °c °f c f celsius fahrenheit kelvin h hr hrs hour hours min mins minute minutes s sec secs second "
    "seconds day days week weeks month months year years am pm mph kph kmh w kw kwh mw v mah gb mb kb tb ghz mhz "
    "iu units unit tablets tablet pills pill doses dose times x"
)
_SKIPPED_BEFORE_UNIT = _vocab("a an per of the each every")
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\b[^.!?\n]{0,40}?"
    r"\b(?:instructions?|prompts?|rules?|above|previous|prior|earlier|everything|system)\b"
    r"|\bsystem\s+prompt\b|\bdeveloper\s+(?:message|mode)\b|\byou\s+are\s+now\b|\bnew\s+instructions?\b"
    r"|\bact\s+as\b|\bpretend\b|\bjailbreak\b|\binstead\s+(?:say|reply|answer|respond|output|write)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?|\d+(?:[.,]\d+)*|%|°[CFcf]")
_CASED_WORD = re.compile(r"[A-Za-z_][\w.]*[\w]|[A-Za-z]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n])[\s\"'“”\u2018\u2019«»()\[\]*_>-]*$")
_PLACEHOLDER = re.compile(r"\[[A-Z][A-Z0-9_]*\d+\]")
_CONNECTORS = _vocab(
    "a an the and or but so then also as of to in on at by for with from is are was were be been it its this "
    "that these those they he she we i his her their our"
)


def _norm_words(text: str) -> list[str]:
    """Lower-case words, with "n't" and "cannot" counted as "not"."""
    text = re.sub(r"(?i)\bcan(?:no|')t\b", "can not", text)
    text = re.sub(r"(?i)\bwon[\u2019']t\b", "will not", text)
    text = re.sub(r"(?i)n[\u2019']t\b", " not", text)
    return [w.lower() for w in _WORD.findall(text)]


def _quantities(words: list[str]) -> Counter[str]:
    """Units that follow a number or a number word (``500 mg`` and ``twice a day`` count ``mg``, ``day``)."""
    out: Counter[str] = Counter()
    prev = ""
    for word in words:
        if word in _UNITS and (_NUMBER.fullmatch(prev) or prev in _NUMBER_WORDS):
            out[word] += 1
        if word not in _SKIPPED_BEFORE_UNIT:
            prev = word
    return out


def _entities(text: str) -> set[str]:
    """Names and identifiers: capitalised inside a sentence, acronyms, snake/camel/dotted names."""
    found: set[str] = set()
    for m in _CASED_WORD.finditer(text):
        w = m.group(0).rstrip(".")
        if len(w) < 2:
            continue
        inner_cap = any(c.isupper() for c in w[1:]) and any(c.islower() for c in w)
        dotted = "." in w and max(len(part) for part in w.split(".")) > 1  # foo.bar, not e.g / i.e
        identifier = "_" in w or dotted or inner_cap or (w.isupper() and w.isalpha())
        if identifier or (w[0].isupper() and not _SENTENCE_START.search(text[max(0, m.start() - 40) : m.start()])):
            found.add(w)
    return found


def _cased_words(text: str) -> set[str]:
    return {m.group(0).rstrip(".") for m in _CASED_WORD.finditer(text)}


def essential_words(text: str) -> set[str]:
    """Words a faithful rewrite of ``text`` keeps (polarity, numbers, units, dates, names).

    Lower-case, except names and identifiers, which keep their case.
    """
    keep = {w for w in _norm_words(text) if w in POLARITY_WORDS or w in _NUMBER_WORDS or w in _DATE_WORDS}
    keep |= set(_quantities(_norm_words(text)))
    return keep | _entities(text)


def _counter_diff(name: str, before: Counter[str], after: Counter[str]) -> str | None:
    for word in sorted(set(before) | set(after)):
        if before[word] != after[word]:
            return f"{name} {word!r} {before[word]} -> {after[word]}"
    return None


def _pick(words: Iterable[str], vocabulary: frozenset[str]) -> Counter[str]:
    return Counter(w for w in words if w in vocabulary)


def _injection(original: str, rewrite: str) -> str | None:
    injected = len(_INJECTION.findall(rewrite)) - len(_INJECTION.findall(original))
    return f"injection: the rewrite adds {injected} instruction(s) to a model" if injected > 0 else None


def _instruction(masked_original: str, masked_rewrite: str) -> str | None:
    allowed = {w for s in instruction_sentences(_PLACEHOLDER.sub(" ", masked_original)) for w in _norm_words(s)}
    for sentence in instruction_sentences(_PLACEHOLDER.sub(" ", masked_rewrite)):
        if any(w not in allowed and w not in _CONNECTORS for w in _norm_words(sentence)):
            return f"instruction: the rewrite adds the instruction {sentence.strip()[:80]!r}"
    return None


def _counts(original: str, rewrite: str) -> str | None:
    before, after = _norm_words(original), _norm_words(rewrite)
    for name, vocabulary in (("polarity", POLARITY_WORDS), ("numbers", _NUMBER_WORDS), ("dates", _DATE_WORDS)):
        problem = _counter_diff(name, _pick(before, vocabulary), _pick(after, vocabulary))
        if problem is not None:
            return problem
    problem = _counter_diff("numbers", Counter(_NUMBER.findall(original)), Counter(_NUMBER.findall(rewrite)))
    return problem or _counter_diff("units", _quantities(before), _quantities(after))


def _names(original: str, rewrite: str) -> str | None:
    lost = sorted(_entities(original) - _cased_words(rewrite))
    if lost:
        return f"entities: the rewrite drops {', '.join(lost[:5])}"
    invented = sorted(_entities(rewrite) - _cased_words(original))
    return f"entities: the rewrite introduces {', '.join(invented[:5])}" if invented else None


def _words(original: str, rewrite: str, min_share: float) -> str | None:
    before, after = _norm_words(original), _norm_words(rewrite)
    known = set(before)
    novel = [w for w in after if w not in known and w not in _CONNECTORS]
    if after and len(novel) > max(2, len(after) // 4):
        return f"new words: {len(novel)} of {len(after)} words are not in the original"
    counts_before = Counter(before)
    repeated = sorted(w for w, n in Counter(after).items() if w not in _CONNECTORS and n > counts_before[w] > 0)
    if len(repeated) >= 2:  # a shortened text never says more; several repeats is an added sentence
        return f"repeated words: {', '.join(repeated[:5])} occur more often than in the original"
    if before and len(after) < min_share * len(before):
        return f"length: the rewrite keeps {len(after)} of {len(before)} words (< {min_share:.0%})"
    return None


def fidelity_problem(
    original: str,
    rewrite: str,
    *,
    masked_original: str | None = None,
    masked_rewrite: str | None = None,
    min_share: float = 0.0,
) -> str | None:
    """Why ``rewrite`` may not stand in for ``original`` (see the module docstring), or ``None``.

    Args:
        original: The text as the user wrote it.
        rewrite: The compressed text, every protected span restored.
        masked_original: ``original`` with its protected spans as placeholders (the
            instruction check then looks at the compressible prose only).
        masked_rewrite: The rewrite as the compressor returned it (placeholders in place).
        min_share: Fewest words the rewrite may keep, as a share of the original's.
    """
    prose_before = original if masked_original is None else masked_original
    prose_after = rewrite if masked_rewrite is None else masked_rewrite
    return (
        _injection(original, rewrite)
        or _instruction(prose_before, prose_after)
        or _counts(original, rewrite)
        or _names(original, rewrite)
        or _words(original, rewrite, min_share)
    )
