"""The layering contract: the core never loads LangChain or LiteLLM; public names are pinned."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

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
    "__version__",
    "build_fallback_chain",
    "get_cost_callback",
]

EXPECTED_LITELLM_ALL = [
    "CostLogger",
    "CostRouterHooks",
    "LiteLLMModelClient",
    "__version__",
    "batch_runner",
    "build_model_list",
    "build_router",
    "render_proxy_config",
]


def _core_modules() -> list[str]:
    return sorted(
        m.name for m in pkgutil.walk_packages(langchain_costrouter.core.__path__, "langchain_costrouter.core.")
    )


def test_public_api_is_pinned() -> None:
    import litellm_hooks

    assert sorted(langchain_costrouter.__all__) == sorted(EXPECTED_ALL)
    for name in EXPECTED_ALL:
        assert getattr(langchain_costrouter, name) is not None
    assert sorted(litellm_hooks.__all__) == sorted(EXPECTED_LITELLM_ALL)
    assert langchain_costrouter.__version__ == litellm_hooks.__version__


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


_ROOT = Path(langchain_costrouter.__file__).resolve().parent
_OFF_PATH = ("langchain_costrouter.offline", "langchain_costrouter.testing", "langchain_costrouter.cli")


def _runtime_files() -> list[Path]:
    files = list(_ROOT.glob("*.py"))
    files += list((_ROOT / "core").rglob("*.py"))
    files += list((_ROOT.parent / "litellm_hooks").rglob("*.py"))
    return sorted(files)


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def test_runtime_never_imports_offline_testing_or_cli() -> None:
    bad = {
        str(p.relative_to(_ROOT.parent)): sorted(m for m in _imported_modules(p) if m.startswith(_OFF_PATH))
        for p in _runtime_files()
    }
    assert {k: v for k, v in bad.items() if v} == {}


def test_adapters_with_the_cache_load_no_offline_code(tmp_path: Path) -> None:
    code = f"""
import os, sys
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
from langchain_costrouter import ChatCostRouter, CostRouterConfig
from litellm_hooks import CostRouterHooks
cfg = CostRouterConfig.from_dict({{
    "tiers": [
        {{"name": "cheap", "model": "openai/gpt-4o-mini", "api_base": "http://127.0.0.1:9/v1"}},
        {{"name": "premium", "model": "openai/gpt-4o", "api_base": "http://127.0.0.1:9/v1"}},
    ],
    "ledger": {{"backend": "sqlite", "path": {str(tmp_path / "ledger.db")!r}}},
    "cache": {{"enabled": True, "dir": {str(tmp_path / "cache")!r}}},
    "compression": {{"enabled": True}},
}})
llm = ChatCostRouter(config=cfg)
hooks = CostRouterHooks(cfg)
bad = sorted(m for m in sys.modules if m.startswith({_OFF_PATH!r}) or m.startswith(("matplotlib", "sklearn")))
print("loaded:", bad)
assert not bad, bad
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
