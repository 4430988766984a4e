"""The one typed configuration: :class:`CostRouterConfig`.

It is the single source of truth for the LangChain model (``ChatCostRouter.from_config``) and
for the LiteLLM router and proxy (``litellm_hooks.build_router``, ``costrouter litellm-config``).
All models are frozen; a bad value raises :class:`ConfigError` naming the field path, e.g.
``tiers[2].price.output: Input should be greater than or equal to 0``.

Prices in the file are dollars per **million** tokens. Secrets are never stored in the file:
a tier names the environment variable that holds its key (``api_key_env``), read when the
client is built.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from langchain_costrouter.core.errors import ConfigError
from langchain_costrouter.core.pricing import ModelPrice

__all__ = [
    "BatchingConfig",
    "BudgetConfig",
    "CacheConfig",
    "CascadeConfig",
    "CompressionConfig",
    "CostRouterConfig",
    "GateSpec",
    "LedgerConfig",
    "PriceSpec",
    "RouteSpec",
    "RoutingConfig",
    "TierSpec",
    "format_loc",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


NonNeg = Annotated[float, Field(ge=0)]
Score = Annotated[float, Field(ge=0, le=1)]


class PriceSpec(_Frozen):
    """Dollars per million tokens."""

    input: NonNeg
    output: NonNeg
    cache_read: NonNeg | None = None
    cache_write: NonNeg | None = None
    reasoning: NonNeg | None = None

    def to_price(self, source: str = "override") -> ModelPrice:
        """The per-token :class:`ModelPrice`."""
        return ModelPrice.per_million(
            self.input,
            self.output,
            cache_read=self.cache_read,
            cache_write=self.cache_write,
            reasoning=self.reasoning,
            source=source,
        )


GateType = Literal[
    "none",
    "heuristic",
    "regex",
    "json_schema",
    "pydantic",
    "callable",
    "judge",
    "logprob",
    "learned",
]


class GateSpec(_Frozen):
    """A quality gate: an answer passes when its score is at least ``threshold``.

    Without ``threshold`` each kind uses its default (0.5; a learned gate its calibrated one).

    Fields beyond ``type`` and ``threshold`` belong to the gate kind:

    - ``heuristic``: ``min_chars``, ``min_overlap`` (seed-like length / word-overlap gate).
    - ``regex``: ``pattern`` (must match), ``forbid`` (must not match).
    - ``json_schema``: ``json_schema`` (a JSON Schema dict).
    - ``pydantic``: ``target`` (``"package.module:Model"``).
    - ``callable``: ``target`` (``"package.module:function"`` returning a bool or a 0-1 score).
    - ``judge``: ``judge_model`` (a tier or model name), ``prompt`` (optional template).
    - ``logprob``: ``aggregate`` (``mean`` or ``min``) of token probabilities.
    - ``learned``: ``path`` (a gate file written by ``costrouter calibrate``).
    """

    type: GateType = "heuristic"
    threshold: Score | None = Field(default=None, description="None: the gate kind's default")
    min_chars: int = Field(default=20, ge=0)
    min_overlap: Score = 0.0
    pattern: str | None = None
    forbid: str | None = None
    json_schema: dict[str, Any] | None = None
    target: str | None = None
    judge_model: str | None = None
    prompt: str | None = None
    aggregate: Literal["mean", "min"] = "mean"
    path: str | None = None
    all_of: tuple[GateSpec, ...] = ()

    @model_validator(mode="after")
    def _kind_fields(self) -> Self:
        need = {
            "regex": ("pattern", "forbid"),
            "json_schema": ("json_schema",),
            "pydantic": ("target",),
            "callable": ("target",),
            "judge": ("judge_model",),
            "learned": ("path",),
        }.get(self.type)
        if need and all(getattr(self, f) is None for f in need):
            msg = f"a {self.type!r} gate needs {' or '.join(need)}"
            raise ValueError(msg)
        if self.pattern is not None:
            _check_regex(self.pattern)
        if self.forbid is not None:
            _check_regex(self.forbid)
        if self.target is not None and ":" not in self.target:
            msg = f"target must look like 'package.module:name', got {self.target!r}"
            raise ValueError(msg)
        return self


def _check_regex(pattern: str) -> None:
    import re

    try:
        re.compile(pattern)
    except re.error as exc:
        msg = f"invalid regular expression {pattern!r}: {exc}"
        raise ValueError(msg) from exc


class TierSpec(_Frozen):
    """One model deployment: a rung of the escalation ladder or a specialist model."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    model: str = Field(min_length=1, description="LiteLLM model string, e.g. 'openai/gpt-4o-mini'")
    api_base: str | None = None
    api_key_env: str | None = Field(default=None, description="Environment variable holding the key")
    api_key: SecretStr | None = Field(default=None, description="Discouraged: prefer api_key_env")
    price: PriceSpec | None = None
    max_tokens: int = Field(default=1024, gt=0)
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int | None = Field(
        default=None,
        ge=0,
        le=10,
        description="Retries of this tier on rate limits, 5xx, timeouts and broken connections (default: "
        "cascade.retries)",
    )
    gate: GateSpec | None = None
    model_kwargs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("api_base")
    @classmethod
    def _base(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            msg = f"must be an http(s) URL, got {v!r}"
            raise ValueError(msg)
        return v

    def resolve_api_key(self) -> SecretStr | None:
        """The API key: ``api_key`` if set, else the variable named by ``api_key_env``."""
        if self.api_key is not None:
            return self.api_key
        if self.api_key_env:
            value = os.environ.get(self.api_key_env)
            return SecretStr(value) if value else None
        return None

    @property
    def provider_model(self) -> str:
        """The model name without the LiteLLM provider prefix (what an OpenAI endpoint sees)."""
        return self.model.split("/", 1)[1] if "/" in self.model else self.model


class RouteSpec(_Frozen):
    """A task type and where it starts.

    Exactly one of ``tier`` (start the default ladder at that tier) or ``model`` (start on a
    named deployment, then escalate to the ladder's more expensive tiers) is set.
    Matching: ``keywords`` / ``patterns`` / ``min_chars`` / ``max_chars`` for the rules router,
    ``examples`` for the embedding router.
    """

    name: str = Field(min_length=1)
    tier: str | None = None
    model: str | None = None
    keywords: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    min_chars: int | None = Field(default=None, ge=0)
    max_chars: int | None = Field(default=None, ge=0)
    examples: tuple[str, ...] = ()
    priority: int = 0

    @model_validator(mode="after")
    def _target(self) -> Self:
        if (self.tier is None) == (self.model is None):
            msg = "set exactly one of 'tier' or 'model'"
            raise ValueError(msg)
        for p in self.patterns:
            _check_regex(p)
        return self


class RoutingConfig(_Frozen):
    """How a request picks its task route."""

    type: Literal["none", "rules", "embedding"] = "none"
    default_route: str | None = None
    routes: tuple[RouteSpec, ...] = ()
    similarity_threshold: Score = 0.0
    encoder: str = "wordllama"

    @model_validator(mode="after")
    def _routes(self) -> Self:
        names = [r.name for r in self.routes]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            msg = f"duplicate route names: {sorted(dup)}"
            raise ValueError(msg)
        if self.default_route is not None and self.default_route not in names:
            msg = f"default_route {self.default_route!r} is not one of the routes {names}"
            raise ValueError(msg)
        if self.type != "none" and not self.routes:
            msg = f"routing type {self.type!r} needs at least one route"
            raise ValueError(msg)
        return self


class CascadeConfig(_Frozen):
    """Escalation behaviour."""

    on_exhausted: Literal["best", "raise"] = Field(
        default="best",
        description="When every tier fails: serve the best-scoring answer, flagged 'exhausted' (best), or raise "
        "CascadeExhaustedError (raise)",
    )
    buffer_streams: bool = Field(
        default=True,
        description="Streams of gated tiers that are not the last are buffered, gated and replayed only if they pass "
        "(both adapters, the LiteLLM proxy included); false streams the first tier directly (ungated)",
    )
    retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Retries on the same tier of rate limits, 5xx, timeouts and broken connections before "
        "escalating (a tier's max_retries overrides it); every attempt is a ledger record",
    )
    retry_backoff_s: NonNeg = Field(
        default=0.5,
        le=60,
        description="First retry delay in seconds, doubled at each retry (with jitter, at most 8 s; a provider's "
        "Retry-After wins); 0 retries at once",
    )
    escalate_on: tuple[
        Literal["rate_limit", "server", "timeout", "context_window", "refusal", "connection", "unknown"],
        ...,
    ] = ("rate_limit", "server", "timeout", "context_window", "refusal", "connection")


