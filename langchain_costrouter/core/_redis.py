"""The Redis URL of a config section: the shared budgets and the shared cache read it the same way."""

from __future__ import annotations

import os

from pydantic import SecretStr

from langchain_costrouter.core.errors import ConfigError

__all__ = ["redis_url_of"]


def redis_url_of(section: str, url: SecretStr | None, url_env: str) -> str:
    """``<section>.redis_url``, else the variable named by ``<section>.redis_url_env``.

    Raises:
        ConfigError: neither is set (naming both ways to set it).
    """
    value = url.get_secret_value() if url is not None else os.environ.get(url_env, "")
    if not value:
        raise ConfigError(
            f"{section}.redis_url",
            f"backend 'redis' needs a URL: set {section}.redis_url or the variable {url_env}",
        )
    return value
