"""Trap detectors: surface rewordings are not vetoed, real changes still are; word alignment."""

from __future__ import annotations

import numpy as np
import pytest

from langchain_costrouter.core.cache import GuardPolicy, PairVerifier, default_policy
from langchain_costrouter.core.cache.align import ALIGNMENT_FEATURES, alignment_features
from langchain_costrouter.core.cache.features import extract
from langchain_costrouter.core.cache.guard import FalseHitGuard, structural_reasons, synonyms_of
from langchain_costrouter.core.cache.verifier import BASE_FEATURES, HARD_VETOES, PAIR_FEATURES, pair_features


def _vetoes(a: str, b: str, known=None) -> set[str]:
    return set(structural_reasons(extract(a), extract(b), known)) & set(HARD_VETOES)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Which tools are used for NLP tasks?", "Which tools are used for natural language processing tasks?"),
        ("Is it a set of JS libraries?", "Is it a set of JavaScript libraries?"),
        ("What does the HuggingFace hub host?", "What does the Hugging Face hub host?"),
        ("What are the parameters of datasets.Metric?", "What are the parameters of the Metric class?"),
        ("It extracts archives in non-streaming mode.", "It extracts archives without streaming."),
        ("How do I get a PAC code?", "How do I get a porting authorisation code?"),
        ("What's the rate on a 2-year fix?", "What's the rate on a two-year fix?"),
        ("Here's an example:", "Here is one instance."),
        ("Move £50 from savings to my current account", "Move fifty pounds from savings into my current account"),
        ("How do I cancel my annual plan?", "How do I cancel my yearly plan?"),
        ("Where is the INSTALLATIO page?", "Where is the INSTALLATION page?"),
        (
            "A non-hashable transform gets a random fingerprint. The non-hashable transform is recomputed.",
            "A non-hashable transform gets a random fingerprint and is recomputed.",
        ),
    ],
)
def test_rewordings_are_not_vetoed(embedder, a: str, b: str) -> None:
    assert not _vetoes(a, b, embedder.known_word)
    assert not _vetoes(b, a, embedder.known_word)


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [
        ("Remind me at 7am", "Remind me at 7pm", "dates"),
        ("How much is a call-out at 2pm?", "How much is a call-out at 2am?", "dates"),
        ("What's the capital of Australia?", "What's the capital of Austria?", "entities"),
        ("Can I upload files larger than 10MB?", "Can I upload files larger than 10GB?", "entities"),
        ("Is a 2-bedroom flat available?", "Is a 3-bedroom flat available?", "numbers"),
        ("Can I bring one bag?", "Can I bring two bags?", "numbers"),
        ("Which plans include calls?", "Which plans don't include calls?", "negation"),
        ("Is the clinic open on Sundays?", "Is the clinic closed on Sundays?", "opposite"),
        ("How do I subscribe to the newsletter?", "How do I unsubscribe from the newsletter?", "opposite"),
        ("Which tools are used for NLP?", "Which tools are used for computer vision?", "entities"),
    ],
)
def test_real_changes_still_vetoed(embedder, a: str, b: str, reason: str) -> None:
    assert reason in _vetoes(a, b, embedder.known_word)
    assert reason in _vetoes(b, a, embedder.known_word)


def test_negated_opposite_is_a_paraphrase_not_a_flip() -> None:
    assert not _vetoes("Is the shop open on Sunday?", "Is the shop not closed on Sunday?")
    assert _vetoes("Is the shop open on Sunday?", "Is the shop not open on Sunday?") == {"negation"}


def test_alignment_features_explain_rewording_not_substitution() -> None:
    def feats(a: str, b: str) -> list[float]:
        return alignment_features(extract(a), extract(b), synonyms=synonyms_of)

    para = feats("What does the parcel cost?", "What is the price of the package?")
    swap = feats("How do I delete a message?", "How do I delete my account?")
    assert para[0] == 1.0 and swap[0] < 0.5  # every word explained vs one word substituted
    assert feats("How do I renew my card?", "How do I cancel my card?")[0] < 1.0
    x, y = extract("The method retrieves the file"), extract("The function loads a file")
    assert alignment_features(x, y) == alignment_features(y, x)
    assert len(para) == len(ALIGNMENT_FEATURES)


def test_verifier_on_a_subset_of_features(embedder) -> None:
    a, b = extract("How do I reset my password?"), extract("How can I reset my password please?")
    full = pair_features(a, b, 0.97, (), ((0, 2), (0, 2)))
    base = pair_features(a, b, 0.97, (), ((0, 2), (0, 2)), names=BASE_FEATURES)
    assert full.shape == (len(PAIR_FEATURES),) and np.allclose(full[: len(BASE_FEATURES)], base)
    n = len(BASE_FEATURES)
    old = PairVerifier(BASE_FEATURES, (0.0,) * n, (1.0,) * n, (0.1,) * n, 0.0, threshold=0.5)
    assert np.allclose(old.pick(full), base)  # a policy fitted before the alignment features still scores
    shipped = default_policy()
    assert shipped.verifier is not None and set(ALIGNMENT_FEATURES) <= set(shipped.verifier.features)
    guard = FalseHitGuard(GuardPolicy(similarity_threshold=0.5, verifier=old), known_word=embedder.known_word)
    assert guard.check("How can I reset my password please?", "How do I reset my password?", 0.97).ok
