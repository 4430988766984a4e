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
import re
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
from langchain_costrouter.core.yaml_load import load_yaml

__all__ = [
    "BatchingConfig",
    "BudgetConfig",
    "CacheConfig",
    "CascadeConfig",
    "CompressionConfig",
    "CostRouterConfig",
    "GateSpec",
    "LedgerConfig",
    "MonitorConfig",
    "PriceSpec",
    "RouteSpec",
    "RoutingConfig",
    "SpendLimits",
    "TierSpec",
    "format_loc",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


NonNeg = Annotated[float, Field(ge=0)]
# No real model costs more than this per million tokens; a larger figure is a typo (or 1e308).
MAX_PRICE_PER_MTOK = 10_000.0
Price = Annotated[float, Field(ge=0, le=MAX_PRICE_PER_MTOK, allow_inf_nan=False)]
Score = Annotated[float, Field(ge=0, le=1)]


class PriceSpec(_Frozen):
    """Dollars per million tokens."""

    input: Price = Field(description="Dollars per million uncached input (prompt) tokens")
    output: Price = Field(description="Dollars per million output (completion) tokens")
    cache_read: Price | None = Field(
        default=None, description="Dollars per million input tokens served from the provider's cache (default: input)"
    )
    cache_write: Price | None = Field(
        default=None, description="Dollars per million input tokens written to the provider's cache (default: input)"
    )
    reasoning: Price | None = Field(default=None, description="Dollars per million reasoning tokens (default: output)")

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

    type: GateType = Field(default="heuristic", description="The gate kind")
    threshold: Score | None = Field(
        default=None, description="Lowest passing score, 0-1 (default: the kind's own; 0.5, or a learned gate's)"
    )
    min_chars: int = Field(default=20, ge=0, description="heuristic: shortest acceptable answer, in characters")
    min_overlap: Score = Field(default=0.0, description="heuristic: share of the question's words the answer repeats")
    pattern: str | None = Field(default=None, description="regex: a regular expression the answer must match")
    forbid: str | None = Field(default=None, description="regex: a regular expression the answer must not match")
    json_schema: dict[str, Any] | None = Field(default=None, description="json_schema: the JSON Schema of the answer")
    target: str | None = Field(
        default=None, description="pydantic / callable: 'package.module:Name' of the model class or the function"
    )
    judge_model: str | None = Field(default=None, description="judge: the tier or model name that grades answers")
    prompt: str | None = Field(default=None, description="judge: the grading prompt template (default: built in)")
    aggregate: Literal["mean", "min"] = Field(default="mean", description="logprob: how token probabilities combine")
    path: str | None = Field(
        default=None, description="learned: the gate file written by 'costrouter calibrate' (relative to the config)"
    )
    all_of: tuple[GateSpec, ...] = Field(default=(), description="More gates that must all pass as well")

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

    name: str = Field(
        min_length=1,
        pattern=r"^[A-Za-z0-9_.\-]+$",
        description="Name used by routes, gates and the ledger",
    )
    model: str = Field(min_length=1, description="LiteLLM model string, e.g. 'openai/gpt-4o-mini'")
    api_base: str | None = Field(default=None, description="OpenAI-compatible endpoint URL (vLLM, Ollama, a proxy...)")
    api_key_env: str | None = Field(default=None, description="Environment variable holding the key")
    api_key: SecretStr | None = Field(default=None, description="Discouraged: prefer api_key_env")
    price: PriceSpec | None = Field(
        default=None,
        description="This deployment's prices (dollars per million tokens); default: price_overrides, then LiteLLM",
    )
    max_tokens: int = Field(default=1024, gt=0, description="Output token limit of a call (also the budget estimate)")
    timeout_s: float = Field(default=60.0, gt=0, description="Seconds before a call counts as a timeout")
    max_retries: int | None = Field(
        default=None,
        ge=0,
        le=10,
        description="Retries of this tier on rate limits, 5xx, timeouts and broken connections (default: "
        "cascade.retries)",
    )
    gate: GateSpec | None = Field(default=None, description="The quality gate of this tier's answers (none: accepted)")
    model_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra parameters passed to every call (e.g. temperature)"
    )

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

    name: str = Field(min_length=1, description="The task name (the ledger's 'task')")
    tier: str | None = Field(default=None, description="Start the ladder at this tier")
    model: str | None = Field(default=None, description="Start on this deployment (from 'models' or 'tiers')")
    keywords: tuple[str, ...] = Field(default=(), description="rules: words or phrases that select the route")
    patterns: tuple[str, ...] = Field(default=(), description="rules: regular expressions that select the route")
    min_chars: int | None = Field(default=None, ge=0, description="rules: a prompt this long or longer matches")
    max_chars: int | None = Field(default=None, ge=0, description="rules: only prompts this long or shorter match")
    examples: tuple[str, ...] = Field(default=(), description="embedding: example prompts of the task")
    priority: int = Field(default=0, description="rules: the higher wins when several routes match")

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

    type: Literal["none", "rules", "embedding"] = Field(
        default="none", description="none: every request on the ladder; rules: keywords; embedding: examples"
    )
    default_route: str | None = Field(default=None, description="Route of a request nothing matches (else the ladder)")
    routes: tuple[RouteSpec, ...] = Field(default=(), description="The task routes")
    similarity_threshold: Score = Field(
        default=0.0, description="embedding: lowest cosine similarity to a route's examples (else the default)"
    )
    encoder: str = Field(default="wordllama", description="embedding: sentence embedder (wordllama or minilm)")

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
    ] = Field(
        default=("rate_limit", "server", "timeout", "context_window", "refusal", "connection"),
        description="Provider faults that escalate to the next tier (others are raised)",
    )


