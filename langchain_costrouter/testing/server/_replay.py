"""Replay of recorded model answers (RouteLLM CSV format), never inventing one.

The CSV has a ``prompt`` column, and for every model ``M`` a ``M_response`` column (the recorded
answer) and optionally an ``M`` column (its quality: ``True``/``False`` or a number in [0, 1]).
Model names are the names of the ``*_response`` columns without that suffix.

A request for model ``M`` is answered with the recorded ``M_response`` of the row whose prompt
equals the last user message (exactly, else after collapsing whitespace). A request for a
``provider/M`` name uses ``M`` when the full name is not recorded. Anything not recorded (model,
prompt, or an empty response cell) is a 404 with code ``replay_not_found``.
"""

from __future__ import annotations

import csv
import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_costrouter.core.errors import DataError, ReplayError
from langchain_costrouter.core.tokens import encoding_for_model
from langchain_costrouter.testing.server._engine import Draft, Plan
from langchain_costrouter.testing.server._faults import FaultSpec
from langchain_costrouter.testing.server._request import ChatCall
from langchain_costrouter.testing.server._script import DEFAULT_CONFIDENCE, resolve_model_name
from langchain_costrouter.testing.server._wire import ServerFailure

__all__ = ["RESPONSE_SUFFIX", "ReplayRecord", "ReplayScript", "normalise_prompt", "parse_quality"]

logger = logging.getLogger(__name__)

RESPONSE_SUFFIX = "_response"
_TRUE = frozenset({"true", "yes"})
_FALSE = frozenset({"false", "no"})


def normalise_prompt(text: str) -> str:
    """``text`` with runs of whitespace collapsed to one space and the ends stripped."""
    return " ".join(text.split())


def parse_quality(raw: str) -> float | None:
    """A quality cell as a number in [0, 1]: ``True``/``False``, or a number; empty -> ``None``.

    Raises:
        ValueError: Not a boolean or a number in [0, 1].
    """
    text = raw.strip()
    if not text:
        return None
    low = text.lower()
    if low in _TRUE:
        return 1.0
    if low in _FALSE:
        return 0.0
    value = float(text)
    if not 0.0 <= value <= 1.0:
        msg = f"quality {value} is outside [0, 1]"
        raise ValueError(msg)
    return value


@dataclass(frozen=True, slots=True)
class ReplayRecord:
    """One recorded answer and its quality label (``None`` without a quality column)."""

    response: str
    quality: float | None = None


