"""Installing and removing LiteLLM callbacks.

Nothing here writes the environment: set ``LITELLM_LOCAL_MODEL_COST_MAP=True`` yourself before
importing LiteLLM if it must not fetch its price map (the ``costrouter`` CLI, the proxy it starts,
the tests and the notebooks do). The cascade's prices never come from that map anyway: the core
reads LiteLLM's bundled map as a file, plus the config's overrides.
"""

from __future__ import annotations

from typing import Any

__all__ = ["install_callbacks", "remove_callbacks"]


def install_callbacks(*callbacks: Any) -> None:
    """Adds callbacks to ``litellm.callbacks`` once each (identity), keeping the others."""
    import litellm

    current = list(litellm.callbacks)
    for cb in callbacks:
        if not any(existing is cb for existing in current):
            current.append(cb)
    litellm.callbacks = current


def remove_callbacks(*callbacks: Any) -> None:
    """Removes callbacks from ``litellm.callbacks`` and every list LiteLLM promoted them into.

    LiteLLM copies ``litellm.callbacks`` into its success/failure lists on the first call and
    de-duplicates loggers by class and public attributes: a stale copy left there would keep
    receiving the events of a newer instance.
    """
    import litellm

    for cb in callbacks:
        litellm.logging_callback_manager.remove_callback_from_all_lists(cb)
    litellm.callbacks = [c for c in litellm.callbacks if not any(c is cb for cb in callbacks)]
