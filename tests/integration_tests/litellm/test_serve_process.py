"""``costrouter serve`` as an operator runs it: the real command in a subprocess, the real proxy child.

- a wrong or missing key is HTTP 401 on every route (LiteLLM alone said 400 "No connected db.",
  and served ``/routes`` to anyone); the admin UI, Swagger, ReDoc and the OpenAPI schema are off;
- SIGTERM (and SIGINT, also when the parent was started with SIGINT ignored, as a background
  shell job is) stops the LiteLLM child and frees the port within seconds.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from litellm_hooks.proxy_process import free_port

pytestmark = [pytest.mark.server, pytest.mark.timeout(300)]

MASTER = "sk-serve-test-master"


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def child_pids(self) -> list[int]:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], check=False, capture_output=True, text=True
        )
        return [int(p) for p in out.stdout.split()]


def _request(url: str, *, key: str | None = None, body: dict[str, object] | None = None) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def _port_free(port: int) -> bool:
    """Nothing listens on the port and a new server can bind it (as uvicorn does, SO_REUSEADDR:
    the connections this test made may linger in TIME_WAIT, which binds nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) holds no port and runs nothing
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[-1][:1] != "Z"


@contextmanager
def serve(config_file: Path, tmp_path: Path, preexec: Callable[[], None] | None = None) -> Iterator[Served]:
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "LITELLM_MASTER_KEY": MASTER, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    cmd = [str(Path(sys.executable).parent / "costrouter"), "serve", "-c", str(config_file), "--port", str(port)]
    cmd += ["-o", str(tmp_path / "litellm-proxy.yaml")]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, preexec_fn=preexec)  # noqa: PLW1509
    served = Served(proc, port, log)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                if _request(f"{served.url}/health/liveliness")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail("costrouter serve did not answer within 120 s:\n" + log.read_text(errors="replace")[-3000:])
        yield served
    finally:
        for pid in [*served.child_pids(), proc.pid]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        proc.wait(10)


def _stops_cleanly(served: Served, sig: int) -> None:
    children = served.child_pids()
    assert children, "serve should run the LiteLLM proxy as its child"
    served.proc.send_signal(sig)
    assert served.proc.wait(20) == 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (any(_alive(p) for p in children) or not _port_free(served.port)):
        time.sleep(0.1)
    assert not [p for p in children if _alive(p)], "the LiteLLM child outlived costrouter serve"
    assert _port_free(served.port), f"port {served.port} still held after {signal.Signals(sig).name}"


def test_keys_are_checked_everywhere_and_the_admin_pages_are_off(config_file: Path, tmp_path: Path) -> None:
    chat = {"model": "costrouter", "messages": [{"role": "user", "content": "What is the capital of France?"}]}
    with serve(config_file, tmp_path) as served:
        status, body = _request(f"{served.url}/v1/chat/completions", key=MASTER, body=chat)
        assert status == 200, body
        assert "Paris" in json.loads(body)["choices"][0]["message"]["content"]
        for key in ("sk-wrong-key", "not-even-sk", None):
            status, body = _request(f"{served.url}/v1/chat/completions", key=key, body=chat)
            assert status == 401, (key, status, body)
            assert "No connected db" not in body
            assert _request(f"{served.url}/v1/models", key=key)[0] == 401
            assert _request(f"{served.url}/routes", key=key)[0] == 401
        assert _request(f"{served.url}/v1/models", key=MASTER)[0] == 200
        for page in ("/openapi.json", "/docs", "/redoc", "/ui", "/ui/", "/"):
            status, body = _request(served.url + page)
            assert status in {401, 404}, (page, status, body[:200])
        _stops_cleanly(served, signal.SIGTERM)


def test_sigterm_with_sigint_ignored_stops_the_child_and_frees_the_port(config_file: Path, tmp_path: Path) -> None:
    def background_job() -> None:  # what `costrouter serve &` in a non-interactive shell inherits
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    with serve(config_file, tmp_path, preexec=background_job) as served:
        _stops_cleanly(served, signal.SIGTERM)


def test_sigint_with_sigint_ignored_still_stops_it(config_file: Path, tmp_path: Path) -> None:
    with serve(config_file, tmp_path, preexec=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) as served:
        _stops_cleanly(served, signal.SIGINT)
