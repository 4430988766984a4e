"""One behaviour, three adapters: ``ChatCostRouter``, the LiteLLM SDK Router and the real LiteLLM proxy.

Every scenario (accepted, escalated on its gate, a rate limit retried, a 5xx retried then
escalated, a timeout, the budget stopping the cascade, an exhausted cascade, a cache hit, tenant
isolation, compression, streams, an answer breaking the request's ``response_format`` schema)
runs through the three adapters against the same local server,
each with its own ledger and cache on the same config. The ledger records of each request must be
identical (every upstream attempt, retries included, exactly once, with the same tokens and cost),
and so must the metadata trail (the proxy shows it as ``x-costrouter-*`` headers). Each scenario
also checks what the trail must be, so the three cannot agree on a wrong answer.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import openai
import pytest
import yaml

from langchain_costrouter import ChatCostRouter, CostRouterConfig
from langchain_costrouter.core.compression import COMPRESSOR_SYSTEM_PROMPT
from langchain_costrouter.core.ledger import CostRecord, SQLiteLedger
from langchain_costrouter.testing.responders import OptimizeResponder
from langchain_costrouter.testing.server import FaultSpec, LocalOpenAIServer, ModelScript, ReplyRule, Script
from langchain_costrouter.testing.server._request import ChatCall
from langchain_costrouter.testing.server._server import make_responder

pytestmark = [pytest.mark.server, pytest.mark.proxy]

GOOD = "Paris is the capital of France; it has been for centuries."
MASTER_KEY = "sk-parity-" + secrets.token_hex(6)
LONG = " ".join(
    f"Paragraph {i}: the customer wrote at length about the late parcel, the courier who left it at "
    "the wrong door, and the support line that never called back."
    for i in range(60)
)
CAPITAL = {"country": "France", "capital": "Paris"}
CAPITAL_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "capital",
        "schema": {
            "type": "object",
            "properties": {"country": {"type": "string"}, "capital": {"type": "string"}},
            "required": ["country", "capital"],
        },
    },
}
SCRIPT = Script(
    models={
        "cheap-m": ModelScript(
            reply="dunno",
            rules=(
                ReplyRule(reply='{"country": "France"}', contains="(structured)"),  # no capital: breaks the schema
                ReplyRule(reply=GOOD, contains="France"),
            ),
        ),
        "prem-m": ModelScript(
            reply=GOOD,
            rules=(
                ReplyRule(reply=json.dumps(CAPITAL), contains="(structured)"),
                ReplyRule(reply="No.", contains="unanswerable"),
            ),
        ),
        "flaky-m": ModelScript(reply=GOOD, faults=(FaultSpec(kind="429", times=1, retry_after=0),)),
        "down-m": ModelScript(reply=GOOD, faults=(FaultSpec(kind="500"),)),
        "slow-m": ModelScript(reply=GOOD, faults=(FaultSpec(kind="timeout", delay_s=3.0),)),
    },
    strict=False,
)


class _Responder:
    """The scripted models, plus a compressor answering the core compressor's calls."""

    system_fingerprint = "fp_costrouter_parity"

    def __init__(self) -> None:
        self.script = make_responder(SCRIPT)
        self.optimize = OptimizeResponder()

    def model_names(self) -> list[str]:
        return list(self.script.model_names())

    def plan(self, call: ChatCall) -> Any:
        system = call.messages[0].get("content") if call.messages else None
        return (self.optimize if system == COMPRESSOR_SYSTEM_PROMPT else self.script).plan(call)


