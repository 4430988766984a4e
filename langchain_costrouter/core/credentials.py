"""Checking, when a router is built, that every API key a config names is in the environment.

A tier whose ``api_key_env`` names an unset variable would otherwise start fine and fail every
request with an auth error (or, through the LiteLLM proxy, HTTP 500 "Missing credentials").
Both adapters and ``costrouter serve`` call :func:`require_credentials` at start-up instead.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping

from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.errors import MissingCredentialsError

__all__ = ["missing_credentials", "require_credentials"]


def missing_credentials(
    config: CostRouterConfig,
    *,
    environ: Mapping[str, str] | None = None,
    skip: Collection[str] = (),
) -> list[MissingCredentialsError]:
    """The deployments whose ``api_key_env`` is unset or empty (and that have no ``api_key``).

    Args:
        config: The configuration.
        environ: The environment to look in (default: ``os.environ``).
        skip: Tier names that do not need their key (given a chat model in code).
    """
    env = os.environ if environ is None else environ
    out: list[MissingCredentialsError] = []
    for section, specs in (("tiers", config.tiers), ("models", config.models)):
        for i, spec in enumerate(specs):
            if spec.name in skip or spec.api_key is not None or not spec.api_key_env:
                continue
            if not env.get(spec.api_key_env):
                out.append(MissingCredentialsError(f"{section}[{i}].api_key_env", spec.name, spec.api_key_env))
    return out


def require_credentials(
    config: CostRouterConfig,
    *,
    environ: Mapping[str, str] | None = None,
    skip: Collection[str] = (),
) -> None:
    """Raises for the first deployment whose key variable is unset.

    Raises:
        MissingCredentialsError: naming the tier, the variable and the config field.
    """
    missing = missing_credentials(config, environ=environ, skip=skip)
    if missing:
        raise missing[0]
