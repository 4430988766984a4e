from __future__ import annotations

import json

import pytest

from langchain_costrouter.core.cache import GuardPolicy
from langchain_costrouter.core.cache.features import extract
from langchain_costrouter.core.cache.guard import FalseHitGuard
from langchain_costrouter.core.errors import DataError
from langchain_costrouter.offline.cache_calibration import calibrate, evaluate, load_pairs, score_pairs, wilson_upper


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Cancel my subscription", "Don't cancel my subscription"),
        ("How do I turn on two-factor authentication?", "How do I turn off two-factor authentication?"),
        ("What's 15% of 200?", "What's 50% of 200?"),
        ("Are you open on Saturday?", "Are you open on Sunday?"),
        ("Who is the CEO of Microsoft?", "Who is the CEO of Apple?"),
        ("Transfer £50 from my savings to my current account", "Transfer £50 from my current account to my savings"),
        ("How do I subscribe to the newsletter?", "How do I unsubscribe from the newsletter?"),
        ("What does my home insurance cover?", "What does my car insurance cover?"),
    ],
)
def test_traps_rejected(a: str, b: str) -> None:
    assert not FalseHitGuard(GuardPolicy(similarity_threshold=0.0)).check(b, a, 0.99).ok


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How do I change the email address on my account?", "How do I chnage the email adress on my acount?"),
        ("How do I reset my password?", "Hi, quick one: how do I reset my password?"),
        ("When does the autumn term start?", "When does the autumn term begin?"),
    ],
)
def test_paraphrases_pass(a: str, b: str) -> None:
    assert FalseHitGuard(GuardPolicy(similarity_threshold=0.0)).check(b, a, 0.9).ok


def test_features_numbers() -> None:
    assert extract("more than one hundred languages").numbers == extract("over 100 languages").numbers
    assert extract("One can check it").numbers == ()


def test_wilson_upper() -> None:
    assert wilson_upper(0, 300) < 0.01 < wilson_upper(1, 300) < 0.02


def test_calibration_precision_first(embedder, tmp_path) -> None:
    pairs = load_pairs("langchain_costrouter/data/fow_pairs.jsonl")
    scored = score_pairs(pairs, embedder)
    res = calibrate(scored, max_false_hit_rate=0.02)
    assert res.feasible and res.fhr_upper_bound <= 0.02
    assert res.metrics.false_hit_rate <= 0.02 and res.metrics.recall > 0.3
    loose = evaluate(scored, GuardPolicy(similarity_threshold=0.6, structural=False, max_unexplained=9, strict_words=0))
    assert loose.false_hit_rate > 0.1  # the guard is what keeps precision


def test_pairs_file_errors(tmp_path) -> None:
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"a": "x"}\n')
    with pytest.raises(DataError):
        load_pairs(bad)


def test_verifier_calibration_roundtrip_and_vetoes(embedder) -> None:
    from langchain_costrouter.core.cache import PairVerifier
    from langchain_costrouter.offline.cache_calibration import cross_validate

    pairs = load_pairs("langchain_costrouter/data/fow_pairs.jsonl")
    scored = score_pairs(pairs, embedder)
    res = calibrate(scored, max_false_hit_rate=0.02, method="verifier")
    pol = res.policy
    assert res.feasible and pol.verifier is not None
    assert res.fhr_upper_bound <= 0.02 and res.metrics.false_hit_rate <= 0.02 and res.metrics.recall > 0.3
    again = GuardPolicy.from_dict(json.loads(json.dumps(pol.to_dict())))
    assert again.verifier == pol.verifier and again.vetoes == pol.vetoes
    guard = FalseHitGuard(again, known_word=embedder.known_word)
    # a hard veto refuses whatever the score: numbers, entities, swapped roles
    assert guard.check("Track order 48231", "Track order 48213", 0.99).reason == "numbers"
    assert (
        guard.check(
            "How do I convert a PDF to a Word document?", "How do I convert a Word document to PDF?", 1.0
        ).reason
        == "roles"
    )
    ok = guard.check("How do I reset my password?", "How do I reset my password please?", 0.97)
    assert ok.ok and ok.details["probability"] >= again.verifier.threshold
    cv = cross_validate(scored, folds=3, max_false_hit_rate=0.02)
    assert cv["negatives"] == 300 and cv["false_hit_rate"] <= 0.05
    with pytest.raises(DataError):
        PairVerifier.from_dict({"features": ["x"], "mean": [0], "scale": [1], "coef": [1], "intercept": 0})


def test_positives_only_file_does_not_fit(embedder, tmp_path) -> None:
    pairs = load_pairs("langchain_costrouter/data/gptcache_mock_data.json")[:50]
    res = calibrate(score_pairs(pairs, embedder), max_false_hit_rate=0.02)
    assert not res.feasible and res.policy.verifier is None


def test_shipped_policy_per_encoder() -> None:
    from langchain_costrouter.core.cache import default_policy

    wl, mini = default_policy("wordllama-l2-supercat-256"), default_policy("minilm-l6-v2-384")
    assert wl.verifier is not None and mini.verifier is not None and wl.verifier != mini.verifier
    assert default_policy("unknown-encoder") == default_policy()


def test_minilm_without_extra_names_the_extra() -> None:
    pytest.importorskip("numpy")
    try:
        import sentence_transformers  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("the minilm extra is installed here")
    from langchain_costrouter.core.cache import make_embedder
    from langchain_costrouter.core.errors import CacheError

    emb = make_embedder("minilm")
    assert emb.dimension == 384
    with pytest.raises(CacheError, match=r"langchain-costrouter\[minilm\]"):
        emb.embed(["hello"])
