"""The state of a cache directory without opening the cache: ``costrouter cache status`` and reports.

:func:`cache_status` reads the entry count from SQLite (``ZCARD`` in Redis for a shared store) and the
shadow counts from their JSON file,
so it answers in milliseconds whatever the cache holds, and never loads vectors or models.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_costrouter.core.cache._index import safe_name
from langchain_costrouter.core.cache.shadow import ShadowStats

if TYPE_CHECKING:
    from langchain_costrouter.core.config import CacheConfig

__all__ = ["cache_status"]

_ENCODER_NAMES = {"wordllama": "wordllama-l2-supercat-256", "minilm": "minilm-l6-v2-384"}


def _count(db: Path) -> int | None:
    if not db.is_file():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            (n,) = con.execute("SELECT COUNT(*) FROM gptcache_question WHERE deleted = 0").fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return None
    return int(n)


def cache_status(cfg: CacheConfig, *, encoder_name: str | None = None) -> dict[str, Any]:
    """Mode, entries and the shadow false-hit rate (with its 95 % upper bound) of a configured cache.

    Args:
        cfg: ``CostRouterConfig.cache``.
        encoder_name: The embedder's ``name`` (its store lives in a folder of that name; default:
            the name of ``cfg.encoder``'s built-in embedder).

    Returns:
        ``directory`` (``redis <key prefix>`` for a shared store), ``backend``, ``entries``
        (``None`` when the store cannot be read), ``mode``,
        ``max_false_hit_rate``, ``serving_semantic`` and ``shadow`` (``observed``, ``false_hits``,
        ``false_hit_rate``, ``upper_bound_95``).
    """
    name = encoder_name or _ENCODER_NAMES.get(cfg.encoder, cfg.encoder)
    directory = Path(cfg.dir) / safe_name(name)
    shadow = ShadowStats(directory if directory.is_dir() else None)
    if cfg.semantic == "on":
        serving = True
    elif cfg.semantic == "auto":
        serving = shadow.observed >= cfg.min_shadow_observations and shadow.upper_bound <= cfg.max_false_hit_rate
    else:
        serving = False
    entries = _count(directory / "sqlite.db")
    where = str(directory)
    if cfg.backend == "redis":
        from langchain_costrouter.core.cache.redis_store import shared_entry_count, store_base

        entries, where = shared_entry_count(cfg, name), f"redis {store_base(cfg, name)}"
    return {
        "directory": where,
        "backend": cfg.backend,
        "entries": entries,
        "mode": cfg.semantic,
        "max_false_hit_rate": cfg.max_false_hit_rate,
        "serving_semantic": serving,
        "shadow": shadow.snapshot(),
    }
