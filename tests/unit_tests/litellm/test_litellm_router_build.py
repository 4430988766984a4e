"""``build_router`` / ``build_model_list``: the cascade's entry points, served by its custom provider."""

from __future__ import annotations

import litellm
import pytest

from langchain_costrouter.core.config import CostRouterConfig
from litellm_hooks import CostRouterHooks, build_model_list, build_router
from litellm_hooks.handler import PROVIDER, _registry
from litellm_hooks.hooks import config_fingerprint
from litellm_hooks.router import ALLOWED_PARAMS, router_settings, tier_model_list
from tests.unit_tests.litellm.conftest import config_dict


def test_model_list_has_the_entry_model_and_one_entry_per_tier(config: CostRouterConfig) -> None:
    fp = config_fingerprint(config)
    deployments = build_model_list(config)
    assert [d["model_name"] for d in deployments] == ["costrouter", "cheap", "mid", "premium", "translator"]
    models = {d["model_name"]: d["litellm_params"]["model"] for d in deployments}
    assert models["costrouter"] == f"{PROVIDER}/{fp}:route"
    assert models["mid"] == f"{PROVIDER}/{fp}:tier:mid"
    for d in deployments:
        assert set(ALLOWED_PARAMS) <= set(d["litellm_params"]["allowed_openai_params"])
        assert "api_key" not in d["litellm_params"]  # the cascade reads tier keys itself
    assert len({d["model_info"]["id"] for d in deployments}) == len(deployments)


def test_the_router_neither_retries_nor_falls_back(config: CostRouterConfig) -> None:
    settings = router_settings(config)
    assert settings["num_retries"] == 0
    assert "fallbacks" not in settings


def test_tier_model_list_for_a_plain_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHEAP_KEY", "sk-super-secret")
    data = config_dict()
    data["tiers"][0]["api_key_env"] = "CHEAP_KEY"
    cfg = CostRouterConfig.from_dict(data)
    sdk = tier_model_list(cfg)[0]["litellm_params"]
    assert (sdk["model"], sdk["api_key"]) == ("openai/cheap-m", "sk-super-secret")
    assert sdk["input_cost_per_token"] == pytest.approx(0.1e-6)
    assert tier_model_list(cfg, secrets=False)[0]["litellm_params"]["api_key"] == "os.environ/CHEAP_KEY"


def test_build_router_registers_the_cascade_and_close_removes_it(config: CostRouterConfig) -> None:
    hooks = CostRouterHooks(config)
    try:
        router = build_router(config, hooks=hooks)
        assert isinstance(router, litellm.Router)
        assert set(router.model_names) == {"costrouter", "cheap", "mid", "premium", "translator"}
        assert _registry[hooks.fingerprint] is hooks.runtime
        assert any(p["provider"] == PROVIDER for p in litellm.custom_provider_map)
        assert any(c is hooks.headers for c in litellm.callbacks)
        hooks.install()  # installing twice does not duplicate
        assert sum(1 for c in litellm.callbacks if c is hooks.headers) == 1
    finally:
        hooks.close()
    assert hooks.fingerprint not in _registry
    assert not any(c is hooks.headers for c in litellm.callbacks)


def test_two_configurations_live_side_by_side() -> None:
    a = CostRouterHooks(CostRouterConfig.from_dict(config_dict())).install()
    b = CostRouterHooks(CostRouterConfig.from_dict(config_dict(routing={"type": "none"}))).install()
    try:
        assert a.fingerprint != b.fingerprint
        assert _registry[a.fingerprint] is a.runtime and _registry[b.fingerprint] is b.runtime
    finally:
        a.close()
        b.close()


def test_an_unknown_configuration_is_a_typed_error() -> None:
    from langchain_costrouter.core.errors import ConfigError
    from litellm_hooks.handler import _resolve

    with pytest.raises(ConfigError, match="same costrouter"):
        _resolve("0123456789abcdef:route")
