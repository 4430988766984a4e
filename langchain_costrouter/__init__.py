"""langchain-costrouter: cut LLM bills for LangChain and LiteLLM apps.

Task routing, quality-gated escalation, safe caching and cost accounting.

Importing this package is cheap: LangChain-facing names are loaded on first access, so
``import langchain_costrouter.core`` (or ``litellm_hooks``) never imports LangChain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_costrouter._version import __version__
from langchain_costrouter.core.lazy import lazy_attributes

if TYPE_CHECKING:
    from langchain_costrouter.batching import BatchedQuestions
    from langchain_costrouter.callbacks import CostCallbackHandler, get_cost_callback
    from langchain_costrouter.chat_model import ChatCostRouter
    from langchain_costrouter.compression import CompressPrompt
    from langchain_costrouter.core import (
        BudgetExceededError,
        CascadeExhaustedError,
        ConfigError,
        CostRouterConfig,
        CostRouterError,
        LowQualityError,
        UnknownModelPriceError,
    )
    from langchain_costrouter.fallback import build_fallback_chain
    from langchain_costrouter.lc_cache import CostRouterLLMCache

__all__ = [
    "BatchedQuestions",
    "BudgetExceededError",
    "CascadeExhaustedError",
    "ChatCostRouter",
    "CompressPrompt",
    "ConfigError",
    "CostCallbackHandler",
    "CostRouterConfig",
    "CostRouterError",
    "CostRouterLLMCache",
    "LowQualityError",
    "UnknownModelPriceError",
    "__version__",
    "build_fallback_chain",
    "get_cost_callback",
]

_LAZY = {
    "BatchedQuestions": "langchain_costrouter.batching",
    "ChatCostRouter": "langchain_costrouter.chat_model",
    "CompressPrompt": "langchain_costrouter.compression",
    "CostRouterLLMCache": "langchain_costrouter.lc_cache",
    "CostCallbackHandler": "langchain_costrouter.callbacks",
    "get_cost_callback": "langchain_costrouter.callbacks",
    "build_fallback_chain": "langchain_costrouter.fallback",
    "CostRouterConfig": "langchain_costrouter.core.config",
    "BudgetExceededError": "langchain_costrouter.core.errors",
    "CascadeExhaustedError": "langchain_costrouter.core.errors",
    "ConfigError": "langchain_costrouter.core.errors",
    "CostRouterError": "langchain_costrouter.core.errors",
    "LowQualityError": "langchain_costrouter.core.errors",
    "UnknownModelPriceError": "langchain_costrouter.core.errors",
}


__getattr__, __dir__ = lazy_attributes(
    __name__, _LAZY, globals(), __all__, needs={"gptcache": "cache", "faiss": "cache", "wordllama": "cache"}
)
