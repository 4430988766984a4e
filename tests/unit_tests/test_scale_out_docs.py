"""docs/scale-out.md: its costrouter.yaml is valid and its docker-compose file is what the project renders."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from langchain_costrouter.cli import build_parser
from langchain_costrouter.core.config import CostRouterConfig
from litellm_hooks.proxy_config import render_compose, render_proxy_yaml, shared_backends

DOC = Path(__file__).resolve().parents[2] / "docs" / "scale-out.md"


def _blocks() -> dict[str, Any]:
    text = DOC.read_text(encoding="utf-8")
    out = {}
    for body in re.findall(r"```yaml\n(.*?)```", text, flags=re.S):
        first = body.splitlines()[0]
        if first.startswith("# ") and first.endswith(".yaml"):
            out[first[2:]] = yaml.safe_load(body)
    return out


def test_compose_example_is_what_render_compose_gives() -> None:
    blocks = _blocks()
    cfg = CostRouterConfig.from_dict(blocks["costrouter.yaml"])
    assert blocks["docker-compose.yaml"] == render_compose(cfg, replicas=3)


def test_every_proxy_command_parses_with_the_cli_and_names_its_config() -> None:
    compose = _blocks()["docker-compose.yaml"]
    proxies = {k: v for k, v in compose["services"].items() if k.startswith("proxy-")}
    assert len(proxies) == 3
    for svc in proxies.values():
        cmd = svc["command"]
        assert cmd[:2] == ["costrouter", "serve"]
        args = build_parser().parse_args(cmd[1:])
        assert str(args.config) == svc["environment"]["COSTROUTER_CONFIG"]
        mounted = [v.split(":")[1] for v in svc["volumes"]]
        assert str(args.config) in mounted
        env = svc["environment"]
        assert (
            env["COSTROUTER_LEDGER_URL"].startswith("postgresql://")
            and "@postgres:5432/" in env["COSTROUTER_LEDGER_URL"]
        )
        assert env["COSTROUTER_REDIS_URL"] == "redis://redis:6379/0"
        assert env[args.master_key_env] == "${" + args.master_key_env + "}"
        assert set(svc["depends_on"]) == {"postgres", "redis"}
    outboxes = [next(v for v in s["volumes"] if "outbox" in v).split(":")[0] for s in proxies.values()]
    assert len(set(outboxes)) == 3, "each replica keeps its own outbox"
    assert "--appendonly" in compose["services"]["redis"]["command"]


def test_proxy_yaml_names_the_shared_backends() -> None:
    cfg = CostRouterConfig.from_dict(_blocks()["costrouter.yaml"])
    assert shared_backends(cfg) == {
        "ledger: postgres table cost_records": "COSTROUTER_LEDGER_URL",
        "budgets: redis": "COSTROUTER_REDIS_URL",
        "cache: redis prefix costrouter:cache": "COSTROUTER_REDIS_URL",
    }
    text = render_proxy_yaml(cfg, config_path="costrouter.yaml")
    assert "every replica needs $COSTROUTER_LEDGER_URL" in text and "$COSTROUTER_REDIS_URL" in text
    embedded = CostRouterConfig.from_dict({"tiers": cfg.model_dump(mode="json")["tiers"]})
    assert shared_backends(embedded) == {}
    assert cfg.cache.enabled and cfg.cache.backend == "redis"  # the example shares its cache too


def test_compose_gives_the_cache_its_own_redis_variable() -> None:
    raw = _blocks()["costrouter.yaml"]
    cfg = CostRouterConfig.from_dict({**raw, "cache": {**raw["cache"], "redis_url_env": "CACHE_REDIS"}})
    env = render_compose(cfg, replicas=2)["services"]["proxy-1"]["environment"]
    assert env["CACHE_REDIS"] == "redis://redis:6379/0" and env["COSTROUTER_REDIS_URL"] == "redis://redis:6379/0"
    text = render_proxy_yaml(cfg, config_path="costrouter.yaml")
    assert "cache: redis prefix costrouter:cache: every replica needs $CACHE_REDIS" in text
