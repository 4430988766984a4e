"""The learned gate: arithmetic checks, answer features, fitting, JSON round trip, loading errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from langchain_costrouter.core.config import GateSpec
from langchain_costrouter.core.errors import GateError
from langchain_costrouter.core.gates._arith import check_arithmetic, final_answer, safe_eval
from langchain_costrouter.core.gates.factory import build_gate
from langchain_costrouter.core.gates.features import HAND_FEATURES, FeatureSpec, extract_features, hand_features
from langchain_costrouter.core.gates.learned import GATE_FILE_FORMAT, LearnedGate
from langchain_costrouter.core.types import ChatRequest, Completion
from tests.unit_tests._gate_synth import CHEAP, make_items

NO_EMB = FeatureSpec(embedding_cosine=False, embedding_components=0)


# -- arithmetic checker ------------------------------------------------------------------------


def test_right_worked_answer_has_no_wrong_claims() -> None:
    text = (
        "She has 16 - 3 = 13 eggs left.\nShe uses 4, so 13 - 4 = 9.\n"
        "She sells them for 9 * $2 = $<<9*2=18>>18.\n#### 18"
    )
    chk = check_arithmetic(text)
    assert chk.checked >= 3
    assert chk.wrong == 0
    assert chk.last_result == 18
    assert final_answer(text) == (18.0, True)


def test_wrong_claims_are_found() -> None:
    chk = check_arithmetic("3 x 60 = 180 meters a session, and 180 x 3 = 560 meters a week.")
    assert chk.checked == 2
    assert chk.wrong == 1
    assert chk.last_wrong
    ann = check_arithmetic("The team ate 80/100 \\* 2 \\* 20 = <<80/100*2*20=64>>64 pizzas.")
    assert ann.wrong >= 1


def test_chains_thousands_percent_and_rounding() -> None:
    assert check_arithmetic("2 + 1/2 = 5/2 = 2.5 bolts").wrong == 0
    assert check_arithmetic("80,000 + 50,000 = $130,000").wrong == 0
    assert check_arithmetic("150% * 50,000 = 75,000").wrong == 0
    assert check_arithmetic("10/3 = 3.33 per day").wrong == 0
    assert check_arithmetic("10/3 = 3.5 per day").wrong == 1
    # Units between numbers: skipped rather than guessed.
    assert check_arithmetic("3 sprints * 60 meters = 180 meters").checked == 0


def test_pathological_answers_are_processed_in_linear_time() -> None:
    import time

    start = time.perf_counter()
    for answer in ("1 " * 20000 + "x = 5", "1+1=2 " * 5000, "(" * 5000 + "1=1", "<<" * 10000):
        hand_features("What is 2+2?", answer)
    assert time.perf_counter() - start < 3.0  # a backtracking regex took 20 s on the first one


def test_safe_eval_only_does_arithmetic() -> None:
    assert safe_eval("2 + 3 * (4 - 1)") == 11
    assert safe_eval("2^3") == 8
    assert safe_eval("50%") == 0.5
    assert safe_eval("__import__('os').system('true')") is None
    assert safe_eval("9 ** 9 ** 9") is None
    assert safe_eval("1/0") is None
    assert safe_eval("abc") is None


def test_final_answer_markers() -> None:
    assert final_answer("so 5 + 5 = 10.\nThe answer is: 10 apples") == (10.0, True)
    assert final_answer("\\boxed{1,250}") == (1250.0, True)
    assert final_answer("it is 7, or maybe 8") == (8.0, False)
    assert final_answer("no numbers here") == (None, False)


# -- features ----------------------------------------------------------------------------------


def test_features_see_defects() -> None:
    prompt = "Tom has 20 apples and buys 3 bags of 4 apples. How many apples does he have?"
    good = hand_features(prompt, "3 * 4 = 12 apples.\n20 + 12 = 32 apples.\n#### 32")
    slip = hand_features(prompt, "3 * 4 = 12 apples.\n20 + 12 = 34 apples.\n#### 34")
    contra = hand_features(prompt, "3 * 4 = 12 apples.\n20 + 12 = 32 apples.\n#### 35")
    cut = hand_features(prompt, "3 * 4 = 12 apples.\n20 + 12 = 3")
    assert set(good) == set(HAND_FEATURES)
    assert good["arith_log_wrong"] == 0 and slip["arith_log_wrong"] > 0
    assert good["final_disagrees_last_result"] == 0 and contra["final_disagrees_last_result"] == 1
    assert good["final_in_results"] == 1 and contra["final_in_results"] == 0
    assert good["ends_cleanly"] == 1 and cut["ends_cleanly"] == 0
    assert good["has_final_marker"] == 1 and cut["has_final_marker"] == 0
    assert good["prompt_number_recall"] == 1.0
    assert hand_features(prompt, "I'm sorry, I cannot help with that.")["refusal"] == 1


def test_feature_matrix_shapes() -> None:
    spec = FeatureSpec(embedding_components=3)
    fm = extract_features(["q one 1", "q two 2"], ["a 1", ""], spec)
    assert fm.dense.shape == (2, len(spec.dense_names))
    assert fm.prompt_emb is not None and fm.prompt_emb.shape == (2, 256)
    assert fm.answer_emb is not None and np.allclose(fm.answer_emb[1], 0)
    assert np.isclose(np.linalg.norm(fm.prompt_emb[0]), 1.0, atol=1e-5)
    assert len(fm.take([1])) == 1
    with pytest.raises(GateError):
        extract_features(["a"], [], spec)
    with pytest.raises(GateError, match="unknown gate features"):
        FeatureSpec(hand=("no_such_feature",))


# -- fitting, scoring, persistence ----------------------------------------------------------------


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = scores[labels >= 0.5], scores[labels < 0.5]
    return float(np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg]))


@pytest.fixture(scope="module")
def trained() -> LearnedGate:
    train = make_items(300, seed=1)
    return LearnedGate.fit(train.prompts, train.answers(CHEAP), train.quality_of(CHEAP), threshold=0.5)


def test_gate_beats_random_on_unseen_synthetic_items(trained: LearnedGate) -> None:
    test = make_items(200, seed=2)
    scores = trained.predict_proba_batch(test.prompts, test.answers(CHEAP))
    assert scores.shape == (200,)
    assert np.all((scores >= 0) & (scores <= 1))
    assert _auc(scores, test.quality_of(CHEAP)) > 0.8  # random is 0.5


def test_score_matches_batch_and_evaluate(trained: LearnedGate) -> None:
    test = make_items(5, seed=3)
    batch = trained.predict_proba_batch(test.prompts, test.answers(CHEAP))
    for p, a, s in zip(test.prompts, test.answers(CHEAP), batch, strict=True):
        req = ChatRequest(({"role": "system", "content": "be brief"}, {"role": "user", "content": p}))
        comp = Completion(a, CHEAP)
        assert trained.score(req, comp) == pytest.approx(float(s), abs=1e-12)
        verdict = trained.evaluate(req, comp)
        assert verdict.passed == (s >= trained.threshold)
        assert verdict.gate == "learned"


def test_save_load_round_trip_gives_identical_scores(trained: LearnedGate, tmp_path: Path) -> None:
    path = trained.save(tmp_path / "g" / "gate.json")
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw["format"] == GATE_FILE_FORMAT
    assert raw["version"] == 1
    assert raw["features"]["embedding_components"] == trained.spec.embedding_components
    assert len(raw["model"]["coef"]) == len(raw["model"]["columns"])
    loaded = LearnedGate.load(path)
    test = make_items(50, seed=4)
    a = trained.predict_proba_batch(test.prompts, test.answers(CHEAP))
    b = loaded.predict_proba_batch(test.prompts, test.answers(CHEAP))
    assert np.array_equal(a, b)
    assert loaded.threshold == trained.threshold
    assert LearnedGate.load(path, threshold=0.9).threshold == 0.9
    # Through the config factory, as a `type: learned` gate.
    built = build_gate(GateSpec(type="learned", path=str(path), threshold=0.7))
    assert isinstance(built, LearnedGate)
    assert built.threshold == 0.7


def test_bad_gate_files_raise_gate_error(trained: LearnedGate, tmp_path: Path) -> None:
    with pytest.raises(GateError, match="not found"):
        LearnedGate.load(tmp_path / "missing.json")
    (tmp_path / "junk.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(GateError, match="JSON"):
        LearnedGate.load(tmp_path / "junk.json")
    good = trained.to_dict()
    cases = {
        "format": {**good, "format": "something-else"},
        "version": {**good, "version": 99},
        "shape": {**good, "model": {**good["model"], "coef": good["model"]["coef"][:-1]}},
        "threshold": {**good, "threshold": 3},
    }
    for what, data in cases.items():
        path = tmp_path / f"{what}.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        with pytest.raises(GateError):
            LearnedGate.load(path)


def test_soft_labels_and_single_class() -> None:
    data = make_items(200, seed=5, numeric=True)
    gate = LearnedGate.fit(data.prompts, data.answers(CHEAP), data.quality_of(CHEAP), spec=NO_EMB)
    test = make_items(100, seed=6, numeric=True)
    scores = gate.predict_proba_batch(test.prompts, test.answers(CHEAP))
    assert _auc(scores, test.quality_of(CHEAP)) > 0.8
    assert gate.spec.uses_embeddings is False
    with pytest.raises(GateError, match="same quality"):
        LearnedGate.fit(["a", "b"], ["1", "2"], [1.0, 1.0], spec=NO_EMB)
    with pytest.raises(GateError, match=r"\[0, 1\]"):
        LearnedGate.fit(["a", "b"], ["1", "2"], [1.0, 2.0], spec=NO_EMB)
