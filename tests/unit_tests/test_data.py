"""The RouteLLM CSV loader: formats accepted, errors that name file, record and column."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from langchain_costrouter.core.errors import DataError
from langchain_costrouter.offline.data import (
    BUNDLED_GSM8K,
    RoutedDataset,
    bundled_data_path,
    load_routellm_csv,
    parse_quality,
)

CHEAP = "org/cheap-model"
PREMIUM = "premium-model"


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _header() -> list[str]:
    return ["prompt", CHEAP, PREMIUM, f"{CHEAP}_response", f"{PREMIUM}_response"]


def test_reads_boolean_quality_and_multiline_responses(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "d.csv",
        _header(),
        [
            ["What is 2+2?", "True", "true", "2 + 2 = 4\n#### 4", "4"],
            ["What is 3*3?", "False", "TRUE", "3 * 3 = 6,\nso 6", "9"],
        ],
    )
    data = load_routellm_csv(path, [CHEAP, PREMIUM])
    assert len(data) == 2
    assert data.models == (CHEAP, PREMIUM)
    assert data.answers(CHEAP)[1] == "3 * 3 = 6,\nso 6"
    assert data.quality_of(CHEAP).tolist() == [1.0, 0.0]
    assert data.quality_of(PREMIUM).tolist() == [1.0, 1.0]
    assert data.quality_kind[CHEAP] == "binary"
    assert len(data.sha256) == 64
    assert data.source == str(path)


def test_numeric_quality_columns_are_accepted(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "d.csv",
        _header(),
        [["q1", "0.25", "1", "a", "b"], ["q2", "0.8", "0.0", "a", "b"], ["q3", "True", "0.5", "a", "b"]],
    )
    data = load_routellm_csv(path, [CHEAP, PREMIUM])
    assert np.allclose(data.quality_of(CHEAP), [0.25, 0.8, 1.0])
    assert data.quality_kind[CHEAP] == "numeric"
    assert data.quality_kind[PREMIUM] == "numeric"


def test_custom_column_names(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", ["question", "score_a", "ans_a"], [["q", "0.5", "x"]])
    data = load_routellm_csv(
        path, ["a"], prompt_column="question", quality_columns={"a": "score_a"}, response_columns={"a": "ans_a"}
    )
    assert data.prompts == ("q",)
    assert data.quality_of("a").tolist() == [0.5]


def test_bad_quality_names_file_record_and_column(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "bad.csv", _header(), [["q1", "True", "True", "a", "b"], ["q2", "maybe", "True", "a", "b"]]
    )
    with pytest.raises(DataError) as exc:
        load_routellm_csv(path, [CHEAP, PREMIUM])
    msg = str(exc.value)
    assert "bad.csv" in msg
    assert "record 2" in msg
    assert repr(CHEAP) in msg
    assert "maybe" in msg


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan", ""])
def test_out_of_range_or_empty_quality_is_rejected(tmp_path: Path, value: str) -> None:
    path = _write(tmp_path / "d.csv", _header(), [["q", "True", value, "a", "b"]])
    with pytest.raises(DataError, match=PREMIUM):
        load_routellm_csv(path, [CHEAP, PREMIUM])


def test_missing_column_is_named(tmp_path: Path) -> None:
    header = ["prompt", CHEAP, PREMIUM, f"{CHEAP}_response"]
    path = _write(tmp_path / "d.csv", header, [["q", "True", "True", "a"]])
    with pytest.raises(DataError, match=f"{PREMIUM}_response"):
        load_routellm_csv(path, [CHEAP, PREMIUM])


def test_unknown_model_and_empty_prompt(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", _header(), [["  ", "True", "True", "a", "b"]])
    with pytest.raises(DataError, match="'prompt'"):
        load_routellm_csv(path, [CHEAP, PREMIUM])
    with pytest.raises(DataError, match="other-model"):
        load_routellm_csv(path, ["other-model"])


def test_short_row_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_text(",".join(_header()) + "\nq,True,True,a\n", encoding="utf-8")
    with pytest.raises(DataError, match="record 1"):
        load_routellm_csv(path, [CHEAP, PREMIUM])
    with pytest.raises(DataError, match="not found"):
        load_routellm_csv(tmp_path / "nope.csv", [CHEAP])
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="empty"):
        load_routellm_csv(tmp_path / "empty.csv", [CHEAP])


def test_parse_quality() -> None:
    assert parse_quality(" False ") == (0.0, True)
    assert parse_quality("0.75") == (0.75, False)
    with pytest.raises(ValueError, match="neither"):
        parse_quality("good")


def test_subset_and_from_records() -> None:
    data = RoutedDataset.from_records(["a", "b", "c"], {"m": ["x", "y", "z"]}, {"m": [True, False, True]})
    sub = data.subset([2, 0])
    assert sub.prompts == ("c", "a")
    assert sub.answers("m") == ("z", "x")
    assert sub.quality_of("m").tolist() == [1.0, 1.0]
    with pytest.raises(DataError):
        RoutedDataset.from_records(["a"], {"m": ["x"]}, {"m": [1.2]})
    with pytest.raises(DataError):
        RoutedDataset.from_records(["a", "b"], {"m": ["x"]}, {"m": [1.0]})


def test_bundled_sample_is_consistent() -> None:
    path = bundled_data_path(BUNDLED_GSM8K)
    with path.open(encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    models = [c for c in header if c != "prompt" and not c.endswith("_response")]
    assert len(models) >= 2
    data = load_routellm_csv(path, models)
    assert len(data) > 0
    for m in models:
        assert data.quality_kind[m] == "binary"
        assert all(a.strip() for a in data.answers(m)[:50])
    notice = Path(__file__).resolve().parents[2] / "NOTICE"
    assert "RouteLLM" in notice.read_text(encoding="utf-8")
    with pytest.raises(DataError):
        bundled_data_path("missing.csv")
