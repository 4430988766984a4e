"""``build_router`` / ``build_model_list`` / ``router_settings``: one group per tier, chained fallbacks."""

from __future__ import annotations

import litellm
import pytest

from langchain_costrouter.core.config import CostRouterConfig
from litellm_hooks import CostRouterHooks, build_model_list, build_router, router_settings
from litellm_hooks._convert import CONFIG_KEY, TIER_KEY
from litellm_hooks._runtime import config_fingerprint, entry_chain
from tests.unit_tests.litellm.conftest import config_dict


def test_model_list_one_group_per_deployment_with_config_prices(config: CostRouterConfig) -> None:
    deployments = build_model_list(config)
    names = [d["model_name"] for d in deployments]
    assert names == ["cheap", "mid", "premium", "translator", "costrouter"]
    by_name = {d["model_name"]: d for d in deployments}
    cheap = by_name["cheap"]["litellm_params"]
    assert cheap["model"] == "openai/cheap-m"
    assert cheap["input_cost_per_token"] == pytest.approx(0.1e-6)
    assert cheap["output_cost_per_token"] == pytest.approx(0.4e-6)
    assert cheap["api_base"].endswith(":9/v1")
    # the entry model is a copy of the first tier, tagged as that tier
    assert by_name["costrouter"]["litellm_params"] == cheap
    assert by_name["costrouter"]["model_info"][TIER_KEY] == "cheap"
    fp = config_fingerprint(config)
    assert {d["model_info"][CONFIG_KEY] for d in deployments} == {fp}
    assert len({d["model_info"]["id"] for d in deployments}) == len(deployments)


def test_fallbacks_chain_tiers_and_entry_goes_through_routed_specialists(config: CostRouterConfig) -> None:
    settings = router_settings(config)
    fallbacks = {k: v for f in settings["fallbacks"] for k, v in f.items()}
    assert fallbacks["cheap"] == ["mid", "premium"]
    assert fallbacks["mid"] == ["premium"]
    assert "premium" not in fallbacks
    assert fallbacks["translator"] == ["mid", "premium"]  # tiers priced above it
    assert entry_chain(config) == ("cheap", "translator", "cheap", "mid", "premium")
    assert fallbacks["costrouter"] == ["translator", "cheap", "mid", "premium"]
    assert settings["max_fallbacks"] >= 5


def test_entry_chain_without_routes_is_the_ladder() -> None:
    cfg = CostRouterConfig.from_dict(config_dict(routing={"type": "none"}))
    assert entry_chain(cfg) == ("cheap", "mid", "premium")


def test_retry_policy_retries_rate_limits_and_5xx_only(config: CostRouterConfig) -> None:
    policy = router_settings(config, retries=3)["retry_policy"]
    assert policy["DefaultRetries"] == 0
    assert policy["RateLimitErrorRetries"] == 3
    assert policy["InternalServerErrorRetries"] == 3
    assert policy["ServiceUnavailableErrorRetries"] == 3
    assert "BadRequestErrorRetries" not in policy


def test_build_router_returns_litellm_router_and_installs_hooks(config: CostRouterConfig) -> None:
    hooks = CostRouterHooks(config)
    try:
        router = build_router(config, hooks=hooks)
        assert isinstance(router, litellm.Router)
        assert set(router.model_names) >= {"cheap", "mid", "premium", "translator", "costrouter"}
        for cb in hooks.callbacks:
            assert any(c is cb for c in litellm.callbacks)
        assert hooks.gate.post_call_rule in litellm.post_call_rules
        # installing twice does not duplicate
        hooks.install()
        assert sum(1 for c in litellm.callbacks if c is hooks.gate) == 1
    finally:
        hooks.close()
    assert not any(c is hooks.gate for c in litellm.callbacks)
    assert hooks.gate.post_call_rule not in litellm.post_call_rules


def test_secret_keys_are_resolved_for_the_sdk_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHEAP_KEY", "sk-super-secret")
    data = config_dict()
    data["tiers"][0]["api_key_env"] = "CHEAP_KEY"
    cfg = CostRouterConfig.from_dict(data)
    sdk = build_model_list(cfg)[0]["litellm_params"]
    assert sdk["api_key"] == "sk-super-secret"
    proxy = build_model_list(cfg, secrets=False)[0]["litellm_params"]
    assert proxy["api_key"] == "os.environ/CHEAP_KEY"


def test_uninstall_removes_every_litellm_copy_and_instances_stay_distinct(config: CostRouterConfig) -> None:
    first, second = CostRouterHooks(config), CostRouterHooks(config)
    try:
        first.install()
        for lst in (litellm._async_success_callback, litellm._async_failure_callback):
            lst.append(first.cost_logger)  # what LiteLLM does on the first call
        first.uninstall()
        for lst in (litellm.callbacks, litellm._async_success_callback, litellm._async_failure_callback):
            assert not any(c is first.cost_logger for c in lst)
        mgr = litellm.logging_callback_manager
        assert mgr.get_custom_logger_key(first.cost_logger) != mgr.get_custom_logger_key(second.cost_logger)
    finally:
        first.close()
        second.close()
