"""Semantic modes (off / shadow / auto / on), the shadow bound, and the verifier plug-ins."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from langchain_costrouter.core.accounting import CostAccountant
from langchain_costrouter.core.cache import (
    CacheScope,
    CrossEncoderJudge,
    GuardPolicy,
    LLMJudge,
    ResponseCache,
    ShadowStats,
    default_policy,
)
from langchain_costrouter.core.cache.judges import parse_yes_no
from langchain_costrouter.core.config import CacheConfig
from langchain_costrouter.core.errors import ConfigError
from langchain_costrouter.core.ledger import MemoryLedger
from langchain_costrouter.core.pricing import ModelPrice, PriceBook
from langchain_costrouter.core.types import Completion
from langchain_costrouter.core.usage import Usage

SCOPE = CacheScope(namespace="t", model="ladder:cheap|premium")
STORED = "How do I reset my password?"
ASKED = "How can I reset my password?"  # a paraphrase the shipped guard serves
ANSWER = "Open Settings, choose Security, then Reset password; the link is valid for 30 minutes."


def make(embedder, tmp_path: Path, mode: str, **kw: Any) -> ResponseCache:
    cache = ResponseCache(embedder, directory=tmp_path, semantic=mode, max_size=100, rng=random.Random(0), **kw)
    assert cache.store(SCOPE, STORED, ANSWER, model="premium", usage=Usage(200, 400), gate_passed=True).stored
    return cache


def test_on_serves_and_off_does_not(embedder, tmp_path: Path) -> None:
    with make(embedder, tmp_path / "on", "on") as cache:
        hit = cache.lookup(SCOPE, ASKED)
        assert hit is not None and hit.kind == "semantic"
    with make(embedder, tmp_path / "off", "off") as cache:
        found = cache.find(SCOPE, ASKED)
        assert found.hit is None and found.shadow is None
        assert cache.lookup(SCOPE, STORED) is not None  # the exact level is not a semantic mode


def test_shadow_finds_but_never_serves_and_counts_agreement(embedder, tmp_path: Path) -> None:
    with make(embedder, tmp_path, "shadow") as cache:
        found = cache.find(SCOPE, ASKED)
        assert found.hit is None and found.shadow is not None
        assert found.shadow.cached_query == STORED and found.shadow.cached_answer == ANSWER
        fresh = "Go to Settings, then Security, and pick Reset password; the link lasts 30 minutes."
        assert cache.observe_shadow(found.shadow, fresh) is True
        wrong = "Your order ships within 2 days from our warehouse."
        assert cache.observe_shadow(cache.find(SCOPE, ASKED).shadow, wrong) is False
        assert (cache.shadow.observed, cache.shadow.false_hits) == (2, 1)
        assert cache.status()["shadow"]["false_hits"] == 1
    # persisted with the store
    with ResponseCache(embedder, directory=tmp_path, semantic="shadow", max_size=100) as again:
        assert (again.shadow.observed, again.shadow.false_hits) == (2, 1)


def test_shadow_numbers_must_agree(embedder, tmp_path: Path) -> None:
    with make(embedder, tmp_path, "shadow") as cache:
        cand = cache.find(SCOPE, ASKED).shadow
        assert cache.observe_shadow(cand, ANSWER.replace("30", "15")) is False


def test_auto_serves_only_while_the_bound_is_under_target_and_stops_when_it_rises(embedder, tmp_path: Path) -> None:
    with make(
        embedder, tmp_path, "auto", max_false_hit_rate=0.06, min_shadow_observations=50, shadow_sample_rate=0.0
    ) as cache:
        assert not cache.serving
        for _ in range(49):
            cand = cache.find(SCOPE, ASKED).shadow
            assert cand is not None and cache.observe_shadow(cand, ANSWER) is True
        assert not cache.serving  # 49 < min observations
        cache.observe_shadow(cache.find(SCOPE, ASKED).shadow, ANSWER)
        assert cache.shadow.observed == 50 and cache.shadow.upper_bound <= 0.06 and cache.serving
        assert cache.lookup(SCOPE, ASKED) is not None
        # injected false hits push the bound over the target: serving stops
        cand = cache.find(SCOPE, ASKED).hit
        assert cand is not None
        for _ in range(3):
            cache.shadow.record(agreed=False)
        assert cache.shadow.upper_bound > 0.06
        assert not cache.serving
        found = cache.find(SCOPE, ASKED)
        assert found.hit is None and found.shadow is not None


def test_auto_samples_hits_into_shadow(embedder, tmp_path: Path) -> None:
    with make(embedder, tmp_path, "auto", min_shadow_observations=1, shadow_sample_rate=1.0) as cache:
        cache.shadow.record(agreed=True)
        cache.shadow.record(agreed=True)
        cache.max_false_hit_rate = 1.0
        assert cache.serving
        found = cache.find(SCOPE, ASKED)
        assert found.hit is None and found.shadow is not None  # every hit sampled


def test_shadow_stats_survive_a_bad_file(tmp_path: Path) -> None:
    (tmp_path / "shadow.json").write_text("{not json", encoding="utf-8")
    stats = ShadowStats(tmp_path)
    assert stats.observed == 0 and stats.upper_bound == 1.0
    stats.record(agreed=True)
    assert ShadowStats(tmp_path).observed == 1


def test_config_semantic_accepts_booleans_and_modes() -> None:
    assert CacheConfig(semantic=True).semantic == "on"
    assert CacheConfig(semantic=False).semantic == "off"
    assert CacheConfig(semantic="auto").semantic == "auto"
    with pytest.raises(ValueError, match="semantic"):
        CacheConfig(semantic="sometimes")


class ScriptedClient:
    """A ModelClient answering YES/NO by a rule, counting its calls."""

    def __init__(self, model: str, rule: Any) -> None:
        self._model = model
        self.rule = rule
        self.calls: list[str] = []

    @property
    def model(self) -> str:
        return self._model

    def complete(self, messages: Sequence[Mapping[str, Any]], **params: Any) -> Completion:
        prompt = str(messages[-1]["content"])
        self.calls.append(prompt)
        return Completion(self.rule(prompt), self._model, Usage(120, 1))

    async def acomplete(self, messages: Sequence[Mapping[str, Any]], **params: Any) -> Completion:
        return self.complete(messages, **params)


def _accountant() -> CostAccountant:
    prices = PriceBook(
        overrides={
            "judge": ModelPrice.per_million(0.1, 0.4),
            "premium": ModelPrice.per_million(10.0, 30.0),
        },
        use_litellm_map=False,
    )
    return CostAccountant(prices, MemoryLedger(), premium_model="premium")


def _judge_policy(embedder) -> GuardPolicy:
    # every candidate the vetoes let through goes to the judge
    pol = default_policy(embedder.name)
    assert pol.verifier is not None
    return GuardPolicy.from_dict({**pol.to_dict(), "judge_band": 1.0, "source": "test"})


def test_llm_judge_decides_and_its_cost_is_in_the_ledger(embedder, tmp_path: Path) -> None:
    acct = _accountant()
    client = ScriptedClient("judge", lambda p: "NO" if "cancel" in p.split("New question:")[1] else "YES")
    judge = LLMJudge(client, accountant=acct, min_saving_ratio=2.0)
    with make(embedder, tmp_path, "on", judge=judge, accountant=acct, policy=_judge_policy(embedder)) as cache:
        hit = cache.lookup(SCOPE, ASKED, request_id="r1")
        assert hit is not None and len(client.calls) == 1
        assert "Stored answer: " + ANSWER in client.calls[0]
        (rec,) = [r for r in acct.ledger.records() if r.kind == "judge"]
        assert rec.outcome == "overhead" and rec.cost_usd > 0 and rec.request_id == "r1" and rec.source == "cache"
        assert hit.overhead and hit.overhead[0].kind == "judge"
        assert cache.stats.judge_calls == 1


def test_llm_judge_is_skipped_when_it_does_not_pay(embedder, tmp_path: Path) -> None:
    acct = _accountant()
    client = ScriptedClient("judge", lambda _: "YES")
    judge = LLMJudge(client, accountant=acct, min_saving_ratio=1e9)
    with make(embedder, tmp_path, "on", judge=judge, accountant=acct, policy=_judge_policy(embedder)) as cache:
        assert cache.lookup(SCOPE, ASKED) is None
        assert client.calls == [] and cache.stats.judge_skipped == 1


def test_llm_judge_failure_is_a_no(embedder, tmp_path: Path) -> None:
    def boom(_: str) -> str:
        raise RuntimeError("provider down")

    judge = LLMJudge(ScriptedClient("judge", boom), min_saving_ratio=0)
    with make(embedder, tmp_path, "on", judge=judge, policy=_judge_policy(embedder)) as cache:
        assert cache.lookup(SCOPE, ASKED) is None


def test_parse_yes_no() -> None:
    assert parse_yes_no(" Yes.") is True and parse_yes_no("NO") is False and parse_yes_no("maybe") is None


def test_judge_model_is_wired_from_config(embedder, tmp_path: Path) -> None:
    made: list[str] = []

    def clients(name: str) -> ScriptedClient:
        made.append(name)
        return ScriptedClient("judge", lambda _: "YES")

    cfg = CacheConfig(enabled=True, dir=str(tmp_path), judge_model="cheap")
    with ResponseCache.from_config(cfg, embedder=embedder, clients=clients) as cache:
        assert isinstance(cache.judge, LLMJudge) and made == ["cheap"]
    with ResponseCache.from_config(cfg.model_copy(update={"dir": str(tmp_path / "b")}), embedder=embedder) as cache:
        assert cache.judge is None  # no clients: left out with a warning, undecided candidates refused


class _Scores:
    """A stand-in CrossEncoder: a score per pair by word overlap."""

    def __init__(self, path: str) -> None:
        self.path = path

    def predict(self, pairs: list[tuple[str, str]]) -> list[float]:
        a, b = (set(t.lower().split()) for t in pairs[0])
        return [4.0 if a == b else -4.0]


def test_cross_encoder_judge_with_a_loader(embedder, tmp_path: Path) -> None:
    judge = CrossEncoderJudge("my-model", threshold=0.5, loader=_Scores)
    assert judge.judge("a b", "b a").same and not judge.judge("a b", "a c").same
    assert 0.98 < judge.score("a b", "b a") <= 1.0


def test_cross_encoder_unloadable_is_a_config_error() -> None:
    def fail(path: str) -> Any:
        raise OSError("no such model")

    with pytest.raises(ConfigError, match=r"cache\.cross_encoder"):
        CrossEncoderJudge("/nowhere", loader=fail)
