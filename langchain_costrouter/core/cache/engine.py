"""The response cache: exact level, then semantic level behind the false-hit guard.

Framework-neutral; the LangChain ``BaseCache``, ``ChatCostRouter`` and the LiteLLM hook all
call :class:`ResponseCache`. Entries live in GPTCache's data manager (SQLite + faiss, see
:mod:`.store`); an in-memory id -> entry index serves lookups without touching SQLite.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from langchain_costrouter.core.cache.entries import CacheEntry, CacheHit, CacheJudge, CacheStats, StoreOutcome
from langchain_costrouter.core.cache.guard import FalseHitGuard, GuardPolicy
from langchain_costrouter.core.cache.scope import CacheScope, normalize_query
from langchain_costrouter.core.cache.store import HNSWFaissStore, open_data_manager, read_rows
from langchain_costrouter.core.cache.textform import semantic_form
from langchain_costrouter.core.embeddings import Embedder, estimate_tokens, make_embedder
from langchain_costrouter.core.errors import CacheError, ConfigError, DataError
from langchain_costrouter.core.types import OverheadCall
from langchain_costrouter.core.usage import Usage

if TYPE_CHECKING:
    from langchain_costrouter.core.accounting import CostAccountant
    from langchain_costrouter.core.config import CacheConfig

__all__ = ["ResponseCache"]

logger = logging.getLogger(__name__)

_REFUSAL_RE = re.compile(
    r"^\s*(i'?m sorry,? but |sorry,? )?(i can(?:'|no)t|i cannot|i am unable to|i'm unable to|i won'?t) "
    r"(help|assist|comply|provide|do that)",
    re.IGNORECASE,
)
_OK_FINISH = frozenset({None, "", "stop", "end_turn", "eos", "complete"})
_MAX_CANDIDATES = 4


class ResponseCache:
    """Exact + semantic cache of accepted answers.

    Args:
        embedder: Embeds the last user turn (default: offline wordllama).
        directory: Where GPTCache's SQLite file and the vector index live (a fresh temporary
            directory, removed on :meth:`close`, when ``None``).
        exact: Enable the exact level.
        semantic: Enable the semantic level.
        policy: Guard thresholds (default: the calibrated policy shipped with the package).
        ttl_s: Entry lifetime in seconds (``None``: no expiry).
        max_size: Entries kept; least recently used ones are evicted beyond it.
        judge: Optional cheap judge for candidates within ``policy.judge_band`` of the threshold.
        accountant: Records paid overheads (API embeddings, judge calls) in the ledger.
        clock: Time source (tests).
    """

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        directory: str | Path | None = None,
        exact: bool = True,
        semantic: bool = True,
        policy: GuardPolicy | None = None,
        ttl_s: float | None = None,
        max_size: int = 100_000,
        judge: CacheJudge | None = None,
        accountant: CostAccountant | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_size <= 0:
            msg = f"max_size must be positive, got {max_size}"
            raise CacheError(msg)
        from langchain_costrouter.core.cache.policy import default_policy

        self.embedder: Embedder = embedder if embedder is not None else make_embedder("wordllama")
        self.exact = exact
        self.semantic = semantic
        self.policy = policy if policy is not None else default_policy(self.embedder.name)
        self.guard = FalseHitGuard(self.policy, known_word=getattr(self.embedder, "known_word", None))
        self.ttl_s = ttl_s
        self.max_size = max_size
        self.judge = judge
        self.accountant = accountant
        self.stats = CacheStats()
        self._clock = clock
        self._lock = threading.RLock()
        self._entries: dict[int, CacheEntry] = {}
        self._exact: dict[tuple[str, str], int] = {}
        # Semantic form of each entry's query (set at store; lazily for entries loaded from disk),
        # so that a lookup does not normalise its candidates' texts again.
        self._forms: dict[int, str] = {}
        self._tmp = directory is None
        root = Path(tempfile.mkdtemp(prefix="costrouter-cache-")) if directory is None else Path(directory)
        self.directory = root / _safe(self.embedder.name)
        self._vectors = HNSWFaissStore(str(self.directory / "hnsw.index"), self.embedder.dimension)
        self._dm = open_data_manager(self.directory, self._vectors, max_size=max_size, on_evict=self._on_evict)
        self._load()

    @classmethod
    def from_config(
        cls,
        cfg: CacheConfig,
        *,
        embedder: Embedder | None = None,
        judge: CacheJudge | None = None,
        accountant: CostAccountant | None = None,
        policy: GuardPolicy | None = None,
    ) -> ResponseCache:
        """A cache built from ``CostRouterConfig.cache``.

        ``similarity_threshold`` and ``judge_band`` override the shipped calibrated policy's
        values only when they differ from the config defaults (0.9 / 0.0 are the defaults).
        With a verifier policy ``similarity_threshold`` is the candidate cosine floor. The
        policy is ``policy``, else ``cfg.policy`` (a ``calibrate-cache`` file), else the one
        shipped for the configured encoder.

        Raises:
            ConfigError: ``cache.policy`` cannot be read as a policy.
        """
        from langchain_costrouter.core.cache.policy import default_policy, load_policy

        emb = embedder if embedder is not None else make_embedder(cfg.encoder)
        if policy is None and cfg.policy:
            try:
                policy = load_policy(cfg.policy)
            except DataError as exc:
                raise ConfigError("cache.policy", str(exc)) from None
        pol = policy or default_policy(emb.name)
        upd: dict[str, Any] = {}
        if cfg.similarity_threshold != type(cfg).model_fields["similarity_threshold"].default:
            upd["similarity_threshold"] = cfg.similarity_threshold
        if cfg.judge_band:
            upd["judge_band"] = cfg.judge_band
        if upd:
            pol = GuardPolicy.from_dict({**pol.to_dict(), **upd, "source": "config"})
        return cls(
            emb,
            directory=cfg.dir,
            exact=cfg.exact,
            semantic=cfg.semantic,
            policy=pol,
            ttl_s=cfg.ttl_s,
            max_size=cfg.max_size,
            judge=judge,
            accountant=accountant,
        )

    # ------------------------------------------------------------------ lookup
    def lookup(self, scope: CacheScope, query: str, *, request_id: str | None = None) -> CacheHit | None:
        """The cached answer for ``query`` in ``scope``, or ``None``.

        Exact level first (same scope, same normalised text), then the semantic level: the
        nearest stored queries of the same scope, each checked by the guard (and the judge
        near the threshold).
        """
        self.stats.bump("lookups")
        norm = normalize_query(query)
        if not norm:
            self.stats.bump("misses")
            return None
        now = self._clock()
        if self.exact:
            with self._lock:
                eid = self._exact.get((scope.key, norm))
                entry = self._entries.get(eid) if eid is not None else None
                if entry is not None and entry.expired(now):
                    self._drop([entry.id], "expirations")
                    entry = None
                if entry is not None:
                    self._touch(entry.id)
            if entry is not None:
                self.stats.bump("exact_hits")
                return self._hit(entry, "exact", 1.0, now, ())
        if not self.semantic:
            self.stats.bump("misses")
            return None
        overhead: list[OverheadCall] = []
        form = self._form(norm)
        vec = self._embed([form], overhead)[0]
        hit = self._semantic(scope, form, vec, now, overhead)
        self._record_overhead(overhead, request_id, scope.namespace)
        if hit is None:
            self.stats.bump("misses")
        return hit

    async def alookup(self, scope: CacheScope, query: str, *, request_id: str | None = None) -> CacheHit | None:
        """Async :meth:`lookup` (runs in a worker thread: embedders and judges may block)."""
        return await asyncio.to_thread(self.lookup, scope, query, request_id=request_id)

    def _semantic(
        self, scope: CacheScope, query: str, vec: np.ndarray, now: float, overhead: list[OverheadCall]
    ) -> CacheHit | None:
        pol = self.policy
        low = pol.similarity_threshold - (pol.judge_band if pol.verifier is None else 0.0)
        for sim, entry in self._candidates(scope.key, vec, low, now):
            decision = self.guard.check_forms(query, self._entry_form(entry), sim)
            if decision.verdict == "judge":
                if self.judge is None:
                    ok = bool(decision.details.get("accept", sim >= self.policy.similarity_threshold))
                else:
                    self.stats.bump("judge_calls")
                    verdict = self.judge.judge(query, entry.query)
                    if verdict.overhead is not None:
                        overhead.append(verdict.overhead)
                    ok = verdict.same
                if not ok:
                    self.stats.bump("rejections", reason="judge" if self.judge else "similarity")
                    continue
            elif decision.verdict == "miss":
                self.stats.bump("rejections", reason=decision.reason)
                continue
            with self._lock:
                if entry.id not in self._entries:
                    continue
                self._touch(entry.id)
            self.stats.bump("semantic_hits")
            return self._hit(entry, "semantic", sim, now, tuple(overhead))
        return None

    def _candidates(self, scope_key: str, vec: np.ndarray, low: float, now: float) -> list[tuple[float, CacheEntry]]:
        k = 16
        expired: list[int] = []
        while True:
            found = self._vectors.search(vec, top_k=k)
            out: list[tuple[float, CacheEntry]] = []
            with self._lock:
                for sim, eid in found:
                    entry = self._entries.get(eid)
                    if entry is None or sim < low or entry.scope_key != scope_key:
                        continue
                    if entry.expired(now):
                        expired.append(eid)
                        continue
                    out.append((sim, entry))
            # Other scopes may crowd the top k: look deeper while results are still above `low`.
            if out or len(found) < k or found[-1][0] < low or k >= 1024:
                break
            k *= 8
        if expired:
            with self._lock:
                self._drop(expired, "expirations")
        return out[:_MAX_CANDIDATES]

    def _hit(
        self, entry: CacheEntry, kind: Any, sim: float, now: float, overhead: tuple[OverheadCall, ...]
    ) -> CacheHit:
        return CacheHit(
            text=entry.text,
            message=entry.message,
            model=entry.model,
            tier=entry.tier,
            usage=entry.usage,
            kind=kind,
            similarity=float(sim),
            cached_query=entry.query,
            entry_id=entry.id,
            age_s=max(0.0, now - entry.created_at),
            overhead=overhead,
        )

    # ------------------------------------------------------------------- store
    def store(
        self,
        scope: CacheScope,
        query: str,
        answer: str,
        *,
        model: str,
        tier: str | None = None,
        usage: Usage | None = None,
        gate_passed: bool,
        finish_reason: str | None = None,
        tool_calls: Sequence[Any] = (),
        refusal: str | None = None,
        error: str | None = None,
        partial: bool = False,
        message: Mapping[str, Any] | None = None,
        request_id: str | None = None,
    ) -> StoreOutcome:
        """Stores an answer that passed its quality gate.

        Never stores errors, refusals, failed gates, partial or truncated streams, tool-call
        turns or empty answers; the outcome says why an answer was skipped.
        """
        reason = self.refuse_reason(
            answer,
            gate_passed=gate_passed,
            finish_reason=finish_reason,
            tool_calls=tool_calls,
            refusal=refusal,
            error=error,
            partial=partial,
        )
        norm = normalize_query(query)
        if not reason and not norm:
            reason = "empty_query"
        if reason:
            self.stats.bump("skipped", reason=reason)
            return StoreOutcome(False, reason)
        now = self._clock()
        with self._lock:
            old = self._exact.get((scope.key, norm))
            if old is not None and old in self._entries and not self._entries[old].expired(now):
                self.stats.bump("skipped", reason="duplicate")
                return StoreOutcome(False, "duplicate", old)
        overhead: list[OverheadCall] = []
        form = self._form(norm) if self.semantic else norm
        vec = self._embed([form], overhead)[0] if self.semantic else self._placeholder()
        payload = {
            "v": 1,
            "scope": scope.key,
            "ns": scope.namespace,
            "text": answer,
            "model": model,
            "tier": tier,
            "usage": (usage or Usage()).to_openai(),
            "created": now,
            "expires": now + self.ttl_s if self.ttl_s else None,
            "message": dict(message or {}),
        }
        ids = self._insert([(norm, payload, vec, form)])
        self._record_overhead(overhead, request_id, scope.namespace)
        self.stats.bump("stores")
        return StoreOutcome(True, "", ids[0])

    async def astore(self, scope: CacheScope, query: str, answer: str, **kwargs: Any) -> StoreOutcome:
        """Async :meth:`store` (runs in a worker thread)."""
        return await asyncio.to_thread(lambda: self.store(scope, query, answer, **kwargs))

    @staticmethod
    def refuse_reason(
        answer: str,
        *,
        gate_passed: bool,
        finish_reason: str | None = None,
        tool_calls: Sequence[Any] = (),
        refusal: str | None = None,
        error: str | None = None,
        partial: bool = False,
    ) -> str:
        """Why an answer must not be cached (``""`` when it may be)."""
        checks = (
            (error is not None, "error"),
            (not gate_passed, "gate_failed"),
            (bool(tool_calls) or finish_reason in {"tool_calls", "function_call"}, "tool_call"),
            (bool(refusal) or finish_reason == "content_filter", "refusal"),
            (partial or finish_reason == "length" or finish_reason not in _OK_FINISH | {"tool_calls"}, "partial"),
            (not answer or not answer.strip(), "empty"),
            (bool(answer) and _REFUSAL_RE.match(answer) is not None, "refusal"),
        )
        for failed, why in checks:
            if failed:
                return why
        return ""

    def bulk_load(self, rows: Sequence[tuple[CacheScope, str, str]], *, model: str, batch: int = 5000) -> int:
        """Stores many ``(scope, query, answer)`` rows in large transactions (benchmarks, warm-up)."""
        now = self._clock()
        n = 0
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            norms = [normalize_query(q) for _, q, _ in chunk]
            forms = [self._form(q) for q in norms] if self.semantic else norms
            if self.semantic:
                vecs = self.embedder.embed(forms)
            else:
                vecs = np.tile(self._placeholder(), (len(chunk), 1))
            items = []
            for (scope, _, answer), norm, vec, form in zip(chunk, norms, vecs, forms, strict=True):
                payload = {"v": 1, "scope": scope.key, "ns": scope.namespace, "text": answer, "model": model}
                payload |= {"tier": None, "usage": Usage().to_openai(), "created": now, "expires": None, "message": {}}
                items.append((norm, payload, vec, form))
            n += len(self._insert(items))
        self.stats.bump("stores", n)
        return n

    def _insert(self, items: Sequence[tuple[str, dict[str, Any], np.ndarray, str]]) -> list[int]:
        """Writes ``(query, payload, vector, semantic form)`` items; returns their ids."""
        from gptcache.manager.scalar_data.base import CacheData
        from gptcache.manager.vector_data.base import VectorData

        datas = [
            CacheData(question=q, answers=json.dumps(p), embedding_data=v.astype(np.float32)) for q, p, v, _ in items
        ]
        with self._lock:
            try:
                ids = [int(i) for i in self._dm.s.batch_insert(datas)]
                self._dm.v.mul_add([VectorData(id=i, data=v) for i, (_, _, v, _) in zip(ids, items, strict=True)])
            except Exception as exc:
                msg = f"cache store failed: {exc}"
                raise CacheError(msg) from exc
            for eid, (q, p, _, form) in zip(ids, items, strict=True):
                entry = _entry(eid, q, p)
                self._entries[eid] = entry
                self._exact[(entry.scope_key, q)] = eid
                self._forms[eid] = form
            self._dm.eviction_base.put(ids)  # may evict older entries through _on_evict
        return ids

    # ------------------------------------------------------ invalidation, TTL
    def invalidate(self, namespace: str) -> int:
        """Drops every entry of ``namespace``; returns how many."""
        with self._lock:
            ids = [e.id for e in self._entries.values() if e.namespace == namespace]
            self._drop(ids, "invalidations")
        return len(ids)

    def purge_expired(self) -> int:
        """Drops every expired entry now; returns how many."""
        now = self._clock()
        with self._lock:
            ids = [e.id for e in self._entries.values() if e.expired(now)]
            self._drop(ids, "expirations")
        return len(ids)

    def clear(self) -> int:
        """Drops every entry."""
        with self._lock:
            ids = list(self._entries)
            self._drop(ids, "invalidations")
        return len(ids)

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, ids: Sequence[int], counter: str) -> None:
        if not ids:
            return
        for eid in ids:
            entry = self._entries.pop(eid, None)
            self._forms.pop(eid, None)
            if entry is not None and self._exact.get((entry.scope_key, entry.query)) == eid:
                del self._exact[(entry.scope_key, entry.query)]
            self._dm.eviction_base._cache.pop(eid, None)
        self._dm.s.mark_deleted(list(ids))
        self._vectors.delete(list(ids))
        self.stats.bump(counter, len(ids))

    def _on_evict(self, ids: list[int]) -> None:
        with self._lock:
            n = 0
            for eid in ids:
                entry = self._entries.pop(eid, None)
                if entry is not None:
                    n += 1
                    if self._exact.get((entry.scope_key, entry.query)) == eid:
                        del self._exact[(entry.scope_key, entry.query)]
        self.stats.bump("evictions", n)

    def _touch(self, eid: int) -> None:
        self._dm.hit_cache_callback((None, eid))  # in-memory LRU recency; no SQLite write

    # ----------------------------------------------------------------- helpers
    def _form(self, text: str) -> str:
        """The semantic form of a normalised query: what is embedded and what the guard compares."""
        return semantic_form(text, self.guard.known_word)

    def _entry_form(self, entry: CacheEntry) -> str:
        """An entry's semantic form, kept from its store (computed once for entries loaded from disk)."""
        form = self._forms.get(entry.id)
        if form is None:
            form = self._form(entry.query)
            with self._lock:
                if entry.id in self._entries:  # not for an entry dropped meanwhile
                    self._forms[entry.id] = form
        return form

    def _embed(self, texts: list[str], overhead: list[OverheadCall]) -> np.ndarray:
        """Embeddings of texts already in their semantic form."""
        t0 = time.perf_counter()
        vecs = self.embedder.embed(texts)
        priced = self.embedder.priced_model
        if priced:
            ms = (time.perf_counter() - t0) * 1000
            overhead.append(OverheadCall(priced, Usage(input_tokens=estimate_tokens(texts)), "embedding", ms))
        return vecs

    def _record_overhead(self, calls: Sequence[OverheadCall], request_id: str | None, tenant: str) -> None:
        if not calls or self.accountant is None:
            return
        from langchain_costrouter.core.ledger import new_request_id

        for call in calls:
            try:
                self.accountant.record(
                    request_id=request_id or new_request_id(),
                    model=call.model,
                    usage=call.usage,
                    kind="judge" if call.kind == "judge" else "embedding",
                    outcome="overhead",
                    tenant=tenant,
                    latency_ms=call.latency_ms,
                    cost_usd=call.cost_usd,
                    source="cache",
                    strict=False,
                )
            except Exception:
                logger.warning("could not record a cache overhead call", exc_info=True)

    def _placeholder(self) -> np.ndarray:
        vec = np.zeros(self.embedder.dimension, dtype=np.float32)
        vec[0] = 1.0
        return vec

    def _load(self) -> None:
        now = self._clock()
        rows = list(read_rows(self.directory / "sqlite.db"))
        expired: list[int] = []
        missing: list[tuple[int, bytes]] = []
        indexed = {int(i) for i in self._vectors.ids()}
        for row in rows:
            entry = _entry(row.id, row.question, row.payload())
            if entry.expired(now):
                expired.append(row.id)
                continue
            self._entries[row.id] = entry
            self._exact[(entry.scope_key, entry.query)] = row.id
            if row.id not in indexed and row.embedding:
                missing.append((row.id, row.embedding))
        stale = indexed - set(self._entries) - set(expired)
        if stale:
            self._vectors.delete(sorted(stale))
        if missing:
            from gptcache.manager.vector_data.base import VectorData

            self._vectors.mul_add([VectorData(id=i, data=np.frombuffer(b, dtype=np.float32)) for i, b in missing])
        with self._lock:
            self._drop(expired, "expirations")
        if rows:
            logger.info("cache %s: loaded %d entries", self.directory, len(self._entries))

    def flush(self) -> None:
        """Persists the vector index (SQLite is written on every store)."""
        with self._lock:
            self._dm.flush()

    def close(self) -> None:
        """Flushes and releases the store (a temporary directory is removed)."""
        with self._lock:
            try:
                self._dm.close()
            finally:
                if self._tmp:
                    shutil.rmtree(self.directory.parent, ignore_errors=True)

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", name)[:80] or "embedder"


def _entry(eid: int, query: str, p: Mapping[str, Any]) -> CacheEntry:
    return CacheEntry(
        id=eid,
        scope_key=str(p.get("scope", "")),
        namespace=str(p.get("ns", "")),
        query=query,
        text=str(p.get("text", "")),
        model=str(p.get("model", "")),
        tier=p.get("tier"),
        usage=Usage.from_openai(p.get("usage")),
        created_at=float(p.get("created", 0.0)),
        expires_at=None if p.get("expires") is None else float(p["expires"]),
        message=p.get("message") or {},
    )
