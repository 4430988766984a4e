"""Starting and stopping the real LiteLLM proxy process (``costrouter serve``, tests, benchmark).

:class:`ProxyProcess` runs ``litellm --config <yaml> --host --port`` from the current
environment, waits until ``/health/liveliness`` answers, and always terminates (then kills) the
process it started. Its output goes to a log file next to the YAML, for post-mortems.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from langchain_costrouter.core.errors import ConfigError
from litellm_hooks.proxy_auth import hardened_env

__all__ = ["ProxyProcess", "free_port", "litellm_command", "stop_process"]

START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[Any], timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Terminates ``proc`` (SIGTERM), kills it after ``timeout_s``, and reaps it; idempotent."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout_s)


def litellm_command() -> list[str]:
    """The ``litellm`` proxy command of this environment.

    Raises:
        ConfigError: LiteLLM's proxy entry point is not installed.
    """
    local = Path(sys.executable).parent / "litellm"
    if local.exists():
        return [str(local)]
    found = shutil.which("litellm")
    if found:
        return [found]
    raise ConfigError("litellm", "the `litellm` proxy command is not installed (pip install -e '.[proxy]')")


class ProxyProcess:
    """The LiteLLM proxy serving ``config_path`` on ``host:port``.

    Args:
        config_path: The proxy YAML (``costrouter litellm-config``).
        host: Interface to bind (loopback by default).
        port: Port (0 picks a free one).
        env: Extra environment variables (e.g. ``LITELLM_MASTER_KEY``).
        extra_args: More ``litellm`` arguments.
    """

    def __init__(
        self,
        config_path: str | os.PathLike[str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        env: Mapping[str, str] | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.config_path = Path(config_path)
        self.host = host
        self.port = port or free_port(host)
        self.env = dict(env or {})
        self.extra_args = list(extra_args)
        self.log_path = self.config_path.with_suffix(".log")
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI ``base_url`` of the proxy."""
        return f"{self.url}/v1"

    @property
    def pid(self) -> int | None:
        """The process id while running."""
        return None if self._proc is None else self._proc.pid

    def start(self, timeout_s: float = START_TIMEOUT_S) -> Self:
        """Starts the proxy and waits until it answers.

        Raises:
            RuntimeError: it exited or did not answer within ``timeout_s`` (see :attr:`log_path`).
        """
        env = hardened_env({**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", **self.env})
        cmd = [
            *litellm_command(),
            "--config",
            str(self.config_path),
            "--host",
            self.host,
            "--port",
            str(self.port),
            *self.extra_args,
        ]
        self._log = self.log_path.open("wb")
        self._proc = subprocess.Popen(  # noqa: S603 - fixed command of this environment
            cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=str(self.config_path.parent)
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self.stop()
                msg = f"the LiteLLM proxy exited with code {self._proc.returncode}; see {self.log_path}"
                raise RuntimeError(msg)
            if self._alive():
                return self
            time.sleep(0.25)
        self.stop()
        msg = f"the LiteLLM proxy did not answer within {timeout_s:.0f}s; see {self.log_path}"
        raise RuntimeError(msg)

    def _alive(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health/liveliness", timeout=1) as resp:  # noqa: S310 - loopback URL
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        """Terminates the process (kills it after ``STOP_TIMEOUT_S``); idempotent."""
        if self._proc is not None:
            stop_process(self._proc)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the proxy's output."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