def _config(base_url: str, folder: Path) -> dict[str, Any]:
    def dep(name: str, model: str, price: tuple[float, float], **extra: Any) -> dict[str, Any]:
        return {
            "name": name,
            "model": f"openai/{model}",
            "api_base": base_url,
            "price": {"input": price[0], "output": price[1]},
            "max_tokens": 100,
            **extra,
        }

    gate = {"type": "heuristic", "min_chars": 20}
    return {
        "tiers": [dep("cheap", "cheap-m", (0.1, 0.4), gate=gate), dep("premium", "prem-m", (10.0, 40.0), gate=gate)],
        "models": [
            dep("flaky", "flaky-m", (0.5, 2.0)),
            dep("down", "down-m", (0.5, 2.0)),
            dep("slow", "slow-m", (0.5, 2.0), timeout_s=0.5),
            dep("squeezer", "gpt-4o-mini", (0.15, 0.6)),
        ],
        "cascade": {"retries": 1, "retry_backoff_s": 0},
        "budget": {"per_request_usd": 0.05},
        "cache": {"enabled": True, "dir": str(folder / "cache"), "namespace": "parity"},
        "compression": {"enabled": True, "model": "squeezer", "min_tokens": 500, "target_ratio": 0.5},
        "ledger": {"backend": "sqlite", "path": str(folder / "ledger.sqlite")},
    }


@dataclass
class Answer:
    text: str
    trail: dict[str, Any] | None  # None for a stream through LiteLLM (the trail is in the ledger)


class Adapter(Protocol):
    name: str
    ledger: SQLiteLedger

    def ask(
        self,
        prompt: str,
        *,
        model: str,
        tenant: str | None,
        stream: bool,
        max_tokens: int | None,
        response_format: dict[str, Any] | None = None,
    ) -> Answer: ...


class LangChainAdapter:
    name = "langchain"

    def __init__(self, config: CostRouterConfig) -> None:
        self.ledger = SQLiteLedger(config.ledger.path)
        self.llm = ChatCostRouter(config=config)
        self.started: dict[str, ChatCostRouter] = {}  # model="<tier>" is ChatCostRouter(start=...)

    def _llm(self, model: str) -> ChatCostRouter:
        if model == "costrouter":
            return self.llm
        if model not in self.started:
            cache = self.llm.runtime.response_cache
            self.started[model] = ChatCostRouter(config=self.llm.config, start=model, response_cache=cache)
        return self.started[model]

    def ask(
        self,
        prompt: str,
        *,
        model: str,
        tenant: str | None,
        stream: bool,
        max_tokens: int | None,
        response_format: dict[str, Any] | None = None,
    ) -> Answer:
        llm = self._llm(model)
        config: Any = {"metadata": {"costrouter_tenant": tenant}} if tenant else None
        kwargs: dict[str, Any] = {"max_tokens": max_tokens} if max_tokens else {}
        if response_format:
            kwargs["response_format"] = response_format
        if stream:
            chunks = list(llm.stream(prompt, config=config, **kwargs))
            return Answer("".join(str(c.content) for c in chunks), chunks[-1].response_metadata["costrouter"])
        msg = llm.invoke(prompt, config=config, **kwargs)
        return Answer(str(msg.content), msg.response_metadata["costrouter"])

    def close(self) -> None:
        for llm in self.started.values():  # they share the main router's cache: close only their ledgers
            llm.runtime.accountant.flush()
            llm.runtime.ledger.close()
        self.llm.close()
        self.ledger.close()


class RouterAdapter:
    name = "litellm-sdk"

    def __init__(self, config: CostRouterConfig) -> None:
        from litellm_hooks import CostRouterHooks, build_router

        self.hooks = CostRouterHooks(config)
        self.router = build_router(config, hooks=self.hooks)
        self.ledger = SQLiteLedger(config.ledger.path)

    def ask(
        self,
        prompt: str,
        *,
        model: str,
        tenant: str | None,
        stream: bool,
        max_tokens: int | None,
        response_format: dict[str, Any] | None = None,
    ) -> Answer:
        kwargs: dict[str, Any] = {"metadata": {"costrouter_tenant": tenant}} if tenant else {}
        if max_tokens:
            kwargs["max_tokens"] = max_tokens
        if response_format:
            kwargs["response_format"] = response_format
        messages = [{"role": "user", "content": prompt}]
        if stream:
            chunks = self.router.completion(model=model, messages=messages, stream=True, **kwargs)
            return Answer("".join(c.choices[0].delta.content or "" for c in chunks if c.choices), None)
        resp = self.router.completion(model=model, messages=messages, **kwargs)
        return Answer(str(resp.choices[0].message.content), resp._hidden_params["costrouter"])

    def close(self) -> None:
        self.hooks.close()
        self.ledger.close()


