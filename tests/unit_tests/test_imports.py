"""The layering contract: the core never loads LangChain or LiteLLM; public names are pinned."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import langchain_costrouter
import langchain_costrouter.core

EXPECTED_ALL = [
    "BatchedQuestions",
    "BudgetExceededError",
    "CascadeExhaustedError",
    "ChatCostRouter",
    "CompressPrompt",
    "ConfigError",
    "CostCallbackHandler",
    "CostRouterConfig",
    "CostRouterError",
    "CostRouterLLMCache",
    "LowQualityError",
    "UnknownModelPriceError",
    "build_fallback_chain",
    "get_cost_callback",
]


def _core_modules() -> list[str]:
    return sorted(
        m.name for m in pkgutil.walk_packages(langchain_costrouter.core.__path__, "langchain_costrouter.core.")
    )


def test_public_api_is_pinned() -> None:
    assert sorted(langchain_costrouter.__all__) == sorted(EXPECTED_ALL)
    for name in EXPECTED_ALL:
        assert getattr(langchain_costrouter, name) is not None


def test_every_core_module_declares_all() -> None:
    for name in _core_modules():
        module = importlib.import_module(name)
        assert hasattr(module, "__all__"), name


@pytest.mark.parametrize("framework", ["langchain_core", "langchain_openai", "litellm"])
def test_core_imports_without_frameworks(framework: str) -> None:
    code = (
        "import sys, importlib, pkgutil\n"
        "import langchain_costrouter.core as core\n"
        "for m in pkgutil.walk_packages(core.__path__, 'langchain_costrouter.core.'):\n"
        "    importlib.import_module(m.name)\n"
        f"assert {framework!r} not in sys.modules, sorted(k for k in sys.modules if k.startswith({framework!r}))\n"
        "print('ok', len([m for m in sys.modules if m.startswith('langchain_costrouter.core')]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ok")


def test_package_import_is_lazy() -> None:
    code = (
        "import sys\nimport langchain_costrouter\n"
        "assert 'langchain_core' not in sys.modules\n"
        "import litellm_hooks\n"
        "assert 'langchain_core' not in sys.modules, 'litellm_hooks pulled in LangChain'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
