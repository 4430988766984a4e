"""The LiteLLM proxy configuration rendered from the same ``costrouter.yaml``.

``costrouter litellm-config`` writes it; ``costrouter serve`` writes it and starts the real
``litellm`` proxy on it. The YAML holds:

- ``model_list``: the deployments of :func:`litellm_hooks.router.build_model_list`, with API
  keys as ``os.environ/VAR`` references (no secret is ever written);
- ``router_settings``: the same fallbacks and retry policy as the SDK router;
- ``litellm_settings.callbacks``: ``litellm_hooks.proxy_callbacks.routing`` / ``.gate`` /
  ``.cost_logger``, which the proxy imports from the installed package (from any folder) and
  which build their shared runtime from ``COSTROUTER_CONFIG``;
- ``general_settings.master_key``: ``os.environ/LITELLM_MASTER_KEY`` by default (requests
  without it are refused);
- ``environment_variables``: ``COSTROUTER_CONFIG`` (absolute path of the costrouter config).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from langchain_costrouter.core.config import CostRouterConfig
from litellm_hooks.router import DEFAULT_ENTRY_MODEL, DEFAULT_RETRIES, build_model_list, router_settings

__all__ = [
    "DEFAULT_MASTER_KEY_ENV",
    "PROXY_CALLBACKS",
    "render_proxy_config",
    "render_proxy_yaml",
    "write_proxy_config",
]

DEFAULT_MASTER_KEY_ENV = "LITELLM_MASTER_KEY"
PROXY_CALLBACKS = (
    "litellm_hooks.proxy_callbacks.routing",
    "litellm_hooks.proxy_callbacks.gate",
    "litellm_hooks.proxy_callbacks.cost_logger",
)


def render_proxy_config(
    config: CostRouterConfig,
    *,
    config_path: str | os.PathLike[str] | None = None,
    hooks: bool = True,
    master_key_env: str | None = DEFAULT_MASTER_KEY_ENV,
    entry_model: str = DEFAULT_ENTRY_MODEL,
    retries: int = DEFAULT_RETRIES,
) -> dict[str, Any]:
    """The proxy configuration as a mapping.

    Args:
        config: The costrouter configuration.
        config_path: Where it was loaded from (written as ``COSTROUTER_CONFIG``; required
            with ``hooks``, since the proxy process loads the hooks from it).
        hooks: Install the costrouter callbacks (``False``: the plain proxy, for comparisons).
        master_key_env: Environment variable holding the proxy's master key; ``None`` leaves
            the proxy open (not recommended).
        entry_model: The model name that asks for task routing.
        retries: Retries of rate limits, 5xx and timeouts on the same tier.

    Raises:
        ValueError: ``hooks`` without ``config_path``.
    """
    settings = router_settings(config, retries=retries, entry_model=entry_model)
    if not hooks:
        settings.pop("cache_responses", None)  # the cascade cache is installed by the hooks
    out: dict[str, Any] = {
        "model_list": build_model_list(config, secrets=False, entry_model=entry_model),
        "router_settings": settings,
        "litellm_settings": {"drop_params": False},
    }
    general: dict[str, Any] = {}
    if master_key_env:
        general["master_key"] = f"os.environ/{master_key_env}"
    if general:
        out["general_settings"] = general
    if hooks:
        if config_path is None:
            msg = "config_path is required when the proxy runs the costrouter hooks"
            raise ValueError(msg)
        out["litellm_settings"]["callbacks"] = list(PROXY_CALLBACKS)
        out["environment_variables"] = {
            "COSTROUTER_CONFIG": str(Path(config_path).resolve()),
            "COSTROUTER_ENTRY_MODEL": entry_model,
        }
    return out


def render_proxy_yaml(config: CostRouterConfig, **kwargs: Any) -> str:
    """:func:`render_proxy_config` as YAML text."""
    header = "# LiteLLM proxy config rendered by `costrouter litellm-config` (do not edit: re-render).\n"
    return header + yaml.safe_dump(render_proxy_config(config, **kwargs), sort_keys=False)


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