class BudgetConfig(_Frozen):
    """A dollar ceiling per request across the whole cascade."""

    per_request_usd: NonNeg | None = None
    on_exceeded: Literal["best", "raise"] = "best"


class LedgerConfig(_Frozen):
    """Where cost records go."""

    backend: Literal["sqlite", "memory", "none"] = "sqlite"
    path: str = "costrouter-ledger.sqlite"
    tenant: str = "default"


SemanticMode = Literal["off", "shadow", "auto", "on"]


class CacheConfig(_Frozen):
    """Exact and semantic response cache."""

    enabled: bool = False
    exact: bool = True
    semantic: SemanticMode = Field(
        default="on",
        description="Semantic level: off, shadow (find candidates and measure their false-hit rate "
        "against fresh answers, serve none), auto (serve while that rate's 95% upper bound is under "
        "max_false_hit_rate), on (serve what the guard accepts). true/false mean on/off.",
    )
    max_false_hit_rate: Score = Field(
        default=0.02, description="auto mode: serve semantic hits only while the shadow bound is at most this"
    )
    shadow_sample_rate: Score = Field(
        default=0.05,
        description="auto mode: share of accepted semantic candidates answered fresh anyway and "
        "compared (keeps the shadow bound current)",
    )
    min_shadow_observations: int = Field(
        default=100, ge=1, description="auto mode: shadow comparisons needed before semantic hits are served"
    )
    answer_agreement: Score = Field(
        default=0.8,
        description="Shadow comparisons without a verifier: the answers' embedding cosine at which a "
        "fresh and a stored answer agree (their numbers must also match)",
    )
    cross_encoder: str | None = Field(
        default=None,
        description="Local sentence-transformers CrossEncoder model path used as the cache verifier "
        "(needs the minilm extra)",
    )
    cross_encoder_threshold: Score = Field(
        default=0.5, description="Cross-encoder score at which a candidate is served"
    )
    judge_min_saving_ratio: NonNeg = Field(
        default=2.0,
        description="Ask the judge_model only when the cached answer's premium cost is at least this "
        "many times the judge call's estimated cost (0: always ask)",
    )
    dir: str = ".costrouter-cache"
    encoder: str = "wordllama"
    similarity_threshold: Score = 0.9
    judge_model: str | None = None
    judge_band: Score = 0.0
    ttl_s: float | None = Field(default=None, gt=0)
    max_size: int = Field(default=100_000, gt=0)
    namespace: str = "default"
    policy: str | None = Field(
        default=None, description="Guard policy JSON written by `costrouter calibrate-cache` (default: the shipped one)"
    )

    @field_validator("semantic", mode="before")
    @classmethod
    def _semantic_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return "on" if value else "off"
        return value


