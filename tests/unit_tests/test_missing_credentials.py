"""An ``api_key_env`` naming an unset variable is said at start-up, the same way by every adapter.

It used to pass silently: ``ChatCostRouter`` sent a placeholder key, and ``costrouter serve``
started and then answered HTTP 500 "Missing credentials" to every request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from langchain_costrouter import ChatCostRouter
from langchain_costrouter.cli import main
from langchain_costrouter.core.config import CostRouterConfig
from langchain_costrouter.core.errors import ConfigError, MissingCredentialsError

VAR = "COSTROUTER_TEST_UNSET_KEY_7f3a"
LOCAL = "http://127.0.0.1:9/v1"  # nothing listens: no adapter may call it while being built


def _data(**premium: Any) -> dict[str, Any]:
    return {
        "tiers": [
            {"name": "cheap", "model": "openai/cheap-m", "api_base": LOCAL, "price": {"input": 0.1, "output": 0.2}},
            {
                "name": "premium",
                "model": "openai/premium-m",
                "api_base": LOCAL,
                "price": {"input": 1, "output": 2},
                "api_key_env": VAR,
                **premium,
            },
        ],
        "ledger": {"backend": "memory"},
    }


@pytest.fixture(autouse=True)
def _unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VAR, raising=False)


def _check(err: MissingCredentialsError) -> None:
    assert isinstance(err, ConfigError)
    assert (err.tier, err.variable, err.field) == ("premium", VAR, "tiers[1].api_key_env")
    assert VAR in str(err) and "'premium'" in str(err)


def test_chat_cost_router_refuses_an_unset_key_variable() -> None:
    with pytest.raises(MissingCredentialsError) as info:
        ChatCostRouter.from_config(_data())
    _check(info.value)


def test_an_empty_key_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VAR, "")
    with pytest.raises(MissingCredentialsError):
        ChatCostRouter.from_config(_data())


def test_a_set_variable_an_inline_key_or_a_given_model_needs_nothing_more(monkeypatch: pytest.MonkeyPatch) -> None:
    ChatCostRouter.from_config(_data(api_key="sk-inline")).close()
    given = FakeListChatModel(responses=["ok"])
    ChatCostRouter.from_config(_data(), tier_models={"premium": given}).close()
    monkeypatch.setenv(VAR, "sk-test")
    router = ChatCostRouter.from_config(_data())
    assert router.models["premium"].openai_api_key.get_secret_value() == "sk-test"  # type: ignore[attr-defined]
    router.close()


def test_litellm_sdk_router_refuses_it_the_same_way() -> None:
    from litellm_hooks import CostRouterHooks, build_router

    cfg = CostRouterConfig.from_dict(_data())
    with pytest.raises(MissingCredentialsError) as info:
        build_router(cfg)
    _check(info.value)
    with pytest.raises(MissingCredentialsError):
        CostRouterHooks(cfg)


def test_serve_refuses_to_start_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LITELLM_MASTER_KEY", "sk-test-master")
    path = tmp_path / "costrouter.yaml"
    path.write_text(yaml.safe_dump(_data()), encoding="utf-8")
    for extra in ([], ["--no-hooks"]):
        code = main(["serve", "-c", str(path), "--port", "9", "-o", str(tmp_path / "proxy.yaml"), *extra])
        err = capsys.readouterr().err
        assert code == 2
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("costrouter serve: error: tiers[1].api_key_env: ")
        assert VAR in lines[0]
        assert not (tmp_path / "proxy.yaml").exists()  # refused before rendering or starting anything


def test_config_check_keeps_it_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "costrouter.yaml"
    path.write_text(yaml.safe_dump(_data()), encoding="utf-8")
    assert main(["config", "check", str(path)]) == 0
    assert VAR in capsys.readouterr().out
