from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.errors import ConfigError

EXAMPLE = Path(__file__).parents[3] / "examples" / "costrouter.yaml"


def _base() -> dict:
    return {
        "tiers": [
            {"name": "cheap", "model": "openai/gpt-4o-mini"},
            {"name": "mid", "model": "openai/gpt-4o"},
            {"name": "premium", "model": "x/y", "price": {"input": 1, "output": 2}},
        ]
    }


def test_example_config_reproduces_seed_table() -> None:
    cfg = CostRouterConfig.from_yaml(EXAMPLE)
    out_price = {}
    for route in cfg.routing.routes:
        spec = cfg.deployment(route.model or route.tier or "")
        assert spec.price is not None
        out_price[route.name] = (spec.model.split("/", 1)[1], spec.price.output)
    assert out_price == {
        "chat": ("deepseek-v4-flash", 0.25),
        "classification": ("qwen3-8b", 0.01),
        "code": ("deepseek-coder", 0.25),
        "long_document": ("qwen3-32b", 0.28),
        "translation": ("qwen-mt-turbo", 0.30),
        "complex_reasoning": ("deepseek-reasoner", 2.50),
    }
    assert cfg.premium.name == "premium"
    # relative paths are resolved against the file's folder
    assert Path(cfg.ledger.path).is_absolute()
    assert Path(cfg.ledger.path).parent == EXAMPLE.parent


@pytest.mark.parametrize(
    ("mutate", "field", "why"),
    [
        (lambda d: d["tiers"][2]["price"].update(output=-1), "tiers[2].price.output", "greater than or equal to 0"),
        (lambda d: d["tiers"][0].update(max_tokens=0), "tiers[0].max_tokens", "greater than 0"),
        (lambda d: d["tiers"][1].update(api_base="localhost:8000"), "tiers[1].api_base", "http(s) URL"),
        (lambda d: d["tiers"][0].update(gate={"type": "judge"}), "tiers[0].gate", "judge_model"),
        (lambda d: d["tiers"][0].update(gate={"type": "regex", "pattern": "("}), "tiers[0].gate", "regular expression"),
        (lambda d: d["tiers"][0].update(bogus=1), "tiers[0].bogus", "Extra inputs"),
        (lambda d: d["tiers"][1].update(name="cheap"), "", "unique"),
        (lambda d: d.update(tiers=[]), "tiers", "at least 1"),
        (lambda d: d.update(premium_tier="nope"), "", "premium_tier"),
        (
            lambda d: d.update(routing={"type": "rules", "routes": [{"name": "r", "tier": "zz"}]}),
            "routing.routes[0].tier",
            "unknown tier 'zz'",
        ),
        (
            lambda d: d.update(routing={"type": "rules", "routes": [{"name": "r", "tier": "cheap", "model": "mid"}]}),
            "routing.routes[0]",
            "exactly one",
        ),
        (
            lambda d: d["tiers"][0].update(gate={"type": "judge", "judge_model": "ghost"}),
            "tiers[0].gate.judge_model",
            "unknown judge model",
        ),
        (lambda d: d.update(compression={"model": "ghost"}), "compression.model", "unknown model"),
        (lambda d: d.update(budget={"per_request_usd": -0.1}), "budget.per_request_usd", "greater than or equal"),
    ],
)
def test_bad_config_names_the_field(mutate, field: str, why: str) -> None:
    data = _base()
    mutate(data)
    with pytest.raises(ConfigError) as info:
        CostRouterConfig.from_dict(data)
    assert info.value.field == field
    assert why in str(info.value)


def test_from_yaml_errors_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        CostRouterConfig.from_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("tiers: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        CostRouterConfig.from_yaml(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must be a mapping"):
        CostRouterConfig.from_yaml(listy)


def test_config_is_frozen_and_secrets_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _base()
    data["tiers"][0]["api_key"] = "sk-secret-value-123"
    data["tiers"][1]["api_key_env"] = "MY_TEST_KEY"
    cfg = CostRouterConfig.from_dict(data)
    with pytest.raises(Exception, match="frozen"):
        cfg.tiers[0].name = "x"  # type: ignore[misc]
    assert "sk-secret-value-123" not in repr(cfg)
    assert "sk-secret-value-123" not in cfg.to_yaml()
    monkeypatch.setenv("MY_TEST_KEY", "from-env")
    key = cfg.tiers[1].resolve_api_key()
    assert key is not None and key.get_secret_value() == "from-env"


def test_yaml_round_trip(tmp_path: Path) -> None:
    cfg = CostRouterConfig.from_yaml(EXAMPLE)
    out = tmp_path / "again.yaml"
    out.write_text(cfg.to_yaml(), encoding="utf-8")
    again = CostRouterConfig.from_yaml(out)
    assert again.tiers == cfg.tiers
    assert again.routing == cfg.routing
    assert yaml.safe_load(cfg.to_yaml())["tiers"][0]["name"] == "cheap"
