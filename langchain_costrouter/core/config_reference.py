"""The config's own documentation: its JSON Schema and the Markdown reference (``docs/config.md``).

Both are generated from :class:`~langchain_costrouter.core.config.CostRouterConfig`, so they
cannot drift from the code: every key with its type, default and ``description=``.
:func:`config_schema` is what ``costrouter config schema`` writes (editors complete and validate
``costrouter.yaml`` with it); :func:`config_reference` is ``docs/config.md`` (a test compares the
file with it; ``costrouter config reference -o docs/config.md`` rewrites it).
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterator
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from langchain_costrouter.core.config import CostRouterConfig

__all__ = ["SCHEMA_ID", "config_reference", "config_schema", "iter_keys", "undocumented_keys"]

SCHEMA_ID = "urn:langchain-costrouter:costrouter.yaml"

_INTRO = """\
# Configuration reference

One YAML file (`costrouter.yaml`) drives `ChatCostRouter.from_config(...)`, the LiteLLM router
(`litellm_hooks.build_router`) and proxy (`costrouter serve`). This page lists every key with its
type, default and meaning. It is generated from `CostRouterConfig`
(`langchain_costrouter/core/config.py`); a test fails when it is out of date. Regenerate it with
`costrouter config reference -o docs/config.md`.

- Check a file before using it: `costrouter config check costrouter.yaml` validates it and prints
  each tier's price and where it comes from, the routes, and warnings (unset key variables, unknown
  prices, options that have no effect).
- Let your editor complete and validate the file: `costrouter config schema -o costrouter.schema.json`,
  then put `# yaml-language-server: $schema=costrouter.schema.json` on the first line of the YAML
  (VS Code's YAML extension, or any editor using yaml-language-server).
- Prices are dollars per **million** tokens. Keys are never in the file: `api_key_env` names the
  environment variable that holds a tier's key, read when the client is built.
- Relative paths (`ledger.path`, `cache.dir`, `cache.policy`, a learned gate's `path`) are relative
  to the config file's folder.
- A bad value is a one-line `ConfigError` naming the key, e.g.
  `tiers[2].price.output: Input should be greater than or equal to 0`.
"""

_HOWTO = """\
## Prices: where a tier's price comes from

A deployment's price is, in order: its own `price:`; else `price_overrides` under its model string
(`openai/gpt-4o`) or the name without the provider prefix (`gpt-4o`); else LiteLLM's bundled price
map (read from the installed `litellm` package, offline). A model none of them knows raises
`UnknownModelPriceError` at start-up, never a silent $0. `price_overrides` also prices models that
are not tiers (a judge or compression model named by its model string, an alternative baseline):

```yaml
price_overrides:
  openai/gpt-4o: {input: 2.50, output: 10.00, cache_read: 1.25}
  my-finetune: {input: 0.30, output: 1.20}
```

`costrouter config check` prints the price and source of every tier.

## A learned gate from your own graded traffic

`costrouter calibrate --data graded.csv --cheap MODEL --premium MODEL --target-quality 0.95 -o gate.json`
fits a gate on a CSV with one row per request: `prompt`, and for each model a column named after
the model (the answer's grade: True/False or a score in [0, 1]) and `<model>_response` (the answer
text). Use the file on the tier whose answers it judges; the calibrated threshold applies unless
`threshold` is set:

```yaml
tiers:
  - name: cheap
    model: openai/gpt-4o-mini
    gate: {type: learned, path: gate.json}
  - name: premium
    model: openai/gpt-4o
```

## The input of `costrouter batch`

UTF-8 JSON Lines, one question per line: an object with a `question` string and an optional `id`
(a string or an integer, unique), or a bare JSON string (blank lines are skipped; anything else
is an error naming the line):

```
{"id": "q1", "question": "What is the capital of Peru?"}
"How many legs does a spider have?"
```

`costrouter batch --data questions.jsonl -o answers.jsonl -c costrouter.yaml` answers them on
`batching.model` (else the first tier), `batching.max_batch` per call, and writes one line per
question: `id`, `question`, `answer`, `error`, `attempts`, `cost_usd`.
"""


def config_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``costrouter.yaml``, as ``costrouter config schema`` writes it."""
    schema = CostRouterConfig.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "costrouter.yaml",
    }


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The config classes an annotation refers to (through Optional, tuple, dict)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models(arg)]


