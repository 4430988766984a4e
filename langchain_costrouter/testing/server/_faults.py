"""Deterministic faults on demand: rate limits, server errors, timeouts, broken streams.

Faults come from three places, first found wins:

1. the ``x-costrouter-fault`` request header, e.g. ``429`` or ``timeout:5``;
2. a marker in the last user message, e.g. ``[[fault:500]]`` or ``[[fault:broken_stream:2]]``
   (the marker is removed from the text the model "sees");
3. the model's ``faults`` list in the script, whose ``after``/``times`` counters count down per
   server, so a run (and a cassette recorded from it) replays the same failures;
4. a server's :class:`RandomFaults` (chaos runs): a seeded draw per request, at a given rate.

Kinds: an HTTP status (``"429"``, ``"500"``, ``"503"``, ...; 429 carries ``retry-after``),
``context_length`` (400 ``context_length_exceeded``), ``timeout`` (sleeps ``delay_s`` before
answering, default 30 s), ``slow`` (sleeps ``delay_s``, default 0.2 s, then answers normally) and
``broken_stream`` (drops the connection after ``after_chunks`` SSE chunks, default 3; a
non-streaming request gets no response at all).
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_costrouter.core.errors import ConfigError

__all__ = [
    "FAULT_HEADER",
    "FaultSpec",
    "FaultState",
    "RandomFaults",
    "parse_fault_spec",
    "parse_fault_string",
    "strip_fault_marker",
]

FAULT_HEADER = "x-costrouter-fault"
_MARKER = re.compile(r"\s*\[\[fault:([^\]]+)\]\]\s*")
_NAMED_KINDS = frozenset({"timeout", "slow", "broken_stream", "context_length"})
DEFAULT_TIMEOUT_DELAY_S = 30.0
DEFAULT_SLOW_DELAY_S = 0.2
DEFAULT_BROKEN_AFTER_CHUNKS = 3


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """One fault.

    Attributes:
        kind: An HTTP status code as a string (``"429"``, ``"500"``...), ``context_length``,
            ``timeout``, ``slow`` or ``broken_stream``.
        times: How many requests it hits before it is spent; ``None`` means every request.
        after: Requests to the model let through before it starts firing.
        retry_after: Seconds sent in the ``retry-after`` header of a 429 (default 1).
        delay_s: Sleep of ``timeout`` and ``slow`` faults.
        after_chunks: SSE chunks sent before a ``broken_stream`` drops the connection.
        message: Error message override.
    """

    kind: str
    times: int | None = None
    after: int = 0
    retry_after: float | None = None
    delay_s: float | None = None
    after_chunks: int | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _NAMED_KINDS and not (self.kind.isdigit() and 400 <= int(self.kind) <= 599):
            msg = f"unknown fault kind {self.kind!r} (an HTTP status 400-599, or {', '.join(sorted(_NAMED_KINDS))})"
            raise ConfigError("kind", msg)
        if (self.times is not None and self.times < 0) or self.after < 0:
            raise ConfigError("times", "times and after must be >= 0")

    @property
    def status(self) -> int | None:
        """The HTTP status this fault answers with, if it is an error response."""
        if self.kind.isdigit():
            return int(self.kind)
        return 400 if self.kind == "context_length" else None

    @property
    def delay(self) -> float:
        """Seconds a ``timeout`` or ``slow`` fault sleeps (0 for other kinds)."""
        if self.kind == "timeout":
            return DEFAULT_TIMEOUT_DELAY_S if self.delay_s is None else self.delay_s
        if self.kind == "slow":
            return DEFAULT_SLOW_DELAY_S if self.delay_s is None else self.delay_s
        return 0.0

    @property
    def chunks_before_break(self) -> int:
        """SSE chunks sent before a ``broken_stream`` fault drops the connection."""
        return DEFAULT_BROKEN_AFTER_CHUNKS if self.after_chunks is None else self.after_chunks


def parse_fault_spec(data: Mapping[str, Any], path: str = "fault") -> FaultSpec:
    """Builds a :class:`FaultSpec` from its script form; errors name ``path``."""
    if not isinstance(data, Mapping) or "kind" not in data:
        raise ConfigError(f"{path}.kind", "a fault is a mapping with a `kind`")
    known = {"kind", "times", "after", "retry_after", "delay_s", "after_chunks", "message"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}", f"unknown field (expected one of {', '.join(sorted(known))})")

    def num(key: str, cast: type[int] | type[float]) -> Any:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}.{key}", f"expected a number, got {value!r}")
        return cast(value)

    try:
        return FaultSpec(
            kind=str(data["kind"]).strip().lower(),
            times=num("times", int),
            after=num("after", int) or 0,
            retry_after=num("retry_after", float),
            delay_s=num("delay_s", float),
            after_chunks=num("after_chunks", int),
            message=None if data.get("message") is None else str(data["message"]),
        )
    except ConfigError as exc:
        if exc.field.startswith(path):
            raise
        raise ConfigError(f"{path}.{exc.field}", exc.reason) from exc


def parse_fault_string(text: str) -> FaultSpec:
    """Parses ``kind[:arg]`` as used by markers and the header.

    ``arg`` is ``retry_after`` for 429, ``delay_s`` for ``timeout``/``slow`` and
    ``after_chunks`` for ``broken_stream``.

    Raises:
        ConfigError: Unknown kind or bad argument (field ``fault``).
    """
    kind, _, arg = text.strip().lower().partition(":")
    kind = kind.strip()
    arg = arg.strip()
    try:
        if not arg:
            return FaultSpec(kind=kind)
        if kind == "429":
            return FaultSpec(kind=kind, retry_after=float(arg))
        if kind in {"timeout", "slow"}:
            return FaultSpec(kind=kind, delay_s=float(arg))
        if kind == "broken_stream":
            return FaultSpec(kind=kind, after_chunks=int(arg))
        return FaultSpec(kind=kind, message=arg)
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise ConfigError("fault", exc.reason) from exc
        raise ConfigError("fault", f"bad argument {arg!r} for fault {kind!r}") from exc


def strip_fault_marker(text: str) -> tuple[str, str | None]:
    """Removes ``[[fault:...]]`` markers from ``text``.

    Returns:
        The text without markers and the first marker's body (``None`` without a marker).
    """
    match = _MARKER.search(text)
    if match is None:
        return text, None
    cleaned = _MARKER.sub(" ", text).strip()
    return cleaned, match.group(1)


class FaultState:
    """Per-server counters of scripted faults (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[str, int] = {}
        self._fired: dict[tuple[str, int], int] = {}

    def pick(self, model: str, specs: Sequence[FaultSpec]) -> FaultSpec | None:
        """The scripted fault the next request to ``model`` gets, counting the request.

        The first spec (in order) whose ``after`` is at most the number of earlier requests to
        ``model`` and whose ``times`` is not spent fires.
        """
        if not specs:
            return None
        with self._lock:
            index = self._requests.get(model, 0)
            self._requests[model] = index + 1
            for i, spec in enumerate(specs):
                if index < spec.after:
                    continue
                key = (model, i)
                fired = self._fired.get(key, 0)
                if spec.times is not None and fired >= spec.times:
                    continue
                self._fired[key] = fired + 1
                return spec
        return None

    def reset(self) -> None:
        """Forgets every counter (faults fire again from the start)."""
        with self._lock:
            self._requests.clear()
            self._fired.clear()


class RandomFaults:
    """Faults drawn at random for a share of the requests (chaos benchmarks; thread-safe).

    Args:
        rate: Share of requests (0-1) that get a fault.
        kinds: The faults to draw from, with their weights.
        seed: Seed of the draws (the same arrival order gets the same faults).
        models: Only requests to these models get faults (``None``: every model).
    """

    def __init__(
        self,
        rate: float,
        kinds: Sequence[tuple[FaultSpec, float]],
        *,
        seed: int | None = None,
        models: frozenset[str] | None = None,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ConfigError("rate", f"expected a share between 0 and 1, got {rate!r}")
        if rate > 0 and (not kinds or any(w < 0 for _, w in kinds) or sum(w for _, w in kinds) <= 0):
            raise ConfigError("kinds", "expected at least one fault with a positive weight")
        self.rate = rate
        self.kinds = tuple(kinds)
        self.models = models
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.fired: dict[str, int] = {}

    def pick(self, model: str) -> FaultSpec | None:
        """The fault of the next request to ``model`` (``None``: no fault), counted in :attr:`fired`."""
        if self.rate <= 0 or (self.models is not None and model not in self.models):
            return None
        with self._lock:
            if self._rng.random() >= self.rate:
                return None
            specs = [k for k, _ in self.kinds]
            spec = self._rng.choices(specs, weights=[w for _, w in self.kinds])[0]
            self.fired[spec.kind] = self.fired.get(spec.kind, 0) + 1
            return spec
