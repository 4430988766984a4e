"""The one error tree of langchain-costrouter.

Every error the package raises on purpose derives from :class:`CostRouterError`::

    CostRouterError
    ├── ConfigError                 bad configuration; names the field path
    │   └── MissingCredentialsError a tier's api_key_env names an unset variable
    ├── PricingError
    │   └── UnknownModelPriceError  no price for a model and no override
    ├── LedgerError                 the cost ledger could not be written or read
    ├── RoutingError                a request could not be routed
    ├── GateError                   a quality gate could not be evaluated (bad spec, bad model file)
    ├── LowQualityError             an answer failed its quality gate (drives fallbacks)
    ├── ProviderError               a provider call failed; ``retryable`` says if escalation helps
    ├── CascadeError
    │   ├── CascadeExhaustedError   every tier failed its gate or errored
    │   └── BudgetExceededError     the per-request dollar budget cannot cover the next tier
    │       └── SpendLimitExceededError a tenant's or key's daily/monthly budget is spent
    ├── BudgetUnavailableError      the shared budget store is down and budgets fail closed
    ├── CacheError                  the semantic cache store failed
    ├── MonitorError                the quality monitor's state cannot be read or written
    ├── DataError                   a benchmark/calibration data file is malformed
    └── ReplayError                 the replay server has no recording for a prompt/model

Errors carry typed fields (``field``, ``model``, ``attempts``, ``spent_usd``...) so callers
can act on them without parsing messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "BudgetExceededError",
    "BudgetUnavailableError",
    "CacheError",
    "CacheUnavailableError",
    "CascadeError",
    "CascadeExhaustedError",
    "ConfigError",
    "CostRouterError",
    "DataError",
    "GateError",
    "LedgerError",
    "LowQualityError",
    "MissingCredentialsError",
    "MonitorError",
    "PricingError",
    "ProviderError",
    "ReplayError",
    "RoutingError",
    "SpendLimitExceededError",
    "UnknownModelPriceError",
]


class CostRouterError(Exception):
    """Base class of every error raised by langchain-costrouter."""


class ConfigError(CostRouterError, ValueError):
    """A configuration value is invalid.

    Attributes:
        field: Dotted path of the offending field, e.g. ``tiers[2].price.output``.
        reason: Why the value was rejected.
    """

    def __init__(self, field: str, reason: str) -> None:
        if field != " ".join(field.split()):  # a field path from user data stays one line
            field = repr(field)
        self.field = field
        self.reason = " ".join(reason.split())
        super().__init__(f"{field}: {self.reason}" if field else self.reason)


class MissingCredentialsError(ConfigError):
    """A deployment's ``api_key_env`` names an environment variable that is unset or empty.

    Raised when a router, a LiteLLM Router or the proxy is built, not on the first request.

    Attributes:
        tier: The tier or extra model (its ``name``).
        variable: The environment variable it names.
    """

    def __init__(self, field: str, tier: str, variable: str) -> None:
        self.tier = tier
        self.variable = variable
        super().__init__(
            field,
            f"environment variable {variable} (the API key of {tier!r}) is not set: export it, or drop "
            "api_key_env for a server that needs no key",
        )


class PricingError(CostRouterError):
    """A cost could not be computed."""


class UnknownModelPriceError(PricingError, KeyError):
    """No price is known for ``model`` and the configuration has no override."""

    def __init__(self, model: str, tried: Sequence[str] = ()) -> None:
        self.model = model
        self.tried = tuple(tried)
        msg = (
            f"no price known for model {model!r} (looked up: {', '.join(self.tried) or model}); "
            f"give it a price in the config: the deployment's own 'price:' (tiers[i].price, models[i].price) "
            f"or a 'price_overrides' entry keyed by {model!r} (dollars per million tokens)"
        )
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return str(self.args[0])


class LedgerError(CostRouterError):
    """The cost ledger could not be written or read."""


class RoutingError(CostRouterError):
    """A request could not be routed to a tier or model."""


class GateError(CostRouterError):
    """A quality gate could not be built or evaluated."""


class LowQualityError(CostRouterError):
    """An answer failed its quality gate.

    Raised by fallback chains and LiteLLM hooks so that the host framework escalates.
    """

    def __init__(self, tier: str, score: float, threshold: float, reason: str = "") -> None:
        self.tier = tier
        self.score = score
        self.threshold = threshold
        self.reason = reason
        super().__init__(
            f"answer of tier {tier!r} failed its quality gate: score {score:.3f} < {threshold:.3f}"
            + (f" ({reason})" if reason else "")
        )


class ProviderError(CostRouterError):
    """A provider call failed.

    Attributes:
        kind: ``rate_limit``, ``server``, ``timeout``, ``context_window``, ``refusal``,
            ``connection``, ``bad_request``, ``auth`` or ``unknown``.
        retryable: Whether another attempt or tier may succeed.
    """

    def __init__(self, kind: str, message: str, *, retryable: bool, status: int | None = None) -> None:
        self.kind = kind
        self.retryable = retryable
        self.status = status
        super().__init__(f"{kind}: {message}")


class CascadeError(CostRouterError):
    """Base class of the cascade's terminal errors.

    Attributes:
        attempts: The attempts made (``CascadeAttempt`` objects), in order.
        total_cost_usd: What the attempts cost, in dollars.
    """

    def __init__(self, message: str, attempts: Sequence[Any], total_cost_usd: float) -> None:
        self.attempts = list(attempts)
        self.total_cost_usd = total_cost_usd
        super().__init__(message)


class CascadeExhaustedError(CascadeError):
    """Every tier failed its quality gate or errored."""

    def __init__(self, attempts: Sequence[Any], total_cost_usd: float) -> None:
        super().__init__(
            f"all {len(attempts)} cascade attempts failed (spent ${total_cost_usd:.6f})",
            attempts,
            total_cost_usd,
        )


class BudgetExceededError(CascadeError):
    """The per-request budget cannot cover the next tier's estimated cost."""

    def __init__(
        self,
        attempts: Sequence[Any],
        total_cost_usd: float,
        *,
        limit_usd: float,
        next_tier: str,
        estimate_usd: float,
    ) -> None:
        self.limit_usd = limit_usd
        self.spent_usd = total_cost_usd
        self.next_tier = next_tier
        self.estimate_usd = estimate_usd
        super().__init__(
            f"budget ${limit_usd:.6f} cannot cover tier {next_tier!r} "
            f"(spent ${total_cost_usd:.6f}, next estimated ${estimate_usd:.6f})",
            attempts,
            total_cost_usd,
        )


