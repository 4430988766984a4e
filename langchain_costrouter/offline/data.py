"""Evaluation data with recorded answers of several models (the RouteLLM CSV format).

One row per prompt; for every model ``M`` a quality column ``M`` (``True``/``False`` or a
score in [0, 1]) and a response column ``M_response`` (the full answer text)::

    prompt,cheap/model,premium-model,cheap/model_response,premium-model_response
    "Janet's ducks lay 16 eggs...",True,True,"Janet starts with 16 eggs...","Janet uses 3 eggs..."

Model names and column names are arguments, never assumptions: the same code reads any task
and any pair of models. Malformed data raises :class:`DataError` naming the file, the record
(and its line) and the column.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from langchain_costrouter.core._resources import data_path
from langchain_costrouter.core.errors import DataError
from langchain_costrouter.offline._arrays import FloatArray, IntArray

__all__ = [
    "BUNDLED_GSM8K",
    "QualityKind",
    "RoutedDataset",
    "bundled_data_path",
    "load_routellm_csv",
    "parse_quality",
]

logger = logging.getLogger(__name__)

BUNDLED_GSM8K = "gsm8k_routellm_dev.csv"
"""File name of the bundled GSM8K sample (see NOTICE): cheap ``mistralai/Mixtral-8x7B-Instruct-v0.1``,
premium ``gpt-4-1106-preview``."""

QualityKind = Literal["binary", "numeric"]

_TRUE = frozenset({"true", "yes"})
_FALSE = frozenset({"false", "no"})


def parse_quality(value: str | None) -> tuple[float, bool]:
    """Parses a quality cell: ``True``/``False`` (any case, also yes/no) or a number in [0, 1].

    Returns:
        The quality as a float and whether the cell was boolean.

    Raises:
        ValueError: Anything else (empty, not a number, NaN, out of [0, 1]).
    """
    if value is None:
        msg = "missing value"
        raise ValueError(msg)
    v = value.strip()
    low = v.lower()
    if low in _TRUE:
        return 1.0, True
    if low in _FALSE:
        return 0.0, True
    try:
        q = float(v)
    except ValueError:
        msg = f"{value!r} is neither True/False nor a number in [0, 1]"
        raise ValueError(msg) from None
    if not math.isfinite(q) or not 0.0 <= q <= 1.0:
        msg = f"{value!r} is outside [0, 1]"
        raise ValueError(msg)
    return q, False


@dataclass(frozen=True, slots=True)
class RoutedDataset:
    """Prompts with every model's recorded answer and its quality.

    Attributes:
        prompts: The prompts (the last user message of each request).
        responses: Per model, the answer texts, aligned with ``prompts``.
        quality: Per model, qualities in [0, 1] (1/0 for correct/incorrect), aligned with ``prompts``.
        quality_kind: Per model, ``binary`` when every cell was True/False, else ``numeric``.
        source: Where the data came from (a path, or ``<memory>``).
        sha256: Hash of the file's bytes (or of the records), for training metadata.
    """

    prompts: tuple[str, ...]
    responses: Mapping[str, tuple[str, ...]]
    quality: Mapping[str, FloatArray]
    quality_kind: Mapping[str, QualityKind]
    source: str = "<memory>"
    sha256: str = ""

    def __post_init__(self) -> None:
        n = len(self.prompts)
        for m in self.responses:
            if m not in self.quality:
                msg = f"{self.source}: model {m!r} has responses but no quality"
                raise DataError(msg)
        for m, q in self.quality.items():
            if m not in self.responses:
                msg = f"{self.source}: model {m!r} has quality but no responses"
                raise DataError(msg)
            if len(self.responses[m]) != n or q.shape != (n,):
                msg = f"{self.source}: model {m!r} has {len(self.responses[m])} answers for {n} prompts"
                raise DataError(msg)

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def models(self) -> tuple[str, ...]:
        """The models with recorded answers."""
        return tuple(self.responses)

    def _check(self, model: str) -> None:
        if model not in self.responses:
            msg = f"{self.source}: no data for model {model!r}; models: {list(self.responses)}"
            raise DataError(msg)

    def answers(self, model: str) -> tuple[str, ...]:
        """The answers of ``model``.

        Raises:
            DataError: Unknown model.
        """
        self._check(model)
        return self.responses[model]

    def quality_of(self, model: str) -> FloatArray:
        """The qualities of ``model``'s answers.

        Raises:
            DataError: Unknown model.
        """
        self._check(model)
        return self.quality[model]

    def subset(self, idx: Sequence[int] | IntArray) -> RoutedDataset:
        """The rows ``idx`` (same source and hash, with the row count in ``source``)."""
        ix = [int(i) for i in idx]
        return RoutedDataset(
            tuple(self.prompts[i] for i in ix),
            {m: tuple(r[i] for i in ix) for m, r in self.responses.items()},
            {m: q[np.asarray(ix, dtype=np.intp)] for m, q in self.quality.items()},
            dict(self.quality_kind),
            f"{self.source}[{len(ix)} rows]",
            self.sha256,
        )

    @classmethod
    def from_records(
        cls,
        prompts: Sequence[str],
        responses: Mapping[str, Sequence[str]],
        quality: Mapping[str, Sequence[float] | Sequence[bool]],
        *,
        source: str = "<memory>",
    ) -> RoutedDataset:
        """Builds a data set from in-memory columns (qualities as bools or floats in [0, 1]).

        Raises:
            DataError: Misaligned columns or qualities outside [0, 1].
        """
        q: dict[str, FloatArray] = {}
        kinds: dict[str, QualityKind] = {}
        for m, vals in quality.items():
            arr = np.asarray([float(v) for v in vals], dtype=np.float64)
            if not np.all(np.isfinite(arr) & (arr >= 0) & (arr <= 1)):
                msg = f"{source}: quality of model {m!r} must be in [0, 1]"
                raise DataError(msg)
            q[m] = arr
            binary = all(isinstance(v, bool) for v in vals) or bool(np.all((arr == 0) | (arr == 1)))
            kinds[m] = "binary" if binary else "numeric"
        ds = cls(tuple(prompts), {m: tuple(r) for m, r in responses.items()}, q, kinds, source)
        h = hashlib.sha256()
        for i, p in enumerate(ds.prompts):
            h.update(p.encode())
            for m in sorted(ds.responses):
                h.update(b"\x00" + ds.responses[m][i].encode() + f"\x00{ds.quality[m][i]!r}".encode())
        return dataclasses.replace(ds, sha256=h.hexdigest())


def bundled_data_path(name: str = BUNDLED_GSM8K) -> Path:
    """Path of a data file shipped in ``langchain_costrouter/data``.

    Raises:
        DataError: No such bundled file.
    """
    return data_path(name)


def _read_text(p: Path) -> tuple[bytes, str]:
    try:
        raw = p.read_bytes()
    except FileNotFoundError as exc:
        msg = f"data file not found: {p}"
        raise DataError(msg) from exc
    except OSError as exc:
        msg = f"cannot read data file {p}: {exc}"
        raise DataError(msg) from exc
    try:
        return raw, raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        msg = f"{p}: not UTF-8 text ({exc})"
        raise DataError(msg) from exc


def _parse_cells(row: Mapping[str, str | None], r_col: str, q_col: str, where: str) -> tuple[str, float, bool]:
    resp = row.get(r_col)
    if resp is None:
        msg = f"{where} {r_col!r}: missing field (the row is shorter than the header)"
        raise DataError(msg)
    try:
        q, is_bool = parse_quality(row.get(q_col))
    except ValueError as exc:
        msg = f"{where} {q_col!r}: bad quality value: {exc}"
        raise DataError(msg) from None
    return resp, q, is_bool


def load_routellm_csv(
    path: str | Path,
    models: Sequence[str],
    *,
    prompt_column: str = "prompt",
    quality_columns: Mapping[str, str] | None = None,
    response_columns: Mapping[str, str] | None = None,
    response_suffix: str = "_response",
) -> RoutedDataset:
    """Reads a RouteLLM-format CSV for the given models.

    Args:
        path: The CSV file (UTF-8, header row).
        models: Models to read; each needs a quality and a response column.
        prompt_column: Column holding the prompt.
        quality_columns: Per model, its quality column (default: the model name).
        response_columns: Per model, its response column (default: model name + ``response_suffix``).
        response_suffix: Suffix of the default response column names.

    Raises:
        DataError: Missing file or columns, an empty prompt, a missing field, or a quality cell
            that is neither True/False nor a number in [0, 1]; the message names the file, the
            record number (1-based, header excluded), its line and the column.
    """
    p = Path(path)
    if not models:
        msg = f"{p}: give at least one model to read"
        raise DataError(msg)
    raw, text = _read_text(p)
    q_cols = {m: (quality_columns or {}).get(m, m) for m in models}
    r_cols = {m: (response_columns or {}).get(m, m + response_suffix) for m in models}
    csv.field_size_limit(max(csv.field_size_limit(), 16 * 1024 * 1024))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    if not header:
        msg = f"{p}: empty file (no header row)"
        raise DataError(msg)
    needed = [prompt_column, *q_cols.values(), *r_cols.values()]
    missing = [c for c in dict.fromkeys(needed) if c not in header]
    if missing:
        msg = f"{p}: missing column(s) {missing}; the header has {header}"
        raise DataError(msg)
    prompts: list[str] = []
    responses: dict[str, list[str]] = {m: [] for m in models}
    quality: dict[str, list[float]] = {m: [] for m in models}
    all_bool = dict.fromkeys(models, True)
    try:
        for rec, row in enumerate(reader, start=1):
            where = f"{p}: record {rec} (line {reader.line_num}), column"
            prompt = row.get(prompt_column)
            if prompt is None or not prompt.strip():
                msg = f"{where} {prompt_column!r}: empty or missing prompt"
                raise DataError(msg)
            prompts.append(prompt)
            for m in models:
                resp, q, is_bool = _parse_cells(row, r_cols[m], q_cols[m], where)
                responses[m].append(resp)
                quality[m].append(q)
                all_bool[m] = all_bool[m] and is_bool
    except csv.Error as exc:
        msg = f"{p}: malformed CSV near line {reader.line_num}: {exc}"
        raise DataError(msg) from exc
    if not prompts:
        msg = f"{p}: no data rows"
        raise DataError(msg)
    kinds: dict[str, QualityKind] = {m: "binary" if all_bool[m] else "numeric" for m in models}
    logger.info("read %d rows for %s from %s", len(prompts), list(models), p)
    return RoutedDataset(
        tuple(prompts),
        {m: tuple(v) for m, v in responses.items()},
        {m: np.asarray(v, dtype=np.float64) for m, v in quality.items()},
        kinds,
        str(p),
        hashlib.sha256(raw).hexdigest(),
    )
