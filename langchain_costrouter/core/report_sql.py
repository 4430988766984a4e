"""``costrouter report`` computed by the database: a few ``GROUP BY`` queries, no record loaded.

:func:`build_report_sql` gives the same :class:`~langchain_costrouter.core.report.LedgerReport`
as :func:`~langchain_costrouter.core.report.build_report` over the same records (a test compares
them), for the SQL ledgers: :class:`~langchain_costrouter.core.ledger.SQLiteLedger` and
:class:`~langchain_costrouter.core.ledger.PostgresLedger`. Each exposes ``dialect``, ``table``
and ``query(sql, params)``; the two dialects differ only in placeholders, JSON key tests, UTC
day formatting and ``max``/``greatest``.
"""

from __future__ import annotations

from typing import Any, Protocol

from langchain_costrouter.core.report import (
    BREAKDOWN_DIMENSIONS,
    LedgerReport,
    Overhead,
    _Accumulator,
    assemble_report,
)

__all__ = ["SqlLedger", "build_report_sql"]

_OVERHEAD_KINDS = "('judge', 'embedding', 'compression', 'shadow')"
_CALL_KINDS = "('completion', 'batch')"
_ANSWER_KINDS = "('completion', 'batch', 'cache_hit')"
_ANSWER_OUTCOMES = "('accepted', 'served', 'unrated')"


