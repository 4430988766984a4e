"""The ledger against the server's own bill, call by call (the chaos benchmark's verdict).

Both sides are grouped by correlation tag (the bench gives every request a tag, put in its text
for the server and as its tenant for the ledger) and model; inside a group the calls were made
one after the other, so the server's lines (in arrival order) and the ledger's call records (in
time order) are walked side by side:

- a **complete** server line pairs with an exact record (same prompt and completion tokens,
  hence the same money), or with an ``estimated`` record when the client gave up before the
  answer arrived (a reply delivered after the client's timeout); an exact record wins over an
  estimated one before it (an answer the client received must have a line; the estimate before
  it is then a call that never reached the server);
- a **broken** or **abandoned** line (billed: the prompt and the content tokens sent) pairs with
  an ``estimated`` record;
- an unbilled line (an error answer, a connection the server dropped) pairs with a record of no
  tokens.

What is left over is the verdict: a billed line with no record is **lost**; a record with
tokens that is not estimated and has no line is a **phantom**; an estimated record or a record
of no tokens with no line is a call that never reached the server (the client gave up before
the request was out), listed apart. Two records with one ``record_id`` are **duplicates**. The
pairing keeps call order and is the one with the fewest lost and phantom items (an edit
distance), preferring exact pairs to estimates.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_costrouter.core.ledger import CostRecord
from langchain_costrouter.testing.server import BillLine

__all__ = ["ESTIMATE_RULE", "Comparison", "call_records", "compare"]

ESTIMATE_RULE = (
    "exact records equal the server's bill token for token and cent for cent; a record flagged "
    "`estimated` (a call the client gave up on, a broken stream) carries the prompt as the client "
    "counts it and the completion tokens the client received, so it never exceeds the server's "
    "line: ledger output tokens <= server output tokens (a judge abandoned mid-call: its 4-token "
    "grade limit), and the prompt within the tokenizer framing of one message"
)
_PROMPT_SLACK = 8  # tokens: the per-message framing a prompt-only count may leave out

Pricer = Callable[[str, int, int], float]


def _model_key(model: str) -> str:
    return model.split("/", 1)[1] if model.startswith("openai/") else model


def call_records(records: Iterable[CostRecord]) -> list[CostRecord]:
    """The records that stand for a call to the server (not cache hits or best-answer notes)."""
    out = []
    for r in records:
        if r.kind not in {"completion", "judge"}:
            continue
        if r.outcome == "served" and "flag" in r.extra and r.usage.total_tokens == 0:
            continue  # the baseline note of a best-answer serve: no call of its own
        out.append(r)
    return out


@dataclass
class Comparison:
    """The outcome of :func:`compare` (``to_dict`` for JSON)."""

    lines: int = 0
    billed_lines: int = 0
    records: int = 0
    exact: int = 0
    estimated: int = 0
    late: int = 0
    free: int = 0
    lost: list[BillLine] = field(default_factory=list)
    unrecorded_free: int = 0
    phantom: list[CostRecord] = field(default_factory=list)
    unsent: int = 0
    unsent_usd: float = 0.0
    duplicates: int = 0
    rule_breaks: list[tuple[BillLine, CostRecord]] = field(default_factory=list)
    server_usd: float = 0.0
    ledger_usd: float = 0.0
    exact_server_usd: float = 0.0
    exact_ledger_usd: float = 0.0
    estimated_server_usd: float = 0.0
    estimated_ledger_usd: float = 0.0

    @property
    def ok(self) -> bool:
        """0 lost, 0 phantom, 0 duplicates, exact money on exact pairs, estimates within the rule."""
        return (
            not self.lost
            and not self.phantom
            and self.duplicates == 0
            and not self.rule_breaks
            and abs(self.exact_server_usd - self.exact_ledger_usd) <= 1e-9
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (the first lost/phantom items as examples)."""
        return {
            "server_lines": self.lines,
            "server_billed_lines": self.billed_lines,
            "ledger_call_records": self.records,
            "pairs_exact": self.exact,
            "pairs_estimated": self.estimated,
            "pairs_late_reply": self.late,
            "pairs_unbilled": self.free,
            "lost": len(self.lost),
            "unrecorded_unbilled_lines": self.unrecorded_free,
            "phantom": len(self.phantom),
            "never_sent_records": self.unsent,
            "never_sent_usd": self.unsent_usd,
            "duplicates": self.duplicates,
            "estimate_rule_breaks": len(self.rule_breaks),
            "server_usd": self.server_usd,
            "ledger_usd": self.ledger_usd,
            "exact_server_usd": self.exact_server_usd,
            "exact_ledger_usd": self.exact_ledger_usd,
            "estimated_server_usd": self.estimated_server_usd,
            "estimated_ledger_usd": self.estimated_ledger_usd,
            "estimate_rule": ESTIMATE_RULE,
            "ok": self.ok,
            "lost_examples": [line.to_dict() for line in self.lost[:5]],
            "phantom_examples": [r.to_dict() for r in self.phantom[:5]],
            "rule_break_examples": [{"server": s.to_dict(), "ledger": r.to_dict()} for s, r in self.rule_breaks[:5]],
        }


def _estimated(r: CostRecord) -> bool:
    return bool(r.extra.get("estimated"))


def _compatible(s: BillLine, r: CostRecord) -> str | None:
    """The kind of pair ``s`` and ``r`` make, or ``None``."""
    if _estimated(r):
        if s.status == "complete":
            return "late"
        return "estimated" if s.status in {"broken", "abandoned"} else None
    if r.usage.total_tokens == 0:
        return "free" if not s.billed else None
    if s.status == "complete" and (r.input_tokens, r.output_tokens) == (s.prompt_tokens, s.completion_tokens):
        return "exact"
    return None


