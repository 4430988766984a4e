"""The config loader refuses what it used to accept silently: duplicate keys and absurd prices."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.errors import ConfigError

EXAMPLE = Path(__file__).parents[3] / "examples" / "costrouter.yaml"

BASE = """\
tiers:
  - name: cheap
    model: openai/gpt-4o-mini
    price: {input: 0.15, output: 0.6}
  - name: premium
    model: openai/gpt-4o
    price: {input: 2.5, output: 10}
ledger:
  backend: sqlite
  path: costs.sqlite
"""


def _load(tmp_path: Path, text: str) -> CostRouterConfig:
    path = tmp_path / "costrouter.yaml"
    path.write_text(text, encoding="utf-8")
    return CostRouterConfig.from_yaml(path)


def test_a_second_ledger_block_is_an_error_naming_key_and_lines(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, BASE + "ledger:\n  backend: memory\n")
    err = info.value
    assert err.field == "ledger"
    assert "lines 8 and 11" in str(err)
    assert "\n" not in str(err)


def test_duplicate_nested_key_is_an_error(tmp_path: Path) -> None:
    text = BASE.replace("backend: sqlite\n", "backend: sqlite\n  backend: memory\n")
    with pytest.raises(ConfigError, match=r"'backend' is given twice .*lines 9 and 10"):
        _load(tmp_path, text)


def test_duplicate_key_in_the_example_config_is_caught(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    with pytest.raises(ConfigError, match="'version' is given twice"):
        _load(tmp_path, text + "\nversion: 1\n")


def test_merge_keys_still_override(tmp_path: Path) -> None:
    text = BASE + "budget:\n  <<: {on_exceeded: warn}\n  on_exceeded: raise\n"
    cfg = _load(tmp_path, text)
    assert cfg.budget.on_exceeded == "raise"


def test_the_example_config_still_loads() -> None:
    assert CostRouterConfig.from_yaml(EXAMPLE).tiers


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (".inf", "finite number"),
        ("-.inf", "finite number"),
        (".nan", "finite number"),
        ("-1", "greater than or equal to 0"),
        ("1e308", "less than or equal to 10000"),
        ("10000.01", "less than or equal to 10000"),
    ],
)
@pytest.mark.parametrize("field", ["input", "output", "cache_read", "cache_write", "reasoning"])
def test_absurd_prices_are_refused_naming_the_field(tmp_path: Path, value: str, why: str, field: str) -> None:
    price = {"input": "2.5", "output": "10"} | {field: value}
    text = BASE.replace("{input: 2.5, output: 10}", "{" + ", ".join(f"{k}: {v}" for k, v in price.items()) + "}")
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text)
    assert info.value.field == f"tiers[1].price.{field}"
    assert why in str(info.value)
    assert "\n" not in str(info.value)


def test_price_overrides_are_bounded_too() -> None:
    data = yaml.safe_load(BASE) | {"price_overrides": {"judge/x": {"input": 1e308, "output": 1}}}
    with pytest.raises(ConfigError) as info:
        CostRouterConfig.from_dict(data)
    assert info.value.field == "price_overrides.judge/x.input"


def test_the_largest_plausible_price_is_accepted(tmp_path: Path) -> None:
    text = BASE.replace("{input: 2.5, output: 10}", "{input: 10000, output: 10000}")
    assert _load(tmp_path, text).tiers[1].price is not None
