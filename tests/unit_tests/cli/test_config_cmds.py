"""``costrouter config check / schema / reference`` and the generated docs/config.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from langchain_costrouter.cli import main
from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.config_check import check_config
from langchain_costrouter.core.config_reference import config_reference, config_schema, iter_keys, undocumented_keys

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "costrouter.yaml"


def test_docs_config_md_is_current() -> None:
    """docs/config.md is generated: regenerate it with `make docs` when this fails."""
    assert (ROOT / "docs" / "config.md").read_text(encoding="utf-8") == config_reference()


def test_every_key_is_documented_with_a_description() -> None:
    assert undocumented_keys() == []
    text = config_reference()
    for key, _cls, name, _info in iter_keys():
        assert f"| `{name}` |" in text, key


def test_schema_validates_the_example_and_rejects_a_typo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == json.loads(json.dumps(config_schema()))
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    jsonschema.validate(data, schema)  # the shipped example is valid for editors too
    data["tiers"][0]["max_tokenz"] = 10
    with pytest.raises(jsonschema.ValidationError, match="max_tokenz"):
        jsonschema.validate(data, schema)
    data["tiers"][0].pop("max_tokenz")
    data["tiers"][0]["price"]["output"] = -1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)


def _check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    code = main(["config", "check", *argv, "--json", "-"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def test_check_of_the_example_prices_routes_and_unset_keys(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    monkeypatch.setenv("DASHSCOPE_API_KEY", "set")
    code, data, err = _check(capsys, str(EXAMPLE))
    assert code == 0 and data["valid"] is True
    prices = {p["name"]: p for p in data["prices"]}
    assert prices["cheap"]["source"] == "tiers[0].price"
    assert (prices["cheap"]["input_per_million"], prices["cheap"]["output_per_million"]) == pytest.approx((0.07, 0.25))
    assert data["premium"] == "premium"
    routes = {r["name"]: r["ladder"] for r in data["routes"]}
    assert routes["complex_reasoning"] == ["premium"]
    assert routes["chat"] == ["cheap", "mid", "premium"]
    assert routes["translation"] == ["qwen-mt", "premium"]  # mid is cheaper than qwen-mt: never escalated to
    unset = {f["field"] for f in data["findings"] if "is not set" in f["message"]}
    assert unset == {"tiers[0].api_key_env", "tiers[2].api_key_env", "models[1].api_key_env"}
    assert "premium (baseline)" in err and "DEEPSEEK_API_KEY is not set" in err
    assert main(["config", "check", str(EXAMPLE), "--strict"]) == 1  # warnings fail with --strict


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_check_flags_redis_cache_options_of_a_local_cache(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = {
        "tiers": [{"name": "cheap", "model": "openai/gpt-4o-mini"}],
        "cache": {"enabled": True, "redis_prefix": "team:cache", "sync_interval_s": 1.0},
    }
    _, data, _ = _check(capsys, str(_write(tmp_path, cfg)))
    by_field = {f["field"]: f for f in data["findings"]}
    for inert in ("cache.redis_prefix", "cache.sync_interval_s"):
        assert by_field[inert]["level"] == "warning" and "cache.backend is 'local'" in by_field[inert]["message"]
    cfg["cache"] = {**cfg["cache"], "backend": "redis"}
    _, data, _ = _check(capsys, str(_write(tmp_path, cfg)))
    assert not any(f["field"].startswith("cache.") for f in data["findings"])


def test_check_sources_unknown_prices_missing_files_and_inert_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = {
        "tiers": [
            {"name": "cheap", "model": "openai/gpt-4o-mini", "gate": {"type": "learned", "path": "missing.json"}},
            {"name": "mine", "model": "my-finetune"},
            {"name": "unknown", "model": "no-such-model-xyz"},
        ],
        "price_overrides": {"my-finetune": {"input": 0.3, "output": 1.2}},
        "cache": {"enabled": False, "ttl_s": 60},
        "budget": {"on_exceeded": "raise"},
        "ledger": {"backend": "memory", "path": "x.sqlite"},
    }
    code, data, _ = _check(capsys, str(_write(tmp_path, cfg)))
    assert code == 1 and data["valid"] is False
    sources = {p["name"]: p["source"] for p in data["prices"]}
    assert sources["cheap"] == "LiteLLM map: gpt-4o-mini"
    assert sources["mine"] == "price_overrides['my-finetune']"
    assert sources["unknown"] == "unknown"
    by_field = {f["field"]: f for f in data["findings"]}
    assert by_field["tiers[2].price"]["level"] == "error"
    assert by_field["tiers[0].gate.path"]["level"] == "error"
    for inert in ("cache.ttl_s", "budget.on_exceeded", "ledger.path"):
        assert by_field[inert]["level"] == "warning" and "no effect" in by_field[inert]["message"]
    assert [f["level"] for f in data["findings"]][:2] == ["error", "error"]  # errors first


def test_check_api_key_precedence_and_routes_never_picked(tmp_path: Path) -> None:
    cfg = CostRouterConfig.from_dict(
        {
            "tiers": [
                {"name": "a", "model": "openai/gpt-4o-mini", "api_key": "sk-x", "api_key_env": "A_KEY"},
                {"name": "b", "model": "openai/gpt-4o", "api_key_env": "B_KEY"},
            ],
            "routing": {
                "type": "rules",
                "routes": [{"name": "x", "tier": "a", "examples": ["hello"]}, {"name": "y", "tier": "b"}],
                "default_route": "y",
            },
        }
    )
    check = check_config(cfg, environ={"B_KEY": "set"})
    fields = {f.field: f.message for f in check.warnings}
    assert "tiers[0].api_key" in fields and "ignored" in fields["tiers[0].api_key_env"]
    assert "tiers[1].api_key_env" not in fields  # set in this environment
    assert "never picks it" in fields["routing.routes[0]"]
    assert "routing.routes[1]" not in fields  # the default route needs no rule


def test_check_of_an_invalid_config_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _write(tmp_path, {"tiers": [{"name": "a", "model": "m", "price": {"input": -1, "output": 1}}]})
    assert main(["config", "check", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tiers[0].price.input" in err[0]
    assert main(["config", "check"]) == 2  # neither FILE nor -c
    assert "FILE" in capsys.readouterr().err


def test_reference_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "config.md"
    assert main(["config", "reference", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == config_reference()
