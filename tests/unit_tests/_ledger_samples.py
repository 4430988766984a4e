"""A hand-built ledger for report tests, with its totals worked out by hand below.

Seven requests over three UTC days (the last record sits exactly on midnight of Nov 4th):

====  =======  ======  =====  ====================================================  ========  ========
req   day      tenant  task   records (cost / baseline)                             cost      baseline
====  =======  ======  =====  ====================================================  ========  ========
A     11-02    alice   math   cheap rejected .001/0, judge .0002/0,                 .0132     .012
                              premium accepted .012/.012 (step 1)
B     11-02    bob     chat   cheap accepted .0005/.008                             .0005     .008
C     11-03    bob     chat   embedding .00001/0, cache hit 0/.006                  .00001    .006
D     11-03    alice   math   cheap error 0/0, mid accepted .002/.009 (step 1)      .002      .009
E     11-03    alice   chat   unpriced "mystery" unrated 0/.004 (price_error)       0         .004
F     11-03    carol   None   compression .0003/0, cheap accepted .0004/.005        .0007     .005
G     11-04    carol   math   cheap rejected .001/0, best-effort served 0/.007      .001      .007
====  =======  ======  =====  ====================================================  ========  ========

Totals: cost .01741, baseline .051, savings .03359. Overheads: rejected .001 (G's rejected
answer was served, so it is not overhead), judge .0002, embedding .00001, compression .0003.
Days: 11-02 .0137/.020, 11-03 .00271/.024, 11-04 .001/.007. Answered requests 7, escalated 2
(A, D). Completion calls 8 (G's zero-cost served record is bookkeeping), 1 on premium.
"""

from __future__ import annotations

from datetime import UTC, datetime

from langchain_costrouter.core.ledger import CostRecord

PREMIUM_MODEL = "openai/gpt-4o"
CHEAP_MODEL = "openai/gpt-4o-mini"
MID_MODEL = "openai/gpt-4.1-mini"


def ts(day: int, hour: int = 12, minute: int = 0, second: float = 0.0) -> float:
    """Epoch seconds of a time in November 2026, UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC).timestamp() + second


def sample_records() -> list[CostRecord]:
    """The ledger of the module docstring."""
    r = CostRecord
    return [
        # A: cheap rejected by a judge, premium accepted.
        r("A", CHEAP_MODEL, "completion", "rejected", ts(2, 10), "alice", "math", "cheap", 100, 50,
          cost_usd=0.001, premium_cost_usd=0.010, baseline_cost_usd=0.0),
        r("A", "openai/gpt-4o-mini", "judge", "overhead", ts(2, 10, 0, 1), "alice", "math", "cheap", 200, 5,
          cost_usd=0.0002, premium_cost_usd=0.003),
        r("A", PREMIUM_MODEL, "completion", "accepted", ts(2, 10, 0, 2), "alice", "math", "premium", 100, 60,
          cost_usd=0.012, premium_cost_usd=0.012, baseline_cost_usd=0.012, escalation_step=1),
        # B: cheap accepted.
        r("B", CHEAP_MODEL, "completion", "accepted", ts(2, 11), "bob", "chat", "cheap", 80, 40,
          cost_usd=0.0005, premium_cost_usd=0.008, baseline_cost_usd=0.008),
        # C: semantic cache hit after an embedding lookup.
        r("C", "wordllama", "embedding", "overhead", ts(3, 0, 0, 0), "bob", "chat", None, 30, 0,
          cost_usd=0.00001),
        r("C", "cache", "cache_hit", "served", ts(3, 0, 0, 1), "bob", "chat", None, 0, 0,
          cost_usd=0.0, premium_cost_usd=0.006, baseline_cost_usd=0.006, cache_hit="semantic"),
        # D: cheap errored, mid accepted.
        r("D", CHEAP_MODEL, "completion", "error", ts(3, 9), "alice", "math", "cheap",
          error="server: InternalServerError"),
        r("D", MID_MODEL, "completion", "accepted", ts(3, 9, 0, 3), "alice", "math", "mid", 120, 70,
          cost_usd=0.002, premium_cost_usd=0.009, baseline_cost_usd=0.009, escalation_step=1),
        # E: a callback-logged call with no known price.
        r("E", "mystery", "completion", "unrated", ts(3, 15), "alice", "chat", None, 50, 20,
          cost_usd=0.0, premium_cost_usd=0.004, baseline_cost_usd=0.004, source="langchain",
          extra={"price_error": "no price known for model 'mystery'"}),
        # F: compressed prompt, cheap accepted, last second of Nov 3rd.
        r("F", CHEAP_MODEL, "compression", "overhead", ts(3, 23, 59, 58), "carol", None, None, 500, 100,
          cost_usd=0.0003),
        r("F", CHEAP_MODEL, "completion", "accepted", ts(3, 23, 59, 59.5), "carol", None, "cheap", 90, 30,
          cost_usd=0.0004, premium_cost_usd=0.005, baseline_cost_usd=0.005),
        # G: budget stopped the cascade; the rejected cheap answer was served as best effort.
        r("G", CHEAP_MODEL, "completion", "rejected", ts(4, 0, 0, 0), "carol", "math", "cheap", 100, 50,
          cost_usd=0.001, premium_cost_usd=0.007),
        r("G", CHEAP_MODEL, "completion", "served", ts(4, 0, 0, 0.5), "carol", "math", "cheap",
          cost_usd=0.0, premium_cost_usd=0.007, baseline_cost_usd=0.007, extra={"flag": "budget"}),
    ]  # fmt: skip