class ProxyAdapter:
    name = "litellm-proxy"

    def __init__(self, config_path: Path) -> None:
        from litellm_hooks.proxy_config import write_proxy_config
        from litellm_hooks.proxy_process import ProxyProcess

        rendered = write_proxy_config(config_path, config_path.parent / "litellm-proxy.yaml")
        self.process = ProxyProcess(rendered, env={"LITELLM_MASTER_KEY": MASTER_KEY})
        try:
            self.process.start()
        except RuntimeError:
            pytest.fail(f"proxy did not start:\n{self.process.log_tail()}")
        self.client = openai.OpenAI(base_url=self.process.base_url, api_key=MASTER_KEY, max_retries=0, timeout=60)
        self.ledger = SQLiteLedger(CostRouterConfig.from_yaml(config_path).ledger.path)

    def ask(
        self,
        prompt: str,
        *,
        model: str,
        tenant: str | None,
        stream: bool,
        max_tokens: int | None,
        response_format: dict[str, Any] | None = None,
    ) -> Answer:
        kwargs: dict[str, Any] = {"metadata": {"costrouter_tenant": tenant}} if tenant else {}
        if max_tokens:
            kwargs["max_tokens"] = max_tokens
        if response_format:
            kwargs["response_format"] = response_format
        messages: Any = [{"role": "user", "content": prompt}]
        if stream:
            chunks = self.client.chat.completions.create(model=model, messages=messages, stream=True, **kwargs)
            return Answer("".join(c.choices[0].delta.content or "" for c in chunks if c.choices), None)
        raw = self.client.chat.completions.with_raw_response.create(model=model, messages=messages, **kwargs)
        h = raw.headers
        trail = {
            "tier": h["x-costrouter-tier"],
            "escalations": int(h["x-costrouter-escalations"]),
            "cache": None if h["x-costrouter-cache"] == "miss" else {"kind": h["x-costrouter-cache"]},
            "total_cost_usd": float(h["x-costrouter-cost-usd"]),
            "headers": True,
        }
        return Answer(str(raw.parse().choices[0].message.content), trail)

    def close(self) -> None:
        self.process.stop()
        self.ledger.close()


@pytest.fixture(scope="module")
def server() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(_Responder()) as srv:
        yield srv


@pytest.fixture(scope="module")
def adapters(server: LocalOpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Any]]:
    made: list[Any] = []
    try:
        for kind in ("langchain", "sdk", "proxy"):
            folder = tmp_path_factory.mktemp(f"parity-{kind}")
            path = folder / "costrouter.yaml"
            path.write_text(yaml.safe_dump(_config(server.base_url, folder)), encoding="utf-8")
            cfg = CostRouterConfig.from_yaml(path)
            made.append(
                LangChainAdapter(cfg)
                if kind == "langchain"
                else RouterAdapter(cfg)
                if kind == "sdk"
                else ProxyAdapter(path)
            )
        yield made
    finally:
        for a in made:
            a.close()


def _records(adapter: Any, before: int) -> list[tuple[Any, ...]]:
    recs: list[CostRecord] = adapter.ledger.records()[before:]
    assert len({r.request_id for r in recs}) <= 1, "one request, one request id"
    return [
        (
            r.kind,
            r.outcome,
            r.tier,
            r.escalation_step,
            r.extra.get("retry", 0),
            r.input_tokens,
            r.output_tokens,
            round(r.cost_usd, 10),
            r.tenant,
            r.cache_hit,
            r.extra.get("flag"),
            r.error,
        )
        for r in recs
    ]


