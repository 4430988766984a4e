"""Optional dependencies: a feature that needs an extra says which one, in one line.

``pip install langchain-costrouter`` gives the LangChain model, the config, the ledger and the
callbacks; the rest comes with extras (``[litellm]``, ``[cache]``, ``[embeddings]``, ``[plots]``,
``[proxy]``, ``[postgres]``, ``[redis]``, ``[offline]``, ``[all]``; see the README).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from langchain_costrouter.core.errors import ConfigError

__all__ = ["require"]


def require(module: str, *, extra: str, feature: str) -> ModuleType:
    """Imports ``module``, or raises a one-line error naming the extra that installs it.

    Args:
        module: The module to import.
        extra: The package extra that provides it.
        feature: The config key or feature that needs it (the error's field).

    Raises:
        ConfigError: ``module`` is not installed.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = module.split(".", 1)[0]
        if exc.name is not None and exc.name.split(".", 1)[0] != top:
            raise  # the module exists but something it imports is broken: not ours to reword
        msg = f"needs the optional package {top!r}: pip install 'langchain-costrouter[{extra}]'"
        raise ConfigError(feature, msg) from None
