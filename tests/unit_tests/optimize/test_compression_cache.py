"""The compression cache: LRU in memory, shared SQLite file, keys change with model and ratio."""

from __future__ import annotations

from pathlib import Path

from langchain_costrouter.core.compression_cache import CachedCompression, CompressionCache, compression_key


def test_key_depends_on_text_model_ratio_and_version() -> None:
    base = compression_key("text", "m", 0.5, "v1")
    assert base == compression_key("text", "m", 0.5, "v1")
    assert len({base, compression_key("text!", "m", 0.5, "v1"), compression_key("text", "m2", 0.5, "v1")}) == 3
    assert base != compression_key("text", "m", 0.4, "v1")
    assert base != compression_key("text", "m", 0.5, "v2")


def test_lru_evicts_the_oldest() -> None:
    cache = CompressionCache(max_size=2)
    for k in ("a", "b"):
        cache.put(k, CachedCompression(k, 10, 5, "m"))
    assert cache.get("a") is not None  # "a" is now the most recent
    cache.put("c", CachedCompression("c", 10, 5, "m"))
    assert cache.get("b") is None
    assert cache.get("a") is not None
    assert len(cache) == 2


def test_sqlite_file_is_shared_and_remembers_failures(tmp_path: Path) -> None:
    path = tmp_path / "compression.sqlite"
    first = CompressionCache(path=path)
    first.put("ok", CachedCompression("short", 100, 40, "cheap"))
    first.put("bad", CachedCompression(None, 100, 100, "cheap", "placeholder(s) lost: [P1]"))
    first.close()
    second = CompressionCache(path=path)
    assert second.get("ok") == CachedCompression("short", 100, 40, "cheap")
    bad = second.get("bad")
    assert bad is not None
    assert bad.text is None
    assert "lost" in bad.reason
    assert second.get("missing") is None
    assert (second.hits, second.misses) == (2, 1)
