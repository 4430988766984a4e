"""Budgets shared by every replica: Redis keys changed only by atomic Lua scripts.

Per budget window (``tenant:acme:day:2026-12-04``) three keys under ``budget.key_prefix``:

- ``<id>:spent`` — settled dollars (``INCRBYFLOAT``);
- ``<id>:held`` — a hash reservation id -> dollars held;
- ``<id>:exp`` — a sorted set reservation id -> expiry time (a replica that crashed never
  settles: its holds are dropped by the next script that looks at the window).

``reserve`` checks every window and holds in all of them in one script, so two replicas can
never both take the last dollars. ``settle`` is idempotent (a marker key per reservation).
Keys expire some days after their window ends.

When Redis cannot be reached, ``budget.on_store_down`` decides: ``open`` lets the call
through with an unchecked reservation (logged) and keeps its settlement in memory until Redis
answers again; ``closed`` raises :class:`~langchain_costrouter.core.errors.BudgetUnavailableError`.
Run Redis with persistence (``--appendonly yes``): settled spend lives only there.

**A Redis that lost its data** (restarted without persistence, flushed, failed over to an empty
replica) is detected and, when a spend source is given, repaired:

- ``<prefix>:epoch`` holds ``<random token>:<creation time>``, created with ``SET NX`` by the
  first process that finds it missing. Its creation time says since when this Redis has seen
  every settlement.
- Each window has ``<id>:ep``: the epoch its ``spent`` is valid under. ``reserve`` reads both
  in its script; it holds nothing when the epoch differs from the one this process knows, or
  when a window's ``ep`` differs from the epoch (the window was never checked in this Redis).
- Such a window is *seeded* once (a script: only if its ``ep`` still differs, so concurrent
  replicas seed it once): a window that began after the epoch was created lost nothing (the
  Redis saw all of it); an older one gets ``spent = max(spent, spent_since(scope, owner,
  window start))`` from the cost ledger. Settlements made since the loss are in ``spent``
  and, once shipped, in the ledger, hence the ``max``.
- This works for a replica started after the loss too: it compares each window's ``ep`` with
  the epoch, not with what it saw before. In steady state (Redis keeps its data) nothing is
  read from the ledger: windows begin after the epoch.
- The ledger only knows what replicas have shipped: records still in their outboxes are
  missed, so a re-seed can undercount by what was pending (bounded by the outbox lag). The
  ledger's records do not name the API key: only ``tenant`` windows are re-seeded.
- Without a spend source (or for ``key`` windows) the windows keep what Redis has; a process
  that had seen the previous epoch logs one WARNING per loss naming the windows it knew. The
  store is up, so ``budget.on_store_down`` does not apply (refusing until the windows end
  would block tenants for up to a month).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from langchain_costrouter.core._redis import redis_url_of
from langchain_costrouter.core.budgets import BudgetWindow, Reservation, SpendSource, windows_for
from langchain_costrouter.core.errors import BudgetUnavailableError, SpendLimitExceededError

if TYPE_CHECKING:
    from langchain_costrouter.core.config import BudgetConfig

__all__ = ["RedisBudgets"]

logger = logging.getLogger(__name__)

_KEEP_S = {"day": 3 * 86_400, "month": 40 * 86_400}
_KNOWN_MAX = 10_000  # windows remembered to be named in the warning of a loss

# KEYS: epoch, then (spent, held, exp, ep) per window; ARGV: rid, usd, now, expiry, epoch, keep_s..., limit...
# -> {1} reserved, {0, i, spent, inflight} refused, {2, epoch} unknown epoch, {3, i...} windows to seed
_RESERVE = """
local n = (#KEYS - 1) / 4
local rid, usd, now, exp = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local epoch = redis.call('GET', KEYS[1])
if not epoch or epoch ~= ARGV[5] then return {2, epoch or ''} end
local unseeded = {3}
for i = 1, n do
  if redis.call('GET', KEYS[4*i+1]) ~= epoch then unseeded[#unseeded+1] = i end
end
if #unseeded > 1 then return unseeded end
for i = 1, n do
  local held, ex = KEYS[4*i-1], KEYS[4*i]
  local dead = redis.call('ZRANGEBYSCORE', ex, '-inf', now)
  if #dead > 0 then
    redis.call('HDEL', held, unpack(dead))
    redis.call('ZREMRANGEBYSCORE', ex, '-inf', now)
  end
  local spent = tonumber(redis.call('GET', KEYS[4*i-2]) or '0')
  local inflight = 0
  for _, v in ipairs(redis.call('HVALS', held)) do inflight = inflight + tonumber(v) end
  if spent + inflight + usd > tonumber(ARGV[5 + n + i]) then
    return {0, i, tostring(spent), tostring(inflight)}
  end
end
for i = 1, n do
  local keep = tonumber(ARGV[5 + i])
  redis.call('HSET', KEYS[4*i-1], rid, ARGV[2])
  redis.call('ZADD', KEYS[4*i], exp, rid)
  redis.call('EXPIRE', KEYS[4*i-1], keep)
  redis.call('EXPIRE', KEYS[4*i], keep)
end
return {1}
"""

# KEYS: spent, ep; ARGV: epoch, seed (or ''), keep_s -> 1 seeded, 0 already seeded under this epoch
_SEED = """
if redis.call('GET', KEYS[2]) == ARGV[1] then return 0 end
if ARGV[2] ~= '' then
  local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
  if tonumber(ARGV[2]) > cur then redis.call('SET', KEYS[1], ARGV[2]) end
end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3])) end
redis.call('SET', KEYS[2], ARGV[1], 'EX', tonumber(ARGV[3]))
return 1
"""

# KEYS: marker, then (spent, held, exp) per window; ARGV: rid, actual, marker_ttl, keep_s...
_SETTLE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[3])) == false then return 0 end
local n = (#KEYS - 1) / 3
for i = 1, n do
  local s, held, ex = KEYS[3*i-1], KEYS[3*i], KEYS[3*i+1]
  redis.call('HDEL', held, ARGV[1])
  redis.call('ZREM', ex, ARGV[1])
  if tonumber(ARGV[2]) > 0 then redis.call('INCRBYFLOAT', s, ARGV[2]) end
  redis.call('EXPIRE', s, tonumber(ARGV[3 + i]))
end
return 1
"""

