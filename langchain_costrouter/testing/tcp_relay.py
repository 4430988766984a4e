"""A loopback TCP relay that can cut a backend off and bring it back (fault tests and benchmarks).

:class:`TcpRelay` listens on ``127.0.0.1:<port>`` and forwards each connection to a target
(a Postgres or Redis on this machine). :meth:`TcpRelay.cut` closes every open connection and
refuses new ones, as an unreachable database does; :meth:`TcpRelay.restore` accepts again.
Only loopback targets are allowed.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from types import TracebackType
from typing import Self

__all__ = ["TcpRelay"]

logger = logging.getLogger(__name__)

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class TcpRelay:
    """Forwards ``127.0.0.1:port`` to ``target_host:target_port`` until cut.

    Args:
        target_host: A loopback address.
        target_port: The backend's port.
        port: The relay's port (0: a free one).
    """

    def __init__(self, target_host: str, target_port: int, *, port: int = 0) -> None:
        if target_host not in _LOOPBACK:
            msg = f"the relay only forwards to loopback, not {target_host!r}"
            raise ValueError(msg)
        self.target = (target_host, target_port)
        self._port_wanted = port
        self.port = 0
        self._listener: socket.socket | None = None
        self._socks: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._open = False
        self.cuts = 0

    def start(self) -> Self:
        """Starts listening (and accepting)."""
        self.restore()
        return self

    def _listen(self) -> None:
        lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lst.bind(("127.0.0.1", self.port or self._port_wanted))
        lst.listen(128)
        self.port = lst.getsockname()[1]
        self._listener = lst
        threading.Thread(target=self._accept, args=(lst,), daemon=True, name="tcp-relay").start()

    def _accept(self, lst: socket.socket) -> None:
        while True:
            try:
                client, _ = lst.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if not self._open:
                    client.close()
                    upstream.close()
                    continue
                self._socks.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            with self._lock:
                self._socks.discard(src)
                self._socks.discard(dst)

    def cut(self) -> None:
        """Drops every open connection and refuses new ones (the port stops listening)."""
        with self._lock:
            self._open = False
            socks, self._socks = list(self._socks), set()
            lst, self._listener = self._listener, None
        if lst is not None:
            lst.close()
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        self.cuts += 1

    def restore(self) -> None:
        """Accepts connections again on the same port."""
        with self._lock:
            if self._open:
                return
            self._open = True
        self._listen()

    def close(self) -> None:
        """Stops for good."""
        self.cut()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
