"""The objects the LiteLLM proxy's ``litellm_settings.callbacks`` entries point at.

The rendered proxy YAML lists ``litellm_hooks.proxy_callbacks.routing``, ``.gate`` and
``.cost_logger``. The proxy imports this module (from the installed package, from any folder)
and reads those attributes; they are built on first access from the configuration named by
``$COSTROUTER_CONFIG`` (set by ``costrouter serve`` and by the YAML's
``environment_variables``), once per process, so the three callbacks share one runtime even
if the proxy loads this module more than once.
"""

from __future__ import annotations

from typing import Any

# ``gate``, ``routing`` and ``cost_logger`` are built on access by ``__getattr__``.
__all__: list[str] = []

_NAMES = {"gate": "gate", "routing": "routing", "cost_logger": "cost_logger"}


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        from litellm_hooks.callbacks import proxy_hooks

        return getattr(proxy_hooks(), _NAMES[name])
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