class CompressionConfig(_Frozen):
    """Prompt compression by a cheap model, only when it pays.

    ``prefix_cache_discount`` is the share of the input price a provider prefix-cache hit saves
    (0: take it from the target model's cache-read price). System prompts are never compressed;
    ``scope`` picks the user messages that may be (``last_user`` keeps earlier turns, which a
    provider may hold in its prefix cache, byte-stable).
    """

    enabled: bool = False
    model: str | None = Field(default=None, description="Tier or model name that compresses")
    min_tokens: int = Field(default=1000, ge=0)
    target_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.5
    prefix_cache_discount: Score = 0.0
    scope: Literal["last_user", "user"] = "last_user"
    protect_instructions: bool = True
    min_net_saving_usd: NonNeg = 0.0
    cache_size: int = Field(default=4096, ge=1)
    cache_path: str | None = Field(default=None, description="SQLite file of the compression cache")


class BatchingConfig(_Frozen):
    """Packing several independent questions into one call."""

    enabled: bool = False
    model: str | None = None
    max_batch: int = Field(default=10, ge=1, le=100)
    batch_api_discount: Score = 0.5
    max_attempts: int = Field(default=3, ge=1, le=10, description="Calls an item may take before it fails")
    max_tokens_per_item: int = Field(default=512, gt=0)


