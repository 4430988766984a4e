"""Everything a configuration builds, shared by the LangChain and LiteLLM adapters.

:class:`CostRouterRuntime` turns one :class:`CostRouterConfig` into a price book (bundled map
plus the config's overrides), a ledger, a :class:`CostAccountant` whose baseline is the
premium tier, a router, a :class:`CascadeEngine`, the response cache, the prompt compressor and
the :class:`~langchain_costrouter.core.pipeline.RequestPipeline` that ties them together. Every
tier's price is resolved here, so a model without a price fails when the router is built, not
after the first paid call. The adapter supplies only how to call a model by name
(``clients``: a :class:`~langchain_costrouter.core.client.ModelClient` factory, used by judge
gates and the compressor).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.budgets import budgets_from_config
from langchain_costrouter.core.cascade import CascadeEngine, ThresholdSource
from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.embeddings import Embedder
from langchain_costrouter.core.errors import ConfigError, UnknownModelPriceError
from langchain_costrouter.core.gates.base import BaseGate
from langchain_costrouter.core.gates.factory import JudgeClientFactory
from langchain_costrouter.core.ledger import LedgerBackend, ledger_from_config
from langchain_costrouter.core.pipeline import Observer, RequestPipeline
from langchain_costrouter.core.pricing import PriceBook
from langchain_costrouter.core.routing import RouteDecision, Router, build_router
from langchain_costrouter.core.types import ChatRequest, tenant_of

if TYPE_CHECKING:
    from langchain_costrouter.core.monitor import QualityMonitor

__all__ = ["CostRouterRuntime"]

logger = logging.getLogger(__name__)


class CostRouterRuntime:
    """The framework-neutral objects built from one config.

    Args:
        config: The configuration.
        ledger: A ledger backend (default: the one the config names).
        router: A router (default: built from ``config.routing``).
        embedder: The embedder of an embedding router (default: the config's encoder).
        gates: Gates by tier name, overriding the config.
        clients: Builds a model client for a tier/model name (judge gates, compression).
        judge_clients: Former name of ``clients``.
        response_cache: A response cache replacing the one ``config.cache`` describes.
        thresholds: Overrides gate thresholds per route and tier (online recalibration).
        observers: See every served result (quality monitor).
    """

    def __init__(
        self,
        config: CostRouterConfig,
        *,
        ledger: LedgerBackend | None = None,
        router: Router | None = None,
        embedder: Embedder | None = None,
        gates: Mapping[str, BaseGate] | None = None,
        clients: JudgeClientFactory | None = None,
        judge_clients: JudgeClientFactory | None = None,
        response_cache: Any = None,
        thresholds: ThresholdSource | None = None,
        observers: Sequence[Observer] = (),
    ) -> None:
        self.config = config
        self.clients = clients or judge_clients
        self.prices = PriceBook(config.price_overrides_map())
        for section, specs in (("tiers", config.tiers), ("models", config.models)):
            for i, spec in enumerate(specs):
                try:
                    self.prices.price(spec.model)
                except UnknownModelPriceError as exc:
                    raise ConfigError(f"{section}[{i}].price", str(exc)) from None
        self.ledger = ledger if ledger is not None else ledger_from_config(config.ledger)
        self.accountant = CostAccountant(
            self.prices,
            self.ledger,
            premium_model=config.premium.model,
            tenant=config.ledger.tenant,
        )
        self.router = router or build_router(config, embedder=embedder, prices=self.prices)
        self.monitor = self._monitor()
        if self.monitor is not None:  # the quality monitor sets thresholds and sees every served answer
            thresholds = thresholds if thresholds is not None else self.monitor
            observers = (*observers, self.monitor)
        self.engine = CascadeEngine(
            config,
            self.accountant,
            router=self.router,
            gates=gates,
            judge_clients=self.clients,
            thresholds=thresholds,
            # the postgres ledger re-seeds Redis budgets that lost their data
            budgets=budgets_from_config(config.budget, spent_since=getattr(self.ledger, "spent_since", None)),
        )
        self.response_cache = response_cache
        if self.response_cache is None and config.cache.enabled:
            from langchain_costrouter.core._optional import require

            for module in ("gptcache", "faiss", "sqlalchemy"):
                require(module, extra="cache", feature="cache.enabled")
            from langchain_costrouter.core.cache.engine import ResponseCache

            self.response_cache = ResponseCache.from_config(
                config.cache, accountant=self.accountant, clients=self.clients
            )
        cache_step = None
        if self.response_cache is not None:
            from langchain_costrouter.core.pipeline_cache import CacheStep

            cache_step = CacheStep(self.response_cache, self.accountant, config.cache.namespace)
        self.pipeline = RequestPipeline(
            self.engine, cache=cache_step, compressor=self._compressor(), observers=tuple(observers)
        )

    def _monitor(self) -> QualityMonitor | None:
        if not self.config.monitor.enabled:
            return None
        if self.clients is None:  # a runtime for accounting only (reports, tools): nothing is called
            logger.debug("the quality monitor is enabled but no model client factory was given: not monitoring")
            return None
        from langchain_costrouter.core.monitor import QualityMonitor

        try:
            return QualityMonitor.from_config(self.config, accountant=self.accountant, clients=self.clients)
        except ValueError as exc:
            raise ConfigError("monitor", str(exc)) from None

    def _compressor(self) -> Any:
        if not self.config.compression.enabled:
            return None
        from langchain_costrouter.core.compression import PromptCompressor

        name = self.config.compression.model or self.config.tiers[0].name
        try:
            self.config.deployment(name)
        except KeyError:
            raise ConfigError("compression.model", f"unknown tier or model {name!r}") from None
        if self.clients is None:  # a runtime for accounting only (reports, tools): nothing is called
            logger.debug("compression is enabled but no model client factory was given: not compressing")
            return None
        return PromptCompressor(
            self.clients(name), self.prices, config=self.config.compression, accountant=self.accountant
        )

    def tenant(self, metadata: Mapping[str, Any] | None, *, user: str | None = None, default: str | None = None) -> str:
        """The one tenant rule of both adapters (see :func:`~langchain_costrouter.core.types.tenant_of`)."""
        return tenant_of(metadata, user=user, default=default or self.config.ledger.tenant)

    def route(self, request: ChatRequest) -> RouteDecision:
        """The route decision of ``request`` (without calling anything)."""
        return self.router.route(request)

    def close(self) -> None:
        """Drains the quality monitor, flushes pending records and closes the cache and the ledger."""
        try:
            if self.monitor is not None:
                self.monitor.close()
        except Exception:  # the monitor is a side concern: the ledger still closes
            logger.warning("could not close the quality monitor", exc_info=True)
        try:
            if self.response_cache is not None:
                self.response_cache.close()
        except Exception:  # closing a cache must not lose the ledger's records
            logger.warning("could not close the response cache", exc_info=True)
        if self.engine.budgets is not None:
            self.engine.budgets.close()
        try:
            self.accountant.flush()
        finally:
            self.ledger.close()
