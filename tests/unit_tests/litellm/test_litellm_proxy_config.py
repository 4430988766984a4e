"""The proxy YAML: same deployments, router settings, callbacks importable from any folder."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

from langchain_costrouter.cli import main
from langchain_costrouter.core.config import CostRouterConfig
from litellm_hooks.proxy_config import PROXY_CALLBACKS, PROXY_HANDLER, render_proxy_config, write_proxy_config
from tests.unit_tests.litellm.conftest import config_dict


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PREMIUM_KEY", "sk-never-in-the-file")
    data = config_dict()
    data["tiers"][2]["api_key_env"] = "PREMIUM_KEY"
    data["tiers"][2].pop("api_base")
    data["tiers"][2]["model"] = "openai/gpt-4o"
    path = tmp_path / "costrouter.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_rendered_proxy_config(config_file: Path) -> None:
    cfg = CostRouterConfig.from_yaml(config_file)
    out = render_proxy_config(cfg, config_path=config_file)
    assert [d["model_name"] for d in out["model_list"]] == ["costrouter", "cheap", "mid", "premium", "translator"]
    assert out["router_settings"]["num_retries"] == 0
    assert out["litellm_settings"]["custom_provider_map"] == [
        {"provider": "costrouter", "custom_handler": PROXY_HANDLER}
    ]
    assert out["litellm_settings"]["callbacks"] == list(PROXY_CALLBACKS)
    assert out["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    assert out["environment_variables"]["COSTROUTER_CONFIG"] == str(config_file.resolve())


def test_plain_proxy_config_serves_the_tiers_without_the_cascade(config_file: Path) -> None:
    cfg = CostRouterConfig.from_yaml(config_file)
    out = render_proxy_config(cfg, hooks=False, master_key_env=None)
    assert "callbacks" not in out["litellm_settings"] and "custom_provider_map" not in out["litellm_settings"]
    assert "general_settings" not in out
    assert "environment_variables" not in out
    premium = out["model_list"][2]["litellm_params"]
    assert premium["api_key"] == "os.environ/PREMIUM_KEY"
    entry = out["model_list"][-1]
    assert entry["model_name"] == "costrouter" and entry["litellm_params"] == out["model_list"][0]["litellm_params"]
    with pytest.raises(ValueError, match="config_path"):
        render_proxy_config(cfg)


def test_the_paths_the_proxy_imports_are_attributes_of_the_package() -> None:
    for path in (PROXY_HANDLER, *PROXY_CALLBACKS):
        module, _, attr = path.rpartition(".")
        mod = importlib.import_module(module)
        assert mod.__name__ == "litellm_hooks.proxy_callbacks"
        assert attr in {"handler", "headers"}


def test_no_secret_is_written(config_file: Path, tmp_path: Path) -> None:
    for hooks in (True, False):
        out = write_proxy_config(config_file, tmp_path / "proxy" / f"litellm-{hooks}.yaml", hooks=hooks)
        assert "sk-never-in-the-file" not in out.read_text(encoding="utf-8")


def test_cli_litellm_config_prints_and_writes(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["litellm-config", "-c", str(config_file)]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model_list"][0]["model_name"] == "costrouter"
    target = tmp_path / "out.yaml"
    assert main(["litellm-config", "-c", str(config_file), "-o", str(target), "--no-hooks"]) == 0
    assert "custom_provider_map" not in yaml.safe_load(target.read_text())["litellm_settings"]


def test_cli_serve_refuses_without_master_key(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LITELLM_MASTER_KEY", raising=False)
    assert main(["serve", "-c", str(config_file)]) == 2
    assert "LITELLM_MASTER_KEY" in capsys.readouterr().err


def test_cli_bad_config_names_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"tiers": [{"name": "x", "model": "m", "price": {"input": -1, "output": 1}}]}))
    assert main(["litellm-config", "-c", str(bad)]) == 2
    assert "tiers[0].price.input" in capsys.readouterr().err