class SpendLimits(_Frozen):
    """Dollar limits of one tenant or API key per UTC day and per UTC month."""

    daily_usd: NonNeg | None = Field(default=None, description="USD per UTC day (None: no daily limit)")
    monthly_usd: NonNeg | None = Field(default=None, description="USD per UTC month (None: no monthly limit)")


class BudgetConfig(_Frozen):
    """Dollar ceilings: per request across the whole cascade, and per tenant or API key per day/month.

    Tenant and key budgets reserve each call's estimated cost before it is made and settle the
    actual cost after; with ``backend: redis`` they hold across every replica (see
    docs/scale-out.md).
    """

    per_request_usd: NonNeg | None = Field(default=None, description="Dollar ceiling of one request (none: no limit)")
    on_exceeded: Literal["best", "raise"] = Field(
        default="best", description="Serve the best answer so far, flagged, or raise BudgetExceededError"
    )
    tenants: dict[str, SpendLimits] = Field(
        default_factory=dict, description="Limits per tenant id; the key '*' applies to every other tenant"
    )
    keys: dict[str, SpendLimits] = Field(
        default_factory=dict, description="Limits per API key id (the LiteLLM key alias or hash); '*' for the others"
    )
    backend: Literal["memory", "redis"] = Field(
        default="memory", description="memory: this process only; redis: shared by every replica"
    )
    redis_url: SecretStr | None = Field(default=None, description="redis: URL; prefer redis_url_env")
    redis_url_env: str = Field(
        default="COSTROUTER_REDIS_URL",
        description="redis: environment variable holding the URL when redis_url is unset",
    )
    key_prefix: str = Field(
        default="costrouter:budget", min_length=1, description="redis: prefix of every key the budgets write"
    )
    on_store_down: Literal["open", "closed"] = Field(
        default="open",
        description="Redis unreachable: 'open' lets calls through (logged, settled later), 'closed' refuses them",
    )
    reservation_ttl_s: float = Field(
        default=600.0, gt=0, description="A reservation never settled (a crashed replica) is released after this"
    )


