"""``requirements.lock`` and ``pyproject.toml`` agree, and every locked distribution carries hashes.

``make venv`` installs the lock with ``pip install --require-hashes`` (pip refuses a file that
misses one hash) and the project with ``--no-deps``: a dependency added to ``pyproject.toml`` but
not to the lock would be missing from every fresh environment.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]
REQ = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._\-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked() -> dict[str, tuple[str, list[str]]]:
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    out: dict[str, tuple[str, list[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        first = block.strip().splitlines()[0] if block.strip() else ""
        if not first or first.startswith("#"):
            continue
        m = REQ.match(first)
        assert m, f"requirements.lock: not an exact pin: {first!r}"
        out[_norm(m.group(1))] = (m.group(2), re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return out


def _installed_extras(project: dict[str, object]) -> list[str]:
    """Requirements of what ``make venv`` installs: the dependencies, ``all`` (expanded) and ``dev``."""
    extras: dict[str, list[str]] = project["optional-dependencies"]  # type: ignore[assignment]
    reqs = list(project["dependencies"])  # type: ignore[call-overload]
    todo = ["all", "dev"]
    while todo:
        for req in extras[todo.pop()]:
            self_ref = re.match(r"^langchain-costrouter\[([^\]]+)\]$", req)
            if self_ref:
                todo.extend(e.strip() for e in self_ref.group(1).split(","))
            else:
                reqs.append(req)
    return reqs


def test_every_locked_distribution_is_pinned_with_hashes() -> None:
    locked = _locked()
    assert len(locked) > 100
    assert [name for name, (_v, hashes) in locked.items() if not hashes] == []
    assert "langchain-costrouter" not in locked  # installed apart, with --no-deps


def test_every_pyproject_pin_is_locked_at_its_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    locked = _locked()
    wrong = []
    for req in _installed_extras(project):
        m = REQ.match(req)
        assert m, f"pyproject.toml: not an exact pin: {req!r}"
        name, version = _norm(m.group(1)), m.group(2)
        if locked.get(name, ("missing",))[0] != version:
            wrong.append(f"{name}=={version} (lock: {locked.get(name, ('missing',))[0]})")
    assert wrong == []


def test_make_venv_requires_the_hashes() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--require-hashes -r requirements.lock" in makefile
    assert "--no-deps -e ." in makefile
