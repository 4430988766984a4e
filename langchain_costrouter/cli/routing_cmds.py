"""``costrouter bench routing``: accuracy of the rules and embedding routers on labelled prompts."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

__all__ = ["register_bench", "routing_accuracy"]

_DATA = Path(__file__).resolve().parents[1] / "data" / "task_prompts.jsonl"
_EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "costrouter.yaml"


def routing_accuracy(config_path: Path, data_path: Path) -> dict[str, Any]:
    """Accuracy, per-route recall and mean routing time of both routers on a labelled JSONL file.

    Raises:
        DataError: a line is not JSON with ``prompt`` and ``task``, or a task is not a route.
    """
    from langchain_costrouter.core.config import CostRouterConfig
    from langchain_costrouter.core.errors import DataError
    from langchain_costrouter.core.routing import EmbeddingRouter, RulesRouter
    from langchain_costrouter.core.types import ChatRequest

    config = CostRouterConfig.from_yaml(config_path)
    routes = {r.name for r in config.routing.routes}
    rows: list[dict[str, str]] = []
    try:
        lines = data_path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        msg = f"cannot read {data_path}: {exc.strerror or exc}"
        raise DataError(msg) from None
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            prompt, task = str(row["prompt"]), str(row["task"])
        except (ValueError, KeyError, TypeError) as exc:
            msg = f"{data_path}:{i}: expected a JSON object with 'prompt' and 'task' ({exc})"
            raise DataError(msg) from None
        if task not in routes:
            msg = f"{data_path}:{i}: task {task!r} is not a route of {config_path} ({sorted(routes)})"
            raise DataError(msg)
        rows.append({"prompt": prompt, "task": task})
    out: dict[str, Any] = {"items": len(rows), "config": str(config_path), "data": str(data_path)}
    for name, router in (("rules", RulesRouter(config)), ("embedding", EmbeddingRouter(config))):
        router.route(ChatRequest(messages=({"role": "user", "content": "warm up"},)))
        hits: dict[str, list[int]] = {r: [0, 0] for r in routes}
        t0 = time.perf_counter()
        for row in rows:
            decision = router.route(ChatRequest(messages=({"role": "user", "content": row["prompt"]},)))
            hits[row["task"]][1] += 1
            hits[row["task"]][0] += int(decision.route == row["task"])
        elapsed = time.perf_counter() - t0
        correct = sum(h[0] for h in hits.values())
        out[name] = {
            "accuracy": correct / len(rows) if rows else 0.0,
            "per_route_recall": {r: (h[0] / h[1] if h[1] else None) for r, h in sorted(hits.items())},
            "mean_ms": elapsed / max(1, len(rows)) * 1000,
        }
    return out


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from langchain_costrouter.cli._style import write_json

    result = routing_accuracy(Path(args.config), Path(args.data))
    console = Console(stderr=args.json_out == "-")
    table = Table(title=f"Routing accuracy on {result['items']} labelled prompts")
    table.add_column("route")
    table.add_column("rules", justify="right")
    table.add_column("embedding", justify="right")
    for route in result["rules"]["per_route_recall"]:
        r, e = result["rules"]["per_route_recall"][route], result["embedding"]["per_route_recall"][route]
        table.add_row(route, f"{r:.0%}", f"{e:.0%}")
    table.add_row("[b]accuracy", f"[b]{result['rules']['accuracy']:.1%}", f"[b]{result['embedding']['accuracy']:.1%}")
    table.add_row("mean ms / request", f"{result['rules']['mean_ms']:.3f}", f"{result['embedding']['mean_ms']:.3f}")
    console.print(table)
    if args.json_out:
        write_json(args.json_out, result)
    return 0


def register_bench(subparsers: Any) -> None:
    """Adds ``bench routing``."""
    from langchain_costrouter.cli._style import add_command, add_config, add_data, add_json

    p = add_command(subparsers, "routing", help="accuracy of the rules vs embedding router on labelled prompts")
    add_config(p, required=False, default=_EXAMPLE, help="costrouter YAML with routes (default: the bundled example)")
    add_data(
        p,
        required=False,
        default=_DATA,
        help='JSONL of labelled prompts, {"prompt": ..., "task": <route name>} (default: the bundled set)',
    )
    add_json(p)
    p.set_defaults(func=_run)