class SqlLedger(Protocol):
    """A ledger the database can aggregate."""

    dialect: str
    table: str

    def query(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        """Rows of one read-only statement."""
        ...


class _Dialect:
    def __init__(self, name: str, table: str) -> None:
        self.pg = name == "postgres"
        self.table = '"' + table.replace('"', '""') + '"'
        self.ph = "%s" if self.pg else "?"

    def has(self, key: str, alias: str = "") -> str:
        col = f"{alias}extra"
        return f"({col} -> '{key}') IS NOT NULL" if self.pg else f"json_type({col}, '$.{key}') IS NOT NULL"

    def text(self, key: str, alias: str = "") -> str:
        """A text field of ``extra`` (NULL when absent)."""
        col = f"{alias}extra"
        return f"({col} ->> '{key}')" if self.pg else f"json_extract({col}, '$.{key}')"

    def num(self, key: str) -> str:
        """A number field of ``extra`` (NULL when absent)."""
        return f"CAST(extra ->> '{key}' AS DOUBLE PRECISION)" if self.pg else f"json_extract(extra, '$.{key}')"

    def day(self) -> str:
        return "to_char(to_timestamp(ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD')" if self.pg else "date(ts, 'unixepoch')"

    def greatest(self, a: str, b: str) -> str:
        return f"GREATEST({a}, {b})" if self.pg else f"max({a}, {b})"

    def fallback_served(self, alias: str = "") -> str:
        a = alias
        return f"({a}outcome = 'served' AND {a}kind IN {_CALL_KINDS} AND {a}cost_usd = 0 AND {self.has('flag', alias)})"

    def call(self) -> str:
        return f"(kind <> 'cache_hit' AND NOT {self.fallback_served()})"


def _window(d: _Dialect, since: float | None, until: float | None, alias: str = "") -> tuple[str, list[float]]:
    where, args = ["1 = 1"], []
    if since is not None:
        where.append(f"{alias}ts >= {d.ph}")
        args.append(since)
    if until is not None:
        where.append(f"{alias}ts < {d.ph}")
        args.append(until)
    return " AND ".join(where), args


def _n(v: Any) -> float:
    return float(v or 0)


def build_report_sql(
    ledger: SqlLedger,
    *,
    since: float | None = None,
    until: float | None = None,
    premium_model: str | None = None,
    premium_tier: str | None = None,
) -> LedgerReport:
    """The report of ``ledger`` aggregated by its database (see :func:`~langchain_costrouter.core.report.build_report`).

    Raises:
        LedgerError: the ledger cannot be read.
    """
    d = _Dialect(ledger.dialect, ledger.table)
    w, args = _window(d, since, until)
    t = d.table
    call = f"CASE WHEN {d.call()} THEN 1 ELSE 0 END"
    acc = _Accumulator()
    ((n, calls, cost, base, first, last, errors, unp, unp_b, hits, hit_sav, reqs, judge, emb, comp, err, shadow),) = (
        ledger.query(
            f"SELECT COUNT(*), SUM({call}), SUM(cost_usd), SUM(baseline_cost_usd), MIN(ts), MAX(ts), "  # noqa: S608
            "SUM(CASE WHEN outcome = 'error' THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN {d.has('price_error')} THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN {d.has('baseline_price_error')} THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN kind = 'cache_hit' THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN kind = 'cache_hit' THEN baseline_cost_usd - cost_usd ELSE 0 END), "
            "COUNT(DISTINCT request_id), "
            "SUM(CASE WHEN kind = 'judge' THEN cost_usd ELSE 0 END), "
            "SUM(CASE WHEN kind = 'embedding' THEN cost_usd ELSE 0 END), "
            "SUM(CASE WHEN kind = 'compression' THEN cost_usd ELSE 0 END), "
            f"SUM(CASE WHEN kind NOT IN {_OVERHEAD_KINDS} AND outcome = 'error' THEN cost_usd ELSE 0 END), "
            "SUM(CASE WHEN kind = 'shadow' THEN cost_usd ELSE 0 END) "
            f"FROM {t} WHERE {w}",
            args,
        )
    )
    acc.records, acc.calls = int(n), int(calls or 0)
    acc.cost, acc.baseline = _n(cost), _n(base)
    acc.first_ts = None if first is None else float(first)
    acc.last_ts = None if last is None else float(last)
    acc.errors, acc.unpriced, acc.unpriced_baseline = int(errors or 0), int(unp or 0), int(unp_b or 0)
    acc.cache_hits, acc.cache_savings = int(hits or 0), _n(hit_sav)

    ((answered, escalated),) = ledger.query(
        "SELECT COUNT(*), SUM(CASE WHEN m > 0 THEN 1 ELSE 0 END) FROM "  # noqa: S608
        f"(SELECT request_id, MAX(escalation_step) AS m FROM {t} WHERE {w} "
        f"AND kind IN {_ANSWER_KINDS} AND outcome IN {_ANSWER_OUTCOMES} GROUP BY request_id) AS a",
        args,
    )
    ws, sargs = _window(d, since, until, "s.")
    wr, rargs = _window(d, since, until, "r.")
    ((rejected,),) = ledger.query(
        f"SELECT SUM(r.cost_usd) FROM {t} AS r WHERE {wr} AND r.kind NOT IN {_OVERHEAD_KINDS} "  # noqa: S608
        f"AND r.outcome = 'rejected' AND NOT EXISTS (SELECT 1 FROM {t} AS s WHERE {ws} "
        f"AND s.request_id = r.request_id AND s.escalation_step = r.escalation_step AND {d.fallback_served('s.')})",
        [*rargs, *sargs],
    )
    close = f"abs(cost_usd - premium_cost_usd) <= 1e-9 * {d.greatest('abs(cost_usd)', 'abs(premium_cost_usd)')}"
    for model, votes in ledger.query(
        f"SELECT model, COUNT(*) FROM {t} WHERE {w} AND kind IN {_CALL_KINDS} AND cost_usd > 0 "  # noqa: S608
        f"AND cached_tokens = 0 AND {close} GROUP BY model",
        args,
    ):
        acc.premium_votes[model] = int(votes)
    for tier, model, count in ledger.query(
        f"SELECT tier, model, COUNT(*) FROM {t} WHERE {w} AND kind IN {_CALL_KINDS} AND {d.call()} "  # noqa: S608
        "GROUP BY tier, model",
        args,
    ):
        acc.call_models[(tier, model)] = int(count)
    for kind, *sums in ledger.query(
        "SELECT kind, COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cached_tokens), "  # noqa: S608
        f"SUM(cache_write_tokens), SUM(reasoning_tokens) FROM {t} WHERE {w} GROUP BY kind",
        args,
    ):
        acc.tokens[kind] = [int(v or 0) for v in sums]
    for dim in BREAKDOWN_DIMENSIONS:
        key = d.day() if dim == "day" else dim
        for k, recs, dcalls, dcost, dbase, dreqs in ledger.query(
            f"SELECT {key} AS k, COUNT(*), SUM({call}), SUM(cost_usd), SUM(baseline_cost_usd), "  # noqa: S608
            f"COUNT(DISTINCT request_id) FROM {t} WHERE {w} GROUP BY {key}",
            args,
        ):
            b = acc.buckets[dim][k]
            b.records, b.calls, b.cost, b.baseline = int(recs), int(dcalls or 0), _n(dcost), _n(dbase)
            b.n_requests = int(dreqs)
    overhead = Overhead(
        rejected_usd=_n(rejected),
        error_usd=_n(err),
        judge_usd=_n(judge),
        embedding_usd=_n(emb),
        compression_usd=_n(comp),
        shadow_usd=_n(shadow),
    )
    _quality(ledger, d, w, args, acc)
    return assemble_report(
        acc,
        requests=int(reqs),
        answered=int(answered),
        escalated=int(escalated or 0),
        overhead=overhead,
        since=since,
        until=until,
        premium_model=premium_model,
        premium_tier=premium_tier,
    )


def _quality(ledger: SqlLedger, d: _Dialect, w: str, args: list[float], acc: _Accumulator) -> None:
    """The quality monitor's figures (:mod:`~langchain_costrouter.core.monitor.quality`), aggregated."""
    t, day = d.table, d.day()
    monitor = "source = 'monitor' AND kind IN ('shadow', 'feedback')"
    graded = f"{monitor} AND {d.num('grade')} IS NOT NULL AND tier IS NOT NULL"
    rows = ledger.query(f"SELECT COUNT(*) FROM {t} WHERE {w} AND {graded}", args)  # noqa: S608
    if not rows or not rows[0][0]:
        return  # no grade: no quality section (the monitor is off)
    q = acc.quality
    served = {
        (k, route, tenant): int(n)
        for k, route, tenant, n in ledger.query(
            f"SELECT {day}, task, tenant, COUNT(DISTINCT request_id) FROM {t} WHERE {w} "  # noqa: S608
            f"AND kind IN {_CALL_KINDS} AND outcome IN {_ANSWER_OUTCOMES} AND source <> 'monitor' "
            f"GROUP BY {day}, task, tenant",
            args,
        )
    }
    gate = f"COALESCE({d.text('gate')}, 'none')"
    accepted = {
        ((k, route, tenant), tier): int(n)
        for k, route, tenant, tier, n in ledger.query(
            f"SELECT {day}, task, tenant, tier, COUNT(DISTINCT request_id) FROM {t} WHERE {w} "  # noqa: S608
            f"AND kind IN {_CALL_KINDS} AND outcome = 'accepted' AND tier IS NOT NULL AND source <> 'monitor' "
            f"AND {gate} NOT IN ('none', 'streamed') GROUP BY {day}, task, tenant, tier",
            args,
        )
    }
    rate = f"COALESCE({d.num('rate')}, 1.0)"
    inv = f"(1.0 / {d.greatest(rate, '1e-9')})"
    grades = {
        ((k, route, tenant), tier): (_n(sw), _n(sw2), _n(swl), int(cnt))
        for k, route, tenant, tier, sw, sw2, swl, cnt in ledger.query(
            f"SELECT {day}, task, tenant, tier, SUM({inv}), SUM({inv} * {inv}), "  # noqa: S608
            f"SUM((1.0 - {d.num('grade')}) * {inv}), COUNT(*) FROM {t} WHERE {w} AND {graded} "
            f"GROUP BY {day}, task, tenant, tier",
            args,
        )
    }
    q.add_counts(served, accepted, grades)
    for shadow_tier, grader in ledger.query(
        f"SELECT DISTINCT {d.text('shadow_tier')}, {d.text('grader')} FROM {t} WHERE {w} AND {monitor}",  # noqa: S608
        args,
    ):
        q.add_meta(shadow_tier=shadow_tier, grader=grader, target=None, confidence=None)
    for target, confidence in ledger.query(
        f"SELECT {d.num('target')}, {d.num('confidence')} FROM {t} WHERE {w} AND {monitor} "  # noqa: S608
        "ORDER BY ts DESC LIMIT 1",
        args,
    ):
        q.add_meta(shadow_tier=None, grader=None, target=target, confidence=confidence)
    latest = f"SELECT task, tier, MAX(ts) AS m FROM {t} WHERE {w} AND {monitor} GROUP BY task, tier"  # noqa: S608
    for route, tier, ts, alarm in ledger.query(
        f"SELECT r.task, r.tier, r.ts, {d.text('alarm', 'r.')} FROM {t} AS r "  # noqa: S608
        f"JOIN ({latest}) AS x ON r.ts = x.m AND r.tier = x.tier "
        "AND (r.task = x.task OR (r.task IS NULL AND x.task IS NULL)) "
        "WHERE r.source = 'monitor' AND r.kind IN ('shadow', 'feedback')",
        args,
    ):
        q.add_alarm(route, tier, float(ts), alarm)
    ((cost,),) = ledger.query(
        f"SELECT SUM(cost_usd) FROM {t} WHERE {w} AND source = 'monitor' "  # noqa: S608
        "AND kind IN ('shadow', 'feedback', 'judge')",
        args,
    )
    q.shadow_usd += _n(cost)
