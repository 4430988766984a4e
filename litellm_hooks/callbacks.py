"""``CostRouterHooks``: the hooks of one configuration, built and installed together.

::

    hooks = CostRouterHooks.from_config("costrouter.yaml")
    router = build_router(hooks.config, hooks=hooks)      # installs hooks.callbacks
    response = await router.acompletion(model="costrouter", messages=[...])
    hooks.ledger.records()                                  # every attempt, with its cost

The three LiteLLM callbacks share one :class:`~litellm_hooks._runtime.HookRuntime`:
:class:`~litellm_hooks.hooks.QualityGateHook` (decides; raises ``LowQualityError``),
:class:`~litellm_hooks.routing_hook.TaskRoutingHook` (decides; raises ``TierSkippedError`` /
``BudgetExceededError``) and :class:`~litellm_hooks.cost_logger.CostLogger` (logs; never
raises). A cache hook (``litellm_hooks/cache_hook.py``) plugs in through ``cache_hook``.

For the proxy, :func:`proxy_hooks` builds one process-wide instance from the
``COSTROUTER_CONFIG`` environment variable (see :mod:`litellm_hooks.proxy_callbacks`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.errors import ConfigError
from langchain_costrouter.core.ledger import LedgerBackend
from langchain_costrouter.core.routing import RouteDecision
from litellm_hooks import _convert as cv
from litellm_hooks._litellm import install_callbacks, litellm, remove_callbacks
from litellm_hooks._runtime import HookRuntime
from litellm_hooks.cost_logger import CostLogger
from litellm_hooks.hooks import QualityGateHook
from litellm_hooks.routing_hook import TaskRoutingHook

if TYPE_CHECKING:
    from langchain_costrouter.core.cache import ResponseCache

__all__ = ["CONFIG_ENV", "ENTRY_ENV", "CostRouterHooks", "load_config", "proxy_hooks"]

CONFIG_ENV = "COSTROUTER_CONFIG"
ENTRY_ENV = "COSTROUTER_ENTRY_MODEL"


def load_config(config: str | os.PathLike[str] | CostRouterConfig | Mapping[str, Any]) -> CostRouterConfig:
    """A :class:`CostRouterConfig` from a YAML path, a mapping or a config object."""
    if isinstance(config, CostRouterConfig):
        return config
    if isinstance(config, str | os.PathLike):
        return CostRouterConfig.from_yaml(Path(config))
    return CostRouterConfig.from_dict(config)


class CostRouterHooks:
    """The LiteLLM hooks of one configuration.

    Args:
        config: The configuration.
        ledger: Ledger backend replacing the config's.
        entry_model: The model name that asks for task routing.
        record_foreign: The cost logger also records calls of other deployments.
        cache_hook: A cache callback (the semantic cache's LiteLLM hook) to install with them.
        response_cache: The cascade's response cache (default: built from ``config.cache`` when
            it is enabled). :meth:`install` makes ``litellm.cache`` use it: lookups are scoped to
            the cascade and the quality gate stores what it accepts (see
            :mod:`litellm_hooks.cache_hook`).
    """

    def __init__(
        self,
        config: CostRouterConfig,
        *,
        ledger: LedgerBackend | None = None,
        entry_model: str = "costrouter",
        record_foreign: bool = False,
        cache_hook: Any = None,
        response_cache: ResponseCache | None = None,
    ) -> None:
        self.config = config
        self.runtime = HookRuntime(config, ledger=ledger)
        if response_cache is None and config.cache.enabled:
            from langchain_costrouter.core.cache import ResponseCache as _ResponseCache

            response_cache = _ResponseCache.from_config(config.cache, accountant=self.runtime.accountant)
        self.response_cache = response_cache
        if response_cache is not None:
            from litellm_hooks.cache_hook import CostRouterLiteLLMCache

            self.runtime.cache_backend = CostRouterLiteLLMCache(
                response_cache, namespace=config.cache.namespace, runtime=self.runtime, entry_model=entry_model
            )
        self.gate = QualityGateHook(self.runtime)
        self.routing = TaskRoutingHook(self.runtime, entry_model=entry_model)
        self.cost_logger = CostLogger(self.runtime, record_foreign=record_foreign)
        self.cache_hook = cache_hook
        self.entry_model = entry_model

    @classmethod
    def from_config(
        cls, config: str | os.PathLike[str] | CostRouterConfig | Mapping[str, Any], **kwargs: Any
    ) -> CostRouterHooks:
        """Hooks for a YAML path, a mapping or a config object."""
        return cls(load_config(config), **kwargs)

    @property
    def callbacks(self) -> list[Any]:
        """The LiteLLM callbacks, in the order they must run."""
        out: list[Any] = [self.routing]
        if self.cache_hook is not None:
            out.append(self.cache_hook)
        out += [self.gate, self.cost_logger]
        return out

    @property
    def ledger(self) -> LedgerBackend:
        """The ledger the hooks write."""
        return self.runtime.ledger

    def install(self) -> Self:
        """Installs the callbacks, the sync gate rule and the response cache.

        The callbacks go to ``litellm.callbacks``, the gate rule to ``post_call_rules``, and with
        a response cache ``litellm.cache`` uses it.
        """
        install_callbacks(*self.callbacks)
        self.install_cache()
        rules = list(litellm.post_call_rules)
        if not any(r == self.gate.post_call_rule for r in rules):
            rules.append(self.gate.post_call_rule)
        litellm.post_call_rules = rules
        return self

    def install_cache(self) -> None:
        """Makes ``litellm.cache`` use the cascade's response cache (no-op without one)."""
        backend = self.runtime.cache_backend
        if backend is not None:
            from litellm_hooks.cache_hook import use_backend

            use_backend(backend)

    def uninstall(self) -> None:
        """Removes what :meth:`install` added."""
        backend = self.runtime.cache_backend
        if backend is not None:
            from litellm_hooks.cache_hook import uninstall as uninstall_cache

            uninstall_cache(backend)
        remove_callbacks(*self.callbacks)
        litellm.post_call_rules = [r for r in litellm.post_call_rules if r != self.gate.post_call_rule]

    def route(self, messages: Sequence[Mapping[str, Any]], **kwargs: Any) -> RouteDecision:
        """The route of a request (for sync callers: pass ``decision.ladder[0]`` as ``model``)."""
        data = {"messages": list(messages), **kwargs}
        request = cv.request_from_kwargs(data, request_id="route", tenant=self.config.ledger.tenant, task=None)
        return self.runtime.route(request)

    def close(self) -> None:
        """Uninstalls the hooks and closes the ledger and the response cache."""
        self.uninstall()
        if self.response_cache is not None:
            self.response_cache.close()
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
            hooks.install_cache()  # the proxy registers the callbacks itself; the cache is ours to set
            _proxy_instance.append(hooks)
        return _proxy_instance[0]
