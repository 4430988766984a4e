"""The services ``bench replicas`` owns: a private ``redis-server``, a Postgres database of its own.

Neither touches the machine's shared services beyond creating and dropping one database whose
name starts with ``costrouter_bench_``: the Redis the bench restarts is a process it started on a
free port, and the connections it kills are those of its own database only.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from langchain_costrouter.core.errors import ConfigError

__all__ = ["BenchDatabase", "PrivateRedis"]

logger = logging.getLogger(__name__)


class PrivateRedis:
    """A ``redis-server`` on a free port (``--save ''``), with an append-only file in ``directory``.

    Args:
        directory: Where its log and append-only file go.
        port: Port (0 picks a free one).
        persist: Keep the append-only file, so a restart keeps the data (as production runs it);
            ``False``: a restart empties Redis.
    """

    def __init__(self, directory: Path, port: int = 0, *, persist: bool = True) -> None:
        from litellm_hooks.proxy_process import free_port

        binary = shutil.which("redis-server")
        if binary is None:
            raise ConfigError("bench replicas", "needs redis-server on PATH (apt-get install redis-server)")
        self.binary = binary
        self.directory = directory
        self.port = port or free_port()
        self.restarts = 0
        self.persist = persist
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 20.0) -> Self:
        """Starts the server and waits until it answers ``PING``.

        Raises:
            RuntimeError: it did not answer within ``timeout_s``.
        """
        import redis

        self.directory.mkdir(parents=True, exist_ok=True)
        cmd = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        cmd += ["--appendonly", "yes" if self.persist else "no", "--appendfsync", "everysec"]
        cmd += ["--dir", str(self.directory)]
        self._log = (self.directory / "redis.log").open("ab")
        self._proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)  # noqa: S603 - fixed binary
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                try:
                    if client.ping():
                        return self
                except (redis.RedisError, OSError):
                    time.sleep(0.05)
        finally:
            client.close()
        self.stop()
        msg = f"redis-server on port {self.port} did not answer; see {self.directory / 'redis.log'}"
        raise RuntimeError(msg)

    def stop(self) -> None:
        """Stops the server (SIGTERM: it writes its append-only file first); idempotent."""
        if self._proc is not None:
            from litellm_hooks.proxy_process import stop_process

            stop_process(self._proc)  # SIGTERM first: redis-server writes its append-only file
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> float:
        """Stops and starts the server on the same port; returns the seconds it was down."""
        t0 = time.monotonic()
        self.stop()
        self.start()
        self.restarts += 1
        return time.monotonic() - t0

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class BenchDatabase:
    """``CREATE DATABASE costrouter_bench_<random>`` on the server of ``admin_url``; dropped on exit.

    Args:
        admin_url: A URL or conninfo of a database on the server (used to create and drop).
    """

    def __init__(self, admin_url: str) -> None:
        import psycopg

        self._psycopg = psycopg
        self.admin_url = admin_url
        self.name = f"costrouter_bench_{secrets.token_hex(6)}"
        self.killed = 0

    @property
    def url(self) -> str:
        """The bench database's conninfo."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(self.admin_url, dbname=self.name)

    def create(self) -> Self:
        """Creates the database.

        Raises:
            ConfigError: the server cannot be reached or refuses.
        """
        from psycopg import sql

        try:
            with self._psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        except self._psycopg.Error as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise ConfigError("--postgres-url", f"cannot create the bench database: {first}") from None
        return self

    def kill_connections(self) -> int:
        """``pg_terminate_backend`` on every connection to the bench database; returns how many."""
        with self._psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.name,),
            ).fetchall()
        n = sum(1 for (ok,) in rows if ok)
        self.killed += n
        return n

    def drop(self) -> None:
        """Drops the database (its connections are closed first); logs a failure."""
        from psycopg import sql

        try:
            with self._psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))
        except self._psycopg.Error:
            logger.warning("could not drop the bench database %s", self.name, exc_info=True)

    def __enter__(self) -> Self:
        return self.create()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.drop()