# KEYS: (spent, held, exp) per window; ARGV: now -> {spent, inflight} per window
_READ = """
local out = {}
for i = 1, #KEYS / 3 do
  local held, ex = KEYS[3*i-1], KEYS[3*i]
  local inflight = 0
  local vals = redis.call('HGETALL', held)
  for j = 1, #vals, 2 do
    local score = redis.call('ZSCORE', ex, vals[j])
    if score and tonumber(score) > tonumber(ARGV[1]) then inflight = inflight + tonumber(vals[j+1]) end
  end
  out[#out+1] = tostring(tonumber(redis.call('GET', KEYS[3*i-2]) or '0'))
  out[#out+1] = tostring(inflight)
end
return out
"""


class _EpochChurnError(RuntimeError):
    """The epoch changed under every attempt to reserve (someone keeps deleting the budget keys)."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


class RedisBudgets:
    """Budgets in Redis, shared by every process that uses the same Redis and ``key_prefix``.

    Args:
        config: The ``budget`` section.
        client: A ``redis.Redis`` client (``decode_responses`` not required).
        clock: Epoch seconds (tests move time).
        spent_since: Re-seeds the windows of a Redis that lost its data (see the module docs).

    Attributes:
        resets: Losses of the budget data this process detected.
        reseeded: Windows this process re-seeded from ``spent_since``.
    """

    def __init__(
        self,
        config: BudgetConfig,
        client: Any,
        *,
        clock: Callable[[], float] = time.time,
        spent_since: SpendSource | None = None,
    ) -> None:
        import redis

        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError, _EpochChurnError)
        self.config = config
        self.client = client
        self._now = clock
        self._reserve = client.register_script(_RESERVE)
        self._settle = client.register_script(_SETTLE)
        self._read = client.register_script(_READ)
        self._seed = client.register_script(_SEED)
        self._spent_since = spent_since
        self._epoch: str | None = None
        self._epoch_lock = threading.Lock()
        self._known: dict[str, BudgetWindow] = {}
        self.resets = 0
        self.reseeded = 0
        self._owed: list[tuple[Reservation, float]] = []
        self._owed_lock = threading.Lock()
        self._down = False
        self.unchecked = 0

    @classmethod
    def from_config(cls, config: BudgetConfig, *, spent_since: SpendSource | None = None) -> RedisBudgets:
        """Connects to ``budget.redis_url`` (or the variable ``budget.redis_url_env``).

        Raises:
            ConfigError: no URL, or the ``redis`` package is missing.
        """
        url = redis_url_of("budget", config.redis_url, config.redis_url_env)
        from langchain_costrouter.core._optional import require

        redis = require("redis", extra="redis", feature="budget.backend")
        client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0, health_check_interval=10)
        return cls(config, client, spent_since=spent_since)

    def _keys(self, w: BudgetWindow) -> list[str]:
        base = f"{self.config.key_prefix}:{w.id}"
        return [f"{base}:spent", f"{base}:held", f"{base}:exp"]

    # ------------------------------------------------------------------ loss of the data
    def _adopt_epoch(self, current: str) -> None:
        """Takes the store's epoch (creating it when missing); warns when it replaced a known one."""
        key = f"{self.config.key_prefix}:epoch"
        if not current:
            self.client.set(key, f"{uuid.uuid4().hex}:{self._now()!r}", nx=True)
            current = _text(self.client.get(key))
        with self._epoch_lock:  # threads that all saw the loss warn once
            self._take_epoch(current)

    def _take_epoch(self, current: str) -> None:
        if self._epoch is not None and current != self._epoch:
            self.resets += 1
            lost = ", ".join(sorted(w.label for w in self._known.values())) or "none known to this process"
            how = (
                "re-seeding tenant budgets from the ledger (records not yet shipped by other replicas are missed)"
                if self._spent_since is not None
                else "no spend source (use the postgres ledger): their settled spend before the loss is not counted"
            )
            logger.warning("budget store lost its data (run Redis with --appendonly yes); windows: %s; %s", lost, how)
            self._known.clear()
        self._epoch = current

    def _seed_windows(self, windows: list[BudgetWindow]) -> None:
        """Marks ``windows`` valid under the epoch, re-seeding from the ledger those older than it.

        Raises:
            BudgetUnavailableError: the ledger cannot be read and ``budget.on_store_down`` is ``closed``.
        """
        assert self._epoch is not None
        try:
            created = float(self._epoch.rpartition(":")[2])
        except ValueError:  # not written by this module: check every window
            created = float("inf")
        for w in windows:
            seed = ""
            if w.start < created and self._spent_since is not None:
                try:
                    value = self._spent_since(w.scope, w.owner, w.start)
                except Exception as exc:  # the ledger is a side concern of a budget check
                    if self.config.on_store_down == "closed":
                        msg = f"cannot re-seed {w.label} from the ledger and budget.on_store_down is 'closed': {exc}"
                        raise BudgetUnavailableError(msg) from exc
                    logger.warning("cannot re-seed %s from the ledger (%s); it counts from now", w.label, exc)
                    value = None
                if value is not None:
                    seed = repr(max(0.0, float(value)))
            keys = [self._keys(w)[0], f"{self.config.key_prefix}:{w.id}:ep"]
            done = self._seed(keys=keys, args=[self._epoch, seed, _KEEP_S[w.period]])
            if int(done) and seed:
                self.reseeded += 1
                logger.info("budget %s re-seeded with $%s settled since %s", w.label, seed, w.window)

    def _reserve_windows(self, windows: tuple[BudgetWindow, ...], args: list[str]) -> Any:
        """Runs the reserve script, first adopting the store's epoch and seeding new windows."""
        keys = [f"{self.config.key_prefix}:epoch"]
        for w in windows:
            keys += [*self._keys(w), f"{self.config.key_prefix}:{w.id}:ep"]
        for _ in range(5):
            out = self._reserve(keys=keys, args=[*args[:4], self._epoch or "", *args[4:]])
            code = int(out[0])
            if code == 2:
                self._adopt_epoch(_text(out[1]))
            elif code == 3:
                self._seed_windows([windows[int(i) - 1] for i in out[1:]])
            else:
                if len(self._known) < _KNOWN_MAX:
                    self._known.update((w.id, w) for w in windows)
                return out
        raise _EpochChurnError("the budget store's epoch kept changing while reserving")

    def _unavailable(self, exc: BaseException, what: str) -> None:
        if not self._down:
            logger.warning(
                "budget store unreachable while %s (%s); budgets fail %s", what, exc, self.config.on_store_down
            )
        self._down = True

    def _recovered(self) -> None:
        if self._down:
            logger.warning("budget store reachable again")
            self._down = False
        with self._owed_lock:
            owed, self._owed = self._owed, []
        for res, actual in owed:
            self.settle(res, actual)

    def reserve(self, tenant: str, key: str | None, usd: float) -> Reservation:
        now = self._now()
        windows = windows_for(self.config, tenant, key, now)
        usd = max(0.0, usd)
        rid = uuid.uuid4().hex
        if not windows:
            return Reservation(rid, tenant, key, usd)
        args = [rid, repr(usd), repr(now), repr(now + self.config.reservation_ttl_s)]
        args += [str(_KEEP_S[w.period]) for w in windows] + [repr(w.limit_usd) for w in windows]
        try:
            out = self._reserve_windows(windows, args)
        except self._errors as exc:
            self._unavailable(exc, "reserving")
            if self.config.on_store_down == "closed":
                msg = f"budget store unreachable and budget.on_store_down is 'closed': {exc}"
                raise BudgetUnavailableError(msg) from exc
            self.unchecked += 1
            return Reservation(rid, tenant, key, usd, windows, checked=False)
        if self._down or self._owed:
            self._recovered()
        if int(out[0]) == 0:
            w = windows[int(out[1]) - 1]
            raise SpendLimitExceededError(
                w.label,
                limit_usd=w.limit_usd,
                spent_usd=float(out[2]),
                reserved_usd=float(out[3]),
                estimate_usd=usd,
            )
        return Reservation(rid, tenant, key, usd, windows)

    def settle(self, reservation: Reservation, actual_usd: float) -> None:
        if not reservation.windows:
            return
        keys = [f"{self.config.key_prefix}:settled:{reservation.id}"]
        keys += [k for w in reservation.windows for k in self._keys(w)]
        args = [reservation.id, repr(max(0.0, actual_usd)), str(2 * 86_400)]
        args += [str(_KEEP_S[w.period]) for w in reservation.windows]
        try:
            self._settle(keys=keys, args=args)
        except self._errors as exc:
            self._unavailable(exc, "settling")
            with self._owed_lock:
                self._owed.append((reservation, actual_usd))

    def charge(self, tenant: str, key: str | None, usd: float) -> None:
        if usd <= 0:
            return
        windows = windows_for(self.config, tenant, key, self._now())
        self.settle(Reservation(uuid.uuid4().hex, tenant, key, 0.0, windows), usd)

    @property
    def owed(self) -> int:
        """Settlements kept in memory while Redis was down (sent when it answers again)."""
        with self._owed_lock:
            return len(self._owed)

    def retry_owed(self) -> None:
        """Sends settlements kept while Redis was down (also done by the next successful reserve)."""
        self._recovered()

    def spent(self, tenant: str, key: str | None = None) -> dict[str, tuple[float, float]]:
        windows = windows_for(self.config, tenant, key, self._now())
        if not windows:
            return {}
        out = self._read(keys=[k for w in windows for k in self._keys(w)], args=[repr(self._now())])
        return {w.id: (float(out[2 * i]), float(out[2 * i + 1])) for i, w in enumerate(windows)}

    def close(self) -> None:
        try:
            self.retry_owed()
        finally:
            self.client.close()
