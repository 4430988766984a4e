"""What a valid config will do, and what in it looks wrong: ``costrouter config check``.

:func:`check_config` takes a validated :class:`~langchain_costrouter.core.config.CostRouterConfig`
and returns a :class:`ConfigCheck`: each deployment's resolved price and where it comes from
(its ``price``, ``price_overrides`` or LiteLLM's bundled map), each route's ladder, and
findings: *errors* that will fail at start-up or on the first call (a model without a known
price, a missing gate or policy file) and *warnings* (an API-key variable that is not set,
options that have no effect in this config). The check reads the environment (key variables and
files) when it is called and never writes anything.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from langchain_costrouter.core.config import CostRouterConfig, GateSpec, RouteSpec, TierSpec
from langchain_costrouter.core.errors import UnknownModelPriceError
from langchain_costrouter.core.pricing import PriceBook

__all__ = ["ConfigCheck", "DeploymentPrice", "Finding", "RouteLine", "check_config"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the check found.

    Attributes:
        level: ``error`` (will fail at start-up or on the first call) or ``warning``.
        field: The config key it is about, e.g. ``tiers[0].api_key_env``.
        message: What is wrong and what to do.
    """

    level: Literal["error", "warning"]
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class DeploymentPrice:
    """A tier's or model's resolved price.

    Attributes:
        field: ``tiers[0]`` or ``models[1]``.
        name: The deployment's name.
        model: Its model string.
        input_per_million: Dollars per million input tokens (``None``: unknown).
        output_per_million: Dollars per million output tokens (``None``: unknown).
        cache_read_per_million: Dollars per million cached input tokens (``None``: as input).
        source: Where the price comes from (``tiers[0].price``, ``price_overrides.gpt-4o``,
            ``LiteLLM map: gpt-4o``), or ``unknown``.
    """

    field: str
    name: str
    model: str
    input_per_million: float | None
    output_per_million: float | None
    cache_read_per_million: float | None
    source: str


@dataclass(frozen=True, slots=True)
class RouteLine:
    """A route and the deployments its requests try, in order.

    Attributes:
        name: The route (``(default)`` for requests no route takes when routing is off).
        ladder: Deployment names, first tried first.
        matches: How the router picks it (keywords, patterns, lengths, examples).
        default: Whether it is ``routing.default_route``.
    """

    name: str
    ladder: tuple[str, ...]
    matches: str
    default: bool = False


@dataclass(frozen=True, slots=True)
class ConfigCheck:
    """The result of :func:`check_config`.

    Attributes:
        prices: One line per tier, then per extra model.
        routes: One line per route (or the plain ladder when routing is off).
        findings: Errors first, then warnings.
        premium: The always-premium baseline tier.
    """

    prices: tuple[DeploymentPrice, ...]
    routes: tuple[RouteLine, ...]
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    premium: str = ""

    @property
    def errors(self) -> tuple[Finding, ...]:
        """Findings that will fail at start-up or on the first call."""
        return tuple(f for f in self.findings if f.level == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        """Findings worth a look."""
        return tuple(f for f in self.findings if f.level == "warning")

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "premium": self.premium,
            "prices": [
                {
                    "field": p.field,
                    "name": p.name,
                    "model": p.model,
                    "input_per_million": p.input_per_million,
                    "output_per_million": p.output_per_million,
                    "cache_read_per_million": p.cache_read_per_million,
                    "source": p.source,
                }
                for p in self.prices
            ],
            "routes": [
                {"name": r.name, "ladder": list(r.ladder), "matches": r.matches, "default": r.default}
                for r in self.routes
            ],
            "findings": [{"level": f.level, "field": f.field, "message": f.message} for f in self.findings],
        }


def _source(raw: str) -> str:
    """A price source as a user reads it (the config key, or the LiteLLM map's key)."""
    if raw.startswith("litellm:"):
        return f"LiteLLM map: {raw.removeprefix('litellm:')}"
    return raw.removeprefix("config:")


def _deployments(cfg: CostRouterConfig) -> list[tuple[str, TierSpec]]:
    return [(f"tiers[{i}]", t) for i, t in enumerate(cfg.tiers)] + [
        (f"models[{i}]", t) for i, t in enumerate(cfg.models)
    ]


