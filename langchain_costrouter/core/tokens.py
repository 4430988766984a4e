"""Offline token counting with tiktoken, using the encodings LiteLLM bundles.

tiktoken cannot download its BPE files on these machines, and LiteLLM ships ``cl100k_base``,
``o200k_base`` and ``p50k_base`` in ``litellm/litellm_core_utils/tokenizers`` (each file named
by the sha1 of its original URL, as tiktoken's own cache does). This module reads those files
directly: it never imports ``litellm`` and never touches ``TIKTOKEN_CACHE_DIR`` or any other
environment variable. The regex pattern and special tokens come from ``tiktoken_ext.openai_public``
so the encodings are exactly tiktoken's.

Encoders are built once per process and shared; tiktoken encoders are safe to use from many
threads at once.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import threading
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import tiktoken

from langchain_costrouter.core.errors import ConfigError, PricingError
from langchain_costrouter.core.pricing import litellm_package_dir

__all__ = [
    "DEFAULT_ENCODING",
    "SUPPORTED_ENCODINGS",
    "count_message_tokens",
    "count_tokens",
    "encoding_for_model",
    "get_encoding",
    "split_tokens",
    "truncate_tokens",
]

logger = logging.getLogger(__name__)

DEFAULT_ENCODING = "cl100k_base"
SUPPORTED_ENCODINGS: tuple[str, ...] = ("cl100k_base", "o200k_base", "p50k_base")

# OpenAI's documented chat overhead: every message is wrapped in ~3 tokens
# (<|start|>{role}\n ... <|end|>), a ``name`` costs one more, and the reply is primed with 3.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3
# Rough flat cost of a non-text content part (an image at "low" detail is 85 tokens).
TOKENS_PER_MEDIA_PART = 85

_LOCK = threading.Lock()
_ENCODERS: dict[str, tiktoken.Encoding] = {}


def _tokenizer_dir() -> Path:
    return litellm_package_dir() / "litellm_core_utils" / "tokenizers"


def _load_ranks(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
    """Reads the bundled copy of ``url`` (named by the sha1 of the URL) as tiktoken BPE ranks."""
    path = _tokenizer_dir() / hashlib.sha1(url.encode()).hexdigest()  # noqa: S324 - tiktoken's cache key
    try:
        data = path.read_bytes()
    except OSError as exc:
        msg = f"no bundled tiktoken file for {url} (looked for {path})"
        raise ConfigError("encoding", msg) from exc
    if expected_hash is not None and hashlib.sha256(data).hexdigest() != expected_hash:
        msg = f"bundled tiktoken file {path} does not match the expected sha256"
        raise ConfigError("encoding", msg)
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def _build(name: str) -> tiktoken.Encoding:
    from tiktoken_ext import openai_public

    try:
        litellm_package_dir()
    except PricingError:  # no LiteLLM (its [litellm] extra) and so no bundled files: tiktoken's own loader
        logger.info("LiteLLM's bundled tokenizer files are not installed: tiktoken loads %s itself", name)
        return tiktoken.get_encoding(name)

    constructor = openai_public.ENCODING_CONSTRUCTORS.get(name)
    if constructor is None or name not in SUPPORTED_ENCODINGS:
        msg = f"unsupported encoding {name!r}; expected one of {', '.join(SUPPORTED_ENCODINGS)}"
        raise ConfigError("encoding", msg)
    # Run tiktoken's own constructor with its loader swapped for the local one: the pattern and
    # special tokens stay tiktoken's, no global state is patched and nothing is downloaded.
    local_globals = dict(constructor.__globals__)
    local_globals["load_tiktoken_bpe"] = _load_ranks
    offline = types.FunctionType(constructor.__code__, local_globals, constructor.__name__)
    spec: dict[str, Any] = offline()
    return tiktoken.Encoding(
        name=spec["name"],
        pat_str=spec["pat_str"],
        mergeable_ranks=spec["mergeable_ranks"],
        special_tokens=spec["special_tokens"],
        explicit_n_vocab=spec.get("explicit_n_vocab"),
    )


def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """The tiktoken encoding ``name``, built offline once per process.

    Raises:
        ConfigError: The encoding is not one LiteLLM bundles (field ``encoding``).
    """
    enc = _ENCODERS.get(name)
    if enc is not None:
        return enc
    with _LOCK:
        enc = _ENCODERS.get(name)
        if enc is None:
            enc = _build(name)
            _ENCODERS[name] = enc
            logger.debug("loaded tiktoken encoding %s", name)
        return enc


@functools.lru_cache(maxsize=1024)
def encoding_for_model(model: str) -> str:
    """The encoding OpenAI uses for ``model`` (``o200k_base`` for GPT-4o and later, else cl100k).

    Any ``provider/`` prefix is ignored; unknown models get :data:`DEFAULT_ENCODING`.
    """
    name = model.rsplit("/", 1)[-1].lower()
    if name.startswith(("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o", "gpt-oss")):
        return "o200k_base"
    if name.startswith(("text-davinci-002", "text-davinci-003", "code-davinci")):
        return "p50k_base"
    return DEFAULT_ENCODING


def count_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    """Number of tokens of ``text``; special-token strings count as plain text."""
    if not text:
        return 0
    return len(get_encoding(encoding).encode(text, disallowed_special=()))


def split_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> list[tuple[str, int]]:
    """Splits ``text`` into pieces at token boundaries, each piece valid text.

    A piece is one token, or a few tokens when a character's UTF-8 bytes span tokens. Joining
    the pieces gives back ``text``.

    Returns:
        ``(piece, token_count)`` pairs in order.
    """
    if not text:
        return []
    enc = get_encoding(encoding)
    pieces: list[tuple[str, int]] = []
    pending = b""
    count = 0
    for raw in enc.decode_tokens_bytes(enc.encode(text, disallowed_special=())):
        pending += raw
        count += 1
        try:
            piece = pending.decode("utf-8")
        except UnicodeDecodeError:
            continue
        pieces.append((piece, count))
        pending, count = b"", 0
    if pending:
        pieces.append((pending.decode("utf-8", errors="replace"), count))
    return pieces


def truncate_tokens(text: str, max_tokens: int, encoding: str = DEFAULT_ENCODING) -> tuple[str, bool]:
    """The longest prefix of ``text`` of at most ``max_tokens`` tokens.

    Returns:
        The prefix and whether anything was cut.
    """
    out: list[str] = []
    used = 0
    for piece, n in split_tokens(text, encoding):
        if used + n > max_tokens:
            return "".join(out), True
        out.append(piece)
        used += n
    return "".join(out), False


def _content_tokens(content: Any, encoding: str) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return count_tokens(content, encoding)
    if isinstance(content, Sequence):
        total = 0
        for part in content:
            if isinstance(part, Mapping):
                text = part.get("text")
                if isinstance(text, str):
                    total += count_tokens(text, encoding)
                elif part.get("type") in {"image_url", "image", "input_audio", "file", "audio"}:
                    total += TOKENS_PER_MEDIA_PART
                else:
                    total += count_tokens(json.dumps(part, ensure_ascii=False, sort_keys=True), encoding)
            elif isinstance(part, str):
                total += count_tokens(part, encoding)
        return total
    return count_tokens(json.dumps(content, ensure_ascii=False, default=str), encoding)


def count_message_tokens(
    messages: Sequence[Mapping[str, Any]],
    encoding: str = DEFAULT_ENCODING,
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
) -> int:
    """Prompt tokens of an OpenAI chat request.

    Follows OpenAI's published recipe: 3 tokens per message, the tokens of every string field
    (role, content, name), 1 more per ``name``, and 3 to prime the reply. Tool calls count their
    function names and argument strings; content parts count their text (media parts a flat 85).
    Tool definitions, when given, count as their compact JSON (an approximation: OpenAI does
    not publish its exact formatting).
    """
    total = REPLY_PRIMING_TOKENS
    for message in messages:
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            if key == "content":
                total += _content_tokens(value, encoding)
            elif key == "tool_calls" and isinstance(value, Sequence):
                for call in value:
                    fn = call.get("function") if isinstance(call, Mapping) else None
                    if isinstance(fn, Mapping):
                        total += count_tokens(str(fn.get("name") or ""), encoding)
                        total += count_tokens(str(fn.get("arguments") or ""), encoding)
            elif isinstance(value, str):
                total += count_tokens(value, encoding)
                if key == "name":
                    total += TOKENS_PER_NAME
    if tools:
        total += count_tokens(json.dumps(list(tools), ensure_ascii=False, separators=(",", ":")), encoding)
    return total
