"""Demux by id with a count check, split-and-retry of failed items only, exact cost attribution."""

from __future__ import annotations

import json
import math

import pytest

from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.batch_api import build_batch_api_file, estimate_batch_api_cost, parse_batch_output
from langchain_costrouter.core.batching import BatchRunner, demux, make_items, pack_batch, split_by_weight
from langchain_costrouter.core.config import BatchingConfig
from langchain_costrouter.core.errors import ConfigError
from langchain_costrouter.core.pricing import PriceBook
from langchain_costrouter.testing.responders import answer_for

from .conftest import FakeClient

ITEMS = make_items(["What is 2+2?", "Capital of Peru?", "Largest planet?"])


def _reply(entries: object) -> str:
    return json.dumps({"answers": entries})


def test_demux_all_good_in_any_order() -> None:
    entries = [{"id": "q3", "answer": "Jupiter"}, {"id": "q1", "answer": "4"}, {"id": "q2", "answer": "Lima"}]
    d = demux(_reply(entries), ITEMS)
    assert d.answers == {"q1": "4", "q2": "Lima", "q3": "Jupiter"}
    assert not d.failed
    assert not d.problems


def test_demux_missing_answer_fails_only_that_item() -> None:
    d = demux(_reply([{"id": "q1", "answer": "4"}, {"id": "q3", "answer": "Jupiter"}]), ITEMS)
    assert set(d.answers) == {"q1", "q3"}
    assert d.failed == {"q2": "missing answer"}
    assert any("count mismatch" in p for p in d.problems)


@pytest.mark.parametrize("bad", [None, 7, "", "   ", ["x"]])
def test_demux_malformed_answer(bad: object) -> None:
    d = demux(_reply([{"id": "q1", "answer": "4"}, {"id": "q2", "answer": bad}, {"id": "q3", "answer": "J"}]), ITEMS)
    assert set(d.failed) == {"q2"}
    assert "malformed" in d.failed["q2"]


def test_demux_extra_and_duplicate_ids() -> None:
    entries = [
        {"id": "q1", "answer": "4"},
        {"id": "q1", "answer": "5"},
        {"id": "q2", "answer": "Lima"},
        {"id": "q3", "answer": "Jupiter"},
        {"id": "q9", "answer": "?"},
        "garbage",
    ]
    d = demux(_reply(entries), ITEMS)
    # A forged or repeated id taints the whole reply: every item is asked again, alone.
    assert d.answers == {}
    assert d.alone == {"q1", "q2", "q3"}
    assert "2 answers" in d.failed["q1"]
    assert d.failed["q2"].startswith("anomaly:")
    assert any("unknown id 'q9'" in p for p in d.problems)
    assert any("entry 5 has no id" in p for p in d.problems)
    assert any("count mismatch" in p for p in d.problems)


def test_demux_unparseable_and_fenced() -> None:
    broken = demux('{"answers": [{"id": "q1", "answer": "4"}', ITEMS)
    assert not broken.parsed
    assert set(broken.failed) == {"q1", "q2", "q3"}
    fenced = demux("```json\n" + _reply([{"id": i.id, "answer": "ok"} for i in ITEMS]) + "\n```", ITEMS)
    assert len(fenced.answers) == 3


def test_make_items_rejects_duplicate_ids() -> None:
    with pytest.raises(ConfigError, match="unique"):
        make_items(["a", "b"], ["x", "x"])


def test_pack_keeps_the_system_prompt_byte_stable() -> None:
    msgs = pack_batch(ITEMS, system_prompt="SYSTEM  \n exact")
    assert msgs[0] == {"role": "system", "content": "SYSTEM  \n exact"}
    payload = json.loads(msgs[1]["content"].split("QUESTIONS:\n", 1)[1])
    assert [p["id"] for p in payload] == ["q1", "q2", "q3"]
    wire = {"q1": "a1", "q2": "a2", "q3": "a3"}
    payload = json.loads(pack_batch(ITEMS, wire=wire)[0]["content"].split("QUESTIONS:\n", 1)[1])
    assert [p["id"] for p in payload] == ["a1", "a2", "a3"]


@pytest.mark.parametrize(("total", "weights"), [(10, [1, 1, 1]), (7, [0.5, 3, 0]), (0, [1, 2]), (5, [0, 0])])
def test_split_by_weight_sums_exactly(total: int, weights: list[float]) -> None:
    parts = split_by_weight(total, weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)


def _batch_reply(bad: set[str], missing: set[str] = frozenset(), empty: set[str] = frozenset()):  # type: ignore[assignment,no-untyped-def]
    """Answers batches (``bad`` questions get ``null`` the first time, ``missing`` none) and lone questions."""
    seen: dict[str, int] = {}

    def reply(user: str) -> str:
        if "QUESTIONS:\n" not in user:
            return "" if user in empty else answer_for(user)
        qs = json.loads(user.split("QUESTIONS:\n", 1)[1])
        out = []
        for q in qs:
            seen[q["question"]] = seen.get(q["question"], 0) + 1
            if q["question"] in missing:
                continue
            ok = q["question"] not in bad or seen[q["question"]] > 1
            out.append({"id": q["id"], "answer": answer_for(q["question"]) if ok else None})
        return json.dumps({"answers": out})

    return reply


