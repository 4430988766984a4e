r"""Protected spans of a prompt: found, swapped for placeholders, restored byte for byte.

A compressor may rewrite prose freely, but some text must reach the answering model exactly as
the user wrote it. :func:`protect` finds those spans, replaces each with a short placeholder
(``[P0]``, ``[P1]``...) and returns a :class:`ProtectedText`; after the rewrite,
:meth:`ProtectedText.restore` puts every original span back, byte-identical, or reports why it
cannot (a placeholder lost, duplicated, invented or moved), in which case the caller keeps the
original text.

Protected, in this order (later detectors never look inside earlier spans):

1. explicit do-not-compress spans: ``<keep>...</keep>`` (tags kept too);
2. fenced code blocks (````` ``` ````` or ``~~~``, an unterminated fence runs to the end);
3. indented code blocks: runs of lines indented by four spaces or a tab (blank lines between
   them included);
4. Markdown tables: runs of two or more lines starting with ``|``, or lines with a ``|`` around
   a ``---|---`` separator row;
5. XML/HTML: elements with their content (``<tag ...>...</tag>``), comments, and lone tags;
6. inline code (`` `...` ``);
7. JSON objects and arrays that parse (``json.JSONDecoder.raw_decode``);
8. URLs and e-mail addresses;
9. quoted text: ``"..."``, ``'...'`` (not an apostrophe: the quotes must not touch a letter
   outside), curly double and single quotes, low-high quotes, guillemets (double and single),
   and Markdown block quotes (``> ...`` lines);
10. instructions: sentences opening with an imperative verb (answer, return, reply, list...) or
   a directive (never, always, do not, only, make sure...), and sentences where a directive
   (must, should, exactly...) is addressed to the model (you, your, the answer, the output...);
   narrative such as "support never called back" stays compressible;
11. numbers and any word containing a digit (dates, versions, amounts, ids, ``gpt-4o``).

Overlapping spans are merged, so a quote around inline code is one span.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = [
    "DIRECTIVE_WORDS",
    "IMPERATIVE_VERBS",
    "ProtectedText",
    "Span",
    "find_protected_spans",
    "instruction_sentences",
    "protect",
]

_FILL = "\x00"

DIRECTIVE_WORDS: tuple[str, ...] = (
    "must",
    "never",
    "always",
    "do not",
    "don't",
    "does not",
    "should",
    "shall",
    "only",
    "exactly",
    "required",
    "require",
    "ensure",
    "make sure",
    "important",
    "mandatory",
    "forbidden",
    "avoid",
)
IMPERATIVE_VERBS: tuple[str, ...] = (
    "answer",
    "return",
    "reply",
    "respond",
    "output",
    "write",
    "list",
    "summarize",
    "summarise",
    "translate",
    "explain",
    "format",
    "use",
    "include",
    "give",
    "classify",
    "extract",
    "rewrite",
    "compare",
    "tell",
    "describe",
    "provide",
    "keep",
    "please",
)

_KEEP = re.compile(r"<keep>.*?</keep>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"(?ms)^[ \t]*(```|~~~)[^\n]*\n.*?(?:^[ \t]*\1[ \t]*$|\Z)")
_INDENTED = re.compile(r"(?m)^(?:    |\t)[^\n]*\S[^\n]*(?:\n(?:[ \t]*\n)*(?:    |\t)[^\n]*\S[^\n]*)*")
_TABLE_ROWS = re.compile(r"(?m)^[ \t]*\|[^\n]*(?:\n[ \t]*\|[^\n]*)+")
_TABLE_SEPARATOR = re.compile(r"(?m)^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*(?:\|[ \t]*:?-{3,}:?[ \t]*)+\|?[ \t]*$")
_XML = re.compile(
    r"<!--.*?-->"
    r"|<([A-Za-z][\w:.-]*)(?:\s[^<>]*)?(?<!/)>.*?</\1\s*>"
    r"|</?[A-Za-z][\w:.-]*(?:\s[^<>]*)?/?>",
    re.DOTALL,
)
_INLINE_CODE = re.compile(r"`[^`\n]+`")
_URL = re.compile(r"\bhttps?://[^\s<>\"'\x00]+|\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_QUOTE = re.compile(
    r"\"[^\"\n]{1,2000}\""
    r"|(?<![^\W_])'(?=[^\s'])(?:[^'\n]|(?<=[^\W_])'(?=[^\W_])){0,2000}?(?<=[^\s'])'(?![^\W_])"
    r"|“[^”\n]{1,2000}”"
    r"|\u2018[^\u2018\n]{0,2000}?\u2019(?![^\W_])"
    r"|„[^“”\n]{1,2000}[“”]"
    r"|«[^»\n]{1,2000}»"
    r"|\u2039[^\u203a\n]{1,2000}\u203a"
    r"|^[ \t]*>[^\n]*$",
    re.MULTILINE,
)
_SENTENCE = re.compile(r"[^\n.!?]+(?:[.!?]+|$)", re.MULTILINE)
_DIRECTIVE = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in DIRECTIVE_WORDS) + r")\b", re.IGNORECASE)
_IMPERATIVE = re.compile(r"^\W*(?:" + "|".join(IMPERATIVE_VERBS) + r")\b", re.IGNORECASE)
_LEADING_DIRECTIVE = re.compile(r"^\W*(?:" + "|".join(re.escape(w) for w in DIRECTIVE_WORDS) + r")\b", re.IGNORECASE)
_ADDRESSEE = re.compile(r"\b(?:you|your|assistant|answer|reply|response|output)\b", re.IGNORECASE)
_NUMBER_WORD = re.compile(r"[^\s\x00]*\d[^\s\x00]*")
_TRAILING_PUNCT = ".,;:!?)]}\"'"
_LEADING_PUNCT = "([{\"'"


@dataclass(frozen=True, slots=True)
class Span:
    """A protected part of a text: ``text[start:end]``, found by detector ``kind``."""

    start: int
    end: int
    kind: str


def _keep(work: str) -> Iterator[tuple[int, int]]:
    for m in _KEEP.finditer(work):
        yield m.span()


def _regex(pattern: re.Pattern[str]) -> Callable[[str], Iterator[tuple[int, int]]]:
    def find(work: str) -> Iterator[tuple[int, int]]:
        for m in pattern.finditer(work):
            if m.end() > m.start():
                yield m.span()

    return find


def _tables(work: str) -> Iterator[tuple[int, int]]:
    """Pipe tables: rows that start with ``|``, or any ``|`` lines around a separator row."""
    for m in _TABLE_ROWS.finditer(work):
        yield m.span()
    for m in _TABLE_SEPARATOR.finditer(work):
        start, end = m.span()
        while start > 0:
            prev = work.rfind("\n", 0, start - 1) + 1
            if "|" not in work[prev : start - 1] or not work[prev : start - 1].strip():
                break
            start = prev
        while end < len(work):
            nxt = work.find("\n", end + 1)
            nxt = len(work) if nxt < 0 else nxt
            if "|" not in work[end + 1 : nxt] or not work[end + 1 : nxt].strip():
                break
            end = nxt
        yield start, end


def _urls(work: str) -> Iterator[tuple[int, int]]:
    for m in _URL.finditer(work):
        start, end = m.span()
        while end > start and work[end - 1] in _TRAILING_PUNCT:
            end -= 1
        yield start, end


def _json(work: str) -> Iterator[tuple[int, int]]:
    decoder = json.JSONDecoder()
    i = 0
    n = len(work)
    while i < n:
        ch = work[i]
        if ch in "{[":
            try:
                value, end = decoder.raw_decode(work, i)
            except ValueError:
                i += 1
                continue
            if isinstance(value, dict | list) and end - i > 2:
                yield i, end
                i = end
                continue
        i += 1


def _instructions(work: str) -> Iterator[tuple[int, int]]:
    for m in _SENTENCE.finditer(work):
        sentence = m.group(0)
        stripped = sentence.strip()
        if not stripped or set(stripped) <= {_FILL}:
            continue
        plain = sentence.replace(_FILL, " ")
        addressed = _DIRECTIVE.search(plain) is not None and _ADDRESSEE.search(plain) is not None
        if addressed or _IMPERATIVE.match(plain) or _LEADING_DIRECTIVE.match(plain):
            lead = len(sentence) - len(sentence.lstrip())
            trail = len(sentence) - len(sentence.rstrip())
            yield m.start() + lead, m.end() - trail


def instruction_sentences(text: str) -> list[str]:
    """The sentences of ``text`` that read as instructions to a model (detector 10 above)."""
    work = text.replace(_FILL, " ")
    return [work[s:e] for s, e in _instructions(work)]


def _numbers(work: str) -> Iterator[tuple[int, int]]:
    for m in _NUMBER_WORD.finditer(work):
        start, end = m.span()
        while end > start and work[end - 1] in _TRAILING_PUNCT:
            end -= 1
        while start < end and work[start] in _LEADING_PUNCT:
            start += 1
        if end > start:
            yield start, end


_DETECTORS: tuple[tuple[str, Callable[[str], Iterator[tuple[int, int]]]], ...] = (
    ("keep", _keep),
    ("code", _regex(_FENCE)),
    ("code", _regex(_INDENTED)),
    ("table", _tables),
    ("xml", _regex(_XML)),
    ("inline_code", _regex(_INLINE_CODE)),
    ("json", _json),
    ("url", _urls),
    ("quote", _regex(_QUOTE)),
    ("instruction", _instructions),
    ("number", _numbers),
)


def find_protected_spans(text: str, *, instructions: bool = True) -> list[Span]:
    """The protected spans of ``text``, sorted and non-overlapping.

    Args:
        text: The text to scan.
        instructions: Also protect directive / imperative sentences.

    Returns:
        Merged spans; a merged span takes the kind of its first part.
    """
    work = text.replace(_FILL, " ")
    found: list[Span] = []
    for kind, detect in _DETECTORS:
        if kind == "instruction" and not instructions:
            continue
        new = [Span(s, e, kind) for s, e in detect(work)]
        for sp in new:
            work = work[: sp.start] + _FILL * (sp.end - sp.start) + work[sp.end :]
        found.extend(new)
    found.sort(key=lambda s: (s.start, -s.end))
    merged: list[Span] = []
    for sp in found:
        if merged and sp.start <= merged[-1].end:
            last = merged[-1]
            if sp.end > last.end:
                merged[-1] = Span(last.start, sp.end, last.kind)
            continue
        merged.append(sp)
    return merged


def _placeholder_prefix(text: str) -> str:
    for prefix in ("P", "PX", "KEEP", "Q9Z"):
        if not re.search(rf"\[{prefix}\d+\]", text):
            return prefix
    n = 0
    while re.search(rf"\[Z{n}_\d+\]", text):
        n += 1
    return f"Z{n}_"


@dataclass(frozen=True, slots=True)
class ProtectedText:
    """A text with its protected spans swapped for placeholders.

    Attributes:
        original: The text as given.
        masked: The text with each protected span replaced by its placeholder.
        spans: The protected spans of ``original``, in order.
        placeholders: ``placeholders[i]`` stands for ``spans[i]``.
        prefix: Letters of the placeholders (``P`` unless the text already holds ``[P0]``...).
    """

    original: str
    masked: str
    spans: tuple[Span, ...]
    placeholders: tuple[str, ...]
    prefix: str = "P"

    @property
    def protected_texts(self) -> tuple[str, ...]:
        """The original text of every protected span."""
        return tuple(self.original[s.start : s.end] for s in self.spans)

    @property
    def prose(self) -> str:
        """The compressible text only (masked text without its placeholders)."""
        out = self.masked
        for ph in self.placeholders:
            out = out.replace(ph, " ")
        return out

    def check(self, rewritten: str) -> str | None:
        """Why ``rewritten`` cannot be restored, or ``None`` when it can.

        Every placeholder must appear exactly once, in the original order, and no unknown
        placeholder may appear.
        """
        pattern = re.compile(rf"\[{re.escape(self.prefix)}\d+\]")
        seen = pattern.findall(rewritten)
        if len(seen) != len(set(seen)):
            dup = sorted({p for p in seen if seen.count(p) > 1})
            return f"placeholder(s) duplicated: {', '.join(dup)}"
        unknown = [p for p in seen if p not in self.placeholders]
        if unknown:
            return f"unknown placeholder(s): {', '.join(unknown)}"
        missing = [p for p in self.placeholders if p not in seen]
        if missing:
            return f"placeholder(s) lost: {', '.join(missing)}"
        if seen != list(self.placeholders):
            return "placeholders reordered"
        return None

    def restore(self, rewritten: str) -> str:
        """``rewritten`` with every placeholder replaced by its original span.

        Raises:
            ValueError: :meth:`check` found a problem (the caller keeps the original).
        """
        problem = self.check(rewritten)
        if problem is not None:
            raise ValueError(problem)
        out = rewritten
        for ph, original in zip(self.placeholders, self.protected_texts, strict=True):
            out = out.replace(ph, original, 1)
        return out


def protect(text: str, *, instructions: bool = True) -> ProtectedText:
    """Finds the protected spans of ``text`` and masks them (see the module docstring)."""
    spans = find_protected_spans(text, instructions=instructions)
    prefix = _placeholder_prefix(text)
    placeholders = tuple(f"[{prefix}{i}]" for i in range(len(spans)))
    parts: list[str] = []
    pos = 0
    for sp, ph in zip(spans, placeholders, strict=True):
        parts.append(text[pos : sp.start])
        parts.append(ph)
        pos = sp.end
    parts.append(text[pos:])
    return ProtectedText(text, "".join(parts), tuple(spans), placeholders, prefix)
