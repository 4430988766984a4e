"""The one place ``litellm`` is imported from, with its offline defaults set first.

LiteLLM downloads its price map at import time unless ``LITELLM_LOCAL_MODEL_COST_MAP`` is set;
this module sets it (without overriding a value the user chose) before importing, so costs are
reproducible and nothing reaches the network. Every module of :mod:`litellm_hooks` that needs
LiteLLM at import time imports it from here.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm
from litellm.integrations.custom_guardrail import CustomGuardrail
from litellm.integrations.custom_logger import CustomLogger

__all__ = ["CustomGuardrail", "CustomLogger", "install_callbacks", "litellm", "remove_callbacks"]


def install_callbacks(*callbacks: Any) -> None:
    """Adds callbacks to ``litellm.callbacks`` once each (identity), keeping the others."""
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
    for cb in callbacks:
        litellm.logging_callback_manager.remove_callback_from_all_lists(cb)
    litellm.callbacks = [c for c in litellm.callbacks if not any(c is cb for cb in callbacks)]
