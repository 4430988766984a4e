"""Final-answer agreement: numbers, choice letters, JSON fields, normalised text."""

from __future__ import annotations

import pytest

from langchain_costrouter.core.monitor._extract import agreement, extract_choice, extract_json, normalise_text

WORKED = "She has 16 - 3 - 4 = 9 eggs.\nShe sells them for 9 * $2 = $<<9*2=18>>18.\n#### 18"


@pytest.mark.parametrize(
    ("answer", "reference", "expected"),
    [
        (WORKED, "She makes 9 * $2 = $18 every day at the farmers' market.", 1.0),
        (WORKED, "She makes $20 every day.", 0.0),
        ("The total is 1,250.", "#### 1250", 1.0),
        ("no number here", "The answer is 4.", 0.0),
    ],
)
def test_numbers(answer: str, reference: str, expected: float) -> None:
    assert agreement(answer, reference) == expected


def test_choice_letters() -> None:
    assert extract_choice("Answer: (b)") == "B"
    assert extract_choice("The correct option is C.") == "C"
    assert extract_choice(" D ") == "D"
    assert extract_choice("the answer is a total of 18") is None
    assert agreement("I think the answer is (B).", "Answer: B") == 1.0
    assert agreement("Answer: A", "Answer: B") == 0.0


def test_json_fields() -> None:
    ref = '```json\n{"city": "Paris", "population": 2100000, "note": "x"}\n```'
    assert extract_json(ref) == {"city": "Paris", "population": 2100000, "note": "x"}
    ans = 'Here: {"city": "paris", "population": 2100000.0, "note": "y"}'
    assert agreement(ans, ref, "json", ("city", "population")) == 1.0
    assert agreement(ans, ref, "json") == pytest.approx(2 / 3)
    assert agreement("no json", ref, "json") == 0.0
    assert agreement(ans, "plain text", "json") is None  # nothing to compare with


def test_text_and_auto_order() -> None:
    assert normalise_text("The  Eiffel Tower!") == "eiffel tower"
    assert agreement("the eiffel tower", "Eiffel Tower.") == 1.0
    assert agreement("Louvre", "Eiffel Tower.", "text") == 0.0
    assert agreement("anything", "   ", "text") is None
    # auto compares JSON before numbers: the same numbers in different fields disagree
    assert agreement('{"a": 1, "b": 2}', '{"a": 2, "b": 1}') == 0.0
