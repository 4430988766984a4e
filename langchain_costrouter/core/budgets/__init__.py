"""Per-tenant and per-key daily/monthly dollar budgets: reserve before a call, settle after.

The request pipeline calls a :class:`BudgetStore` around every tier call:

1. :meth:`~BudgetStore.reserve` ``(tenant, key, estimate)`` before the call. It raises
   :class:`~langchain_costrouter.core.errors.SpendLimitExceededError` (naming the budget, its
   limit and what is spent) when ``settled + in flight + estimate`` would pass a limit;
   otherwise the estimate is held against every budget of the tenant and key.
2. :meth:`~BudgetStore.settle` ``(reservation, actual)`` after it: the hold is released and the
   actual cost is added to the settled spend.
3. :meth:`~BudgetStore.charge` ``(tenant, key, usd)`` adds overheads made without a reservation.

So spend never passes a limit by more than what was in flight when it was reached (calls whose
actual cost came out above their estimate, and unreserved overheads). Windows are UTC days and
UTC months. A reservation that is never settled (its process crashed) is released after
``budget.reservation_ttl_s``.

Two stores: :class:`MemoryBudgets` (one process, the embedded default) and
:class:`~langchain_costrouter.core.budgets.redis_store.RedisBudgets` (every replica, atomic Lua
scripts; ``redis`` is imported only when it is built).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from langchain_costrouter.core.errors import SpendLimitExceededError

if TYPE_CHECKING:
    from langchain_costrouter.core.config import BudgetConfig, SpendLimits

__all__ = [
    "BudgetStore",
    "BudgetWindow",
    "MemoryBudgets",
    "Reservation",
    "SpendSource",
    "budgets_from_config",
    "windows_for",
]


@dataclass(frozen=True, slots=True)
class BudgetWindow:
    """One budget in force for a call: whose, which period, and its limit.

    Attributes:
        scope: ``tenant`` or ``key``.
        owner: The tenant or key id.
        period: ``day`` or ``month``.
        window: The UTC period, ``2026-12-04`` or ``2026-12``.
        limit_usd: The limit.
    """

    scope: str
    owner: str
    period: str
    window: str
    limit_usd: float

    @property
    def id(self) -> str:
        """A stable id: ``tenant:acme:day:2026-12-04``."""
        return f"{self.scope}:{self.owner}:{self.period}:{self.window}"

    @property
    def label(self) -> str:
        """A readable name: ``tenant 'acme' daily (2026-12-04)``."""
        return f"{self.scope} {self.owner!r} {'daily' if self.period == 'day' else 'monthly'} ({self.window})"

    @property
    def start(self) -> float:
        """When the window began (epoch seconds, UTC midnight of the day or of the month's first day)."""
        fmt = "%Y-%m-%d" if self.period == "day" else "%Y-%m"
        return datetime.strptime(self.window, fmt).replace(tzinfo=UTC).timestamp()


@dataclass(frozen=True, slots=True)
class Reservation:
    """Dollars held for one call until it is settled.

    Attributes:
        id: Unique id.
        tenant: The tenant charged.
        key: The API key charged, if any.
        usd: The estimate held.
        windows: The budgets it holds against (empty: no budget applies).
        checked: ``False`` when the store was down and ``on_store_down: open`` let it through.
    """

    id: str
    tenant: str
    key: str | None
    usd: float
    windows: tuple[BudgetWindow, ...] = ()
    checked: bool = True


SpendSource = Callable[[str, str, float], float | None]
"""``(scope, owner, window_start) -> settled dollars`` from the cost ledger, or ``None`` when it
cannot tell for that scope (e.g. ``key``: records do not name the API key). Used to re-seed
budgets of a Redis that lost its data."""


def _limits_of(table: Mapping[str, SpendLimits], owner: str) -> SpendLimits | None:
    return table.get(owner) or table.get("*")


def windows_for(
    config: BudgetConfig, tenant: str, key: str | None, now: float | None = None
) -> tuple[BudgetWindow, ...]:
    """The budgets in force for ``tenant`` and ``key`` at ``now`` (UTC day and month windows)."""
    t = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    day, month = t.strftime("%Y-%m-%d"), t.strftime("%Y-%m")
    out: list[BudgetWindow] = []
    for scope, owner, table in (("tenant", tenant, config.tenants), ("key", key, config.keys)):
        if owner is None:
            continue
        limits = _limits_of(table, owner)
        if limits is None:
            continue
        if limits.daily_usd is not None:
            out.append(BudgetWindow(scope, owner, "day", day, limits.daily_usd))
        if limits.monthly_usd is not None:
            out.append(BudgetWindow(scope, owner, "month", month, limits.monthly_usd))
    return tuple(out)


@runtime_checkable
class BudgetStore(Protocol):
    """What the request pipeline calls around each tier call."""

    def reserve(self, tenant: str, key: str | None, usd: float) -> Reservation:
        """Holds ``usd`` against every budget of ``tenant`` and ``key``.

        Raises:
            SpendLimitExceededError: a budget cannot cover it.
            BudgetUnavailableError: the store is down and budgets fail closed.
        """
        ...

    def settle(self, reservation: Reservation, actual_usd: float) -> None:
        """Releases the hold and adds the actual cost (never raises)."""
        ...

    def charge(self, tenant: str, key: str | None, usd: float) -> None:
        """Adds a cost made without a reservation, e.g. a judge or compression call (never raises)."""
        ...

    def spent(self, tenant: str, key: str | None = None) -> dict[str, tuple[float, float]]:
        """``{window id: (settled, in flight)}`` of the budgets in force for ``tenant`` and ``key``."""
        ...

    def close(self) -> None:
        """Releases connections."""
        ...


class MemoryBudgets:
    """Budgets of one process (the embedded default).

    Args:
        config: The ``budget`` section (limits, reservation TTL).
        clock: Epoch seconds (tests move time).
    """

    def __init__(self, config: BudgetConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._now = clock
        self._lock = threading.Lock()
        self._spent: dict[str, float] = {}
        self._held: dict[str, dict[str, tuple[float, float]]] = {}

    def _live_held(self, wid: str, now: float) -> dict[str, tuple[float, float]]:
        held = self._held.setdefault(wid, {})
        for rid in [r for r, (_, exp) in held.items() if exp <= now]:
            del held[rid]
        return held

    def reserve(self, tenant: str, key: str | None, usd: float) -> Reservation:
        now = self._now()
        windows = windows_for(self.config, tenant, key, now)
        rid = uuid.uuid4().hex
        usd = max(0.0, usd)
        with self._lock:
            for w in windows:
                spent = self._spent.get(w.id, 0.0)
                held = sum(u for u, _ in self._live_held(w.id, now).values())
                if spent + held + usd > w.limit_usd:
                    raise SpendLimitExceededError(
                        w.label, limit_usd=w.limit_usd, spent_usd=spent, reserved_usd=held, estimate_usd=usd
                    )
            for w in windows:
                self._held[w.id][rid] = (usd, now + self.config.reservation_ttl_s)
        return Reservation(rid, tenant, key, usd, windows)

    def settle(self, reservation: Reservation, actual_usd: float) -> None:
        with self._lock:
            for w in reservation.windows:
                self._held.get(w.id, {}).pop(reservation.id, None)
                self._spent[w.id] = self._spent.get(w.id, 0.0) + max(0.0, actual_usd)

    def charge(self, tenant: str, key: str | None, usd: float) -> None:
        with self._lock:
            for w in windows_for(self.config, tenant, key, self._now()):
                self._spent[w.id] = self._spent.get(w.id, 0.0) + max(0.0, usd)

    def spent(self, tenant: str, key: str | None = None) -> dict[str, tuple[float, float]]:
        now = self._now()
        with self._lock:
            return {
                w.id: (self._spent.get(w.id, 0.0), sum(u for u, _ in self._live_held(w.id, now).values()))
                for w in windows_for(self.config, tenant, key, now)
            }

    def close(self) -> None:
        return None


def budgets_from_config(config: BudgetConfig, *, spent_since: SpendSource | None = None) -> BudgetStore | None:
    """The budget store the ``budget`` section describes, or ``None`` when it sets no tenant or key limit.

    Args:
        config: The ``budget`` section.
        spent_since: Where the Redis store re-seeds settled spend after Redis lost its data.

    Raises:
        ConfigError: ``backend: redis`` without a URL.
    """
    if not config.tenants and not config.keys:
        return None
    if config.backend == "redis":
        from langchain_costrouter.core.budgets.redis_store import RedisBudgets

        return RedisBudgets.from_config(config, spent_since=spent_since)
    return MemoryBudgets(config)
