"""The server's own bill: one line per chat request it handled, with the usage it charged.

A benchmark compares a client's cost ledger with this log, so the rule of what is billed is
fixed here (the same rule a provider would apply):

- An **error answer** (429, 5xx, ``context_length``) and a **dropped connection** the server
  chose (``broken_stream`` before any content token) bill nothing: the provider failed.
- A **complete answer** (JSON, or a stream that reached ``[DONE]``) bills its prompt and all
  its completion tokens, whether or not the client was still there to read it.
- A **broken stream** that sent content bills the prompt and the content tokens it sent.
- An **abandoned request** (the client closed the connection while the server slept or
  streamed) bills the prompt and the content tokens already written: the provider had
  processed the prompt.

Lines carry a ``tag``: the first match of :attr:`BillLog.tag_pattern` in the request's messages
(e.g. ``[[ref:q00012]]``), so a client can correlate them with its own records.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["DEFAULT_TAG_PATTERN", "BillLine", "BillLog", "BillStatus"]

DEFAULT_TAG_PATTERN = r"\[\[ref:([A-Za-z0-9_.-]+)\]\]"

BillStatus = Literal["complete", "error", "dropped", "broken", "abandoned"]


@dataclass(frozen=True, slots=True)
class BillLine:
    """What the server charged for one request.

    Attributes:
        seq: Arrival order (0-based) of the request at the server.
        tag: The correlation tag found in the messages (``None`` without one).
        model: The model asked for.
        stream: Whether the answer was streamed.
        status: ``complete``, ``error`` (an HTTP error answer), ``dropped`` (the server closed
            the connection before any content), ``broken`` (a stream cut after content) or
            ``abandoned`` (the client went away first).
        http_status: The HTTP status sent (``None`` when no status line went out).
        prompt_tokens: Prompt tokens billed.
        completion_tokens: Completion tokens billed.
        fault: The injected fault's kind (``None`` without one).
    """

    seq: int
    tag: str | None
    model: str
    stream: bool
    status: BillStatus
    http_status: int | None
    prompt_tokens: int
    completion_tokens: int
    fault: str | None = None

    @property
    def billed(self) -> bool:
        """Whether any token was charged."""
        return self.prompt_tokens + self.completion_tokens > 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


class BillLog:
    """Thread-safe, append-only bill of a server (optionally mirrored to a JSONL file).

    Args:
        tag_pattern: Regex whose first group is a request's correlation tag.
        path: A JSONL file that receives every line as it is billed (``None``: memory only).
    """

    def __init__(self, tag_pattern: str = DEFAULT_TAG_PATTERN, path: str | Path | None = None) -> None:
        self.tag_pattern = re.compile(tag_pattern)
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._lines: list[BillLine] = []
        self._seq = 0

    def next_seq(self) -> int:
        """The arrival number of a new request."""
        with self._lock:
            seq = self._seq
            self._seq += 1
            return seq

    def tag_of(self, messages: list[Mapping[str, Any]]) -> str | None:
        """The first correlation tag in ``messages`` (string or text-part content)."""
        for msg in messages:
            content = msg.get("content")
            text = content if isinstance(content, str) else json.dumps(content, default=str)
            match = self.tag_pattern.search(text)
            if match is not None:
                return match.group(1)
        return None

    def add(self, line: BillLine) -> None:
        """Appends one line (and writes it to the mirror file)."""
        with self._lock:
            self._lines.append(line)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(line.to_dict()) + "\n")

    def lines(self) -> list[BillLine]:
        """A copy of the lines so far, in the order they were billed."""
        with self._lock:
            return list(self._lines)

    def clear(self) -> None:
        """Forgets every line."""
        with self._lock:
            self._lines.clear()
            self._seq = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._lines)

    def __iter__(self) -> Iterator[BillLine]:
        return iter(self.lines())