def _prices(cfg: CostRouterConfig, book: PriceBook, findings: list[Finding]) -> list[DeploymentPrice]:
    out = []
    for where, spec in _deployments(cfg):
        try:
            price = book.price(spec.model)
        except UnknownModelPriceError:
            findings.append(
                Finding(
                    "error",
                    f"{where}.price",
                    f"no price known for {spec.model!r} ({spec.name}); give it 'price: {{input: ..., output: ...}}' "
                    f"(dollars per million tokens) or a price_overrides entry",
                )
            )
            out.append(DeploymentPrice(where, spec.name, spec.model, None, None, None, "unknown"))
            continue
        source = _source(price.source)
        if source.startswith("price_overrides."):
            source = f"price_overrides[{source.removeprefix('price_overrides.')!r}]"
        elif source == f"{spec.name}.price":
            source = f"{where}.price"
        out.append(
            DeploymentPrice(
                where,
                spec.name,
                spec.model,
                price.input * 1e6,
                price.output * 1e6,
                None if price.cache_read is None else price.cache_read * 1e6,
                source,
            )
        )
    return out


def _matches(route: RouteSpec) -> str:
    parts = []
    if route.keywords:
        parts.append(f"{len(route.keywords)} keyword(s)")
    if route.patterns:
        parts.append(f"{len(route.patterns)} pattern(s)")
    if route.min_chars is not None:
        parts.append(f">= {route.min_chars} chars")
    if route.max_chars is not None:
        parts.append(f"<= {route.max_chars} chars")
    if route.examples:
        parts.append(f"{len(route.examples)} example(s)")
    if route.priority:
        parts.append(f"priority {route.priority}")
    return ", ".join(parts) or "nothing (only as the default route)"


def _routes(cfg: CostRouterConfig, book: PriceBook, findings: list[Finding]) -> list[RouteLine]:
    from langchain_costrouter.core.routing import ladder_for

    plain = tuple(t.name for t in cfg.tiers)
    if cfg.routing.type == "none":
        return [RouteLine("(every request)", plain, "routing is off", True)]
    out = []
    for i, route in enumerate(cfg.routing.routes):
        try:
            ladder = ladder_for(cfg, route, book)
        except UnknownModelPriceError as exc:
            findings.append(Finding("error", f"routing.routes[{i}]", f"its ladder needs a price: {exc.model!r}"))
            ladder = (route.tier or route.model or "?",)
        out.append(RouteLine(route.name, ladder, _matches(route), route.name == cfg.routing.default_route))
    if cfg.routing.default_route is None:
        out.append(RouteLine("(no match)", plain, "requests no route takes start on the first tier", True))
    return out


def _gate_files(where: str, gate: GateSpec | None, findings: list[Finding]) -> None:
    if gate is None:
        return
    if gate.type == "learned" and gate.path is not None and not Path(gate.path).is_file():
        findings.append(
            Finding(
                "error",
                f"{where}.gate.path",
                f"learned gate file {gate.path} not found; write it with 'costrouter calibrate ... -o FILE'",
            )
        )
    for j, sub in enumerate(gate.all_of):
        _gate_files(f"{where}.gate.all_of[{j}]", sub, findings)


def _keys(cfg: CostRouterConfig, environ: Mapping[str, str], findings: list[Finding]) -> None:
    for where, spec in _deployments(cfg):
        if spec.api_key is not None:
            findings.append(
                Finding("warning", f"{where}.api_key", "a key in the file: prefer api_key_env (the variable's name)")
            )
            if spec.api_key_env:
                findings.append(
                    Finding("warning", f"{where}.api_key_env", "ignored: api_key is set and wins over api_key_env")
                )
            continue
        if spec.api_key_env and not environ.get(spec.api_key_env):
            note = " (drop api_key_env if its api_base needs no key)" if spec.api_base else ""
            findings.append(
                Finding(
                    "warning",
                    f"{where}.api_key_env",
                    f"{spec.api_key_env} is not set: ChatCostRouter, the LiteLLM Router and costrouter serve "
                    f"refuse to start (MissingCredentialsError){note}",
                )
            )


def _changed(section: BaseModel, names: Iterable[str]) -> list[str]:
    """The ``names`` whose value differs from the field's default."""
    fields = type(section).model_fields
    return [n for n in names if n in fields and getattr(section, n) != fields[n].get_default(call_default_factory=True)]