class SpendLimitExceededError(BudgetExceededError):
    """A tenant's or API key's daily or monthly dollar budget cannot cover the next call.

    Attributes:
        budget: Which budget, e.g. ``tenant acme daily (2026-12-04)``.
        limit_usd: The budget's limit.
        spent_usd: What was settled in its window so far.
        reserved_usd: What calls in flight hold.
        estimate_usd: What the refused call would have reserved.
    """

    def __init__(
        self,
        budget: str,
        *,
        limit_usd: float,
        spent_usd: float,
        reserved_usd: float,
        estimate_usd: float,
        next_tier: str = "",
        attempts: Sequence[Any] = (),
    ) -> None:
        super().__init__(attempts, spent_usd, limit_usd=limit_usd, next_tier=next_tier, estimate_usd=estimate_usd)
        self.budget = budget
        self.reserved_usd = reserved_usd
        self.args = (
            f"{budget} budget ${limit_usd:.6f} is spent: ${spent_usd:.6f} settled, ${reserved_usd:.6f} in flight, "
            f"next call estimated ${estimate_usd:.6f}",
        )


class BudgetUnavailableError(CostRouterError):
    """The shared budget store (Redis) cannot be reached and ``budget.on_store_down`` is ``closed``."""


class CacheError(CostRouterError):
    """The cache store failed."""


class CacheUnavailableError(CacheError):
    """The shared cache store (Redis) cannot be reached: a lookup is a miss, a store is skipped."""


class MonitorError(CostRouterError):
    """The quality monitor's state file cannot be read or written (``monitor.state_path``)."""


class DataError(CostRouterError, ValueError):
    """A data file (benchmark CSV, pairs JSONL, gate file) is malformed.

    The message is kept on one line (text quoted from the file may hold line breaks).
    """

    def __init__(self, *args: object) -> None:
        if len(args) == 1 and isinstance(args[0], str):
            args = (" ".join(args[0].split()),)
        super().__init__(*args)


class ReplayError(CostRouterError, LookupError):
    """The replay data holds no recording for the requested prompt or model."""
