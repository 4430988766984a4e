"""Offline token counting (tiktoken encodings bundled by LiteLLM, read without importing it)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from langchain_costrouter.core.errors import ConfigError
from langchain_costrouter.core.tokens import (
    count_message_tokens,
    count_tokens,
    encoding_for_model,
    get_encoding,
    split_tokens,
    truncate_tokens,
)


def test_known_counts_match_tiktoken_reference_values() -> None:
    # Reference values of OpenAI's tokenizers (cl100k: GPT-4/3.5, o200k: GPT-4o).
    assert count_tokens("Hello world") == 2
    assert count_tokens("tiktoken is great!") == 6
    assert count_tokens("Hello world", "o200k_base") == 2
    assert count_tokens("") == 0
    assert get_encoding("cl100k_base").encode("hello world") == [15339, 1917]
    assert get_encoding("o200k_base").encode("hello world") == [24912, 2375]


def test_no_litellm_import_and_no_env_written() -> None:
    code = (
        "import os, sys\n"
        "from langchain_costrouter.core.tokens import count_tokens\n"
        "for name in ('cl100k_base', 'o200k_base', 'p50k_base'):\n"
        "    assert count_tokens('some text', name) > 0\n"
        "assert 'litellm' not in sys.modules, 'litellm was imported'\n"
        "assert 'TIKTOKEN_CACHE_DIR' not in os.environ, 'env var written'\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"}}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_special_token_text_counts_as_plain_text() -> None:
    assert count_tokens("<|endoftext|>") > 1


def test_unknown_encoding_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        get_encoding("r50k_base")
    assert info.value.field == "encoding"


def test_encoders_are_cached_and_thread_safe() -> None:
    results: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(50):
                results.append(count_tokens("The quick brown fox jumps over the lazy dog", "o200k_base"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert set(results) == {9}
    assert get_encoding("o200k_base") is get_encoding("o200k_base")


def test_message_overhead_matches_openai_recipe() -> None:
    # OpenAI reports 8 prompt tokens for [{"role": "user", "content": "Hello"}] on cl100k models:
    # 3 per message + "user" (1) + "Hello" (1) + 3 to prime the reply.
    assert count_message_tokens([{"role": "user", "content": "Hello"}]) == 8
    two = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]
    assert count_message_tokens(two) == 8 + 3 + count_tokens("system") + count_tokens("Be brief.")
    named = [{"role": "user", "content": "Hello", "name": "bob"}]
    assert count_message_tokens(named) == 8 + count_tokens("bob") + 1


def test_message_tokens_count_parts_tool_calls_and_tools() -> None:
    parts = [{"role": "user", "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "world"}]}]
    assert count_message_tokens(parts) == 3 + 3 + 1 + 1 + 1
    call = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}],
    }
    base = count_message_tokens([call])
    assert base == 3 + 3 + count_tokens("assistant") + count_tokens("add") + count_tokens('{"a": 1}')
    tools = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]
    assert count_message_tokens([call], tools=tools) > base


def test_split_tokens_keeps_multibyte_characters_whole() -> None:
    text = "Café 你好啊集团 🙂 done"
    pieces = split_tokens(text)
    assert "".join(p for p, _ in pieces) == text
    assert sum(n for _, n in pieces) == count_tokens(text)
    assert all("\ufffd" not in p for p, _ in pieces)


def test_truncate_tokens() -> None:
    text = "one two three four five"
    cut, was_cut = truncate_tokens(text, 2)
    assert (cut, was_cut) == ("one two", True)
    assert count_tokens(cut) == 2
    assert truncate_tokens(text, 100) == (text, False)


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o-mini", "o200k_base"),
        ("openai/gpt-4.1", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("gpt-4-1106-preview", "cl100k_base"),
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", "cl100k_base"),
    ],
)
def test_encoding_for_model(model: str, encoding: str) -> None:
    assert encoding_for_model(model) == encoding
