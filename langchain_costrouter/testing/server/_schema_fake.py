"""Plausible JSON instances of a JSON schema, filled from the user's message.

Used for tool-call arguments and ``response_format`` answers. Values are deterministic:
integers and numbers take the numbers found in the message in order, strings take quoted
phrases, then capitalised phrases, then a snippet of the message; enums take their first value.
``$ref``/``$defs``, ``anyOf``/``oneOf``/``allOf``, nullable types, nested objects, arrays
(``minItems``/``maxItems``/``prefixItems``), numeric bounds and common string formats are
handled, so the instance validates against the schemas tools and structured output use.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, TypeGuard

__all__ = ["MessageHints", "fake_instance", "json_object_for"]

_NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w])")
_OPEN_QUOTES = "\"'\u201c\u2018\u00ab"
_CLOSE_QUOTES = "\"'\u201d\u2019\u00bb"
_QUOTED = re.compile(rf"(?:(?<=^)|(?<=[\s(\[{{:,=]))([{_OPEN_QUOTES}])(.+?)([{_CLOSE_QUOTES}])(?=$|[\s.,;:!?)\]}}])")
_WORD = re.compile(r"[\w][\w'\u2019-]*|[.!?]|,")
_SNIPPET_WORDS = 12
_MAX_DEPTH = 8
_FORMATS = {
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
    "hostname": "example.com",
}


def _capitalised_phrases(text: str) -> list[str]:
    """Runs of capitalised words not starting a sentence (``San Francisco, CA``, ``Pirate``)."""
    phrases: list[str] = []
    current: list[str] = []
    sentence_start = True
    pending_comma = False
    for tok in _WORD.findall(text):
        if tok in {".", "!", "?"}:
            if current:
                phrases.append(" ".join(current).replace(" ,", ","))
            current, sentence_start, pending_comma = [], True, False
            continue
        if tok == ",":
            pending_comma = bool(current)
            continue
        is_cap = tok[0].isupper() and tok != "I"
        if is_cap and not sentence_start:
            if current and pending_comma:
                current[-1] += ","
            current.append(tok)
        elif current:
            phrases.append(" ".join(current).rstrip(","))
            current = []
        sentence_start = False
        pending_comma = False
    if current:
        phrases.append(" ".join(current).rstrip(","))
    return phrases


class MessageHints:
    """Values taken from a user message, handed out in order."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.numbers: list[float] = [float(m.group(0).replace(",", "")) for m in _NUMBER.finditer(text)]
        quoted = [m.group(2).strip() for m in _QUOTED.finditer(text) if m.group(2).strip()]
        masked = _QUOTED.sub(" ", text)
        self.quoted = quoted
        self.strings: list[str] = quoted + [p for p in _capitalised_phrases(masked) if p not in quoted]
        words = text.split()
        self.snippet = " ".join(words[:_SNIPPET_WORDS]) or "example"
        self._num_i = 0
        self._str_i = 0

    def next_number(self) -> float | None:
        """The next number of the message, or ``None`` when used up."""
        if self._num_i < len(self.numbers):
            self._num_i += 1
            return self.numbers[self._num_i - 1]
        return None

    def next_string(self) -> str:
        """The next quoted/capitalised phrase, else a snippet of the message."""
        if self._str_i < len(self.strings):
            self._str_i += 1
            return self.strings[self._str_i - 1]
        return self.snippet


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 32:
        ref = str(schema["$ref"])
        node: Any = root
        if ref.startswith("#"):
            for part in ref.lstrip("#").split("/"):
                if part:
                    node = node.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(node, Mapping) else {}
        else:
            node = {}
        extra = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**node, **extra} if isinstance(node, Mapping) else extra
        seen += 1
    return schema