def _trail(trail: dict[str, Any]) -> dict[str, Any]:
    cache = trail.get("cache")
    out = {
        "tier": trail["tier"],
        "escalations": trail["escalations"],
        "cache": cache["kind"] if cache else None,
        "cost": round(trail["total_cost_usd"], 8),
    }
    if not trail.get("headers"):
        out["full"] = (
            trail["accepted"],
            trail["flag"],
            [(a["step"], a["retry"], a["tier"], a["outcome"], a["error_kind"]) for a in trail["attempts"]],
        )
    return out


def _run(server: LocalOpenAIServer, adapters: list[Any], prompt: str, **kw: Any) -> list[tuple[Answer, list[Any]]]:
    out = []
    for adapter in adapters:
        server.reset_faults()
        before = adapter.ledger.count()
        answer = adapter.ask(
            prompt,
            model=kw.get("model", "costrouter"),
            tenant=kw.get("tenant"),
            stream=kw.get("stream", False),
            max_tokens=kw.get("max_tokens"),
            response_format=kw.get("response_format"),
        )
        out.append((answer, _records(adapter, before)))
    texts = {a.name: ans.text for a, (ans, _) in zip(adapters, out, strict=True)}
    assert len(set(texts.values())) == 1, texts
    ledgers = {a.name: recs for a, (_, recs) in zip(adapters, out, strict=True)}
    first = next(iter(ledgers.values()))
    for name, recs in ledgers.items():
        assert recs == first, f"{name} ledger differs:\n{recs}\n!=\n{first}"
    full = [_trail(ans.trail) for ans, _ in out if ans.trail is not None]
    for t in full[1:]:
        assert {k: v for k, v in t.items() if k != "full"} == {k: v for k, v in full[0].items() if k != "full"}
        if "full" in t:
            assert t["full"] == full[0]["full"]
    return out


