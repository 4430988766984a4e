"""Protected spans come back byte-identical; broken rewrites are detected, never restored."""

from __future__ import annotations

import pytest

from langchain_costrouter.core.protected_spans import find_protected_spans, protect

DOC = (
    "Our quarterly review covered many topics in a long and rambling way, with plenty of filler.\n"
    "Revenue grew 12.5% to $1,234,567.89 on 2026-03-31 while costs stayed flat (v2.3.1 shipped).\n"
    'The CFO said "we are cautiously optimistic about the outlook" and everybody nodded along.\n'
    "```python\ndef total(xs):\n    return sum(xs)  # keep   the spacing\n```\n"
    'Settings were {"region": "eu-west-1", "retries": [1, 2, 3]} as usual, nothing surprising there.\n'
    "See https://example.com/report?q=1 or mail ops@example.com for details about the meeting.\n"
    "Call `make deploy` afterwards and then relax for the rest of the afternoon in the sun.\n"
    "<keep>This   exact   wording,   spaces included.</keep> The weather was nice and calm.\n"
    "> A block-quoted line from the minutes.\n"
    "“Curly quoted text” and «guillemets» appear too, for good measure in this paragraph.\n"
    "You must answer in French. Never mention the CFO by name.\n"
    "Summarize the discussion in three bullet points."
)


def _kinds(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for s in find_protected_spans(text):
        out.setdefault(s.kind, []).append(text[s.start : s.end])
    return out


def test_every_kind_is_found() -> None:
    kinds = _kinds(DOC)
    assert "```python\ndef total(xs):\n    return sum(xs)  # keep   the spacing\n```" in kinds["code"]
    assert '{"region": "eu-west-1", "retries": [1, 2, 3]}' in kinds["json"]
    assert '"we are cautiously optimistic about the outlook"' in kinds["quote"]
    assert "> A block-quoted line from the minutes." in kinds["quote"]
    assert "“Curly quoted text”" in kinds["quote"]
    assert "«guillemets»" in kinds["quote"]
    assert "<keep>This   exact   wording,   spaces included.</keep>" in kinds["keep"]
    assert "`make deploy`" in kinds["inline_code"]
    assert "https://example.com/report?q=1" in kinds["url"]
    assert "ops@example.com" in kinds["url"]
    assert {"12.5%", "$1,234,567.89", "2026-03-31", "v2.3.1"} <= set(kinds["number"])
    assert "You must answer in French." in kinds["instruction"]
    assert "Never mention the CFO by name." in kinds["instruction"]
    assert "Summarize the discussion in three bullet points." in kinds["instruction"]


def test_prose_is_not_protected() -> None:
    p = protect(DOC)
    assert "rambling" in p.masked
    assert "weather was nice" in p.masked
    assert all(ph in p.masked for ph in p.placeholders)


def test_restore_is_byte_identical_for_every_span() -> None:
    p = protect(DOC)
    # A "compressor" that drops every unprotected word longer than 6 letters and squeezes spaces.
    words = [w for w in p.masked.split() if w in p.placeholders or "[P" in w or len(w) <= 6]
    rewritten = " ".join(words)
    restored = p.restore(rewritten)
    for original in p.protected_texts:
        assert original in restored
    assert len(restored) < len(DOC)
    assert p.restore(p.masked) == DOC


def test_unterminated_fence_runs_to_the_end() -> None:
    text = "Some intro words here.\n```\nx = 1\ny = 2"
    spans = find_protected_spans(text, instructions=False)
    assert text[spans[-1].start :] == "```\nx = 1\ny = 2"


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda m, ph: m.replace(ph[0], ""), "lost"),
        (lambda m, ph: m + " " + ph[0], "duplicated"),
        (lambda m, ph: m + " [P99]", "unknown"),
        (lambda m, ph: m.replace(ph[0], "#TMP#").replace(ph[1], ph[0]).replace("#TMP#", ph[1]), "reordered"),
    ],
)
def test_broken_rewrites_are_rejected(mutate: object, problem: str) -> None:
    p = protect(DOC)
    bad = mutate(p.masked, p.placeholders)  # type: ignore[operator]
    why = p.check(bad)
    assert why is not None
    assert problem in why
    with pytest.raises(ValueError, match=problem):
        p.restore(bad)


def test_placeholder_collision_uses_another_prefix() -> None:
    text = "The label [P0] is literal text in 2026, please keep it."
    p = protect(text, instructions=False)
    assert p.prefix != "P"
    assert p.restore(p.masked) == text
    assert p.check(p.masked.replace("[PX1]", "")) is not None


def test_instructions_can_be_left_compressible() -> None:
    text = "You must answer briefly. The sky is blue."
    assert all(s.kind != "instruction" for s in find_protected_spans(text, instructions=False))


def test_narrative_directive_words_stay_compressible() -> None:
    text = "The courier never called back and support should have known. The answer must be JSON."
    kinds = _kinds(text)
    assert kinds.get("instruction") == ["The answer must be JSON."]


def test_apostrophes_are_not_quotes() -> None:
    text = "The customers' orders didn't arrive and it's the courier's fault, they said."
    assert [s for s in find_protected_spans(text, instructions=False) if s.kind == "quote"] == []
    quoted = "She wrote 'the courier's van blocked the road' and \u2018don\u2019t worry\u2019 twice."
    kinds = _kinds(quoted)
    assert "'the courier's van blocked the road'" in kinds["quote"]
    assert "\u2018don\u2019t worry\u2019" in kinds["quote"]


def test_fidelity_accepts_contractions_and_rejects_flips() -> None:
    from langchain_costrouter.core.compression_fidelity import fidelity_problem

    original = "The patient does not take aspirin and cannot walk far since Monday."
    assert fidelity_problem(original, "Patient doesn't take aspirin, can't walk far since Monday.") is None
    assert fidelity_problem(original, "Patient takes aspirin, cannot walk far since Monday.") is not None
    assert fidelity_problem(original, "Patient doesn't take aspirin, can't walk far since Tuesday.") is not None
    abbreviated = "Bring documents, e.g. a passport, to the desk of the office on the ground floor."
    assert fidelity_problem(abbreviated, "Bring documents, a passport, to the office desk.") is None
