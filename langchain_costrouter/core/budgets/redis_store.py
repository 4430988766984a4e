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
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from langchain_costrouter.core.budgets import BudgetWindow, Reservation, windows_for
from langchain_costrouter.core.errors import BudgetUnavailableError, ConfigError, SpendLimitExceededError

if TYPE_CHECKING:
    from langchain_costrouter.core.config import BudgetConfig

__all__ = ["RedisBudgets"]

logger = logging.getLogger(__name__)

_KEEP_S = {"day": 3 * 86_400, "month": 40 * 86_400}

# KEYS: (spent, held, exp) per window; ARGV: rid, usd, now, expiry, keep_s..., limit...
_RESERVE = """
local n = #KEYS / 3
local rid, usd, now, exp = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
for i = 1, n do
  local held, ex = KEYS[3*i-1], KEYS[3*i]
  local dead = redis.call('ZRANGEBYSCORE', ex, '-inf', now)
  if #dead > 0 then
    redis.call('HDEL', held, unpack(dead))
    redis.call('ZREMRANGEBYSCORE', ex, '-inf', now)
  end
  local spent = tonumber(redis.call('GET', KEYS[3*i-2]) or '0')
  local inflight = 0
  for _, v in ipairs(redis.call('HVALS', held)) do inflight = inflight + tonumber(v) end
  if spent + inflight + usd > tonumber(ARGV[4 + n + i]) then
    return {0, i, tostring(spent), tostring(inflight)}
  end
end
for i = 1, n do
  local keep = tonumber(ARGV[4 + i])
  redis.call('HSET', KEYS[3*i-1], rid, ARGV[2])
  redis.call('ZADD', KEYS[3*i], exp, rid)
  redis.call('EXPIRE', KEYS[3*i-1], keep)
  redis.call('EXPIRE', KEYS[3*i], keep)
end
return {1}
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


class RedisBudgets:
    """Budgets in Redis, shared by every process that uses the same Redis and ``key_prefix``.

    Args:
        config: The ``budget`` section.
        client: A ``redis.Redis`` client (``decode_responses`` not required).
        clock: Epoch seconds (tests move time).
    """

    def __init__(self, config: BudgetConfig, client: Any, *, clock: Callable[[], float] = time.time) -> None:
        import redis

        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.config = config
        self.client = client
        self._now = clock
        self._reserve = client.register_script(_RESERVE)
        self._settle = client.register_script(_SETTLE)
        self._read = client.register_script(_READ)
        self._owed: list[tuple[Reservation, float]] = []
        self._owed_lock = threading.Lock()
        self._down = False
        self.unchecked = 0

    @classmethod
    def from_config(cls, config: BudgetConfig) -> RedisBudgets:
        """Connects to ``budget.redis_url`` (or the variable ``budget.redis_url_env``).

        Raises:
            ConfigError: no URL, or the ``redis`` package is missing.
        """
        url = (
            config.redis_url.get_secret_value()
            if config.redis_url is not None
            else os.environ.get(config.redis_url_env, "")
        )
        if not url:
            raise ConfigError(
                "budget.redis_url",
                f"backend 'redis' needs a URL: set budget.redis_url or the variable {config.redis_url_env}",
            )
        try:
            import redis
        except ImportError:  # pragma: no cover - the proxy extra installs it
            raise ConfigError("budget.backend", "backend 'redis' needs the redis package: pip install redis") from None
        client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0, health_check_interval=10)
        return cls(config, client)

    def _keys(self, w: BudgetWindow) -> list[str]:
        base = f"{self.config.key_prefix}:{w.id}"
        return [f"{base}:spent", f"{base}:held", f"{base}:exp"]

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
        keys = [k for w in windows for k in self._keys(w)]
        args = [rid, repr(usd), repr(now), repr(now + self.config.reservation_ttl_s)]
        args += [str(_KEEP_S[w.period]) for w in windows] + [repr(w.limit_usd) for w in windows]
        try:
            out = self._reserve(keys=keys, args=args)
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