class ReplayScript:
    """Recorded answers served by the local server.

    Args:
        records: Model -> prompt -> record.
        source: Where the records came from (shown in 404 messages).
        confidence: Per-token probability reported by logprobs.
        confidence_from_quality: Derive the logprob confidence from the quality label instead
            (between ``quality_confidence[0]`` for quality 0 and ``[1]`` for quality 1). Off by
            default: it leaks the label into the answer, so a logprob gate evaluated on replayed
            data would look perfect.
        quality_confidence: The confidence range used by ``confidence_from_quality``.
        latency_s: Delay before every answer.
        token_delay_s: Delay between streamed chunks.
        faults: Scripted faults per model.
        system_fingerprint: Reported in every response.
    """

    def __init__(
        self,
        records: Mapping[str, Mapping[str, ReplayRecord]],
        *,
        source: str = "replay data",
        confidence: float = DEFAULT_CONFIDENCE,
        confidence_from_quality: bool = False,
        quality_confidence: tuple[float, float] = (0.5, 0.95),
        latency_s: float = 0.0,
        token_delay_s: float = 0.0,
        faults: Mapping[str, Sequence[FaultSpec]] | None = None,
        system_fingerprint: str = "fp_costrouter_replay",
    ) -> None:
        self.source = source
        self.confidence = confidence
        self.confidence_from_quality = confidence_from_quality
        self.quality_confidence = quality_confidence
        self.latency_s = latency_s
        self.token_delay_s = token_delay_s
        self.faults = {k: tuple(v) for k, v in (faults or {}).items()}
        self.system_fingerprint = system_fingerprint
        self._exact: dict[str, dict[str, ReplayRecord]] = {m: dict(rows) for m, rows in records.items()}
        self._normalised: dict[str, dict[str, ReplayRecord]] = {}
        for model, rows in self._exact.items():
            norm: dict[str, ReplayRecord] = {}
            for prompt, record in rows.items():
                norm.setdefault(normalise_prompt(prompt), record)
            self._normalised[model] = norm

    @classmethod
    def from_csv(cls, path: str | Path, *, prompt_column: str = "prompt", **kwargs: Any) -> ReplayScript:
        """Loads a RouteLLM-format CSV; extra keyword arguments go to the constructor.

        Raises:
            DataError: The file is missing, has no prompt column or no ``*_response`` column, a
                row has more or fewer fields than the header (a truncated file), or a quality cell
                is not a boolean or a number in [0, 1].
        """
        p = Path(path)
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        try:
            with p.open(encoding="utf-8", newline="") as fh:
                reader = csv.DictReader(fh)
                columns = list(reader.fieldnames or [])
                if prompt_column not in columns:
                    msg = f"{p}: no {prompt_column!r} column (columns: {', '.join(map(repr, columns))})"
                    raise DataError(msg)
                models = [c[: -len(RESPONSE_SUFFIX)] for c in columns if c.endswith(RESPONSE_SUFFIX)]
                if not models:
                    msg = f"{p}: no '<model>{RESPONSE_SUFFIX}' column"
                    raise DataError(msg)
                records: dict[str, dict[str, ReplayRecord]] = {m: {} for m in models}
                duplicates = 0
                for line, row in enumerate(reader, start=2):
                    if None in row or None in row.values():  # cut short (truncated file) or too long
                        n = len([v for k, v in row.items() if k is not None and v is not None])
                        where = f"{p}:{reader.line_num}"
                        msg = f"{where}: a row of {n} fields under a header of {len(columns)} (truncated?)"
                        raise DataError(msg)
                    prompt = row.get(prompt_column) or ""
                    for model in models:
                        response = row.get(model + RESPONSE_SUFFIX) or ""
                        if not response or prompt in records[model]:
                            duplicates += bool(response)
                            continue
                        try:
                            quality = parse_quality(row.get(model) or "") if model in columns else None
                        except ValueError as exc:
                            msg = f"{p}:{line}: column {model!r}: {exc}"
                            raise DataError(msg) from exc
                        records[model][prompt] = ReplayRecord(response, quality)
        except OSError as exc:
            msg = f"cannot read replay data {p}: {exc}"
            raise DataError(msg) from exc
        except UnicodeDecodeError as exc:
            msg = f"{p}: not UTF-8 text (byte {exc.start}); save the replay CSV as UTF-8"
            raise DataError(msg) from None
        except csv.Error as exc:
            msg = f"{p}: malformed CSV: {exc}"
            raise DataError(msg) from None
        if duplicates:
            logger.warning("%s: %d duplicate prompt cells ignored (the first recording wins)", p, duplicates)
        return cls(records, source=str(p), **kwargs)

    def model_names(self) -> list[str]:
        """The recorded models."""
        return list(self._exact)

    def prompts(self, model: str) -> list[str]:
        """The prompts recorded for ``model``."""
        key = resolve_model_name(model, self._exact)
        return [] if key is None else list(self._exact[key])

    def lookup(self, model: str, prompt: str) -> ReplayRecord:
        """The recording of ``model`` for ``prompt``.

        Raises:
            ReplayError: The model or the prompt is not recorded.
        """
        key = resolve_model_name(model, self._exact)
        if key is None:
            msg = f"model {model!r} is not recorded in {self.source} (recorded: {', '.join(self._exact)})"
            raise ReplayError(msg)
        record = self._exact[key].get(prompt) or self._normalised[key].get(normalise_prompt(prompt))
        if record is None:
            snippet = prompt if len(prompt) <= 80 else prompt[:77] + "..."
            msg = f"no recorded answer of model {key!r} for the prompt {snippet!r} in {self.source}"
            raise ReplayError(msg)
        return record

    def _confidence(self, record: ReplayRecord) -> float:
        if not self.confidence_from_quality or record.quality is None:
            return self.confidence
        lo, hi = self.quality_confidence
        return lo + record.quality * (hi - lo)

    def plan(self, call: ChatCall) -> Plan:
        """Serves ``call`` from the recordings; 404 ``replay_not_found`` when there is none."""
        try:
            record = self.lookup(call.model, call.user_text)
        except ReplayError as exc:
            msg = f"{exc}. The replay server never invents answers."
            param = "messages" if resolve_model_name(call.model, self._exact) else "model"
            raise ServerFailure(404, msg, code="replay_not_found", param=param) from exc
        key = resolve_model_name(call.model, self._exact) or call.model
        draft = Draft(record.response, confidence=self._confidence(record))
        return Plan(
            key=key,
            compose=lambda _c: draft,
            encoding=encoding_for_model(key),
            faults=self.faults.get(key, ()),
            latency_s=self.latency_s,
            token_delay_s=self.token_delay_s,
        )
