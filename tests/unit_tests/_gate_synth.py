"""Synthetic worked-arithmetic answers with a learnable quality signal, for gate tests.

Each item is a two-step word problem. The cheap answer is worked out step by step; a bad
answer carries the kind of defect a real cheap model makes (an arithmetic slip, a final answer
that contradicts the work, a truncated answer). Some bad answers carry no visible defect
(a wrong reading of the question), so the signal is learnable but not perfect. The premium
answer is right 90% of the time.
"""

from __future__ import annotations

import random

from langchain_costrouter.offline.data import RoutedDataset

CHEAP = "acme/cheap-1"
PREMIUM = "acme/premium-1"

_NAMES = ["Tom", "Ana", "Li", "Sam", "Maya", "Omar", "Eva", "Raj", "Zoe", "Ivan", "Nia", "Ben"]
_THINGS = ["apples", "books", "coins", "stamps", "marbles", "pens", "shells", "cards"]


def make_items(n: int, seed: int = 0, *, numeric: bool = False) -> RoutedDataset:
    """``n`` items; ``numeric`` gives graded qualities in [0, 1] instead of True/False."""
    rng = random.Random(seed)
    prompts, cheap, premium, q_cheap, q_premium = [], [], [], [], []
    for i in range(n):
        name, thing = rng.choice(_NAMES), rng.choice(_THINGS)
        a, b, c = rng.randint(10, 90), rng.randint(2, 9), rng.randint(1, 9)
        prompts.append(
            f"{name} has {a} {thing} in box {i}. {name} buys {b} packs of {c} {thing} each. "
            f"How many {thing} does {name} have now?"
        )
        s = b * c
        right = a + s
        kind = rng.random()
        if kind < 0.6:  # right
            text = f"{name} buys {b} * {c} = {s} {thing}.\nIn total {a} + {s} = {right} {thing}.\n#### {right}"
            ok = True
        elif kind < 0.75:  # arithmetic slip carried to the end
            wrong = right + rng.choice([-3, -1, 1, 2, 10])
            text = f"{name} buys {b} * {c} = {s} {thing}.\nIn total {a} + {s} = {wrong} {thing}.\n#### {wrong}"
            ok = False
        elif kind < 0.85:  # final answer contradicts the work
            text = f"{name} buys {b} * {c} = {s} {thing}.\nIn total {a} + {s} = {right} {thing}.\n#### {right + b}"
            ok = False
        elif kind < 0.92:  # truncated
            text = f"{name} buys {b} * {c} = {s} {thing}.\nIn total {a} + {s} = {str(right)[:1]}"
            ok = False
        else:  # misread the question: consistent but wrong (invisible to the gate)
            wrong = a + b
            text = f"{name} buys {b} {thing}.\nIn total {a} + {b} = {wrong} {thing}.\n#### {wrong}"
            ok = False
        cheap.append(text)
        p_ok = rng.random() < 0.9
        premium.append(f"{name} ends with {a} + {b} x {c} = {right if p_ok else right + 1} {thing}.")
        if numeric:
            q_cheap.append(round(rng.uniform(0.7, 1.0) if ok else rng.uniform(0.0, 0.3), 3))
            q_premium.append(round(rng.uniform(0.7, 1.0) if p_ok else rng.uniform(0.0, 0.3), 3))
        else:
            q_cheap.append(ok)
            q_premium.append(p_ok)
    return RoutedDataset.from_records(
        prompts,
        {CHEAP: cheap, PREMIUM: premium},
        {CHEAP: q_cheap, PREMIUM: q_premium},
        source="<synthetic>",
    )