def _outcomes(recs: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [(r[0], r[1], r[2], r[4]) for r in recs]  # kind, outcome, tier, retry


def test_accepted(server: LocalOpenAIServer, adapters: list[Any]) -> None:
    [(ans, recs), *_] = _run(server, adapters, "What is the capital of France? (accepted)")
    assert ans.text == GOOD
    assert _outcomes(recs) == [("completion", "accepted", "cheap", 0)]


def test_escalated_on_the_gate(server: LocalOpenAIServer, adapters: list[Any]) -> None:
    [(ans, recs), *_] = _run(server, adapters, "Tell me a fact. (escalated)")
    assert ans.text == GOOD and ans.trail is not None and ans.trail["escalations"] == 1
    assert _outcomes(recs) == [("completion", "rejected", "cheap", 0), ("completion", "accepted", "premium", 0)]


def test_rate_limit_retried_on_the_same_tier(server: LocalOpenAIServer, adapters: list[Any]) -> None:
    [(_, recs), *_] = _run(server, adapters, "hello (429)", model="flaky")
    assert _outcomes(recs) == [("completion", "error", "flaky", 0), ("completion", "accepted", "flaky", 1)]
    assert recs[0][-1] == "rate_limit: HTTP 429"


@pytest.mark.parametrize(("model", "kind"), [("down", "server"), ("slow", "timeout")])
def test_failures_retried_then_escalated(server: LocalOpenAIServer, adapters: list[Any], model: str, kind: str) -> None:
    [(ans, recs), *_] = _run(server, adapters, f"hello ({model})", model=model)
    assert ans.text == GOOD
    assert _outcomes(recs) == [
        ("completion", "error", model, 0),
        ("completion", "error", model, 1),
        ("completion", "accepted", "premium", 0),
    ]
    assert {r[-1].split(":")[0] for r in recs[:2]} == {kind}


def test_budget_stops_the_cascade_and_serves_the_best_so_far(server: LocalOpenAIServer, adapters: list[Any]) -> None:
    # premium's estimate at max_tokens=2000 ($0.08) does not fit the $0.05 budget
    [(ans, recs), *_] = _run(server, adapters, "Tell me a fact. (budget)", max_tokens=2000)
    assert ans.text == "dunno"
    assert _outcomes(recs) == [("completion", "rejected", "cheap", 0), ("completion", "served", "cheap", 0)]
    assert recs[-1][10] == "budget"


def test_exhausted_cascade_serves_the_best_answer(server: LocalOpenAIServer, adapters: list[Any]) -> None:
    [(ans, recs), *_] = _run(server, adapters, "An unanswerable question.")
    assert ans.text == "dunno"  # scores better than premium's "No."
    assert [r[1] for r in recs] == ["rejected", "rejected", "served"] and recs[-1][10] == "exhausted"


def test_cache_hit(server: LocalOpenAIServer, adapters: list[Any]) -> None:
    _run(server, adapters, "What is the capital of France? (cache)")
    [(ans, recs), *_] = _run(server, adapters, "What is the capital of France? (cache)")
    assert ans.text == GOOD
    assert [(r[0], r[1], r[2], r[9]) for r in recs] == [("cache_hit", "served", "cheap", "exact")]
    assert recs[0][7] == 0.0


def test_tenants_are_recorded_apart_and_never_share_cache_entries(
    server: LocalOpenAIServer, adapters: list[Any]
) -> None:
    _run(server, adapters, "What is the capital of France? (tenants)", tenant="A")
    [(_, recs), *_] = _run(server, adapters, "What is the capital of France? (tenants)", tenant="B")
    assert [(r[0], r[8]) for r in recs] == [("completion", "B")]  # B paid: no hit on A's entry
    [(_, again), *_] = _run(server, adapters, "What is the capital of France? (tenants)", tenant="A")
    assert [(r[0], r[8]) for r in again] == [("cache_hit", "A")]


def test_compression_applied_for_the_tier_where_it_pays(server: LocalOpenAIServer, adapters: list[Any]) -> None:
    [(ans, recs), *_] = _run(server, adapters, f"Summarise this complaint.\n\n{LONG}", model="premium")
    assert ans.text == GOOD
    kinds = [(r[0], r[1]) for r in recs]
    assert kinds == [("compression", "overhead"), ("completion", "accepted")]
    assert recs[0][7] > 0


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Tell me a fact. (stream escalated)", [("rejected", "cheap"), ("accepted", "premium")]),
        ("What is the capital of France? (stream)", [("accepted", "cheap")]),
    ],
)
def test_streams_are_gated(
    server: LocalOpenAIServer, adapters: list[Any], prompt: str, expected: list[tuple[str, str]]
) -> None:
    [(ans, recs), *_] = _run(server, adapters, prompt, stream=True)
    assert ans.text == GOOD  # a rejected cheap answer is never streamed
    assert [(r[1], r[2]) for r in recs] == expected


def test_an_answer_breaking_the_response_format_schema_escalates(
    server: LocalOpenAIServer, adapters: list[Any]
) -> None:
    before = [a.ledger.count() for a in adapters]
    prompt = "Which city is the capital? (structured)"
    [(ans, recs), *_] = _run(server, adapters, prompt, response_format=CAPITAL_FORMAT)
    assert json.loads(ans.text) == CAPITAL
    # the cheap answer passed its heuristic gate but not the request's own schema: a recorded rejection
    assert _outcomes(recs) == [("completion", "rejected", "cheap", 0), ("completion", "accepted", "premium", 0)]
    for adapter, n in zip(adapters, before, strict=True):
        rejected = adapter.ledger.records()[n]
        assert rejected.extra["gate"] == "response_format", adapter.name
        assert "capital" in rejected.extra["reason"]
