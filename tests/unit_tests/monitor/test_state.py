"""The persisted state: survives restarts, shared by processes, refuses a foreign file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from langchain_costrouter.core.errors import MonitorError
from langchain_costrouter.core.monitor.controller import KeyState, Observation
from langchain_costrouter.core.monitor.state import StateStore


def test_state_survives_a_new_store(tmp_path: Path) -> None:
    path = tmp_path / "monitor.json"
    with StateStore(path).transaction() as st:
        st.keys["*|cheap"] = KeyState(0.72, [Observation(0.8, 0.1, 0.0, 1.0)])
        st.spend["2026-12-05"] = 0.25
    again = StateStore(path).read()
    assert again.keys["*|cheap"].threshold == 0.72
    assert again.keys["*|cheap"].items == [Observation(0.8, 0.1, 0.0, 1.0)]
    assert again.spend == {"2026-12-05": 0.25}


def test_failed_transaction_changes_nothing(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    with store.transaction() as st:
        st.spend["d"] = 1.0
    with pytest.raises(RuntimeError), store.transaction() as st:
        st.spend["d"] = 99.0
        raise RuntimeError
    assert store.read().spend == {"d": 1.0}


def test_memory_store_keeps_nothing_on_disk(tmp_path: Path) -> None:
    store = StateStore(None)
    with store.transaction() as st:
        st.spend["d"] = 2.0
    assert store.read().spend == {"d": 2.0}
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content", ["not json", '{"version": 99}', '{"version": 1, "keys": {"k": {"items": [[1]]}}}'])
def test_foreign_file_is_refused_with_its_name(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(MonitorError, match=r"bad\.json"):
        StateStore(path)


def test_two_processes_never_lose_each_others_spend(tmp_path: Path) -> None:
    path = tmp_path / "shared.json"
    code = (
        "import sys\n"
        "from langchain_costrouter.core.monitor.state import StateStore\n"
        "s = StateStore(sys.argv[1])\n"
        "for _ in range(100):\n"
        "    with s.transaction() as st:\n"
        "        st.spend['day'] = st.spend.get('day', 0.0) + 0.5\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)]) for _ in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    assert StateStore(path).read().spend["day"] == pytest.approx(150.0)
