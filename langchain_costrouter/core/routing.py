"""Task routing: which route (task type) a request belongs to, and where its cascade starts.

Routers return a :class:`RouteDecision`, a small typed object that is recorded in the ledger
and in ``response_metadata``. Three routers share one protocol:

- :class:`RulesRouter`: keywords (word-boundary, case-insensitive), regexes and length bounds
  from the config; the route with most matches wins, ties broken by ``priority`` then order.
- :class:`EmbeddingRouter`: nearest route by cosine similarity to its example utterances
  (wordllama offline by default, any :class:`Embedder`), with a threshold below which the
  default route is used.
- :class:`LearnedRouter`: the hook for a fitted classifier (any object with ``predict``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from langchain_costrouter.core.config import CostRouterConfig, RouteSpec, TierSpec
from langchain_costrouter.core.embeddings import Embedder, make_embedder
from langchain_costrouter.core.errors import ConfigError, RoutingError
from langchain_costrouter.core.pricing import PriceBook
from langchain_costrouter.core.types import ChatRequest

__all__ = [
    "EmbeddingRouter",
    "LearnedRouter",
    "NoRouter",
    "RouteDecision",
    "Router",
    "RulesRouter",
    "build_router",
    "ladder_for",
    "start_on",
]


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Where a request goes.

    Attributes:
        route: The matched route's name (``None`` when routing is off).
        ladder: Tier/model names to try, in order.
        method: ``rules``, ``embedding``, ``learned``, ``default`` or ``none``.
        score: Match strength (keyword hits, cosine similarity or class probability).
        reason: Human-readable evidence (matched keywords, nearest example).
    """

    route: str | None
    ladder: tuple[str, ...]
    method: str
    score: float = 0.0
    reason: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form for metadata and the ledger."""
        return {
            "route": self.route,
            "ladder": list(self.ladder),
            "method": self.method,
            "score": round(self.score, 4),
            "reason": self.reason,
        }


@runtime_checkable
class Router(Protocol):
    """Decides a request's route."""

    def route(self, request: ChatRequest) -> RouteDecision:
        """The decision for ``request``."""
        ...


def ladder_for(config: CostRouterConfig, route: RouteSpec | None, prices: PriceBook | None = None) -> tuple[str, ...]:
    """The tiers a route tries, in order.

    ``tier: X`` starts the default ladder at X. ``model: M`` tries M first, then the ladder's
    tiers whose output price is higher than M's (escalation never goes to a cheaper model).
    """
    names = tuple(t.name for t in config.tiers)
    if route is None:
        return names
    if route.tier is not None:
        return names[names.index(route.tier) :]
    target = config.deployment(route.model or "")
    if target.name in names:
        return names[names.index(target.name) :]
    book = prices or PriceBook(config.price_overrides_map())

    def out_price(t: TierSpec) -> float:
        return book.price(t.model).output

    floor = out_price(target)
    return (target.name, *(t.name for t in config.tiers if out_price(t) > floor))


def start_on(config: CostRouterConfig, name: str, prices: PriceBook | None = None) -> RouteDecision:
    """The decision of a request that asks for a tier or extra model by name (no task routing).

    A tier escalates through the tiers after it; an extra model through the tiers priced above it.

    Raises:
        ConfigError: ``name`` is neither a tier nor an extra model of the config.
    """
    try:
        config.deployment(name)
    except KeyError:
        known = [t.name for t in (*config.tiers, *config.models)]
        raise ConfigError("model", f"unknown tier or model {name!r}; known: {known}") from None
    ladder = ladder_for(config, RouteSpec(name=f"model:{name}", model=name), prices)
    return RouteDecision(None, ladder, "direct", reason=f"model {name!r} requested")


class NoRouter:
    """Routing off: every request starts at the first tier."""

    def __init__(self, config: CostRouterConfig) -> None:
        self._ladder = ladder_for(config, None)

    def route(self, request: ChatRequest) -> RouteDecision:
        return RouteDecision(None, self._ladder, "none")


class _RouterBase:
    def __init__(self, config: CostRouterConfig, prices: PriceBook | None = None) -> None:
        self.config = config
        self.routes = config.routing.routes
        self._ladders = {r.name: ladder_for(config, r, prices) for r in self.routes}
        self._default = config.routing.default_route

    def _decision(self, route: str | None, method: str, score: float, reason: str) -> RouteDecision:
        if route is None:
            if self._default is None:
                return RouteDecision(None, ladder_for(self.config, None), "default", score, reason or "no match")
            route = self._default
            method = "default"
        return RouteDecision(route, self._ladders[route], method, score, reason)


def _length_ok(route: RouteSpec, n: int) -> bool:
    return (route.min_chars is None or n >= route.min_chars) and (route.max_chars is None or n <= route.max_chars)


