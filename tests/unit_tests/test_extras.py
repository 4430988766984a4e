"""The base install: the LangChain model, config, ledger and callbacks work without any extra.

A subprocess hides every optional package (LiteLLM, GPTCache, faiss, wordllama, scikit-learn,
matplotlib, aiohttp, redis, psycopg, SQLAlchemy) and checks that ``ChatCostRouter`` answers and
records, and that a feature needing an extra fails at once with a one-line error naming it.
"""

from __future__ import annotations

import subprocess
import sys

_BLOCK = """
import importlib.abc, sys
HIDDEN = {"litellm", "gptcache", "faiss", "wordllama", "sklearn", "matplotlib", "aiohttp", "redis", "psycopg",
          "sqlalchemy"}
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Hide())
"""

_CONFIG = """
from langchain_costrouter import ChatCostRouter, CostRouterConfig
from langchain_core.language_models.fake_chat_models import FakeListChatModel
data = {
    "tiers": [
        {"name": "cheap", "model": "openai/c", "price": {"input": 0.1, "output": 0.4},
         "gate": {"type": "heuristic", "min_chars": 20}},
        {"name": "premium", "model": "openai/p", "price": {"input": 10, "output": 40}},
    ],
    "ledger": {"backend": "memory"},
}
models = {
    "cheap": FakeListChatModel(responses=["no"]),
    "premium": FakeListChatModel(responses=["A full and careful answer."]),
}
"""


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _BLOCK + _CONFIG + code], capture_output=True, text=True, check=False)


def test_the_langchain_model_needs_no_extra() -> None:
    out = _run(
        "llm = ChatCostRouter(config=CostRouterConfig.from_dict(data), tier_models=models)\n"
        "msg = llm.invoke('Tell me something')\n"
        "assert msg.content == 'A full and careful answer.', msg.content\n"
        "assert [r.outcome for r in llm.runtime.ledger.records()] == ['rejected', 'accepted']\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in HIDDEN]\n"
        "print('ok')\n"
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_features_needing_an_extra_name_it() -> None:
    out = _run(
        "from langchain_costrouter import ConfigError\n"
        "try:\n"
        "    cfg = CostRouterConfig.from_dict({**data, 'cache': {'enabled': True}})\n"
        "    ChatCostRouter(config=cfg, tier_models=models)\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
        "import litellm_hooks\n"
        "try:\n"
        "    litellm_hooks.CostRouterHooks\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    assert out.returncode == 0, out.stderr[-2000:]
    cache_line, litellm_line = out.stdout.strip().splitlines()
    assert "cache.enabled" in cache_line and "langchain-costrouter[cache]" in cache_line
    assert "langchain-costrouter[litellm]" in litellm_line


def test_constructor_errors_are_typed_not_pydantic() -> None:
    from langchain_costrouter import ChatCostRouter, ConfigError, CostRouterConfig

    cfg = CostRouterConfig.from_dict(
        {
            "tiers": [{"name": "t", "model": "openai/gpt-4o-mini", "api_base": "http://127.0.0.1:9/v1"}],
            "ledger": {"backend": "memory"},
        }
    )
    try:
        ChatCostRouter(config=cfg, start="nope")
    except ConfigError as exc:
        assert "nope" in str(exc)
    else:
        raise AssertionError("an unknown start tier must raise ConfigError")
    try:
        ChatCostRouter(config="not a config")  # type: ignore[arg-type]
    except ConfigError as exc:
        assert "config" in str(exc)
    else:
        raise AssertionError("a bad argument must raise ConfigError")
