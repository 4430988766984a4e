"""Everything a configuration builds, shared by the LangChain and LiteLLM adapters.

:class:`CostRouterRuntime` turns one :class:`CostRouterConfig` into a price book (bundled map
plus the config's overrides), a ledger, a :class:`CostAccountant` whose baseline is the
premium tier, a router and a :class:`CascadeEngine`. Every tier's price is resolved here, so a
model without a price fails when the router is built, not after the first paid call.
"""

from __future__ import annotations

from collections.abc import Mapping

from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.cascade import CascadeEngine
from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.embeddings import Embedder
from langchain_costrouter.core.errors import ConfigError, UnknownModelPriceError
from langchain_costrouter.core.gates.base import BaseGate
from langchain_costrouter.core.gates.factory import JudgeClientFactory
from langchain_costrouter.core.ledger import LedgerBackend, ledger_from_config
from langchain_costrouter.core.pricing import PriceBook
from langchain_costrouter.core.routing import Router, build_router

__all__ = ["CostRouterRuntime"]


class CostRouterRuntime:
    """The framework-neutral objects built from one config.

    Args:
        config: The configuration.
        ledger: A ledger backend (default: the one the config names).
        router: A router (default: built from ``config.routing``).
        embedder: The embedder of an embedding router (default: the config's encoder).
        gates: Gates by tier name, overriding the config.
        judge_clients: Builds clients for judge gates.
    """

    def __init__(
        self,
        config: CostRouterConfig,
        *,
        ledger: LedgerBackend | None = None,
        router: Router | None = None,
        embedder: Embedder | None = None,
        gates: Mapping[str, BaseGate] | None = None,
        judge_clients: JudgeClientFactory | None = None,
    ) -> None:
        self.config = config
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
        self.engine = CascadeEngine(
            config,
            self.accountant,
            router=self.router,
            gates=gates,
            judge_clients=judge_clients,
        )

    def close(self) -> None:
        """Flushes pending records and closes the ledger."""
        try:
            self.accountant.flush()
        finally:
            self.ledger.close()
