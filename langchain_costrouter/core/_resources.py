"""Files shipped in ``langchain_costrouter/data`` (policies, lexicons, evaluation data)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from langchain_costrouter.core.errors import DataError

__all__ = ["data_path"]


def data_path(name: str) -> Path:
    """Path of a data file shipped in ``langchain_costrouter/data``.

    Raises:
        DataError: No such bundled file.
    """
    path = Path(str(resources.files("langchain_costrouter") / "data" / name))
    if not path.is_file():
        msg = f"no bundled data file {name!r} (looked in {path.parent})"
        raise DataError(msg)
    return path