def _no_effect(prefix: str, names: list[str], why: str) -> list[Finding]:
    return [Finding("warning", f"{prefix}.{n}", f"has no effect: {why}") for n in names]


def _inert(cfg: CostRouterConfig) -> list[Finding]:
    """Options set to a non-default value that this config never reads."""
    out: list[Finding] = []
    c = cfg.cache
    if not c.enabled:
        names = [n for n in type(c).model_fields if n not in {"enabled", "dir"}]
        out += _no_effect("cache", _changed(c, names), "cache.enabled is false")
    elif c.backend == "local":
        names = ["redis_url", "redis_url_env", "redis_prefix", "sync_interval_s", "redis_timeout_s"]
        out += _no_effect("cache", _changed(c, names), "cache.backend is 'local'")
    comp = cfg.compression
    if not comp.enabled:
        names = ["min_tokens", "target_ratio", "prefix_cache_discount", "scope", "min_net_saving_usd"]
        out += _no_effect("compression", _changed(comp, names), "compression.enabled is false")
    if cfg.budget.per_request_usd is None:
        out += _no_effect("budget", _changed(cfg.budget, ["on_exceeded"]), "budget.per_request_usd is not set")
    if cfg.ledger.backend != "sqlite":
        out += _no_effect("ledger", _changed(cfg.ledger, ["path"]), f"ledger.backend is {cfg.ledger.backend!r}")
    last = cfg.tiers[-1]
    gated = last.gate is not None and last.gate.type != "none"
    if gated and len(cfg.tiers) > 1 and cfg.cascade.on_exhausted == "best":
        out.append(
            Finding(
                "warning",
                f"tiers[{len(cfg.tiers) - 1}].gate",
                "the last tier has nowhere to escalate: its gate only flags answers (cascade.on_exhausted: best)",
            )
        )
    return out + _inert_routing(cfg)


def _inert_routing(cfg: CostRouterConfig) -> list[Finding]:
    """Routing options no router reads, and routes the configured router can never pick."""
    r = cfg.routing
    out: list[Finding] = []
    if r.type == "none" and r.routes:
        out.append(Finding("warning", "routing.routes", "has no effect: routing.type is none"))
    if r.type == "rules":
        out += _no_effect(
            "routing", _changed(r, ["similarity_threshold", "encoder"]), "only the embedding router reads it"
        )
    for i, route in enumerate(r.routes):
        if route.name == r.default_route:
            continue
        rules = route.keywords or route.patterns or route.min_chars is not None or route.max_chars is not None
        if r.type == "rules" and not rules:
            why = "has no keyword, pattern or length rule: the rules router never picks it"
            out.append(Finding("warning", f"routing.routes[{i}]", f"route {route.name!r} {why}"))
        if r.type == "embedding" and not route.examples:
            why = "has no examples: the embedding router never picks it"
            out.append(Finding("warning", f"routing.routes[{i}].examples", f"route {route.name!r} {why}"))
    return out


def check_config(cfg: CostRouterConfig, *, environ: Mapping[str, str] | None = None) -> ConfigCheck:
    """Resolves prices and routes of ``cfg`` and lists what looks wrong.

    Args:
        cfg: A validated config (relative paths already resolved, as ``from_yaml`` does).
        environ: Where key variables are looked up (default: ``os.environ``, read now).

    Returns:
        The prices, routes and findings (errors first).
    """
    env = os.environ if environ is None else environ
    findings: list[Finding] = []
    book = PriceBook(cfg.price_overrides_map())
    prices = _prices(cfg, book, findings)
    routes = _routes(cfg, book, findings)
    for where, spec in _deployments(cfg):
        _gate_files(where, spec.gate, findings)
    if cfg.cache.policy is not None and not Path(cfg.cache.policy).is_file():
        findings.append(
            Finding(
                "error", "cache.policy", f"policy file {cfg.cache.policy} not found (costrouter calibrate-cache -o)"
            )
        )
    _keys(cfg, env, findings)
    findings += _inert(cfg)
    ordered = sorted(findings, key=lambda f: f.level != "error")
    return ConfigCheck(tuple(prices), tuple(routes), tuple(ordered), cfg.premium.name)