def _merge_all_of(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for sub in schema.get("allOf", []):
        part = _resolve(sub, root)
        for key, value in part.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = [*merged.get("required", []), *value]
            else:
                merged.setdefault(key, value)
    return merged


def _schema_type(schema: Mapping[str, Any]) -> str | None:
    t = schema.get("type")
    if isinstance(t, list):
        non_null = [x for x in t if x != "null"]
        return str(non_null[0]) if non_null else "null"
    if isinstance(t, str):
        return t
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    return None


def _is_num(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(schema: Mapping[str, Any], hints: MessageHints, *, integer: bool) -> int | float:
    value = hints.next_number()
    if value is None:
        default = schema.get("default")
        value = float(default) if _is_num(default) else 1.0
    if integer:
        value = float(round(value))
    lows: list[float] = []
    highs: list[float] = []
    if _is_num(schema.get("minimum")):
        lows.append(math.ceil(schema["minimum"]) if integer else float(schema["minimum"]))
    if _is_num(schema.get("exclusiveMinimum")):
        x = float(schema["exclusiveMinimum"])
        lows.append(math.floor(x) + 1 if integer else x + max(abs(x), 1.0) * 1e-9)
    if _is_num(schema.get("maximum")):
        highs.append(math.floor(schema["maximum"]) if integer else float(schema["maximum"]))
    if _is_num(schema.get("exclusiveMaximum")):
        x = float(schema["exclusiveMaximum"])
        highs.append(math.ceil(x) - 1 if integer else x - max(abs(x), 1.0) * 1e-9)
    if highs:
        value = min(value, *highs)
    if lows:
        value = max(value, *lows)
    multiple = schema.get("multipleOf")
    if _is_num(multiple) and multiple > 0 and not float(value / multiple).is_integer():
        up = math.ceil(value / multiple) * multiple
        value = up if not highs or up <= min(highs) else math.floor(value / multiple) * multiple
    if integer or float(value).is_integer():
        return int(value)
    return float(value)


def _string(schema: Mapping[str, Any], hints: MessageHints) -> str:
    fmt = schema.get("format")
    text = _FORMATS[fmt] if isinstance(fmt, str) and fmt in _FORMATS else hints.next_string()
    min_len = schema.get("minLength")
    max_len = schema.get("maxLength")
    if isinstance(min_len, int) and len(text) < min_len:
        text = text + "x" * (min_len - len(text))
    if isinstance(max_len, int) and len(text) > max_len:
        text = text[:max_len]
    return text


def _object(schema: Mapping[str, Any], root: Mapping[str, Any], hints: MessageHints, depth: int) -> dict[str, Any]:
    props = schema.get("properties") or {}
    required = list(schema.get("required") or [])
    out: dict[str, Any] = {}
    for name, sub in props.items():
        if depth >= _MAX_DEPTH and name not in required:
            continue
        out[name] = _instance(sub if isinstance(sub, Mapping) else {}, root, hints, depth + 1)
    for name in required:
        if name not in out:
            extra = schema.get("additionalProperties")
            out[name] = _instance(extra if isinstance(extra, Mapping) else {}, root, hints, depth + 1)
    return out


def _array(schema: Mapping[str, Any], root: Mapping[str, Any], hints: MessageHints, depth: int) -> list[Any]:
    prefix = schema.get("prefixItems")
    if isinstance(prefix, list) and prefix:
        return [_instance(s, root, hints, depth + 1) for s in prefix]
    min_items = schema.get("minItems")
    max_items = schema.get("maxItems")
    count = max(min_items if isinstance(min_items, int) else 0, 0 if depth >= _MAX_DEPTH else 1)
    if isinstance(max_items, int):
        count = min(count, max_items)
    items = schema.get("items")
    item_schema = items if isinstance(items, Mapping) else {}
    return [_instance(item_schema, root, hints, depth + 1) for _ in range(count)]


def _instance(schema: Mapping[str, Any], root: Mapping[str, Any], hints: MessageHints, depth: int) -> Any:
    schema = _resolve(schema, root)
    if "allOf" in schema:
        schema = _merge_all_of(schema, root)
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        non_null = [v for v in enum if v is not None]
        return non_null[0] if non_null else None
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            resolved = [_resolve(o, root) for o in options]
            usable = [o for o in resolved if _schema_type(o) != "null"] or resolved
            base = {k: v for k, v in schema.items() if k not in {"anyOf", "oneOf"}}
            return _instance({**base, **usable[0]}, root, hints, depth)
    kind = _schema_type(schema)
    if kind == "object":
        return _object(schema, root, hints, depth)
    if kind == "array":
        return _array(schema, root, hints, depth)
    return _scalar(kind, schema, hints)


def _scalar(kind: str | None, schema: Mapping[str, Any], hints: MessageHints) -> Any:
    if kind in {"integer", "number"}:
        return _number(schema, hints, integer=kind == "integer")
    if kind in {"boolean", "null"}:
        return kind == "boolean" or None
    return _string(schema, hints)


def fake_instance(schema: Mapping[str, Any], hints: MessageHints | str) -> Any:
    """A deterministic instance of ``schema`` filled from ``hints`` (or a message text)."""
    h = MessageHints(hints) if isinstance(hints, str) else hints
    return _instance(schema, schema, h, 0)


def json_object_for(text: str, fallback_answer: str) -> dict[str, Any]:
    """A JSON object for ``response_format: json_object``.

    When the message quotes the keys it wants (``a JSON with 'setup' and 'punchline' keys``)
    those keys are used, with plausible string values; otherwise ``{"answer": fallback_answer}``.
    """
    hints = MessageHints(text)
    keys = [q for q in hints.quoted if re.fullmatch(r"[\w-]{1,64}", q)]
    if not keys or "key" not in text.lower():
        return {"answer": fallback_answer}
    values = MessageHints(_QUOTED.sub(" ", text))
    return {k: values.next_string() for k in dict.fromkeys(keys)}
