"""``import litellm_hooks`` is cheap: no LangChain, no LiteLLM until a name is used."""

from __future__ import annotations

import subprocess
import sys

import pytest

import litellm_hooks


@pytest.mark.parametrize("heavy", ["langchain_core", "langchain_openai", "litellm"])
def test_package_import_loads_no_framework(heavy: str) -> None:
    code = f"import sys, litellm_hooks; assert {heavy!r} not in sys.modules, sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_hooks_never_import_langchain() -> None:
    code = (
        "import sys, litellm_hooks; from litellm_hooks import CostRouterHooks, build_router, render_proxy_config; "
        "import langchain_costrouter.offline.proxy_bench, litellm_hooks.proxy_callbacks; "
        "assert 'langchain_core' not in sys.modules and 'langchain_openai' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_names_resolve() -> None:
    for name in litellm_hooks.__all__:
        assert getattr(litellm_hooks, name) is not None, name
    with pytest.raises(AttributeError):
        _ = litellm_hooks.nope  # type: ignore[attr-defined]
