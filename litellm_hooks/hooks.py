"""``CostRouterHooks``: one configuration's cascade for ``litellm.Router`` and the LiteLLM proxy.

::

    hooks = CostRouterHooks.from_config("costrouter.yaml").install()
    router = build_router(hooks.config, hooks=hooks)
    response = await router.acompletion(model="costrouter", messages=[...])
    response._hidden_params["costrouter"]     # the trail: tier, attempts, gate scores, cost
    hooks.ledger.records()                     # every attempt, retries included, with its cost

The hooks own the framework-neutral :class:`~langchain_costrouter.core.runtime.CostRouterRuntime`
(prices, ledger, router, gates, cache, compressor, request pipeline) and register it with the
cascade's custom provider (:mod:`litellm_hooks.handler`). :class:`HeadersHook` adds the
``x-costrouter-*`` response headers in the proxy; :class:`~litellm_hooks.cost_logger.CostLogger`
optionally records the calls of other deployments too (``record_foreign``).

For the proxy, :func:`proxy_hooks` builds one process-wide instance from the ``COSTROUTER_CONFIG``
environment variable (see :mod:`litellm_hooks.proxy_callbacks`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Self

from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.credentials import require_credentials
from langchain_costrouter.core.errors import ConfigError
from langchain_costrouter.core.ledger import LedgerBackend
from langchain_costrouter.core.routing import RouteDecision
from langchain_costrouter.core.runtime import CostRouterRuntime
from litellm_hooks import _convert as cv
from litellm_hooks._client import client_factory

__all__ = [
    "CONFIG_ENV",
    "COSTROUTER_HEADERS",
    "ENTRY_ENV",
    "CostRouterHooks",
    "HeadersHook",
    "config_fingerprint",
    "proxy_hooks",
    "trail_headers",
]

logger = logging.getLogger(__name__)

CONFIG_ENV = "COSTROUTER_CONFIG"
ENTRY_ENV = "COSTROUTER_ENTRY_MODEL"

COSTROUTER_HEADERS = (
    "x-costrouter-request-id",
    "x-costrouter-tier",
    "x-costrouter-escalations",
    "x-costrouter-route",
    "x-costrouter-cache",
    "x-costrouter-cost-usd",
)


def config_fingerprint(config: CostRouterConfig) -> str:
    """A short stable id of a configuration, naming its entry deployments."""
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:16]


def trail_headers(trail: Mapping[str, Any]) -> dict[str, str]:
    """The ``x-costrouter-*`` headers of a request's trail (``_hidden_params["costrouter"]``)."""
    route = trail.get("route")
    route_name = route.get("route") if isinstance(route, Mapping) else None
    cache = trail.get("cache")
    return {
        "x-costrouter-request-id": str(trail.get("request_id") or ""),
        "x-costrouter-tier": str(trail.get("tier") or ""),
        "x-costrouter-escalations": str(trail.get("escalations") or 0),
        "x-costrouter-route": str(route_name or "default"),
        "x-costrouter-cache": str(cache.get("kind")) if isinstance(cache, Mapping) else "miss",
        "x-costrouter-cost-usd": f"{float(trail.get('total_cost_usd') or 0.0):.8f}",
    }


def _logger_base() -> type[Any]:
    from litellm.integrations.custom_logger import CustomLogger

    base: type[Any] = CustomLogger
    return base


class HeadersHook(_logger_base()):  # type: ignore[misc]
    """Proxy: adds the ``x-costrouter-*`` headers to every answer of the cascade."""

    async def async_post_call_response_headers_hook(
        self,
        data: dict[str, Any],
        user_api_key_dict: Any,
        response: Any,
        request_headers: dict[str, str] | None = None,
        litellm_call_info: dict[str, Any] | None = None,
    ) -> dict[str, str] | None:
        try:
            hidden = getattr(response, "_hidden_params", None)
            trail = hidden.get("costrouter") if isinstance(hidden, dict) else None
            return trail_headers(trail) if isinstance(trail, Mapping) else None
        except Exception:  # headers are informative: never fail a request for them
            logger.exception("costrouter: cannot build response headers")
            return None


