"""Reading YAML strictly: a key given twice in one mapping is an error, never a silent override.

PyYAML keeps the last of two equal keys, so a second ``ledger:`` block further down a config
silently replaces the first. :func:`load_yaml` refuses it and names the key and both lines.
Merge keys (``<<: *defaults``) still work: a key set next to a merge overrides the merged one,
as YAML intends.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node

from langchain_costrouter.core.errors import ConfigError

__all__ = ["load_yaml"]

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that rejects a key repeated within one mapping."""

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            self._check_duplicates(node)
        return super().construct_mapping(node, deep=deep)  # type: ignore[arg-type]

    def _check_duplicates(self, node: MappingNode) -> None:
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                continue  # PyYAML itself reports an unhashable key
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _DuplicateKeyError(key, seen[key], line)
            seen[key] = line


class _DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key: Any, first: int, second: int) -> None:
        self.key = key
        self.first = first
        self.second = second
        super().__init__(f"duplicate key {key!r}")


def load_yaml(text: str, *, source: str = "<string>") -> Any:
    """Parses one YAML document safely, refusing duplicate keys.

    Args:
        text: The YAML text.
        source: How to name the text in errors (a file path).

    Returns:
        The parsed document (``None`` for an empty one).

    Raises:
        ConfigError: The text is not YAML, or a mapping repeats a key (named with its lines).
    """
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKeyError as exc:
        msg = (
            f"key {exc.key!r} is given twice in one mapping of {source} (lines {exc.first} and {exc.second}); keep one"
        )
        raise ConfigError(str(exc.key), msg) from None
    except yaml.YAMLError as exc:
        raise ConfigError("", f"{source} is not valid YAML: {' '.join(str(exc).split())}") from None
    except (RecursionError, ValueError, OverflowError, TypeError) as exc:
        # PyYAML's own constructors raise these on some malformed scalars (e.g. a bad timestamp).
        raise ConfigError("", f"{source} is not valid YAML: {type(exc).__name__}: {exc}") from None
