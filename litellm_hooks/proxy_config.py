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
- ``general_settings.master_key``: ``os.environ/LITELLM_MASTER_KEY`` by default (requests
  without it are refused);
- ``environment_variables``: ``COSTROUTER_CONFIG`` (absolute path of the costrouter config).

With ``hooks=False`` it renders the plain proxy over the same tiers (no cascade), for comparisons.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from langchain_costrouter.core.config import CostRouterConfig
from litellm_hooks.router import DEFAULT_ENTRY_MODEL, build_model_list, router_settings, tier_model_list

__all__ = [
    "DEFAULT_MASTER_KEY_ENV",
    "PROXY_CALLBACKS",
    "PROXY_HANDLER",
    "render_proxy_config",
    "render_proxy_yaml",
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
        out = {
            "model_list": tier_model_list(config, secrets=False),
            "router_settings": {"num_retries": 0},
            "litellm_settings": {"drop_params": False},
        }
    if master_key_env:
        out["general_settings"] = {"master_key": f"os.environ/{master_key_env}"}
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
