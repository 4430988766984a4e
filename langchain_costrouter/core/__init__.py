"""The framework-neutral core: config, pricing, ledger, routing, gates, cascade, cache.

Nothing under ``langchain_costrouter.core`` imports LangChain or LiteLLM (a test enforces it);
the adapters in ``langchain_costrouter`` and ``litellm_hooks`` translate at the edges.
"""

from __future__ import annotations

from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.cascade import CascadeAttempt, CascadeEngine, CascadeResult, CascadeRun
from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.errors import (
    BudgetExceededError,
    CascadeExhaustedError,
    ConfigError,
    CostRouterError,
    LowQualityError,
    UnknownModelPriceError,
)
from langchain_costrouter.core.ledger import CostRecord, MemoryLedger, SQLiteLedger
from langchain_costrouter.core.pricing import ModelPrice, PriceBook
from langchain_costrouter.core.routing import RouteDecision
from langchain_costrouter.core.runtime import CostRouterRuntime
from langchain_costrouter.core.types import ChatRequest, Completion
from langchain_costrouter.core.usage import Usage

__all__ = [
    "BudgetExceededError",
    "CascadeAttempt",
    "CascadeEngine",
    "CascadeExhaustedError",
    "CascadeResult",
    "CascadeRun",
    "ChatRequest",
    "Completion",
    "ConfigError",
    "CostAccountant",
    "CostRecord",
    "CostRouterConfig",
    "CostRouterError",
    "CostRouterRuntime",
    "LowQualityError",
    "MemoryLedger",
    "ModelPrice",
    "PriceBook",
    "RouteDecision",
    "SQLiteLedger",
    "UnknownModelPriceError",
    "Usage",
]
