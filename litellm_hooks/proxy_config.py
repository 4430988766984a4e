"""The LiteLLM proxy configuration rendered from the same ``costrouter.yaml``.

``costrouter litellm-config`` writes it; ``costrouter serve`` writes it and starts the real
``litellm`` proxy on it. The YAML holds:

- ``model_list``: the cascade's entry points (:func:`litellm_hooks.router.build_model_list`):
  ``costrouter`` (task-routed) and one per tier and extra model, served by the cascade's custom
  provider; no API key is written (tiers read theirs from the environment when the proxy runs);
- ``router_settings``: no Router retries or fallbacks (the cascade retries and escalates);
- ``litellm_settings.custom_provider_map``: ``costrouter`` ->
  ``litellm_hooks.proxy_callbacks.handler``, and ``callbacks``: ``litellm_hooks.proxy_callbacks.headers``
  (the ``x-costrouter-*`` response headers); the proxy imports both from the installed package
  (from any folder); they build their runtime from ``COSTROUTER_CONFIG``;
- ``general_settings.master_key``: ``os.environ/LITELLM_MASTER_KEY`` by default, and
  ``custom_auth``: :mod:`litellm_hooks.proxy_auth` (requests without the master key get HTTP 401
  on every route, ``/routes`` included; ``--no-master-key`` leaves the proxy open);
- ``environment_variables``: ``COSTROUTER_CONFIG`` (absolute path of the costrouter config).

With shared backends (``ledger.backend: postgres``, ``budget.backend: redis``) the rendered
YAML starts with a comment naming them and the environment variables every replica needs
(:func:`shared_backends`); :func:`render_compose` renders a docker-compose file of N proxy
replicas on one Postgres and one Redis (docs/scale-out.md).

With ``hooks=False`` it renders the plain proxy over the same tiers (no cascade; the entry model
is the first tier), for comparisons.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from langchain_costrouter.core.config import CostRouterConfig
from litellm_hooks.proxy_auth import CUSTOM_AUTH
from litellm_hooks.router import DEFAULT_ENTRY_MODEL, build_model_list, router_settings, tier_model_list

__all__ = [
    "DEFAULT_MASTER_KEY_ENV",
    "PROXY_CALLBACKS",
    "PROXY_HANDLER",
    "render_compose",
    "render_proxy_config",
    "render_proxy_yaml",
    "shared_backends",
    "write_proxy_config",
]

DEFAULT_MASTER_KEY_ENV = "LITELLM_MASTER_KEY"
PROXY_HANDLER = "litellm_hooks.proxy_callbacks.handler"
PROXY_CALLBACKS = ("litellm_hooks.proxy_callbacks.headers",)


def render_proxy_config(
    config: CostRouterConfig,
    *,
    config_path: str | os.PathLike[str] | None = None,
    hooks: bool = True,
    master_key_env: str | None = DEFAULT_MASTER_KEY_ENV,
    entry_model: str = DEFAULT_ENTRY_MODEL,
) -> dict[str, Any]:
    """The proxy configuration as a mapping.

    Args:
        config: The costrouter configuration.
        config_path: Where it was loaded from (written as ``COSTROUTER_CONFIG``; required
            with ``hooks``, since the proxy process builds the cascade from it).
        hooks: Serve the cascade (``False``: the plain proxy over the tiers, for comparisons).
        master_key_env: Environment variable holding the proxy's master key; ``None`` leaves
            the proxy open (not recommended).
        entry_model: The model name that asks for task routing.

    Raises:
        ValueError: ``hooks`` without ``config_path``.
    """
    out: dict[str, Any]
    if hooks:
        if config_path is None:
            msg = "config_path is required when the proxy serves the cascade"
            raise ValueError(msg)
        out = {
            "model_list": build_model_list(config, entry_model=entry_model),
            "router_settings": router_settings(config),
            "litellm_settings": {
                "drop_params": False,
                "custom_provider_map": [{"provider": "costrouter", "custom_handler": PROXY_HANDLER}],
                "callbacks": list(PROXY_CALLBACKS),
            },
            "environment_variables": {
                "COSTROUTER_CONFIG": str(Path(config_path).resolve()),
                "COSTROUTER_ENTRY_MODEL": entry_model,
            },
        }
    else:
        tiers = tier_model_list(config, secrets=False)
        entry = {"model_name": entry_model, "litellm_params": dict(tiers[0]["litellm_params"])}
        out = {
            # the entry model answers from the first tier, so clients of the cascade work unchanged
            "model_list": [*tiers, entry] if entry_model not in {t["model_name"] for t in tiers} else tiers,
            "router_settings": {"num_retries": 0},
            "litellm_settings": {"drop_params": False},
        }
    if master_key_env:
        # LiteLLM's own check answers a wrong key with 400 "No connected db." and lets /routes
        # through; ours is the master key or 401 on every route (litellm_hooks.proxy_auth).
        out["general_settings"] = {"master_key": f"os.environ/{master_key_env}", "custom_auth": CUSTOM_AUTH}
    return out


def shared_backends(config: CostRouterConfig) -> dict[str, str]:
    """The shared backends ``config`` uses, as ``{what: environment variable holding its URL}``.

    Empty for the embedded default (SQLite ledger, local cache, in-process budgets). A URL
    set in the file itself (``ledger.url``, ``budget.redis_url``, ``cache.redis_url``) needs no variable.
    """
    out: dict[str, str] = {}
    if config.ledger.backend == "postgres" and config.ledger.url is None:
        out[f"ledger: postgres table {config.ledger.table}"] = config.ledger.url_env
    if (
        config.budget.backend == "redis"
        and (config.budget.tenants or config.budget.keys)
        and config.budget.redis_url is None
    ):
        out["budgets: redis"] = config.budget.redis_url_env
    if config.cache.enabled and config.cache.backend == "redis" and config.cache.redis_url is None:
        out[f"cache: redis prefix {config.cache.redis_prefix}"] = config.cache.redis_url_env
    return out


def render_proxy_yaml(config: CostRouterConfig, **kwargs: Any) -> str:
    """:func:`render_proxy_config` as YAML text."""
    header = "# LiteLLM proxy config rendered by `costrouter litellm-config` (do not edit: re-render).\n"
    for what, var in shared_backends(config).items():
        header += f"# shared backend, {what}: every replica needs ${var}\n"
    return header + yaml.safe_dump(render_proxy_config(config, **kwargs), sort_keys=False)


def render_compose(
    config: CostRouterConfig,
    *,
    replicas: int = 3,
    image: str = "langchain-costrouter:latest",
    config_file: str = "costrouter.yaml",
    master_key_env: str = DEFAULT_MASTER_KEY_ENV,
) -> dict[str, Any]:
    """A docker-compose file: ``replicas`` proxies (``costrouter serve``) on one Postgres and one Redis.

    Every proxy runs the same command on the same mounted ``costrouter.yaml``; the shared
    backends' URLs point at the ``postgres`` and ``redis`` services, and secrets stay
    ``${VAR}`` references filled from the host's environment (or an ``.env`` file).

    Raises:
        ValueError: ``replicas`` < 1.
    """
    if replicas < 1:
        msg = f"replicas must be at least 1, got {replicas}"
        raise ValueError(msg)
    env: dict[str, str] = {
        "COSTROUTER_CONFIG": f"/app/{config_file}",
        master_key_env: f"${{{master_key_env}}}",
    }
    if config.ledger.backend == "postgres" and config.ledger.url is None:
        env[config.ledger.url_env] = "postgresql://costrouter:${POSTGRES_PASSWORD}@postgres:5432/costrouter"
    if config.budget.backend == "redis" and config.budget.redis_url is None:
        env[config.budget.redis_url_env] = "redis://redis:6379/0"
    if config.cache.enabled and config.cache.backend == "redis" and config.cache.redis_url is None:
        env[config.cache.redis_url_env] = "redis://redis:6379/0"
    for spec in (*config.tiers, *config.models):
        if spec.api_key_env:
            env[spec.api_key_env] = f"${{{spec.api_key_env}}}"
    # In a container the proxy listens on the container's interface; the port mapping exposes it.
    command = ["costrouter", "serve", "--config", f"/app/{config_file}", "--host", "0.0.0.0", "--port", "4000"]  # noqa: S104
    command += ["--master-key-env", master_key_env, "--out", "/app/litellm-proxy.yaml"]
    services: dict[str, Any] = {
        "postgres": {
            "image": "postgres:15",
            "environment": {
                "POSTGRES_USER": "costrouter",
                "POSTGRES_PASSWORD": "${POSTGRES_PASSWORD}",
                "POSTGRES_DB": "costrouter",
            },
            "volumes": ["pgdata:/var/lib/postgresql/data"],
            "healthcheck": {"test": ["CMD", "pg_isready", "-U", "costrouter"], "interval": "5s", "retries": 10},
        },
        "redis": {
            # Settled budget spend lives only in Redis: keep it on disk.
            "image": "redis:7",
            "command": ["redis-server", "--appendonly", "yes", "--appendfsync", "everysec"],
            "volumes": ["redisdata:/data"],
            "healthcheck": {"test": ["CMD", "redis-cli", "ping"], "interval": "5s", "retries": 10},
        },
    }
    for i in range(1, replicas + 1):
        services[f"proxy-{i}"] = {
            "image": image,
            "command": list(command),
            "environment": dict(env),
            "volumes": [f"./{config_file}:/app/{config_file}:ro", f"outbox-{i}:/app/.costrouter-outbox"],
            "working_dir": "/app",
            "ports": [f"{4000 + i}:4000"],
            "depends_on": {"postgres": {"condition": "service_healthy"}, "redis": {"condition": "service_healthy"}},
        }
    volumes: dict[str, Any] = {"pgdata": {}, "redisdata": {}, **{f"outbox-{i}": {} for i in range(1, replicas + 1)}}
    return {"services": services, "volumes": volumes}


def write_proxy_config(
    config_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    **kwargs: Any,
) -> Path:
    """Loads ``config_path`` and writes the proxy YAML to ``out_path``; returns the path."""
    cfg = CostRouterConfig.from_yaml(config_path)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_proxy_yaml(cfg, config_path=config_path, **kwargs), encoding="utf-8")
    return out
