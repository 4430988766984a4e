"""Server lifecycles: a background-thread server for sync code, and an in-loop async server."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from langchain_costrouter.core.errors import ConfigError
from langchain_costrouter.testing.server._app import AppState, RequestLog, build_app
from langchain_costrouter.testing.server._bill import BillLog
from langchain_costrouter.testing.server._engine import Responder, ScriptResponder
from langchain_costrouter.testing.server._faults import RandomFaults
from langchain_costrouter.testing.server._replay import ReplayScript
from langchain_costrouter.testing.server._script import Script

__all__ = ["AsyncLocalOpenAIServer", "LocalOpenAIServer", "ScriptLike", "make_responder"]

logger = logging.getLogger(__name__)

ScriptLike = Script | ReplayScript | Responder | Mapping[str, Any] | str | Path | None
LISTEN_BACKLOG = 4096
SHUTDOWN_TIMEOUT_S = 1.0
START_TIMEOUT_S = 30.0


def make_responder(script: ScriptLike) -> Responder:
    """The responder for ``script``.

    ``script`` is a :class:`Script`, a mapping or file (``.json``/``.yaml``; ``.csv`` is replay
    data), a :class:`ReplayScript` (or any responder), or ``None`` (echo every model).
    """
    if script is None:
        return ScriptResponder(Script())
    if isinstance(script, Script):
        return ScriptResponder(script)
    if isinstance(script, str | Path):
        path = Path(script)
        if path.suffix.lower() == ".csv":
            return ReplayScript.from_csv(path)
        return ScriptResponder(Script.from_file(path))
    if isinstance(script, Mapping):
        return ScriptResponder(Script.from_dict(script))
    if hasattr(script, "plan") and hasattr(script, "model_names"):
        return script
    raise ConfigError("script", f"expected a Script, ReplayScript, mapping or path, got {type(script).__name__}")


class _ServerBase:
    def __init__(
        self, script: ScriptLike = None, *, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None
    ) -> None:
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self.state = AppState(responder=make_responder(script), api_key=api_key)
        self._runner: web.AppRunner | None = None

    @property
    def requests(self) -> RequestLog:
        """The JSON bodies received so far (thread-safe)."""
        return self.state.requests

    @property
    def bill(self) -> BillLog:
        """The server's own bill: one line per chat request with the usage it charged."""
        return self.state.bill

    @bill.setter
    def bill(self, log: BillLog) -> None:
        self.state.bill = log

    @property
    def chaos(self) -> RandomFaults | None:
        """Faults drawn at random for a share of the requests (``None``: none)."""
        return self.state.chaos

    @chaos.setter
    def chaos(self, faults: RandomFaults | None) -> None:
        self.state.chaos = faults

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server."""
        if self.port is None:
            msg = "the server is not running: call start() first"
            raise RuntimeError(msg)
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI ``base_url``: ``http://host:port/v1``."""
        return f"{self.url}/v1"

    def reset_faults(self) -> None:
        """Restarts the countdown of every scripted fault."""
        self.state.faults.reset()

    async def _astart(self) -> None:
        runner = web.AppRunner(
            build_app(self.state),
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._requested_port, backlog=LISTEN_BACKLOG, reuse_address=True)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        logger.info("local OpenAI-compatible server listening on %s", self.base_url)

    async def _astop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self.port = None


class LocalOpenAIServer(_ServerBase):
    """OpenAI-compatible server on loopback, running its own event loop in a background thread.

    Usable from sync tests, notebooks and async code alike::

        with LocalOpenAIServer(Script(models={"m": ModelScript(reply="hi")})) as server:
            client = openai.OpenAI(base_url=server.base_url, api_key="sk-test")

    Args:
        script: What models answer (see :func:`make_responder`).
        host: Interface to bind (loopback by default).
        port: Port to bind; 0 picks a free one (cassettes need a fixed one).
        api_key: When set, ``/v1/*`` requests need ``Authorization: Bearer <api_key>``.
    """

    def __init__(
        self, script: ScriptLike = None, *, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None
    ) -> None:
        super().__init__(script, host=host, port=port, api_key=api_key)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def replay(
        cls, csv_path: str | Path, *, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None, **kwargs: Any
    ) -> LocalOpenAIServer:
        """A server replaying a RouteLLM CSV; ``kwargs`` go to :meth:`ReplayScript.from_csv`."""
        return cls(ReplayScript.from_csv(csv_path, **kwargs), host=host, port=port, api_key=api_key)

    @property
    def running(self) -> bool:
        """Whether the server thread is serving."""
        return self._thread is not None and self._thread.is_alive() and self.port is not None

    def start(self) -> Self:
        """Starts serving; returns once the port is bound.

        Raises:
            OSError: The port could not be bound.
        """
        if self._thread is not None:
            return self
        started = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._astart())
            except BaseException as exc:  # reported to the caller of start()
                failure.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._astop())
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        thread = threading.Thread(target=run, name="costrouter-local-openai", daemon=True)
        thread.start()
        if not started.wait(START_TIMEOUT_S):
            msg = "the local server did not start in time"
            raise RuntimeError(msg)
        if failure:
            thread.join()
            raise failure[0]
        self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        """Stops serving and joins the server thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)


class AsyncLocalOpenAIServer(_ServerBase):
    """The same server running in the caller's event loop (``async with``, ``await start()``)."""

    @classmethod
    def replay(
        cls, csv_path: str | Path, *, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None, **kwargs: Any
    ) -> AsyncLocalOpenAIServer:
        """A server replaying a RouteLLM CSV; ``kwargs`` go to :meth:`ReplayScript.from_csv`."""
        return cls(ReplayScript.from_csv(csv_path, **kwargs), host=host, port=port, api_key=api_key)

    async def start(self) -> Self:
        """Starts serving in the running loop."""
        if self._runner is None:
            await self._astart()
        return self

    async def stop(self) -> None:
        """Stops serving (idempotent)."""
        await self._astop()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
