"""Calling a configured deployment with LiteLLM: its ``litellm_params`` and a ``ModelClient``.

:func:`deployment_params` is the one translation of a :class:`TierSpec` into LiteLLM
deployment parameters (model, endpoint, key, timeout, per-token prices), used by the SDK
router, the proxy YAML and the judge client. :class:`LiteLLMModelClient` is the core's
:class:`~langchain_costrouter.core.client.ModelClient` over ``litellm.completion`` /
``litellm.acompletion`` (judge gates, compression, batching). Its calls carry the
``costrouter_internal`` flag and ``no-log``: the cascade records their cost itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_costrouter.core.config import CostRouterConfig, TierSpec
from langchain_costrouter.core.pricing import PriceBook
from langchain_costrouter.core.types import Completion
from litellm_hooks._convert import INTERNAL_FLAG, completion_from_response

__all__ = ["LiteLLMModelClient", "client_factory", "deployment_params"]

LOCAL_KEY = "not-needed"  # local OpenAI-compatible servers ignore the key


def deployment_params(
    spec: TierSpec,
    prices: PriceBook,
    *,
    secrets: bool = True,
) -> dict[str, Any]:
    """LiteLLM ``litellm_params`` of a configured deployment.

    Args:
        spec: The tier or model.
        prices: Resolves its price (config first, then LiteLLM's bundled map), written as
            per-token ``input_cost_per_token`` / ``output_cost_per_token`` so LiteLLM's own cost
            figures are deterministic and equal to the ledger's.
        secrets: Resolve the API key now (SDK). ``False`` writes ``os.environ/VAR`` references
            instead (proxy YAML: no secret is ever written to a file).
    """
    price = prices.price(spec.model)
    params: dict[str, Any] = {
        "model": spec.model,
        "timeout": spec.timeout_s,
        "max_tokens": spec.max_tokens,
        "input_cost_per_token": price.input,
        "output_cost_per_token": price.output,
    }
    # Always both cache prices, as the ledger resolves them (unset: the input price). Without them
    # LiteLLM prices cached tokens at $0 and warns "register_model ... custom pricing" once per
    # registration (a deployment registers under its id and its model key, the entry model again).
    params["cache_read_input_token_cost"] = price.input if price.cache_read is None else price.cache_read
    params["cache_creation_input_token_cost"] = price.input if price.cache_write is None else price.cache_write
    if spec.api_base is not None:
        params["api_base"] = spec.api_base
    if secrets:
        key = spec.resolve_api_key()
        if key is not None:
            params["api_key"] = key.get_secret_value()
        elif spec.api_base is not None:
            params["api_key"] = LOCAL_KEY
    elif spec.api_key_env:
        params["api_key"] = f"os.environ/{spec.api_key_env}"
    elif spec.api_base is not None:
        params["api_key"] = LOCAL_KEY
    for key_name, value in spec.model_kwargs.items():
        params.setdefault(key_name, value)
    return params


class LiteLLMModelClient:
    """Calls one configured deployment through ``litellm.completion`` / ``litellm.acompletion``.

    Args:
        spec: The deployment.
        prices: Price book (for its per-token prices).
    """

    def __init__(self, spec: TierSpec, prices: PriceBook) -> None:
        self.spec = spec
        self._params = deployment_params(spec, prices)

    @property
    def model(self) -> str:
        return self.spec.model

    def _kwargs(self, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]) -> dict[str, Any]:
        kwargs = {**self._params, **params}
        kwargs["messages"] = [dict(m) for m in messages]
        kwargs["metadata"] = {INTERNAL_FLAG: True}
        kwargs["num_retries"] = 0
        kwargs["no-log"] = True
        return kwargs

    def complete(self, messages: Sequence[Mapping[str, Any]], **params: Any) -> Completion:
        import litellm

        response = litellm.completion(**self._kwargs(messages, params))
        return completion_from_response(response, model=self.spec.model)

    async def acomplete(self, messages: Sequence[Mapping[str, Any]], **params: Any) -> Completion:
        import litellm

        response = await litellm.acompletion(**self._kwargs(messages, params))
        return completion_from_response(response, model=self.spec.model)


def client_factory(config: CostRouterConfig) -> Callable[[str], LiteLLMModelClient]:
    """A LiteLLM client for a tier/model name (what judge gates and the compressor call)."""
    prices = PriceBook(config.price_overrides_map())

    def factory(name: str) -> LiteLLMModelClient:
        return LiteLLMModelClient(config.deployment(name), prices)

    return factory
