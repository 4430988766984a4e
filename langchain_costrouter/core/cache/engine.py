"""The response cache: exact level, then semantic level behind the false-hit guard.

Framework-neutral; the LangChain ``BaseCache``, ``ChatCostRouter`` and the LiteLLM hook all
call :class:`ResponseCache`. Entries live in GPTCache's data manager (SQLite + faiss, see
:mod:`.store`); an in-memory id -> entry index serves lookups without touching SQLite.

The cache is a side concern of a request: :meth:`ResponseCache.find`, :meth:`~ResponseCache.lookup`,
:meth:`~ResponseCache.store` and :meth:`~ResponseCache.observe_shadow` never raise (a failure is
logged and counted in ``stats.errors``), and a store whose files cannot be read is cleared and
rebuilt with one warning. The bulky state (entries, vectors, the embedder) lives in one
``__slots__`` holder, so a host that inspects the object (LiteLLM's ``/cache/ping`` walks
``vars()`` of its cache backend) sees a few small fields, whatever the cache holds.
"""

from __future__ import annotations

import asyncio
import logging
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from langchain_costrouter.core.cache import admission
from langchain_costrouter.core.cache._index import (
    PAYLOAD_VERSION,
    EntryIndex,
    EntryStore,
    StoreFactory,
    StoreSpec,
    safe_name,
)
from langchain_costrouter.core.cache.entries import (
    CacheEntry,
    CacheHit,
    CacheJudge,
    CacheLookup,
    CacheStats,
    StoreOutcome,
)
from langchain_costrouter.core.cache.guard import FalseHitGuard, GuardPolicy
from langchain_costrouter.core.cache.scope import CacheScope, normalize_query
from langchain_costrouter.core.cache.shadow import ShadowCandidate, ShadowStats, answers_agree
from langchain_costrouter.core.cache.textform import semantic_form
from langchain_costrouter.core.embeddings import Embedder, estimate_tokens, make_embedder
from langchain_costrouter.core.errors import CacheError, CacheUnavailableError, ConfigError, DataError
from langchain_costrouter.core.types import OverheadCall
from langchain_costrouter.core.usage import Usage

if TYPE_CHECKING:
    from langchain_costrouter.core.accounting import CostAccountant
    from langchain_costrouter.core.client import ModelClient
    from langchain_costrouter.core.config import CacheConfig

__all__ = ["SEMANTIC_MODES", "ResponseCache"]

logger = logging.getLogger(__name__)

_MAX_CANDIDATES = 4
SEMANTIC_MODES = ("off", "shadow", "auto", "on")


class _Parts:
    """The cache's collaborators and entries, kept out of the instance ``__dict__`` (module docstring)."""

    __slots__ = ("accountant", "embedder", "factory", "guard", "index", "judge", "shadow")

    def __init__(self, embedder: Embedder, guard: FalseHitGuard, factory: StoreFactory) -> None:
        self.embedder = embedder
        self.factory = factory
        self.guard = guard
        self.judge: CacheJudge | None = None
        self.accountant: CostAccountant | None = None
        self.shadow: ShadowStats | None = None
        self.index: EntryStore | None = None

    def __repr__(self) -> str:
        n = len(self.index) if self.index is not None else 0
        return f"<cache parts: {self.embedder.name}, {n} entries>"


