r"""Scripted behaviour of the local server: what each model answers, how fast, and how it fails.

A :class:`Script` maps model names to :class:`ModelScript` objects. It can be written in Python
or loaded from a JSON/YAML file::

    strict: false                # unknown models: 404 model_not_found when true
    default: {echo: true}        # behaviour of models not listed (when not strict)
    models:
      cheap-model:
        confidence: 0.6          # per-token probability reported by logprobs
        latency_s: 0.01          # delay before the first byte
        token_delay_s: 0.0       # delay between streamed chunks
        reply: "I am not sure."  # fixed answer when no rule matches (else echo)
        rules:                   # first match on the last user message wins
          - {contains: "capital of France", reply: "Paris.", confidence: 0.95}
          - {regex: "(?i)weather in (\\w+)", reply: "Sunny."}
        faults:
          - {kind: "429", times: 1, retry_after: 1}
          - {kind: "timeout", delay_s: 5, after: 2, times: 1}

``{{user}}`` in a reply is replaced by the last user message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_costrouter.core.errors import ConfigError
from langchain_costrouter.core.yaml_load import load_yaml
from langchain_costrouter.testing.server._faults import FaultSpec, parse_fault_spec

__all__ = ["DEFAULT_CONFIDENCE", "ModelScript", "ReplyRule", "Script", "resolve_model_name"]

DEFAULT_CONFIDENCE = 0.9
USER_PLACEHOLDER = "{{user}}"


def resolve_model_name(model: str, known: Mapping[str, Any]) -> str | None:
    """The key of ``known`` for ``model``: exact, else without one leading ``provider/`` segment."""
    if model in known:
        return model
    if "/" in model:
        tail = model.split("/", 1)[1]
        if tail in known:
            return tail
    return None


@dataclass(frozen=True, slots=True)
class ReplyRule:
    """A reply chosen when the last user message matches (both matchers, when both are given).

    Attributes:
        reply: The answer (``{{user}}`` is replaced by the last user message).
        contains: Case-insensitive substring to look for.
        regex: Regular expression searched for (``re.search``).
        confidence: Per-token probability for logprobs, overriding the model's.
    """

    reply: str
    contains: str | None = None
    regex: str | None = None
    confidence: float | None = None
    _compiled: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.contains is None and self.regex is None:
            raise ConfigError("rules[].contains", "a rule needs `contains` or `regex`")
        if self.regex is not None:
            try:
                object.__setattr__(self, "_compiled", re.compile(self.regex))
            except re.error as exc:
                raise ConfigError("rules[].regex", f"invalid regular expression: {exc}") from exc
        _check_confidence(self.confidence, "rules[].confidence")

    def matches(self, text: str) -> bool:
        """Whether this rule applies to the user message ``text``."""
        if self.contains is not None and self.contains.lower() not in text.lower():
            return False
        return self._compiled is None or self._compiled.search(text) is not None


@dataclass(frozen=True, slots=True)
class ModelScript:
    """How one model behaves.

    Attributes:
        reply: Fixed answer when no rule matches; ``None`` echoes the last user message.
        rules: Replies chosen by the last user message; the first match wins.
        echo: Echo the last user message even when ``reply`` is set (rules still apply).
        confidence: Per-token probability reported by logprobs (0 < c <= 1).
        latency_s: Delay before answering (before the first streamed byte).
        token_delay_s: Delay between streamed chunks.
        faults: Deterministic faults, tried in order (see :class:`FaultSpec`).
        tool_calls: Answer with a tool call when tools are offered (else plain text).
        encoding: tiktoken encoding for usage; ``None`` picks it from the model name.
    """

    reply: str | None = None
    rules: tuple[ReplyRule, ...] = ()
    echo: bool = False
    confidence: float = DEFAULT_CONFIDENCE
    latency_s: float = 0.0
    token_delay_s: float = 0.0
    faults: tuple[FaultSpec, ...] = ()
    tool_calls: bool = True
    encoding: str | None = None

    def __post_init__(self) -> None:
        _check_confidence(self.confidence, "confidence")
        if self.latency_s < 0 or self.token_delay_s < 0:
            raise ConfigError("latency_s", "delays must be >= 0")

    def choose(self, user_text: str) -> tuple[str, float, bool]:
        """The answer to the last user message ``user_text``.

        Returns:
            The text, its confidence, and whether it was scripted (a rule or a fixed reply)
            rather than echoed.
        """
        for rule in self.rules:
            if rule.matches(user_text):
                conf = self.confidence if rule.confidence is None else rule.confidence
                return rule.reply.replace(USER_PLACEHOLDER, user_text), conf, True
        if self.reply is None or self.echo:
            return user_text, self.confidence, False
        return self.reply.replace(USER_PLACEHOLDER, user_text), self.confidence, True

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: str = "") -> ModelScript:
        """Builds a model script from its JSON/YAML form; errors name the field path."""
        if not isinstance(data, Mapping):
            raise ConfigError(path or "model", "expected a mapping")
        known = {
            "reply",
            "rules",
            "echo",
            "confidence",
            "latency_s",
            "token_delay_s",
            "faults",
            "tool_calls",
            "encoding",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(_join(path, unknown[0]), f"unknown field (expected one of {', '.join(sorted(known))})")
        rules = []
        for i, raw in enumerate(_seq(data.get("rules"), _join(path, "rules"))):
            rpath = f"{_join(path, 'rules')}[{i}]"
            if not isinstance(raw, Mapping) or not isinstance(raw.get("reply"), str):
                raise ConfigError(f"{rpath}.reply", "a rule is a mapping with a string `reply`")
            try:
                rules.append(
                    ReplyRule(
                        reply=raw["reply"],
                        contains=_opt_str(raw.get("contains"), f"{rpath}.contains"),
                        regex=_opt_str(raw.get("regex"), f"{rpath}.regex"),
                        confidence=_opt_float(raw.get("confidence"), f"{rpath}.confidence"),
                    )
                )
            except ConfigError as exc:
                raise ConfigError(f"{rpath}.{exc.field.rsplit('.', 1)[-1]}", exc.reason) from exc
        faults = tuple(
            parse_fault_spec(raw, f"{_join(path, 'faults')}[{i}]")
            for i, raw in enumerate(_seq(data.get("faults"), _join(path, "faults")))
        )
        try:
            return cls(
                reply=_opt_str(data.get("reply"), _join(path, "reply")),
                rules=tuple(rules),
                echo=bool(data.get("echo", False)),
                confidence=_opt_float(data.get("confidence"), _join(path, "confidence")) or DEFAULT_CONFIDENCE,
                latency_s=_opt_float(data.get("latency_s"), _join(path, "latency_s")) or 0.0,
                token_delay_s=_opt_float(data.get("token_delay_s"), _join(path, "token_delay_s")) or 0.0,
                faults=faults,
                tool_calls=bool(data.get("tool_calls", True)),
                encoding=_opt_str(data.get("encoding"), _join(path, "encoding")),
            )
        except ConfigError as exc:
            if exc.field.startswith(path):
                raise
            raise ConfigError(_join(path, exc.field), exc.reason) from exc


@dataclass(frozen=True, slots=True)
class Script:
    """Behaviour of every model served.

    Attributes:
        models: Model name -> behaviour. A request for ``provider/name`` uses ``name`` when the
            full name is not listed.
        default: Behaviour of unlisted models (echo by default).
        strict: Answer unlisted models with 404 ``model_not_found`` instead of ``default``.
        system_fingerprint: Reported in every response.
    """

    models: Mapping[str, ModelScript] = field(default_factory=dict)
    default: ModelScript = field(default_factory=ModelScript)
    strict: bool = False
    system_fingerprint: str = "fp_costrouter_local"

    def model(self, name: str) -> ModelScript | None:
        """The behaviour of ``name``; ``None`` when unknown and the script is strict."""
        key = resolve_model_name(name, self.models)
        if key is not None:
            return self.models[key]
        return None if self.strict else self.default

    def model_names(self) -> list[str]:
        """Names listed by ``GET /v1/models``."""
        return list(self.models)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Script:
        """Builds a script from its JSON/YAML form.

        Raises:
            ConfigError: A field is invalid; ``field`` is its dotted path.
        """
        if not isinstance(data, Mapping):
            raise ConfigError("", "a script is a mapping with `models`, `default`, `strict`")
        unknown = sorted(set(data) - {"models", "default", "strict", "system_fingerprint"})
        if unknown:
            raise ConfigError(unknown[0], "unknown field (expected models, default, strict, system_fingerprint)")
        raw_models = data.get("models") or {}
        if not isinstance(raw_models, Mapping):
            raise ConfigError("models", "expected a mapping of model name -> behaviour")
        models = {str(k): ModelScript.from_dict(v or {}, f"models.{k}") for k, v in raw_models.items()}
        default = ModelScript.from_dict(data.get("default") or {}, "default")
        fingerprint = data.get("system_fingerprint", "fp_costrouter_local")
        return cls(
            models=models, default=default, strict=bool(data.get("strict", False)), system_fingerprint=str(fingerprint)
        )

    @classmethod
    def from_file(cls, path: str | Path) -> Script:
        """Loads a script from a ``.json`` or ``.yaml``/``.yml`` file."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError("script", f"cannot read {p}: {exc}") from exc
        if p.suffix.lower() != ".json":
            try:
                data = load_yaml(text, source=str(p))  # a duplicate key is an error too
            except ConfigError as exc:
                raise ConfigError("script", str(exc)) from None
            return cls.from_dict(data or {})
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError("script", f"{p} is not valid JSON: {exc}") from exc
        return cls.from_dict(data or {})


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _seq(value: Any, path: str) -> Sequence[Any]:
    if value is None:
        return ()
    if isinstance(value, Sequence) and not isinstance(value, str):
        return value
    raise ConfigError(path, "expected a list")


def _opt_str(value: Any, path: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ConfigError(path, f"expected a string, got {type(value).__name__}")


def _opt_float(value: Any, path: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(path, f"expected a number, got {value!r}")
    return float(value)


def _check_confidence(value: float | None, path: str) -> None:
    if value is not None and not 0.0 < value <= 1.0:
        raise ConfigError(path, f"confidence must be in (0, 1], got {value}")