class CostRouterConfig(_Frozen):
    """Everything the router needs; load it with :meth:`from_yaml`.

    ``tiers`` is the escalation ladder, cheapest first; its last tier (or ``premium_tier``) is
    the always-premium baseline used for savings. ``models`` holds extra deployments that a
    route may start on (e.g. a translation model).
    """

    version: Literal[1] = 1
    tiers: tuple[TierSpec, ...] = Field(min_length=1)
    models: tuple[TierSpec, ...] = ()
    premium_tier: str | None = None
    routing: RoutingConfig = RoutingConfig()
    cascade: CascadeConfig = CascadeConfig()
    budget: BudgetConfig = BudgetConfig()
    ledger: LedgerConfig = LedgerConfig()
    cache: CacheConfig = CacheConfig()
    compression: CompressionConfig = CompressionConfig()
    batching: BatchingConfig = BatchingConfig()
    price_overrides: dict[str, PriceSpec] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references(self) -> Self:
        names = [t.name for t in (*self.tiers, *self.models)]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            msg = f"tier/model names must be unique, duplicated: {dup}"
            raise ValueError(msg)
        tier_names = [t.name for t in self.tiers]
        if self.premium_tier is not None and self.premium_tier not in tier_names:
            msg = f"premium_tier {self.premium_tier!r} is not one of the tiers {tier_names}"
            raise ValueError(msg)
        for i, route in enumerate(self.routing.routes):
            if route.tier is not None and route.tier not in tier_names:
                raise _LocError(
                    ("routing", "routes", i, "tier"),
                    f"unknown tier {route.tier!r}; tiers are {tier_names}",
                )
            if route.model is not None and route.model not in names:
                raise _LocError(
                    ("routing", "routes", i, "model"),
                    f"unknown model {route.model!r}; declare it under 'models' or 'tiers'",
                )
        for i, tier in enumerate((*self.tiers, *self.models)):
            gate = tier.gate
            if gate is not None and gate.type == "judge" and gate.judge_model not in names:
                section = "tiers" if i < len(self.tiers) else "models"
                idx = i if i < len(self.tiers) else i - len(self.tiers)
                raise _LocError(
                    (section, idx, "gate", "judge_model"),
                    f"unknown judge model {gate.judge_model!r}; known: {names}",
                )
        for section, ref in (("compression", self.compression.model), ("batching", self.batching.model)):
            if ref is not None and ref not in names:
                raise _LocError((section, "model"), f"unknown model {ref!r}; known: {names}")
        return self

    # ----------------------------------------------------------------- lookups
    @property
    def premium(self) -> TierSpec:
        """The always-premium baseline tier."""
        if self.premium_tier is None:
            return self.tiers[-1]
        return self.deployment(self.premium_tier)

    def deployment(self, name: str) -> TierSpec:
        """The tier or extra model called ``name``."""
        for t in (*self.tiers, *self.models):
            if t.name == name:
                return t
        msg = f"unknown tier or model {name!r}"
        raise KeyError(msg)

    def price_overrides_map(self) -> dict[str, ModelPrice]:
        """Every configured price, keyed by LiteLLM model string and by provider model name."""
        out: dict[str, ModelPrice] = {
            m: p.to_price(f"config:price_overrides.{m}") for m, p in self.price_overrides.items()
        }
        for t in (*self.tiers, *self.models):
            if t.price is not None:
                out[t.model] = t.price.to_price(f"config:{t.name}.price")
        return out

    # ----------------------------------------------------------------- loading
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base_dir: Path | None = None) -> CostRouterConfig:
        """Validates a mapping; relative paths (gates, ledger, cache) resolve against ``base_dir``.

        Raises:
            ConfigError: naming the first invalid field's path and why.
        """
        if not isinstance(data, Mapping):
            raise ConfigError("", f"the configuration must be a mapping, got {type(data).__name__}")
        try:
            cfg = cls.model_validate(dict(data))
        except ValidationError as exc:
            err = exc.errors()[0]
            ctx_err = (err.get("ctx") or {}).get("error")
            if isinstance(ctx_err, _LocError):
                raise ConfigError(format_loc(ctx_err.loc), ctx_err.reason) from None
            msg = err["msg"].removeprefix("Value error, ")
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            extra = f" ({len(exc.errors()) - 1} more error(s))" if len(exc.errors()) > 1 else ""
            raise ConfigError(format_loc(loc), msg + extra) from None
        return cfg.resolve_paths(base_dir) if base_dir is not None else cfg

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> CostRouterConfig:
        """Loads and validates a YAML file.

        Raises:
            ConfigError: the file is missing, is not YAML, or holds an invalid field.
        """
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError("", f"cannot read config file {p}: {exc.strerror or exc}") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError("", f"{p} is not valid YAML: {exc}") from None
        return cls.from_dict(data or {}, base_dir=p.resolve().parent)

    @classmethod
    def load(cls, source: str | os.PathLike[str] | CostRouterConfig | Mapping[str, Any]) -> CostRouterConfig:
        """A config from a YAML path, a mapping or a config object (what every adapter accepts).

        Raises:
            ConfigError: the source cannot be read or holds an invalid field.
        """
        if isinstance(source, CostRouterConfig):
            return source
        if isinstance(source, str | os.PathLike):
            return cls.from_yaml(source)
        if isinstance(source, Mapping):
            return cls.from_dict(source)
        raise ConfigError("", f"expected a YAML path, a mapping or a CostRouterConfig, got {type(source).__name__}")

    def resolve_paths(self, base_dir: Path) -> CostRouterConfig:
        """A copy whose relative file paths are made absolute against ``base_dir``."""

        def absolute(value: str) -> str:
            return value if Path(value).is_absolute() else str((base_dir / value).resolve())

        def fix_gate(g: GateSpec | None) -> GateSpec | None:
            if g is None:
                return None
            upd: dict[str, Any] = {"all_of": tuple(fix_gate(s) for s in g.all_of)}
            if g.path:
                upd["path"] = absolute(g.path)
            return g.model_copy(update=upd)

        def fix_tiers(tiers: Sequence[TierSpec]) -> tuple[TierSpec, ...]:
            return tuple(t.model_copy(update={"gate": fix_gate(t.gate)}) for t in tiers)

        update: dict[str, Any] = {
            "tiers": fix_tiers(self.tiers),
            "models": fix_tiers(self.models),
            "cache": self.cache.model_copy(
                update={"dir": absolute(self.cache.dir)}
                | ({"policy": absolute(self.cache.policy)} if self.cache.policy else {})
            ),
        }
        if self.ledger.backend == "sqlite":
            update["ledger"] = self.ledger.model_copy(update={"path": absolute(self.ledger.path)})
        return self.model_copy(update=update)

    def to_yaml(self) -> str:
        """Renders the config as YAML (secrets masked)."""
        data = self.model_dump(mode="json", exclude_defaults=True)
        return yaml.safe_dump(data, sort_keys=False)


class _LocError(ValueError):
    """A validation error raised from a model validator with an exact field path."""

    def __init__(self, loc: tuple[str | int, ...], reason: str) -> None:
        self.loc = loc
        self.reason = reason
        super().__init__(reason)


def format_loc(loc: Sequence[str | int]) -> str:
    """Renders a pydantic location as ``tiers[2].price.output``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
