"""A TCP server on loopback that accepts connections and never answers (for connection timeouts)."""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Self


class LoopbackServer:
    """A TCP server on a free loopback port, serving each connection with `handle` in one thread."""

    name = "loopback-server"

    def __init__(self) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = int(self.listener.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.handle(conn)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(5)
        self.closed()
        self.listener.close()

    def closed(self) -> None:
        """After the last connection: release what `handle` kept."""


class SilentServer(LoopbackServer):
    """Accepts every connection, reads nothing, writes nothing; closes them all on exit."""

    name = "silent-server"

    def __init__(self) -> None:
        self.accepted: list[socket.socket] = []
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        self.accepted.append(conn)

    def closed(self) -> None:
        for conn in self.accepted:
            conn.close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
