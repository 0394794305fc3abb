"""A TCP proxy on loopback that forwards to a server until it is told to stall (for read timeouts).

Clients connect to 127.0.0.1:`proxy.port`; after `proxy.stall()` nothing is forwarded either way and
the connections stay open, as with a server (or a network path) that stopped answering.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading

from tests.integration.silent_server import LoopbackServer

CHUNK = 1 << 16
POLL_SECONDS = 0.1


class StallingProxy(LoopbackServer):
    """Forwards every connection to (host, port) byte for byte, until `stall()`."""

    name = "stalling-proxy"

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self.upstream = (host, port)
        self.stalled = threading.Event()
        self.connections = 0
        self._sockets: list[socket.socket] = []
        self._done = threading.Event()

    def stall(self) -> None:
        """Stop forwarding: bytes already sent stay sent, nothing more goes through, nothing is closed."""
        self.stalled.set()

    def handle(self, conn: socket.socket) -> None:
        upstream = socket.create_connection(self.upstream, timeout=10)
        self._sockets += [conn, upstream]
        self.connections += 1
        threading.Thread(target=self._pump, args=(conn, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        while not self._done.is_set():
            if self.stalled.is_set():
                self._done.wait(POLL_SECONDS)  # hold both connections open, read nothing
                continue
            readable, _, _ = select.select(list(peers), [], [], POLL_SECONDS)
            for sock in readable:
                try:
                    data = sock.recv(CHUNK)
                except OSError:
                    return
                if not data or self.stalled.is_set():
                    if not data:
                        return
                    continue  # the stall began while this chunk was in flight: it is dropped
                with contextlib.suppress(OSError):
                    peers[sock].sendall(data)

    def closed(self) -> None:
        self._done.set()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