class LedgerConfig(_Frozen):
    """Where cost records go.

    ``sqlite`` (the default) is one local file; ``postgres`` is a table shared by every replica,
    written by a background thread from a local outbox (see docs/scale-out.md).
    """

    backend: Literal["sqlite", "memory", "none", "postgres"] = Field(
        default="sqlite", description="Where cost records go"
    )
    path: str = Field(default="costrouter-ledger.sqlite", description="sqlite: the ledger file")
    tenant: str = Field(default="default", description="Tenant of requests that name none")
    url: SecretStr | None = Field(
        default=None, description="postgres: connection URL; prefer url_env (a URL may hold a password)"
    )
    url_env: str = Field(
        default="COSTROUTER_LEDGER_URL", description="postgres: environment variable holding the URL when url is unset"
    )
    table: str = Field(
        default="cost_records",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$",
        description="postgres: table name (created if missing)",
    )
    outbox_dir: str = Field(
        default=".costrouter-outbox",
        description="postgres: folder of the local outbox files that hold records until Postgres has them",
    )
    batch_size: int = Field(default=500, ge=1, le=10_000, description="postgres: records per INSERT batch")
    flush_interval_s: float = Field(
        default=0.2, gt=0, le=60, description="postgres: longest pause of the writer thread between shipments"
    )


SemanticMode = Literal["off", "shadow", "auto", "on"]


class CacheConfig(_Frozen):
    """Exact and semantic response cache."""

    enabled: bool = Field(default=False, description="Put the cache in front of the cascade")
    exact: bool = Field(default=True, description="Serve byte-identical repeats")
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
    dir: str = Field(default=".costrouter-cache", description="Folder of the cache store (relative to the config)")
    encoder: str = Field(default="wordllama", description="Sentence embedder of the semantic level")
    similarity_threshold: Score = Field(default=0.9, description="Lowest cosine similarity of a semantic candidate")
    judge_model: str | None = Field(
        default=None,
        description="Tier or model asked whether a stored answer answers a candidate the guard leaves undecided",
    )
    judge_band: Score = Field(default=0.0, description="Width of the borderline similarity band the judge decides")
    ttl_s: float | None = Field(default=None, gt=0, description="Seconds an entry lives (none: until evicted)")
    max_size: int = Field(default=100_000, gt=0, description="Entries kept (the least recently used are evicted)")
    namespace: str = Field(default="default", description="Key prefix: separate caches sharing a store")
    policy: str | None = Field(
        default=None, description="Guard policy JSON written by `costrouter calibrate-cache` (default: the shipped one)"
    )
    backend: Literal["local", "redis"] = Field(
        default="local",
        description="local: entries in dir (this process); redis: entries and vectors in Redis, shared by "
        "every replica, each searching an in-memory index kept current from a Redis stream",
    )
    redis_url: SecretStr | None = Field(default=None, description="redis: URL; prefer redis_url_env")
    redis_url_env: str = Field(
        default="COSTROUTER_REDIS_URL",
        description="redis: environment variable holding the URL when redis_url is unset",
    )
    redis_prefix: str = Field(
        default="costrouter:cache", min_length=1, description="redis: prefix of every key the cache writes"
    )
    sync_interval_s: float = Field(
        default=0.25,
        gt=0,
        le=60,
        description="redis: longest pause between two reads of the entry stream; an entry another replica "
        "stores is found by semantic lookups that start this long after it (exact lookups read Redis at once)",
    )
    redis_timeout_s: float = Field(
        default=0.5, gt=0, le=30, description="redis: socket timeout of a cache command (a slower Redis is a miss)"
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

    enabled: bool = Field(default=False, description="Compress long prompts when it pays")
    model: str | None = Field(default=None, description="Tier or model name that compresses")
    min_tokens: int = Field(default=1000, ge=0, description="Shortest compressible text, in tokens")
    target_ratio: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.5, description="Compressed length asked for, as a share of the original"
    )
    prefix_cache_discount: Score = Field(
        default=0.0, description="Share of the input price a provider prefix-cache hit saves (0: the cache-read price)"
    )
    scope: Literal["last_user", "user"] = Field(
        default="last_user", description="User messages that may be compressed (last_user keeps earlier turns)"
    )
    protect_instructions: bool = Field(default=True, description="Keep instruction sentences byte-identical")
    min_net_saving_usd: NonNeg = Field(default=0.0, description="Smallest net saving worth a compression call")
    cache_size: int = Field(default=4096, ge=1, description="Compressed texts remembered (never compress twice)")
    cache_path: str | None = Field(default=None, description="SQLite file of the compression cache")


