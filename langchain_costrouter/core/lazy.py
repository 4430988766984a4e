"""Lazy package attributes: a name is imported from its module on first access (PEP 562)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(
    package: str,
    locations: Mapping[str, str],
    namespace: dict[str, Any],
    exported: Iterable[str],
    *,
    needs: Mapping[str, str] | None = None,
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` that import ``locations[name]`` on first use.

    Args:
        package: The package's ``__name__`` (for the error message).
        locations: Attribute name -> module that defines it.
        namespace: The package's ``globals()``; a loaded value is cached there.
        exported: The package's ``__all__``.
        needs: Top-level module -> the extra that installs it: importing a name whose module
            needs a missing one raises an ``ImportError`` naming the extra.
    """
    names = sorted(exported)

    def getattr_(name: str) -> Any:
        module = locations.get(name)
        if module is None:
            msg = f"module {package!r} has no attribute {name!r}"
            raise AttributeError(msg)
        try:
            value = getattr(importlib.import_module(module), name)
        except ModuleNotFoundError as exc:
            missing = (exc.name or "").split(".", 1)[0]
            if needs and missing in needs:
                msg = f"{package}.{name} needs {missing!r}: pip install 'langchain-costrouter[{needs[missing]}]'"
                raise ImportError(msg, name=missing) from None
            raise
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted({*namespace, *names})

    return getattr_, dir_
