"""The SQL report equals the in-memory one on the same records (SQLite here, Postgres in integration)."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest

from langchain_costrouter.core.ledger import CostRecord, SQLiteLedger
from langchain_costrouter.core.report import build_report
from langchain_costrouter.core.report_sql import build_report_sql
from tests.unit_tests._ledger_samples import PREMIUM_MODEL, sample_records, ts


def approx_equal(a: Any, b: Any, path: str = "") -> None:
    """Equal up to float summation order."""
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            approx_equal(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            approx_equal(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(b, str):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def random_records(n: int, seed: int) -> list[CostRecord]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        kind = rng.choice(["completion", "completion", "judge", "embedding", "compression", "batch", "cache_hit"])
        outcome = rng.choice(["accepted", "rejected", "error", "served", "overhead", "unrated"])
        cost = rng.choice([0.0, rng.random() / 100])
        extra: dict[str, Any] = {}
        if rng.random() < 0.1:
            extra["price_error"] = "unknown"
        if rng.random() < 0.1:
            extra["flag"] = "exhausted"
        out.append(
            CostRecord(
                request_id=f"r{rng.randrange(n // 3 + 1)}",
                model=rng.choice(["cheap", "mid", PREMIUM_MODEL]),
                kind=kind,  # type: ignore[arg-type]
                outcome=outcome,  # type: ignore[arg-type]
                ts=ts(rng.randint(1, 5), rng.randint(0, 23)),
                tenant=rng.choice(["a", "b"]),
                task=rng.choice([None, "math"]),
                tier=rng.choice([None, "t0", "t1"]),
                input_tokens=rng.randint(0, 500),
                output_tokens=rng.randint(0, 200),
                cached_tokens=rng.choice([0, 10]),
                cost_usd=cost,
                premium_cost_usd=rng.choice([cost, cost * 10]),
                baseline_cost_usd=rng.choice([0.0, cost * 10]),
                escalation_step=rng.randint(0, 2),
                extra=extra,
            )
        )
    return out


@pytest.mark.parametrize("window", [(None, None), (ts(3, 0), None), (ts(2, 11), ts(4, 0))])
def test_sqlite_sql_report_equals_the_one_pass_report(tmp_path: Path, window: tuple[Any, Any]) -> None:
    since, until = window
    led = SQLiteLedger(tmp_path / "l.sqlite")
    records = sample_records() + random_records(400, seed=7)
    led.write_many(records)
    for kwargs in ({}, {"premium_model": PREMIUM_MODEL}, {"premium_tier": "t1"}):
        want = build_report(records, since=since, until=until, **kwargs).to_dict()
        got = build_report_sql(led, since=since, until=until, **kwargs).to_dict()
        approx_equal(got, want)


def test_empty_ledger_gives_an_empty_report(tmp_path: Path) -> None:
    led = SQLiteLedger(tmp_path / "l.sqlite")
    approx_equal(build_report_sql(led).to_dict(), build_report([]).to_dict())