class BatchingConfig(_Frozen):
    """Packing several independent questions into one call."""

    enabled: bool = Field(default=False, description="Batch independent questions")
    model: str | None = Field(default=None, description="Tier or model that answers batches (default: the first tier)")
    max_batch: int = Field(default=10, ge=1, le=100, description="Questions per call")
    batch_api_discount: Score = Field(default=0.5, description="Share of the price the OpenAI Batch API takes off")
    max_attempts: int = Field(default=3, ge=1, le=10, description="Calls an item may take before it fails")
    max_tokens_per_item: int = Field(default=512, gt=0, description="Output tokens allowed per question")


class MonitorConfig(_Frozen):
    """The quality monitor: shadow evaluation of served answers and online recalibration.

    A sample of the answers a gate accepted on a lower tier is also asked of the premium tier,
    off the request path, and graded; the estimates (with confidence intervals) are in
    ``costrouter report``. With ``recalibrate``, gate thresholds move to hold ``target_quality``.
    See docs/monitor.md.
    """

    enabled: bool = Field(default=False, description="Turn the monitor on")
    shadow_rate: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.05, description="Share of accepted lower-tier answers also asked of the premium tier"
    )
    min_daily_samples: int = Field(
        default=20,
        ge=0,
        description="Each route and tenant is shadowed in full until it has this many shadows today (small strata)",
    )
    max_daily_usd: NonNeg = Field(default=1.0, description="Spend cap of shadow and grading calls per UTC day")
    shadow_tier: str | None = Field(default=None, description="Tier or model that answers shadows (default: premium)")
    grader: Literal["agreement", "judge", "feedback"] = Field(
        default="agreement", description="How a served answer is graded against the premium answer"
    )
    agreement: Literal["auto", "number", "choice", "json", "text", "embedding"] = Field(
        default="auto", description="agreement grader: which final answers to compare"
    )
    json_fields: tuple[str, ...] = Field(default=(), description="agreement grader, json: the fields that count")
    similarity_threshold: Score = Field(
        default=0.9, description="agreement grader, embedding: answers at least this similar agree"
    )
    judge_model: str | None = Field(default=None, description="judge grader: the tier or model that grades")
    judge_rubric: str | None = Field(
        default=None, description="judge grader: template with {question}, {reference}, {answer}; reply 0-10"
    )
    target_quality: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.95, description="Share of requests that must get an answer as good as the premium tier's"
    )
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = Field(
        default=0.95, description="Confidence of the report's intervals and of the controller's risk bound"
    )
    recalibrate: bool = Field(default=False, description="Move gate thresholds online to hold target_quality")
    window: int = Field(default=2000, ge=10, description="Recent gated answers per route and tier the controller uses")
    min_graded: int = Field(default=30, ge=1, description="Grades needed before a threshold moves")
    update_every: int = Field(default=10, ge=1, description="Grades between two threshold updates")
    max_step: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.05, description="Largest change of a threshold per update"
    )
    min_threshold: Score = Field(default=0.0, description="Lowest threshold the controller may set")
    max_threshold: Score = Field(default=1.0, description="Highest threshold the controller may set")
    state_path: str | None = Field(
        default=".costrouter-monitor.json",
        description="Thresholds, windows and spend, shared by the processes of this config (null: in memory)",
    )
    max_queue: int = Field(default=1000, ge=1, description="Observations waiting for the worker; beyond, dropped")
    close_timeout_s: NonNeg = Field(default=5.0, description="How long close() drains the queue before abandoning it")
    feedback_ttl_s: float = Field(default=86400.0, gt=0, description="How long record_feedback can name a request")
    seed: int | None = Field(default=None, description="Seed of the sampling draws (reproducible runs; default random)")

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.min_threshold > self.max_threshold:
            msg = f"min_threshold {self.min_threshold} is above max_threshold {self.max_threshold}"
            raise ValueError(msg)
        if self.grader == "judge" and self.judge_model is None:
            msg = "the judge grader needs judge_model"
            raise ValueError(msg)
        return self