class _Walk:
    def __init__(self, out: Comparison, price: Pricer) -> None:
        self.out = out
        self.price = price

    def pair(self, kind: str, s: BillLine, r: CostRecord) -> None:
        out = self.out
        model = "openai/" + _model_key(r.model)
        server_usd = self.price(model, s.prompt_tokens, s.completion_tokens) if s.billed else 0.0
        if kind == "exact":
            out.exact += 1
            out.exact_server_usd += server_usd
            out.exact_ledger_usd += r.cost_usd
            return
        if kind == "free":
            out.free += 1
            return
        out.late += kind == "late"
        out.estimated += kind == "estimated"
        out.estimated_server_usd += server_usd
        out.estimated_ledger_usd += r.cost_usd
        input_ok = abs(r.input_tokens - s.prompt_tokens) <= _PROMPT_SLACK
        output_ok = r.output_tokens <= s.completion_tokens or (r.kind == "judge" and r.output_tokens <= 4)
        if not (input_ok and output_ok):
            out.rule_breaks.append((s, r))

    def leftover(self, r: CostRecord) -> None:
        if _estimated(r) or r.usage.total_tokens == 0:
            self.out.unsent += 1
            self.out.unsent_usd += r.cost_usd
        else:
            self.out.phantom.append(r)

    def group(self, lines: Sequence[BillLine], records: Sequence[CostRecord]) -> None:
        for s, r, kind in _align(lines, records):
            if r is None:
                assert s is not None
                if s.billed:
                    self.out.lost.append(s)
                else:
                    self.out.unrecorded_free += 1
            elif s is None:
                self.leftover(r)
            else:
                self.pair(kind, s, r)


# Costs of the alignment: a lost line or a phantom record outweighs any number of the rest.
_COST_LOST = 1_000_000
_COST_LOOSE = 1_000  # an unbilled line without a record, a record that never reached the server
_COST_PAIR = {"exact": 0, "free": 0, "estimated": 1, "late": 2}


def _skip_record_cost(r: CostRecord) -> int:
    return _COST_LOOSE if _estimated(r) or r.usage.total_tokens == 0 else _COST_LOST


def _align(
    lines: Sequence[BillLine], records: Sequence[CostRecord]
) -> list[tuple[BillLine | None, CostRecord | None, str]]:
    """The cheapest order-keeping pairing of one group's lines and records (edit-distance style).

    Both sides are in call order, so pairs never cross; among pairings with the fewest lost
    lines and phantom records, exact pairs are preferred to estimates.
    """
    n, m = len(lines), len(records)
    inf = float("inf")
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    step: list[list[tuple[int, int, str]]] = [[(0, 0, "")] * (m + 1) for _ in range(n + 1)]
    cost[n][m] = 0.0
    for i in range(n, -1, -1):
        for j in range(m, -1, -1):
            if i == n and j == m:
                continue
            best, how = inf, (0, 0, "")
            if i < n:
                c = cost[i + 1][j] + (_COST_LOST if lines[i].billed else _COST_LOOSE)
                if c < best:
                    best, how = c, (1, 0, "")
            if j < m:
                c = cost[i][j + 1] + _skip_record_cost(records[j])
                if c < best:
                    best, how = c, (0, 1, "")
            if i < n and j < m:
                kind = _compatible(lines[i], records[j])
                if kind is not None and (c := cost[i + 1][j + 1] + _COST_PAIR[kind]) < best:
                    best, how = c, (1, 1, kind)
            cost[i][j], step[i][j] = best, how
    out: list[tuple[BillLine | None, CostRecord | None, str]] = []
    i = j = 0
    while i < n or j < m:
        di, dj, kind = step[i][j]
        out.append((lines[i] if di else None, records[j] if dj else None, kind))
        i, j = i + di, j + dj
    return out


def compare(lines: Sequence[BillLine], records: Sequence[CostRecord], price: Pricer) -> Comparison:
    """Pairs the server's bill lines with the ledger's records (see the module docstring).

    Args:
        lines: The server's bill (every line with a tag).
        records: Every ledger record (call records are picked here).
        price: ``price(model, prompt_tokens, completion_tokens)`` in dollars, the ledger's prices.
    """
    out = Comparison()
    counts = Counter(r.record_id for r in records)
    out.duplicates = sum(n - 1 for n in counts.values() if n > 1)
    unique = list({r.record_id: r for r in records}.values())
    calls = call_records(unique)
    out.lines = len(lines)
    out.billed_lines = sum(1 for s in lines if s.billed)
    out.records = len(calls)
    out.ledger_usd = sum(r.cost_usd for r in unique)
    by_line: dict[tuple[str | None, str], list[BillLine]] = defaultdict(list)
    for s in sorted(lines, key=lambda s: s.seq):
        by_line[(s.tag, _model_key(s.model))].append(s)
        if s.billed:
            out.server_usd += price("openai/" + _model_key(s.model), s.prompt_tokens, s.completion_tokens)
    by_record: dict[tuple[str | None, str], list[CostRecord]] = defaultdict(list)
    for r in sorted(calls, key=lambda r: r.ts):
        by_record[(r.tenant, _model_key(r.model))].append(r)
    walk = _Walk(out, price)
    for key in sorted(set(by_line) | set(by_record), key=lambda k: (str(k[0]), k[1])):
        walk.group(by_line.get(key, []), by_record.get(key, []))
    return out
