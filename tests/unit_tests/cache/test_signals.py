"""The question form, sign, identifier and word-order signals of the guard."""

from __future__ import annotations

import pytest

from langchain_costrouter.core.cache.features import extract, stem
from langchain_costrouter.core.cache.guard import structural_reasons
from langchain_costrouter.core.cache.signals import (
    compounds,
    forms_conflict,
    identifiers_differ,
    question_form,
    roles_swapped,
    sign_tokens,
)


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("Where is my order?", "place"),
        ("How do I cancel my order?", "manner"),
        ("Why was my card declined?", "reason"),
        ("When will my refund arrive?", "time"),
        ("How much does shipping cost?", "quantity"),
        ("How many days does delivery take?", "duration"),
        ("How long does shipping take?", "duration"),
        ("How often are backups made?", "frequency"),
        ("Who can see my profile?", "person"),
        ("What payment methods do you accept?", "open"),
        ("What's the best way to learn Python?", "manner"),
        ("I forgot my password, what do I do?", "manner"),
        ("Can I pay with PayPal?", "ability"),
        ("Is it possible to pause my plan?", "ability"),
        ("Is there a student discount?", "exist"),
        ("Does the plan include support?", "polar"),
        ("Should I learn C first?", "advice"),
        ("Will prices go up?", "prediction"),
        ("Can you tell me where my order is?", "place"),
        ("Hi, how do I cancel?", "manner"),
        ("Traffic: when do street lights turn on?", "time"),
        ("I forgot my username.", ""),
        ("Is shipping free", ""),  # an auxiliary without a question mark is not a question
    ],
)
def test_question_form(text: str, form: str) -> None:
    assert question_form(text) == form


@pytest.mark.parametrize(
    ("a", "b", "conflict"),
    [
        ("place", "manner", True),
        ("manner", "reason", True),
        ("open", "manner", True),
        ("open", "polar", True),
        ("advice", "prediction", True),
        ("open", "quantity", False),
        ("open", "time", False),
        ("ability", "manner", False),
        ("polar", "exist", False),
        ("polar", "prediction", False),
        ("", "reason", False),
        ("time", "time", False),
    ],
)
def test_forms_conflict_is_symmetric(a: str, b: str, conflict: bool) -> None:
    assert forms_conflict(a, b) is conflict and forms_conflict(b, a) is conflict


@pytest.mark.parametrize(
    ("text", "signs"),
    [
        ("Is C++ a good first language?", {"c++"}),
        ("Is C a good first language?", set()),
        ("Can O- blood be given to AB+ patients?", {"o-", "ab+"}),
        ("What does != mean?", {"!="}),
        ("What does $? mean in bash?", {"$?"}),
        ("What does $! mean in bash?", {"$!"}),
        ("Is .NET free?", {".net"}),
        ("Use --force, not --dry-run.", {"--force", "--dry-run"}),
        ("What is 15 percent of 200?", {"15%"}),
        ("Move £50 to savings", {"£"}),
        ("Move fifty pounds to savings", {"£"}),
        ("Is the check-in open?", set()),
        ("downloaded/processed files", set()),
        ("Hello!", set()),
    ],
)
def test_sign_tokens(text: str, signs: set[str]) -> None:
    assert sign_tokens(text) == frozenset(signs)


@pytest.mark.parametrize(
    ("a", "b", "differ"),
    [
        ("What can the zeta-admin role do?", "What can the zeta-guest role do?", True),
        ("What does the eu-west-1 region cost?", "What does the us-east-1 region cost?", True),
        ("Is the workspace-owner permission needed?", "Is the workspace-member permission needed?", True),
        ("What's the rate on a 2-year fix?", "What's the rate on a two-year fix?", False),
        ("What's the rate on a 2-year fix?", "What's the rate on a 3-year fix?", False),  # numbers check
        ("How do I change my e-mail?", "How do I change my email?", False),
    ],
)
def test_identifier_families(a: str, b: str, differ: bool) -> None:
    assert identifiers_differ(compounds(a), compounds(b)) is differ


def _stems(text: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in extract(text).words)


@pytest.mark.parametrize(
    ("a", "b", "swapped"),
    [
        ("Why do children deceive their parents?", "Why do parents deceive their children?", True),
        ("Why is China afraid of India?", "Why is India afraid of China?", True),
        (
            "How do I change the language in the app settings?",
            "In the app settings, how do I change the language?",
            False,
        ),
        ("How do I reset my password?", "How can I reset my password?", False),
    ],
)
def test_roles_swapped(a: str, b: str, swapped: bool) -> None:
    assert roles_swapped(_stems(a), _stems(b)) is swapped


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [
        ("Where is my order?", "How do I cancel my order?", "question_form"),
        ("When will I get my refund?", "How do I get a refund?", "question_form"),
        ("Is C a good first language?", "Is C++ a good first language?", "symbols"),
        ("Can O- or AB+ donate?", "Can O+ or AB- donate?", "symbols"),
        ("What can the zeta-admin role do?", "What can the zeta-guest role do?", "identifiers"),
    ],
)
def test_the_guard_names_the_difference(a: str, b: str, reason: str) -> None:
    assert reason in structural_reasons(extract(a), extract(b))