class CostRouterConfig(_Frozen):
    """Everything the router needs; load it with :meth:`from_yaml`.

    ``tiers`` is the escalation ladder, cheapest first; its last tier (or ``premium_tier``) is
    the always-premium baseline used for savings. ``models`` holds extra deployments that a
    route may start on (e.g. a translation model).
    """

    version: Literal[1] = Field(default=1, description="Config format version")
    tiers: tuple[TierSpec, ...] = Field(min_length=1, description="The escalation ladder, cheapest first")
    models: tuple[TierSpec, ...] = Field(default=(), description="Specialist deployments a route may start on")
    premium_tier: str | None = Field(default=None, description="The always-premium baseline tier (default: the last)")
    routing: RoutingConfig = Field(default=RoutingConfig(), description="Task routing")
    cascade: CascadeConfig = Field(default=CascadeConfig(), description="Escalation behaviour")
    budget: BudgetConfig = Field(default=BudgetConfig(), description="A dollar ceiling per request")
    ledger: LedgerConfig = Field(default=LedgerConfig(), description="The cost ledger")
    cache: CacheConfig = Field(default=CacheConfig(), description="Exact and semantic response cache")
    compression: CompressionConfig = Field(default=CompressionConfig(), description="Prompt compression")
    batching: BatchingConfig = Field(default=BatchingConfig(), description="Batching independent questions")
    monitor: MonitorConfig = Field(
        default=MonitorConfig(), description="Quality monitor: shadow evaluation, quality report, online thresholds"
    )
    price_overrides: dict[str, PriceSpec] = Field(
        default_factory=dict,
        description=(
            "Prices by model string (e.g. 'openai/gpt-4o' or 'gpt-4o'), in dollars per million tokens; they win "
            "over LiteLLM's bundled price map and price models that map does not know (judge, compression or "
            "premium-baseline models named by their model string). A tier's own 'price' wins over both."
        ),
    )

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
        for section, ref in (
            ("compression", self.compression.model),
            ("batching", self.batching.model),
            ("monitor", self.monitor.shadow_tier),
        ):
            if ref is not None and ref not in names:
                raise _LocError(
                    (section, "model" if section != "monitor" else "shadow_tier"),
                    f"unknown model {ref!r}; known: {names}",
                )
        if self.monitor.judge_model is not None and self.monitor.judge_model not in names:
            raise _LocError(
                ("monitor", "judge_model"), f"unknown judge model {self.monitor.judge_model!r}; known: {names}"
            )
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
        data = load_yaml(text, source=str(p))
        return cls.from_dict(data or {}, base_dir=Path(os.path.abspath(p)).parent)  # noqa: PTH100 - a symlink stays where it is

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
            return value if Path(value).is_absolute() else os.path.abspath(base_dir / value)  # noqa: PTH100

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
        if self.monitor.state_path is not None:
            update["monitor"] = self.monitor.model_copy(update={"state_path": absolute(self.monitor.state_path)})
        if self.ledger.backend == "sqlite":
            update["ledger"] = self.ledger.model_copy(update={"path": absolute(self.ledger.path)})
        elif self.ledger.backend == "postgres":
            update["ledger"] = self.ledger.model_copy(update={"outbox_dir": absolute(self.ledger.outbox_dir)})
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
        elif not _PLAIN_KEY.fullmatch(str(part)):  # a key with spaces, quotes or line breaks: quoted
            out += f"[{str(part)!r}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_PLAIN_KEY = re.compile(r"[\w.\-/:@+]+")