class RulesRouter(_RouterBase):
    """Keyword / regex / length rules from the config.

    ``min_chars`` / ``max_chars`` are filters: a route is only eligible within its bounds. A
    route with ``min_chars`` (a "long input" route) matches on length alone; other routes need
    a keyword or pattern hit. The route with most hits (length counting as one) wins.
    """

    def __init__(self, config: CostRouterConfig, prices: PriceBook | None = None) -> None:
        super().__init__(config, prices)
        self._compiled: list[tuple[RouteSpec, list[tuple[str, re.Pattern[str]]]]] = []
        for r in self.routes:
            pats = [(k, re.compile(rf"(?<!\w){re.escape(k)}(?!\w)", re.IGNORECASE)) for k in r.keywords]
            pats += [(p, re.compile(p, re.IGNORECASE | re.DOTALL)) for p in r.patterns]
            self._compiled.append((r, pats))

    def route(self, request: ChatRequest) -> RouteDecision:
        text = request.last_user_text
        n = len(text)
        best: tuple[int, int, int] | None = None
        best_route: RouteSpec | None = None
        best_hits: list[str] = []
        for order, (r, pats) in enumerate(self._compiled):
            if not _length_ok(r, n):
                continue
            hits = [label for label, p in pats if p.search(text)]
            if r.min_chars is not None:
                hits.append(f"length>={r.min_chars}")
            if not hits:
                continue
            key = (len(hits), r.priority, -order)
            if best is None or key > best:
                best, best_route, best_hits = key, r, hits
        if best_route is None or best is None:
            return self._decision(None, "rules", 0.0, "no rule matched")
        return self._decision(best_route.name, "rules", float(best[0]), "matched " + ", ".join(best_hits))


class EmbeddingRouter(_RouterBase):
    """Nearest route by cosine similarity to its example utterances."""

    def __init__(
        self,
        config: CostRouterConfig,
        embedder: Embedder | None = None,
        prices: PriceBook | None = None,
        *,
        threshold: float | None = None,
    ) -> None:
        super().__init__(config, prices)
        self.embedder = embedder or make_embedder(config.routing.encoder, field="routing.encoder")
        self.threshold = config.routing.similarity_threshold if threshold is None else threshold
        self._spec = {r.name: r for r in self.routes}
        self._labels: list[str] = []
        self._examples: list[str] = []
        for r in self.routes:
            for ex in r.examples:
                self._labels.append(r.name)
                self._examples.append(ex)
        if not self._examples:
            msg = "the embedding router needs routes with examples"
            raise RoutingError(msg)
        self._matrix: np.ndarray | None = None
        self._lock = threading.Lock()

    def _index(self) -> np.ndarray:
        with self._lock:
            if self._matrix is None:
                self._matrix = self.embedder.embed(self._examples)
            return self._matrix

    def scores(self, text: str) -> dict[str, float]:
        """Best similarity of ``text`` to each route's examples."""
        sims = self._index() @ self.embedder.embed([text])[0]
        out: dict[str, float] = {}
        for label, s in zip(self._labels, sims.tolist(), strict=True):
            out[label] = max(out.get(label, -1.0), float(s))
        return out

    def route(self, request: ChatRequest) -> RouteDecision:
        text = request.last_user_text
        if not text.strip():
            return self._decision(None, "embedding", 0.0, "empty request")
        n = len(text)
        # Length rules are hard rules: a long input goes to its long-input route whatever it says.
        by_length = [r for r in self.routes if r.min_chars is not None and _length_ok(r, n)]
        if by_length:
            chosen = max(by_length, key=lambda r: r.priority)
            return self._decision(chosen.name, "length", 1.0, f"length {n} >= {chosen.min_chars}")
        eligible = np.array([_length_ok(self._spec[label], n) for label in self._labels])
        sims = np.where(eligible, self._index() @ self.embedder.embed([text])[0], -np.inf)
        i = int(np.argmax(sims))
        s = float(sims[i])
        if not np.isfinite(s) or s < self.threshold:
            return self._decision(None, "embedding", max(s, 0.0), f"nearest {self._labels[i]!r} below threshold")
        return self._decision(self._labels[i], "embedding", s, f"nearest example {self._examples[i][:60]!r}")


class LearnedRouter(_RouterBase):
    """Routes with a fitted classifier: ``predict(texts) -> route names`` (the learned hook)."""

    def __init__(
        self,
        config: CostRouterConfig,
        predict: Callable[[Sequence[str]], Sequence[tuple[str, float]]],
        prices: PriceBook | None = None,
    ) -> None:
        super().__init__(config, prices)
        self._predict = predict

    def route(self, request: ChatRequest) -> RouteDecision:
        (label, prob), *_ = self._predict([request.last_user_text])
        if label not in self._ladders:
            return self._decision(None, "learned", prob, f"unknown label {label!r}")
        return self._decision(label, "learned", prob, "classifier")


def build_router(
    config: CostRouterConfig,
    *,
    embedder: Embedder | None = None,
    prices: PriceBook | None = None,
) -> Router:
    """The router the config asks for (a :class:`LearnedRouter` is built in code)."""
    kind = config.routing.type
    if kind == "none":
        return NoRouter(config)
    if kind == "rules":
        return RulesRouter(config, prices)
    return EmbeddingRouter(config, embedder, prices)
