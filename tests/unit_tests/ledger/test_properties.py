"""Property tests over the ledger writer: any record the types allow is stored and read back
(repaired where no database could store it as is), and never blocks the records written with it."""

from __future__ import annotations

import json
import math
import tempfile
import typing
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from langchain_costrouter.core.ledger import CostRecord, MemoryLedger, RecordKind, RecordOutcome, SQLiteLedger
from langchain_costrouter.core.ledger.base import repair_record

# Any text, lone surrogates and NUL included; any float, NaN and infinities included.
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
INTS = st.integers(min_value=-(2**70), max_value=2**70)
JSON = st.recursive(
    st.none() | st.booleans() | INTS | FLOATS | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)

RECORDS = st.builds(
    CostRecord,
    request_id=TEXT,
    model=TEXT,
    kind=st.sampled_from(typing.get_args(RecordKind)),
    outcome=st.sampled_from(typing.get_args(RecordOutcome)),
    ts=FLOATS,
    tenant=TEXT,
    task=st.none() | TEXT,
    tier=st.none() | TEXT,
    input_tokens=INTS,
    output_tokens=INTS,
    cached_tokens=INTS,
    cache_write_tokens=INTS,
    reasoning_tokens=INTS,
    cost_usd=FLOATS,
    premium_cost_usd=FLOATS,
    baseline_cost_usd=FLOATS,
    latency_ms=FLOATS,
    cache_hit=st.none() | TEXT,
    escalation_step=INTS,
    gate_score=st.none() | FLOATS,
    error=st.none() | TEXT,
    source=TEXT,
    extra=st.dictionaries(TEXT, JSON, max_size=4),
)


def as_stored(record: CostRecord) -> dict[str, Any]:
    """What a backend must give back for ``record``: its repair, with ``extra`` as plain JSON."""
    fixed, _ = repair_record(record)
    d = fixed.to_dict()
    d["extra"] = json.loads(json.dumps(d["extra"], allow_nan=False))
    return d


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(RECORDS, min_size=1, max_size=4))
def test_sqlite_stores_any_record_and_never_blocks_the_others(records: list[CostRecord]) -> None:
    good = CostRecord(request_id="good", model="m", cost_usd=0.5)
    with tempfile.TemporaryDirectory() as d:
        led = SQLiteLedger(Path(d) / "l.sqlite")
        led.write_many([*records, good])
        led.write(CostRecord(request_id="later", model="m"))
        back = {r.record_id: r.to_dict() for r in led.records()}
        led.close()
    assert back.pop(good.record_id) == good.to_dict()
    assert len(back) == len(records) + 1
    for r in records:
        got, want = back[r.record_id], as_stored(r)
        if not math.isfinite(r.ts):  # repaired to the time of writing
            assert math.isfinite(got.pop("ts")) and math.isfinite(want.pop("ts"))
        assert got == want
    assert led.rejected == 0


@given(record=RECORDS)
def test_repair_is_idempotent_and_only_flags_real_changes(record: CostRecord) -> None:
    fixed, repaired = repair_record(record)
    again, repaired_again = repair_record(fixed)
    assert again == fixed and repaired_again == ()
    if not repaired:
        assert "repaired" not in fixed.extra or fixed.extra == record.extra


@given(records=st.lists(RECORDS, max_size=5))
def test_memory_ledger_keeps_each_record_id_once(records: list[CostRecord]) -> None:
    led = MemoryLedger()
    led.write_many(records)
    led.write_many(records)
    assert led.count() == len({r.record_id for r in records})


TIMES = st.sampled_from([0.0, 1.0, 2.0, 2.5, 3.0, 10.0])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    stamps=st.lists(st.tuples(TIMES, st.sampled_from(["a", "b", "c"])), min_size=1, max_size=8),
    since=st.none() | TIMES,
    until=st.none() | TIMES,
    request_id=st.none() | st.sampled_from(["a", "b", "x"]),
    batch=st.integers(min_value=1, max_value=3),
)
def test_memory_and_sqlite_ledgers_read_the_same_records_for_every_filter(
    stamps: list[tuple[float, str]], since: float | None, until: float | None, request_id: str | None, batch: int
) -> None:
    records = [CostRecord(request_id=rid, model="m", ts=ts, cost_usd=i) for i, (ts, rid) in enumerate(stamps)]
    want = sorted(
        (
            r
            for r in records
            if (since is None or r.ts >= since)
            and (until is None or r.ts < until)
            and (request_id is None or r.request_id == request_id)
        ),
        key=lambda r: (r.ts, r.cost_usd),
    )
    memory = MemoryLedger()
    memory.write_many(records)
    with tempfile.TemporaryDirectory() as d:
        sqlite = SQLiteLedger(Path(d) / "l.sqlite")
        sqlite.write_many(records)
        for led in (memory, sqlite):
            got = led.records(since=since, until=until, request_id=request_id)
            streamed = list(led.iter_records(since=since, until=until, request_id=request_id, batch=batch))
            assert got == streamed == want, type(led).__name__
        sqlite.close()
