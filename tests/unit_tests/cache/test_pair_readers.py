"""``load_pairs``: every malformed file is a one-line DataError; any valid file round-trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from langchain_costrouter.core.errors import DataError
from langchain_costrouter.offline.cache_calibration import load_pairs

GOOD_ROW = {"a": "Where is my order?", "b": "Where's my parcel?", "same_answer": True}


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (bytes(range(256)) * 4, "binary"),
        (b"\x00\x00\x00\x00", "binary"),
        ('{"a": "caf\xe9", "b": "x", "same_answer": true}\n'.encode("latin-1"), "UTF-8"),
        (b"\xff\xfe{\x00", "binary"),
        (b'{"a": "x", "b": "y", "same_ans', "not JSON"),
        (b'[{"origin": "a", "similar": "b"}, {"orig', "not JSON"),
        (b"", "empty"),
        (b"  \n\n", "empty"),
        (b'{"a": "x", "b": "y"}\n', "same_answer"),
        (b'{"a": "x", "b": "y", "same_answer": "perhaps"}\n', "boolean"),
        (b'{"a": 3, "b": "y", "same_answer": true}\n', "strings or lists"),
        (b"[]", "non-empty"),
        (b"[1, 2]", "item 0"),
    ],
)
def test_malformed_files_give_one_line_data_errors(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_bytes(content)
    with pytest.raises(DataError) as err:
        load_pairs(path)
    msg = str(err.value)
    assert says in msg and str(path) in msg and "\n" not in msg


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read pairs file"):
        load_pairs(tmp_path / "nope.jsonl")


def test_utf8_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD_ROW).encode() + b"\n")
    (pair,) = load_pairs(path)
    assert pair.a == GOOD_ROW["a"] and pair.same_answer


_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)
_rows = st.lists(
    st.fixed_dictionaries(
        {"a": _text, "b": _text, "same_answer": st.booleans(), "category": st.sampled_from(["", "x"])}
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_rows, as_array=st.booleans())
def test_any_valid_file_round_trips(tmp_path: Path, rows: list[dict[str, object]], as_array: bool) -> None:
    path = tmp_path / "p.jsonl"
    text = json.dumps(rows) if as_array else "\n".join(json.dumps(r) for r in rows) + "\n"
    path.write_text(text, encoding="utf-8")
    pairs = load_pairs(path)
    assert [(p.a, p.b, p.same_answer, p.category) for p in pairs] == [
        (r["a"], r["b"], r["same_answer"], r["category"]) for r in rows
    ]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200))
def test_any_bytes_load_or_fail_with_a_data_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "any.jsonl"
    path.write_bytes(data)
    try:
        pairs = load_pairs(path)
    except DataError as exc:
        assert "\n" not in str(exc)
    else:
        assert pairs


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_rows, cut=st.integers(min_value=1, max_value=30))
def test_truncated_files_fail_cleanly_or_keep_whole_rows(
    tmp_path: Path, rows: list[dict[str, object]], cut: int
) -> None:
    full = "\n".join(json.dumps(r) for r in rows)
    path = tmp_path / "cut.jsonl"
    path.write_text(full[: max(1, len(full) - cut)], encoding="utf-8")
    try:
        pairs = load_pairs(path)
    except DataError as exc:
        assert "\n" not in str(exc)
    else:
        assert len(pairs) <= len(rows)