class ResponseCache:
    """Exact + semantic cache of accepted answers.

    Args:
        embedder: Embeds the last user turn (default: offline wordllama).
        directory: Where GPTCache's SQLite file and the vector index live (a fresh temporary
            directory, removed on :meth:`close`, when ``None``).
        exact: Enable the exact level.
        semantic: The semantic level's mode: ``off``, ``shadow``, ``auto`` or ``on`` (``True``
            / ``False`` mean ``on`` / ``off``); see :meth:`find`.
        policy: Guard thresholds (default: the calibrated policy shipped with the package).
        ttl_s: Entry lifetime in seconds (``None``: no expiry).
        max_size: Entries kept; least recently used ones are evicted beyond it.
        judge: Optional verifier for candidates the guard leaves undecided (:mod:`.judges`).
        accountant: Records paid overheads (API embeddings, judge calls) in the ledger.
        clock: Time source (tests).
        max_false_hit_rate: ``auto`` mode serves semantic hits only while the shadow false-hit
            rate's 95 % upper bound is at most this.
        min_shadow_observations: ``auto`` mode serves nothing before this many comparisons.
        shadow_sample_rate: ``auto`` mode answers this share of accepted candidates fresh anyway
            and compares them, so the bound follows the traffic.
        answer_agreement: Answers whose embeddings' cosine reaches this agree (shadow checks).
        rng: Random source of the sampling (tests).
        store: Builds the entries' storage (default: :meth:`.EntryIndex.open`, GPTCache in
            ``directory``; :func:`.redis_store.redis_store_factory` shares entries between
            replicas). Keys, admission, the guard and the verifiers are the same on every store.
    """

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        directory: str | Path | None = None,
        exact: bool = True,
        semantic: bool | str = True,
        policy: GuardPolicy | None = None,
        ttl_s: float | None = None,
        max_size: int = 100_000,
        judge: CacheJudge | None = None,
        accountant: CostAccountant | None = None,
        clock: Callable[[], float] = time.time,
        max_false_hit_rate: float = 0.02,
        min_shadow_observations: int = 100,
        shadow_sample_rate: float = 0.05,
        answer_agreement: float = 0.8,
        rng: random.Random | None = None,
        store: StoreFactory | None = None,
    ) -> None:
        if max_size <= 0:
            msg = f"max_size must be positive, got {max_size}"
            raise CacheError(msg)
        mode = ("on" if semantic else "off") if isinstance(semantic, bool) else semantic
        if mode not in SEMANTIC_MODES:
            msg = f"cache.semantic must be one of {', '.join(SEMANTIC_MODES)}, got {semantic!r}"
            raise CacheError(msg)
        from langchain_costrouter.core.cache.policy import default_policy

        emb = embedder if embedder is not None else make_embedder("wordllama")
        pol = policy if policy is not None else default_policy(emb.name)
        self._s = _Parts(emb, FalseHitGuard(pol, known_word=getattr(emb, "known_word", None)), store or EntryIndex.open)
        self._s.judge = judge
        self._s.accountant = accountant
        self.exact = exact
        self.mode = mode
        self.ttl_s = ttl_s
        self.max_size = max_size
        self.max_false_hit_rate = max_false_hit_rate
        self.min_shadow_observations = min_shadow_observations
        self.shadow_sample_rate = shadow_sample_rate
        self.answer_agreement = answer_agreement
        self.stats = CacheStats()
        self._clock = clock
        self._rng = rng or random.Random()
        self._tmp = directory is None
        root = Path(tempfile.mkdtemp(prefix="costrouter-cache-")) if directory is None else Path(directory)
        self.directory = root / safe_name(emb.name)
        self._open()

    def _open(self) -> None:
        """Opens the store; an unreadable one is cleared and rebuilt with one warning."""
        try:
            self._s.index = self._new_index()
        except Exception as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            logger.warning(
                "cache store %s could not be read (%s); it was cleared and starts empty", self.directory, first
            )
            shutil.rmtree(self.directory, ignore_errors=True)
            self._s.index = self._new_index()
        self._s.shadow = ShadowStats(self.directory)

    def _new_index(self) -> EntryStore:
        emb = self.embedder
        spec = StoreSpec(emb.name, self.directory, emb.dimension, self.max_size, self.stats, self._clock)
        return self._s.factory(spec)

    @property
    def _ix(self) -> EntryStore:
        assert self._s.index is not None
        return self._s.index

    # ------------------------------------------------------------ properties
    @property
    def embedder(self) -> Embedder:
        """The query embedder."""
        return self._s.embedder

    @property
    def guard(self) -> FalseHitGuard:
        """The false-hit guard."""
        return self._s.guard

    @property
    def policy(self) -> GuardPolicy:
        """The guard's policy."""
        return self._s.guard.policy

    @property
    def judge(self) -> CacheJudge | None:
        """The verifier plug-in, if any."""
        return self._s.judge

    @property
    def accountant(self) -> CostAccountant | None:
        """Where paid overheads are recorded."""
        return self._s.accountant

    @property
    def semantic(self) -> bool:
        """Whether the semantic level looks for candidates (any mode but ``off``)."""
        return self.mode != "off"

    @property
    def shadow(self) -> ShadowStats:
        """The shadow comparisons on this store (persisted next to it)."""
        assert self._s.shadow is not None
        return self._s.shadow

    @property
    def serving(self) -> bool:
        """Whether semantic hits are served now (``on``; ``auto`` while its bound is under target)."""
        if self.mode == "on":
            return True
        if self.mode != "auto":
            return False
        sh = self.shadow
        return sh.observed >= self.min_shadow_observations and sh.upper_bound <= self.max_false_hit_rate

    @property
    def _entries(self) -> dict[int, CacheEntry]:
        return self._ix.entries

    @classmethod
    def from_config(
        cls,
        cfg: CacheConfig,
        *,
        embedder: Embedder | None = None,
        judge: CacheJudge | None = None,
        accountant: CostAccountant | None = None,
        policy: GuardPolicy | None = None,
        clients: Callable[[str], ModelClient] | None = None,
    ) -> ResponseCache:
        """A cache built from ``CostRouterConfig.cache``.

        ``similarity_threshold`` and ``judge_band`` override the shipped calibrated policy's
        values only when they differ from the config defaults (0.9 / 0.0 are the defaults).
        With a verifier policy ``similarity_threshold`` is the candidate cosine floor. The
        policy is ``policy``, else ``cfg.policy`` (a ``calibrate-cache`` file), else the one
        shipped for the configured encoder. The verifier plug-in is ``judge``, else an
        :class:`~.judges.LLMJudge` on ``cfg.judge_model`` (through ``clients(name)``, which the
        adapters supply), else a :class:`~.judges.CrossEncoderJudge` on ``cfg.cross_encoder``.

        Without ``clients``, a configured ``judge_model`` is left out (with a warning) and the
        candidates it would have judged are refused.

        With ``cfg.backend: redis`` the entries live in Redis (:mod:`.redis_store`).

        Raises:
            ConfigError: ``cache.policy`` cannot be read as a policy, the cross-encoder cannot
                be loaded, or ``backend: redis`` has no URL.
        """
        from langchain_costrouter.core.cache.judges import CrossEncoderJudge, LLMJudge
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
        if judge is None and cfg.judge_model and clients is None:
            logger.warning(
                "cache.judge_model %r is set but no model clients were given: undecided candidates are refused",
                cfg.judge_model,
            )
        elif judge is None and cfg.judge_model and clients is not None:
            client = clients(cfg.judge_model)
            judge = LLMJudge(client, accountant=accountant, min_saving_ratio=cfg.judge_min_saving_ratio)
        if judge is None and cfg.cross_encoder:
            judge = CrossEncoderJudge(cfg.cross_encoder, threshold=cfg.cross_encoder_threshold)
        store: StoreFactory | None = None
        if cfg.backend == "redis":
            from langchain_costrouter.core.cache.redis_store import redis_store_factory

            store = redis_store_factory(cfg)
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
            max_false_hit_rate=cfg.max_false_hit_rate,
            min_shadow_observations=cfg.min_shadow_observations,
            shadow_sample_rate=cfg.shadow_sample_rate,
            answer_agreement=cfg.answer_agreement,
            store=store,
        )

    # ------------------------------------------------------------------ lookup
    def lookup(self, scope: CacheScope, query: str, *, request_id: str | None = None) -> CacheHit | None:
        """The cached answer to serve for ``query`` in ``scope``, or ``None`` (see :meth:`find`)."""
        return self.find(scope, query, request_id=request_id).hit

    async def alookup(self, scope: CacheScope, query: str, *, request_id: str | None = None) -> CacheHit | None:
        """Async :meth:`lookup` (runs in a worker thread: embedders and judges may block)."""
        return (await self.afind(scope, query, request_id=request_id)).hit

    def find(self, scope: CacheScope, query: str, *, request_id: str | None = None) -> CacheLookup:
        """Looks ``query`` up in ``scope``; never raises (a failure is a miss, logged and counted).

        Exact level first: the same scope and the same query text, byte for byte. Then the
        semantic level: the nearest stored queries of the same scope, each checked by the guard
        (and the judge where the guard leaves it undecided). What the semantic level does with
        an accepted candidate depends on the mode: ``on`` serves it (``.hit``); ``shadow``
        returns it as ``.shadow`` for :meth:`observe_shadow` and serves nothing; ``auto`` serves
        it while :attr:`serving`, except a ``shadow_sample_rate`` share returned as ``.shadow``.
        """
        self.stats.bump("lookups")
        try:
            found = self._find(scope, query, request_id)
        except Exception:
            logger.warning("cache lookup failed; answering without the cache", exc_info=True)
            self.stats.bump("errors", reason="lookup")
            found = CacheLookup()
        if found.hit is None:
            self.stats.bump("misses")
        return found

    async def afind(self, scope: CacheScope, query: str, *, request_id: str | None = None) -> CacheLookup:
        """Async :meth:`find` (runs in a worker thread)."""
        return await asyncio.to_thread(self.find, scope, query, request_id=request_id)

    def _find(self, scope: CacheScope, query: str, request_id: str | None) -> CacheLookup:  # noqa: PLR0911
        if not query.strip() and not scope.attachments:
            return CacheLookup()
        now = self._clock()
        if self.exact:
            entry = self._ix.exact_entry(scope.key, query)
            if entry is not None and entry.expired(now):
                self._ix.drop([entry.id], "expirations")
                entry = None
            if entry is not None:
                self._ix.touch(entry.id)
                self.stats.bump("exact_hits")
                return CacheLookup(self._hit(entry, "exact", 1.0, now, ()))
        norm = normalize_query(query)
        if self.mode == "off" or not norm:
            return CacheLookup()
        overhead: list[OverheadCall] = []
        form = self._form(norm)
        vec = self._embed([form], overhead)[0]
        if not self._ix.refresh():  # a shared store that cannot be read now: a miss
            self._record_overhead(overhead, request_id, scope.namespace)
            return CacheLookup()
        try:
            found = self._semantic(scope, query, form, vec, now=now, overhead=overhead)
        finally:
            self._record_overhead(overhead, request_id, scope.namespace)
        if found is None:
            return CacheLookup()
        entry, sim = found
        if self.serving and not (self.mode == "auto" and self._rng.random() < self.shadow_sample_rate):
            with self._ix.lock:
                if entry.id not in self._ix.entries:
                    return CacheLookup()
                self._ix.touch(entry.id)
            self.stats.bump("semantic_hits")
            return CacheLookup(self._hit(entry, "semantic", sim, now, tuple(overhead)))
        self.stats.bump("shadow_candidates")
        cand = ShadowCandidate(query, entry.query, entry.text, float(sim), entry.id, scope.key, scope.namespace)
        return CacheLookup(shadow=cand)

    def _semantic(
        self,
        scope: CacheScope,
        query: str,
        form: str,
        vec: np.ndarray,
        *,
        now: float,
        overhead: list[OverheadCall],
    ) -> tuple[CacheEntry, float] | None:
        """The first candidate the guard (and the judge, asked about ``query`` as sent) accepts."""
        pol = self.policy
        low = pol.similarity_threshold - (pol.judge_band if pol.verifier is None else 0.0)
        for sim, entry in self._candidates(scope.key, vec, low, now):
            decision = self.guard.check_forms(form, self._entry_form(entry), sim)
            if decision.verdict == "judge":
                if not self._judged(query, entry, decision.details, overhead):
                    continue
            elif decision.verdict == "miss":
                self.stats.bump("rejections", reason=decision.reason)
                continue
            return entry, sim
        return None

    def _judged(self, query: str, entry: CacheEntry, details: Mapping[str, Any], overhead: list[OverheadCall]) -> bool:
        """The judge's verdict on an undecided candidate (without a judge: the guard's own lean)."""
        judge = self.judge
        if judge is None:
            ok = bool(details.get("accept", False))
            if not ok:
                self.stats.bump("rejections", reason=str(details.get("why", "similarity")))
            return ok
        pays = getattr(judge, "pays", None)
        if callable(pays) and not pays(query, entry.query, entry.text, self._saving_usd(entry)):
            self.stats.bump("judge_skipped")
            self.stats.bump("rejections", reason="judge_cost")
            return False
        self.stats.bump("judge_calls")
        try:
            verdict = judge.judge(query, entry.query, entry.text)
        except Exception:
            logger.warning("cache judge failed; the candidate is not served", exc_info=True)
            self.stats.bump("errors", reason="judge")
            return False
        if verdict.overhead is not None:
            overhead.append(verdict.overhead)
        if not verdict.same:
            self.stats.bump("rejections", reason="judge")
        return verdict.same

    def _saving_usd(self, entry: CacheEntry) -> float | None:
        """What serving ``entry`` saves: its tokens on the premium model (``None``: unknown)."""
        acc = self.accountant
        if acc is None or entry.usage.total_tokens == 0:
            return None
        try:
            return acc.premium_cost_usd(entry.usage) or acc.cost_usd(entry.model, entry.usage)
        except Exception:
            return None

    def _candidates(self, scope_key: str, vec: np.ndarray, low: float, now: float) -> list[tuple[float, CacheEntry]]:
        k = 16
        expired: list[int] = []
        while True:
            found = self._ix.vectors.search(vec, top_k=k)
            out: list[tuple[float, CacheEntry]] = []
            with self._ix.lock:
                for sim, eid in found:
                    entry = self._ix.entries.get(eid)
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
            with self._ix.lock:
                self._ix.drop(expired, "expirations")
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

    # ------------------------------------------------------------------ shadow
    def observe_shadow(self, candidate: ShadowCandidate | None, fresh_text: str) -> bool | None:
        """Compares a shadow candidate's stored answer with the fresh answer; counts the outcome.

        Answers agree when they state the same numbers and their embeddings' cosine reaches
        ``answer_agreement``. A disagreement is a false hit the cache would have served; the
        counts (and their upper bound, :attr:`shadow`) persist with the store. Never raises.

        Returns:
            Whether the answers agreed (``None``: nothing to compare, or the comparison failed).
        """
        if candidate is None or not fresh_text or not fresh_text.strip():
            return None
        try:
            vecs = self.embedder.embed([fresh_text, candidate.cached_answer])
            cosine = float(np.dot(vecs[0], vecs[1]))
            agreed = answers_agree(fresh_text, candidate.cached_answer, cosine=cosine, min_cosine=self.answer_agreement)
            self.shadow.record(agreed=agreed)
        except Exception:
            logger.warning("cache shadow comparison failed", exc_info=True)
            self.stats.bump("errors", reason="observe")
            return None
        self.stats.bump("shadow_observed")
        return agreed

    async def aobserve_shadow(self, candidate: ShadowCandidate | None, fresh_text: str) -> bool | None:
        """Async :meth:`observe_shadow` (runs in a worker thread)."""
        return await asyncio.to_thread(self.observe_shadow, candidate, fresh_text)

    def status(self) -> dict[str, Any]:
        """Mode, size, counters and the shadow false-hit rate with its bound (``costrouter cache status``)."""
        return {
            "directory": str(self.directory),
            "entries": len(self),
            "mode": self.mode,
            "serving_semantic": self.serving,
            "max_false_hit_rate": self.max_false_hit_rate,
            "policy": self.policy.source,
            "judge": type(self.judge).__name__ if self.judge is not None else None,
            "shadow": self.shadow.snapshot(),
            "stats": self.stats.snapshot(),
        }

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
        """Stores an answer that passed its quality gate; never raises.

        Admission (:func:`.admission.refuse_reason`): never stores errors, refusals, failed
        gates, partial or truncated answers, tool-call turns or empty answers, whichever tier
        produced them; the outcome says why an answer was skipped. A write failure (a locked
        database, a full disk) is logged and counted (``stats.errors["store"]``) and returns
        ``StoreOutcome(False, "error")``: the request it belongs to was already paid for.
        """
        try:
            return self._store(
                scope,
                query,
                answer,
                model=model,
                tier=tier,
                usage=usage,
                reason=admission.refuse_reason(
                    answer,
                    gate_passed=gate_passed,
                    finish_reason=finish_reason,
                    tool_calls=tool_calls,
                    refusal=refusal,
                    error=error,
                    partial=partial,
                ),
                message=message,
                request_id=request_id,
            )
        except CacheUnavailableError:
            self.stats.bump("errors", reason="store")  # logged by the store, once per outage
            return StoreOutcome(False, "unavailable")
        except Exception:
            logger.warning("cache store failed; the answer is returned uncached", exc_info=True)
            self.stats.bump("errors", reason="store")
            return StoreOutcome(False, "error")

    def _store(
        self,
        scope: CacheScope,
        query: str,
        answer: str,
        *,
        model: str,
        tier: str | None,
        usage: Usage | None,
        reason: str,
        message: Mapping[str, Any] | None,
        request_id: str | None,
    ) -> StoreOutcome:
        if not reason and not query.strip() and not scope.attachments:
            reason = "empty_query"
        if reason:
            self.stats.bump("skipped", reason=reason)
            return StoreOutcome(False, reason)
        now = self._clock()
        old = self._ix.exact_entry(scope.key, query)
        if old is not None and not old.expired(now):
            self.stats.bump("skipped", reason="duplicate")
            return StoreOutcome(False, "duplicate", old.id)
        overhead: list[OverheadCall] = []
        norm = normalize_query(query)
        form = self._form(norm) if self.semantic and norm else norm
        vec = self._embed([form], overhead)[0] if self.semantic and norm else self._placeholder()
        payload = {
            "v": PAYLOAD_VERSION,
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
        ids = self._ix.insert([(query, payload, vec, form)])
        self._record_overhead(overhead, request_id, scope.namespace)
        self.stats.bump("stores")
        return StoreOutcome(True, "", ids[0])

    async def astore(self, scope: CacheScope, query: str, answer: str, **kwargs: Any) -> StoreOutcome:
        """Async :meth:`store` (runs in a worker thread)."""
        return await asyncio.to_thread(lambda: self.store(scope, query, answer, **kwargs))

    refuse_reason = staticmethod(admission.refuse_reason)

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
            for (scope, query, answer), vec, form in zip(chunk, vecs, forms, strict=True):
                payload = {"v": PAYLOAD_VERSION, "scope": scope.key, "ns": scope.namespace, "text": answer}
                payload |= {"model": model, "tier": None, "usage": Usage().to_openai(), "created": now}
                payload |= {"expires": None, "message": {}}
                items.append((query, payload, vec, form))
            n += len(self._ix.insert(items))
        self.stats.bump("stores", n)
        return n

    # ------------------------------------------------------ invalidation, TTL
    def invalidate(self, namespace: str) -> int:
        """Drops every entry of ``namespace``; returns how many."""
        self._ix.refresh(force=True)  # a shared store: other replicas' entries too
        with self._ix.lock:
            ids = [e.id for e in self._ix.entries.values() if e.namespace == namespace]
            self._ix.drop(ids, "invalidations")
        return len(ids)

    def purge_expired(self) -> int:
        """Drops every expired entry now; returns how many."""
        self._ix.refresh(force=True)  # a shared store: other replicas' entries too
        now = self._clock()
        with self._ix.lock:
            ids = [e.id for e in self._ix.entries.values() if e.expired(now)]
            self._ix.drop(ids, "expirations")
        return len(ids)

    def clear(self) -> int:
        """Drops every entry."""
        self._ix.refresh(force=True)  # a shared store: other replicas' entries too
        with self._ix.lock:
            ids = list(self._ix.entries)
            self._ix.drop(ids, "invalidations")
        return len(ids)

    def __len__(self) -> int:
        return len(self._ix.entries)

    def __repr__(self) -> str:
        return f"ResponseCache(directory={str(self.directory)!r}, entries={len(self)}, semantic={self.mode!r})"

    # ----------------------------------------------------------------- helpers
    def _form(self, text: str) -> str:
        """The semantic form of a normalised query: what is embedded and what the guard compares."""
        return semantic_form(text, self.guard.known_word)

    def _entry_form(self, entry: CacheEntry) -> str:
        """An entry's semantic form, kept from its store (computed once for entries loaded from disk)."""
        form = self._ix.forms.get(entry.id)
        if form is None:
            form = self._form(normalize_query(entry.query))
            with self._ix.lock:
                if entry.id in self._ix.entries:  # not for an entry dropped meanwhile
                    self._ix.forms[entry.id] = form
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

    def flush(self) -> None:
        """Persists the vector index (SQLite is written on every store)."""
        self._ix.flush()

    def close(self) -> None:
        """Flushes and releases the store (a temporary directory is removed)."""
        try:
            self._ix.close()
        finally:
            if self._tmp:
                shutil.rmtree(self.directory.parent, ignore_errors=True)

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
