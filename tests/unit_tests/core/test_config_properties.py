"""Property tests: the config loader and the CLI's data readers either succeed or raise their one
typed error with a one-line message, never another exception, whatever the input.

Inputs: random YAML documents, random structural mutations of the shipped example config, random
text edits of its YAML; random lines for the batch questions JSONL, the cache pairs JSONL, the
RouteLLM CSV of ``calibrate`` / ``bench`` and the replay server's CSV.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from langchain_costrouter.cli.batch import _read_questions
from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.errors import ConfigError, DataError
from langchain_costrouter.offline.cache_calibration import load_pairs
from langchain_costrouter.offline.data import load_routellm_csv
from langchain_costrouter.testing.server import ReplayScript

EXAMPLE = Path(__file__).parents[3] / "examples" / "costrouter.yaml"
EXAMPLE_TEXT = EXAMPLE.read_text(encoding="utf-8")
EXAMPLE_DATA: dict[str, Any] = yaml.safe_load(EXAMPLE_TEXT)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["", "openai/gpt-4o", "http://127.0.0.1:9/v1", "sqlite", "memory", "rules", "judge", "-1"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12,
)


def _one_line(exc: BaseException) -> None:
    text = str(exc)
    assert text.strip(), f"{type(exc).__name__} without a message"
    assert "\n" not in text, f"{type(exc).__name__} message spans lines: {text!r}"


def _load_yaml_text(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "costrouter.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            CostRouterConfig.from_yaml(path)
        except ConfigError as exc:
            _one_line(exc)


# ----------------------------------------------------------------------------- config loader
@SETTINGS
@given(values)
def test_any_yaml_document_is_a_config_or_a_config_error(doc: Any) -> None:
    _load_yaml_text(yaml.safe_dump(doc, allow_unicode=True))


@SETTINGS
@given(st.text(alphabet=st.sampled_from(list("abc:-{}[]&*!|>'\"#% \n\t0.,")), max_size=80))
def test_any_yaml_like_text_is_a_config_or_a_config_error(text: str) -> None:
    _load_yaml_text(text)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


EXAMPLE_PATHS = [p for p in _paths(EXAMPLE_DATA) if p]


@st.composite
def mutated_examples(draw: st.DrawFn) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLE_DATA)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(EXAMPLE_PATHS))
        parent: Any = data
        try:
            for part in path[:-1]:
                parent = parent[part]
            action = draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "replace":
                parent[path[-1]] = draw(values)
            elif action == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[draw(st.text(max_size=10))] = draw(values)
            else:
                parent.append(draw(values))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced this path
    return data


@SETTINGS
@given(mutated_examples())
def test_mutations_of_the_example_are_a_config_or_a_config_error(data: dict[str, Any]) -> None:
    try:
        CostRouterConfig.from_dict(data, base_dir=EXAMPLE.parent)
    except ConfigError as exc:
        _one_line(exc)
    _load_yaml_text(yaml.safe_dump(data, allow_unicode=True))


@SETTINGS
@given(st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=40), st.text(max_size=8))))
def test_text_edits_of_the_example_are_a_config_or_a_config_error(edits: list[tuple[int, int, str]]) -> None:
    text = EXAMPLE_TEXT
    for pos, cut, insert in edits[:4]:
        at = pos % (len(text) + 1)
        text = text[:at] + insert + text[at + cut :]
    _load_yaml_text(text)


@SETTINGS
@given(st.lists(st.integers(min_value=0), min_size=1, max_size=3))
def test_a_repeated_line_of_the_example_is_a_config_or_a_config_error(picks: list[int]) -> None:
    lines = EXAMPLE_TEXT.splitlines()
    for pick in picks:
        i = pick % len(lines)
        lines.insert(i, lines[i])
    _load_yaml_text("\n".join(lines))


# ----------------------------------------------------------------------------- data readers
json_lines = st.one_of(
    st.text(max_size=40),
    values.map(lambda v: json.dumps(v, allow_nan=True)),
    st.builds(
        lambda q, i: json.dumps({"id": i, "question": q}),
        st.text(max_size=20),
        st.one_of(st.text(max_size=5), st.integers(), st.none(), st.booleans()),
    ),
    st.builds(lambda a, b, s: json.dumps({"a": a, "b": b, "same_answer": s}), values, values, values),
)
raw_bytes = st.binary(max_size=120)


def _read(reader: Callable[[Path], object], content: bytes | str, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"data{suffix}"
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8", errors="surrogatepass")
        else:
            path.write_bytes(content)
        try:
            reader(path)
        except DataError as exc:
            _one_line(exc)


def _lines(lines: list[str], cut: int) -> str:
    text = "\n".join(lines)
    return text[: len(text) - cut % (len(text) + 1)] if cut else text


@SETTINGS
@given(st.lists(json_lines, max_size=6), st.integers(min_value=0, max_value=30), raw_bytes)
def test_batch_questions_are_records_or_a_data_error(lines: list[str], cut: int, junk: bytes) -> None:
    _read(_read_questions, _lines(lines, cut), ".jsonl")
    _read(_read_questions, junk, ".jsonl")


@SETTINGS
@given(st.lists(json_lines, max_size=6), st.integers(min_value=0, max_value=30), raw_bytes)
def test_cache_pairs_are_records_or_a_data_error(lines: list[str], cut: int, junk: bytes) -> None:
    _read(load_pairs, _lines(lines, cut), ".jsonl")
    _read(load_pairs, junk, ".jsonl")


CSV_HEADER = "prompt,cheap,premium,cheap_response,premium_response"
csv_cells = st.one_of(
    st.sampled_from(["True", "False", "0.5", "1", "0", "-1", "2", "nan", "", "yes", '"a, b"', '"x""y"']),
    st.text(alphabet=st.sampled_from(list('ab ,"\n1.')), max_size=10),
)
csv_rows = st.lists(csv_cells, min_size=0, max_size=7).map(",".join)


@SETTINGS
@given(
    st.one_of(st.just(CSV_HEADER), st.text(max_size=30)),
    st.lists(csv_rows, max_size=5),
    st.integers(min_value=0, max_value=20),
    raw_bytes,
)
def test_routellm_csv_is_records_or_a_data_error(header: str, rows: list[str], cut: int, junk: bytes) -> None:
    def routellm(path: Path) -> object:
        return load_routellm_csv(path, ["cheap", "premium"])

    text = _lines([header, *rows], cut)
    _read(routellm, text, ".csv")
    _read(routellm, junk, ".csv")
    _read(ReplayScript.from_csv, text, ".csv")
    _read(ReplayScript.from_csv, junk, ".csv")
