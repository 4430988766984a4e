"""The objects the LiteLLM proxy's YAML points at (``litellm_hooks.proxy_callbacks.<name>``).

The rendered proxy YAML lists ``handler`` in ``litellm_settings.custom_provider_map`` (the
cascade's custom provider) and ``headers`` in ``litellm_settings.callbacks``. The proxy imports
this module (from the installed package, from any folder) and reads those attributes; they are
built on first access from the configuration named by ``$COSTROUTER_CONFIG`` (set by
``costrouter serve`` and by the YAML's ``environment_variables``), once per process.
``general_settings.custom_auth`` names ``auth``: the master-key check of
:mod:`litellm_hooks.proxy_auth` (reading it also unmounts the admin UI's files).
"""

from __future__ import annotations

from typing import Any

# ``handler`` and ``headers`` are built on access by ``__getattr__``.
__all__: list[str] = []


def __getattr__(name: str) -> Any:
    if name == "auth":
        from litellm_hooks.proxy_auth import close_admin_pages, user_api_key_auth

        close_admin_pages()
        return user_api_key_auth
    if name == "handler":
        from litellm_hooks.handler import CascadeHandler
        from litellm_hooks.hooks import proxy_hooks

        proxy_hooks()  # registers the configuration the handler serves
        return CascadeHandler()
    if name == "headers":
        from litellm_hooks.hooks import proxy_hooks

        return proxy_hooks().headers
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
