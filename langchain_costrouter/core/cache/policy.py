"""The cache guard's policy at run time: the shipped default per encoder, or a user's file.

Files are written by ``costrouter calibrate-cache`` (:mod:`langchain_costrouter.offline.cache_calibration`);
this module only reads them, so the runtime cache never imports the offline calibration code.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from importlib import resources
from pathlib import Path

from langchain_costrouter.core.cache.guard import GuardPolicy
from langchain_costrouter.core.errors import DataError

__all__ = ["DEFAULT_POLICY_FILE", "default_policy", "load_policy"]

logger = logging.getLogger(__name__)

DEFAULT_POLICY_FILE = "cache_guard.json"
"""The shipped policy of the default (wordllama) encoder, in ``langchain_costrouter/data``."""


def load_policy(path: str | Path) -> GuardPolicy:
    """A policy file written by ``costrouter calibrate-cache`` (or a bare policy object).

    Raises:
        DataError: the file is missing, not JSON, or not a policy of this version.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        policy = data.get("policy", data) if isinstance(data, dict) else None
        if not isinstance(policy, dict):
            msg = "not a policy object"
            raise TypeError(msg)
        return GuardPolicy.from_dict({**policy, "source": policy.get("source") or f"file:{p.name}"})
    except DataError as exc:
        msg = f"cache guard policy {p}: {exc}"
        raise DataError(msg) from None
    except (OSError, ValueError, TypeError) as exc:
        msg = f"cannot read the cache guard policy {p}: {exc}"
        raise DataError(msg) from None


@lru_cache(maxsize=8)
def default_policy(encoder: str | None = None) -> GuardPolicy:
    """The policy shipped with the package for ``encoder`` (an embedder's ``name``).

    ``data/cache_guard_<encoder>.json`` when the package ships one (a verifier is calibrated on
    one encoder's cosines), else ``data/cache_guard.json`` (wordllama), else the class defaults.
    """
    names = ([f"cache_guard_{encoder}.json"] if encoder else []) + [DEFAULT_POLICY_FILE]
    for name in names:
        try:
            text = resources.files("langchain_costrouter").joinpath("data", name).read_text("utf-8")
            data = json.loads(text)
            return GuardPolicy.from_dict(data.get("policy", data))
        except (OSError, ValueError, TypeError):
            continue
    logger.debug("no shipped cache guard policy; using defaults")
    return GuardPolicy()
