"""Runs ``costrouter bench savings`` end to end and renders its figures (tables or Markdown)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from langchain_costrouter.offline.savings_bench import (
    BenchSettings,
    build_workload,
    compression_config,
    decision_examples,
    pct,
    per_day,
    run_target,
)

__all__ = ["render", "render_markdown", "run_bench"]


def run_bench(config_path: Path, s: BenchSettings, targets: list[str] | None = None) -> dict[str, Any]:
    """Starts the local server, sends the sample every way for every target, returns the figures."""
    from langchain_openai import ChatOpenAI

    from langchain_costrouter._tiers import LangChainModelClient
    from langchain_costrouter.core.compression import PromptCompressor
    from langchain_costrouter.core.config import CostRouterConfig, TierSpec
    from langchain_costrouter.core.pricing import PriceBook
    from langchain_costrouter.core.tokens import count_tokens, encoding_for_model
    from langchain_costrouter.testing.responders import OptimizeResponder
    from langchain_costrouter.testing.server import LocalOpenAIServer

    cfg = CostRouterConfig.from_yaml(config_path)
    prices = PriceBook(cfg.price_overrides_map())
    names = targets or list(dict.fromkeys([cfg.tiers[0].name, cfg.tiers[-1].name]))
    specs = [cfg.deployment(n) for n in names]
    comp_spec = cfg.deployment(cfg.compression.model or cfg.tiers[0].name)
    step = round(1 / s.malformed_share) if s.malformed_share > 0 else 0
    # every step-th request is answered badly on its first try; picked by its order number, which
    # a compressed question keeps (numbers are protected) and a batch's random ids do not carry
    malformed = {f"{10_000 + i - 1})?" for i in range(1, s.sample + 1) if step and i % step == 0}
    responder = OptimizeResponder(malformed=malformed)
    server = LocalOpenAIServer(responder).start()

    def client_for(spec: TierSpec) -> LangChainModelClient:
        chat = ChatOpenAI(
            model=spec.provider_model, base_url=server.base_url, api_key="sk-local", max_retries=0, timeout=120
        )
        return LangChainModelClient(chat, spec.model)

    comp_cfg = compression_config(cfg.compression)

    def make_compressor() -> PromptCompressor:
        return PromptCompressor(client_for(comp_spec), prices, config=comp_cfg)

    enc = encoding_for_model(specs[0].model)
    work = build_workload(s, enc)
    result: dict[str, Any] = {
        "settings": asdict(s),
        "config": str(config_path),
        "compressor": comp_spec.model,
        "compression": comp_cfg.model_dump(),
        "prices_per_million": {},
        "workload": {
            "system_tokens": count_tokens(work.system_prompt, enc),
            "requests": len(work.questions),
            "long_requests": work.long_count,
            "user_tokens_mean": sum(count_tokens(q, enc) for q in work.questions) / len(work.questions),
            "malformed_ids": len(malformed),
        },
        "targets": {},
    }
    try:
        for spec in [*specs, comp_spec]:
            p = prices.price(spec.model)
            result["prices_per_million"][spec.model] = {
                "input": p.input * 1e6,
                "output": p.output * 1e6,
                "cache_read": None if p.cache_read is None else p.cache_read * 1e6,
            }
        for spec in specs:
            scenarios = run_target(
                work,
                s,
                target=client_for(spec),
                compressor=make_compressor,
                prices=prices,
                discount=cfg.batching.batch_api_discount,
                reset=responder.reset,
            )
            result["targets"][f"{spec.name} ({spec.model})"] = [x.to_dict() for x in scenarios]
        result["decisions"] = [
            {"target": t, "case": c, **d}
            for t, c, d in decision_examples(work, make_compressor(), [x.model for x in specs])
        ]
        result["http_requests"] = len(server.requests)
    finally:
        server.stop()
    return result


def _row(x: dict[str, Any], base: dict[str, Any], s: BenchSettings) -> list[str]:
    first = x is base
    return [
        x["name"],
        f"{per_day(x['calls'], s):,.0f}",
        f"{per_day(x['input_tokens'], s) / 1e6:,.2f} M",
        f"{per_day(x['answer_input_tokens'], s) / 1e6:,.2f} M",
        f"{per_day(x['output_tokens'], s) / 1e6:,.2f} M",
        f"${per_day(x['cost_usd'], s):,.2f}",
        "-" if first else pct(base["cost_usd"] - x["cost_usd"], base["cost_usd"]),
        f"${per_day(x['cost_cached_usd'], s):,.2f}",
        "-" if first else pct(base["cost_cached_usd"] - x["cost_cached_usd"], base["cost_cached_usd"]),
        f"${per_day(x['overhead_usd'], s):,.3f}",
        "; ".join([*x["notes"], *([f"{x['failed']} unanswered"] if x["failed"] else [])]),
    ]


def _rows(result: dict[str, Any], scenarios: list[dict[str, Any]]) -> list[list[str]]:
    s = BenchSettings(**result["settings"])
    return [_row(x, scenarios[0], s) for x in scenarios]


_HEAD = [
    "scenario",
    "calls/day",
    "input tok/day",
    "of which answering model",
    "output tok/day",
    "$/day",
    "saved",
    "$/day, prefix cache",
    "saved",
    "overhead $/day",
    "notes",
]
_DHEAD = ["target", "case", "tokens", "est. after", "saved $", "call $", "lost prefix $", "compress?"]


def _decision_rows(result: dict[str, Any]) -> list[list[str]]:
    return [
        [
            d["target"],
            d["case"],
            str(d["tokens_before"]),
            str(d["tokens_after_estimate"]),
            f"{d['saved_usd']:.6f}",
            f"{d['call_cost_usd']:.6f}",
            f"{d['lost_prefix_discount_usd']:.6f}",
            ("yes" if d["compress"] else "no") + f" ({d['reason']})",
        ]
        for d in result.get("decisions", [])
    ]


def render(result: dict[str, Any], console: Console) -> None:
    """Prints the figures as tables."""
    w = result["workload"]
    console.print(
        f"[bold]bench savings[/]: {result['settings']['requests_per_day']:,} requests/day, system prompt "
        f"{w['system_tokens']} tokens, sample {w['requests']} ({w['long_requests']} with a document, "
        f"mean user message {w['user_tokens_mean']:.0f} tokens); {result.get('http_requests', 0)} HTTP calls "
        f"in {result.get('wall_s', 0):.1f} s"
    )
    for target, scenarios in result["targets"].items():
        table = Table(title=f"answering model: {target}", show_lines=False)
        for h in _HEAD:
            table.add_column(h, overflow="fold")
        for row in _rows(result, scenarios):
            table.add_row(*row)
        console.print(table)
    table = Table(title=f"compression decisions (compressor {result['compressor']})")
    for h in _DHEAD:
        table.add_column(h, overflow="fold")
    for row in _decision_rows(result):
        table.add_row(*row)
    console.print(table)


def render_markdown(result: dict[str, Any]) -> str:
    """The figures as Markdown tables (for BENCHMARKS.md)."""
    out: list[str] = []
    for target, scenarios in result["targets"].items():
        out.append(f"Answering model **{target}**:\n")
        out.append("| " + " | ".join(_HEAD) + " |")
        out.append("|" + "|".join(["---"] + ["---:"] * (len(_HEAD) - 2) + ["---"]) + "|")
        out.extend("| " + " | ".join(r) + " |" for r in _rows(result, scenarios))
        out.append("")
    out.append(f"Compression decisions (compressor `{result['compressor']}`, no call made):\n")
    out.append("| " + " | ".join(_DHEAD) + " |")
    out.append("|" + "|".join(["---", "---"] + ["---:"] * 5 + ["---"]) + "|")
    out.extend("| " + " | ".join(r) + " |" for r in _decision_rows(result))
    return "\n".join(out) + "\n"