def _type_name(annotation: Any) -> str:  # noqa: PLR0911 - one return per kind of annotation
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is Literal:
        return " \\| ".join(json.dumps(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        parts = [_type_name(a) for a in args if a is not type(None)]
        return " \\| ".join(parts) + (" \\| null" if type(None) in args else "")
    if origin is tuple:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"map of {_type_name(args[0])} to {_type_name(args[1])}"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return _SECTION_NAMES.get(annotation.__name__, "section")
        if issubclass(annotation, SecretStr):
            return "secret string"
        return {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "dict": "mapping"}.get(
            annotation.__name__, annotation.__name__
        )
    return "any" if annotation is Any else str(annotation)


_SECTION_NAMES = {
    "TierSpec": "deployment",
    "GateSpec": "gate",
    "PriceSpec": "price",
    "RouteSpec": "route",
}


def _bounds(info: FieldInfo) -> str:
    """The numeric bounds of a field (``>= 0, <= 1``), wherever its annotation carries them."""
    metas: list[Any] = list(info.metadata)

    def walk(annotation: Any) -> None:
        if get_origin(annotation) is typing.Annotated:
            base, *extra = get_args(annotation)
            for m in extra:
                metas.extend(m.metadata if isinstance(m, FieldInfo) else [m])
            walk(base)
        else:
            for arg in get_args(annotation):
                walk(arg)

    walk(info.annotation)
    out = []
    for m in metas:
        for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            v = getattr(m, attr, None)
            if v is not None:
                out.append(f"{sym} {v:,g}" if isinstance(v, float) else f"{sym} {v:,}")
    return ", ".join(dict.fromkeys(out))


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
    elif info.default is PydanticUndefined:
        return "required"
    else:
        value = info.default
    if isinstance(value, BaseModel):
        return "see below"
    if value is None:
        return "null"
    return f"`{json.dumps(list(value) if isinstance(value, tuple) else value)}`"


def _description(info: FieldInfo) -> str:
    text = info.description or ""
    if not text:
        for m in info.metadata:
            text = getattr(m, "description", None) or text
    return text


def iter_keys(
    model: type[BaseModel] = CostRouterConfig, prefix: str = ""
) -> Iterator[tuple[str, type[BaseModel], str, FieldInfo]]:
    """Every key of the config as (path, owning class, field name, field info), depth first."""
    seen: set[tuple[str, str]] = set()
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        yield key, model, name, info
        for sub in _models(info.annotation):
            listy = get_origin(info.annotation) is tuple or any(
                get_origin(a) is tuple for a in get_args(info.annotation)
            )
            dicty = get_origin(info.annotation) is dict
            sub_prefix = f"{key}[]." if listy else f"{key}.<model>." if dicty else f"{key}."
            if (sub.__name__, sub_prefix) in seen or sub is model:
                continue
            seen.add((sub.__name__, sub_prefix))
            yield from iter_keys(sub, sub_prefix)


def undocumented_keys() -> list[str]:
    """Keys without a ``description=`` (the reference test wants none)."""
    return [key for key, _cls, _name, info in iter_keys() if not _description(info)]


def _sections() -> list[tuple[type[BaseModel], list[str]]]:
    """Config classes in order of first appearance, with the paths where each appears."""
    out: dict[type[BaseModel], list[str]] = {CostRouterConfig: [""]}
    for key, _cls, _name, info in iter_keys():
        for sub in _models(info.annotation):
            listy = "list of" in _type_name(info.annotation)
            dicty = get_origin(info.annotation) is dict
            path = f"{key}[]" if listy else f"{key}.<model>" if dicty else key
            paths = out.setdefault(sub, [])
            if path not in paths and sub is not _cls_of(key):
                paths.append(path)
    return list(out.items())


def _cls_of(key: str) -> type[BaseModel] | None:
    for k, cls, _n, _i in iter_keys():
        if k == key:
            return cls
    return None


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def config_reference() -> str:
    """The Markdown reference of every config key (the content of ``docs/config.md``)."""
    lines = [_INTRO]
    for cls, paths in _sections():
        title = "Top level" if cls is CostRouterConfig else ", ".join(f"`{p}`" for p in paths)
        lines.append(f"## {title}\n")
        doc = (cls.__doc__ or "").strip()
        if doc:
            lines.append(_plain(doc) + "\n")
        lines.append("| key | type | default | description |")
        lines.append("|---|---|---|---|")
        for name, info in cls.model_fields.items():
            kind = _type_name(info.annotation)
            bounds = _bounds(info)
            if bounds:
                kind += f" ({bounds})"
            lines.append(f"| `{name}` | {kind} | {_default(info)} | {_cell(_description(info))} |")
        lines.append("")
    lines.append(_HOWTO)
    return "\n".join(lines).rstrip() + "\n"


def _plain(doc: str) -> str:
    """A class docstring as Markdown: reST literals become code spans."""
    import re

    text = doc.replace("``", "`")
    text = re.sub(r":(?:class|func|data|meth|mod):`~?([^`]+)`", lambda m: f"`{m.group(1).split('.')[-1]}`", text)
    return "\n".join(line.strip() if not line.startswith("    - ") else line[4:] for line in text.splitlines())