def _questions(n: int) -> list[str]:
    return [f"What is {i} times {i + 1}?" for i in range(n)]


def test_runner_retries_only_the_failed_item(accountant: CostAccountant, prices: PriceBook) -> None:
    questions = _questions(10)
    client = FakeClient("target", _batch_reply({questions[3]}))
    runner = BatchRunner(client, accountant=accountant, system_prompt="Be brief.")
    report = runner.run(questions)
    assert report.answers == [answer_for(q) for q in questions]
    assert len(client.calls) == 2
    retried = json.loads(str(client.calls[1][-1]["content"]).split("QUESTIONS:\n", 1)[1])
    assert [q["question"] for q in retried] == [questions[3]]
    assert client.calls[1][0] == {"role": "system", "content": "Be brief."}
    by_id = {r.id: r for r in report.results}
    assert by_id["q4"].attempts == 2
    assert by_id["q1"].attempts == 1
    # The ledger adds up to the calls' real costs, per call and in total.
    recs = accountant.ledger.records()
    assert len(recs) == 11
    assert math.isclose(sum(r.cost_usd for r in recs), report.total_cost_usd, rel_tol=1e-12)
    for call in report.calls:
        share = sum(r.cost_usd for r in recs if r.extra["call_index"] == call.index)
        assert math.isclose(share, prices.cost_usd("target", call.usage), rel_tol=1e-12)
        assert sum(r.input_tokens for r in recs if r.extra["call_index"] == call.index) == call.usage.input_tokens
    assert [r.outcome for r in recs if r.extra["item_id"] == "q4"] == ["rejected", "served"]
    assert math.isclose(sum(r.cost_usd for r in report.results), report.total_cost_usd, rel_tol=1e-12)


def test_runner_gives_up_after_max_attempts(accountant: CostAccountant) -> None:
    client = FakeClient("target", _batch_reply(set(), missing={"b?"}, empty={"b?"}))
    runner = BatchRunner(client, accountant=accountant, config=BatchingConfig(max_attempts=3))
    report = runner.run(["a?", "b?", "c?"])
    assert report.answers[1] is None
    assert report.failed[0].error == "empty answer"
    assert report.failed[0].attempts == 3
    assert len(client.calls) == 3  # the batch, then "b?" alone twice
    assert [c.alone for c in report.calls] == [False, True, True]


def test_unparseable_reply_splits_the_batch(accountant: CostAccountant) -> None:
    calls = {"n": 0}
    good = _batch_reply(set())

    def reply(user: str) -> str:
        calls["n"] += 1
        return "not json at all" if calls["n"] == 1 else good(user)

    client = FakeClient("target", reply)
    report = BatchRunner(client, accountant=accountant).run([f"q {i}?" for i in range(6)])
    assert all(a is not None for a in report.answers)
    sizes = [len(c.item_ids) for c in report.calls]
    assert sizes == [6, 3, 3]


async def test_async_runner_matches_sync(accountant: CostAccountant) -> None:
    questions = _questions(9)
    client = FakeClient("target", _batch_reply({questions[1]}))
    runner = BatchRunner(client, accountant=accountant, config=BatchingConfig(max_batch=4))
    report = await runner.arun(questions)
    assert report.answers == [answer_for(q) for q in questions]
    assert sorted(len(c.item_ids) for c in report.calls) == [1, 1, 4, 4]


def test_batch_api_file_roundtrip_with_discount(tmp_path, prices: PriceBook, accountant: CostAccountant) -> None:  # type: ignore[no-untyped-def]
    items = make_items(_questions(25))
    file = build_batch_api_file(items, model="target", system_prompt="Be brief.", config=BatchingConfig(max_batch=10))
    assert [len(v) for v in file.manifest.values()] == [10, 10, 5]
    path = tmp_path / "in.jsonl"
    file.write(path)
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    assert first["url"] == "/v1/chat/completions"
    assert first["body"]["response_format"]["type"] == "json_schema"
    live, batch = estimate_batch_api_cost(file, prices, discount=0.5)
    assert math.isclose(batch, live / 2)
    from langchain_costrouter.core.batch_api import BatchApiFile, simulate_batch_output

    again = BatchApiFile.read(path)
    output = simulate_batch_output(again, FakeClient("target", _batch_reply({items[2].question})))
    report = parse_batch_output([json.dumps(o) for o in output], again, accountant=accountant, discount=0.5)
    assert report.answers[2] is None  # no retries on the Batch API path: reported, not guessed
    assert sum(a is not None for a in report.answers) == 24
    full = sum(prices.cost_usd("target", c.usage) for c in report.calls)
    assert math.isclose(report.total_cost_usd, full * 0.5)
    assert math.isclose(sum(r.cost_usd for r in accountant.ledger.records()), full * 0.5, rel_tol=1e-12)


def test_failed_items_of_several_batches_share_one_retry_call(accountant: CostAccountant) -> None:
    questions = _questions(20)
    client = FakeClient("target", _batch_reply({questions[2], questions[14]}))
    report = BatchRunner(client, accountant=accountant).run(questions)
    assert all(a is not None for a in report.answers)
    assert [c.item_ids for c in report.calls][2] == ("q3", "q15")
    assert len(report.calls) == 3