class CostRouterHooks:
    """The cascade of one configuration, for LiteLLM.

    Args:
        config: The configuration.
        ledger: Ledger backend replacing the config's.
        entry_model: The model name that asks for task routing.
        record_foreign: Also record, as ``unrated``, the calls LiteLLM makes to deployments
            that are not this configuration's entry points.
        response_cache: A response cache replacing the one ``config.cache`` describes.

    Raises:
        MissingCredentialsError: a deployment's ``api_key_env`` names an unset variable (said at
            start-up, as ``ChatCostRouter`` does, not as an auth error on every request).
    """

    def __init__(
        self,
        config: CostRouterConfig,
        *,
        ledger: LedgerBackend | None = None,
        entry_model: str = "costrouter",
        record_foreign: bool = False,
        response_cache: Any = None,
    ) -> None:
        require_credentials(config)
        self.config = config
        self.entry_model = entry_model
        self.fingerprint = config_fingerprint(config)
        self.runtime = CostRouterRuntime(
            config, ledger=ledger, clients=client_factory(config), response_cache=response_cache
        )
        self.headers = HeadersHook()
        self.cost_logger: Any = None
        if record_foreign:
            from litellm_hooks.cost_logger import CostLogger

            self.cost_logger = CostLogger(self.runtime.accountant)
        self._installed = False

    @classmethod
    def from_config(
        cls, config: str | os.PathLike[str] | CostRouterConfig | Mapping[str, Any], **kwargs: Any
    ) -> CostRouterHooks:
        """Hooks for a YAML path, a mapping or a config object."""
        return cls(CostRouterConfig.load(config), **kwargs)

    @property
    def callbacks(self) -> list[Any]:
        """The LiteLLM callbacks of these hooks (response headers; the foreign-call logger)."""
        return [cb for cb in (self.headers, self.cost_logger) if cb is not None]

    @property
    def ledger(self) -> LedgerBackend:
        """The ledger every attempt is written to."""
        return self.runtime.ledger

    @property
    def response_cache(self) -> Any:
        """The cascade's response cache (``None`` when ``cache.enabled`` is false)."""
        return self.runtime.response_cache

    def install(self) -> Self:
        """Registers the cascade's custom provider for this config and adds the callbacks."""
        from litellm_hooks._litellm import install_callbacks
        from litellm_hooks.handler import register

        register(self.fingerprint, self.runtime)
        install_callbacks(*self.callbacks)
        self._installed = True
        return self

    def uninstall(self) -> None:
        """Removes what :meth:`install` added."""
        if not self._installed:
            return
        from litellm_hooks._litellm import remove_callbacks
        from litellm_hooks.handler import unregister

        unregister(self.fingerprint, self.runtime)
        remove_callbacks(*self.callbacks)
        self._installed = False

    def route(self, messages: Sequence[Mapping[str, Any]], **kwargs: Any) -> RouteDecision:
        """The route a request would take (without calling anything)."""
        request = cv.request_of(messages, kwargs, request_id="route", tenant=self.config.ledger.tenant)
        return self.runtime.route(request)

    def close(self) -> None:
        """Uninstalls the hooks, writes pending records, closes the ledger and the cache."""
        self.uninstall()
        self.runtime.close()


_proxy_lock = threading.Lock()
_proxy_instance: list[CostRouterHooks] = []


def proxy_hooks() -> CostRouterHooks:
    """The process-wide hooks of the LiteLLM proxy, built from ``$COSTROUTER_CONFIG`` on first use.

    Raises:
        ConfigError: the variable is unset or the file is invalid.
    """
    with _proxy_lock:
        if not _proxy_instance:
            path = os.environ.get(CONFIG_ENV)
            if not path:
                raise ConfigError(CONFIG_ENV, "set it to the costrouter.yaml the proxy serves")
            hooks = CostRouterHooks.from_config(path, entry_model=os.environ.get(ENTRY_ENV, "costrouter"))
            _proxy_instance.append(hooks.install())
        return _proxy_instance[0]
