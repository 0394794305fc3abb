"""Loopback servers that answer a login with an error quoting what the client sent (the password too).

`EchoSaslServer` speaks just enough of HiveServer2's Binary transport SASL exchange: it reads the
client's START (mechanism) and OK (PLAIN initial response: authzid NUL user NUL password) frames and
answers with a BAD or ERROR status frame whose message is the bytes it received.
`EchoHttpServer` answers every HTTP request with a 401 or 500 whose reason phrase and body repeat
the Authorization header, the credentials decoded from it, and the request body.
"""

from __future__ import annotations

import base64
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from tests.integration.silent_server import LoopbackServer

SASL_BAD = 3
SASL_ERROR = 4
_FRAME = struct.Struct(">BI")


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _read_frame(conn: socket.socket) -> bytes:
    _, length = _FRAME.unpack(_read_exactly(conn, _FRAME.size))
    return _read_exactly(conn, length)


class EchoSaslServer(LoopbackServer):
    """Answers a SASL PLAIN login with `status` and a message quoting the initial response."""

    name = "echo-sasl"

    def __init__(self, status: int = SASL_BAD) -> None:
        self.status = status
        self.received: list[bytes] = []
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                mechanism = _read_frame(conn)
                response = _read_frame(conn)
            except (EOFError, OSError):
                return
            self.received.append(response)
            message = b"login refused (" + mechanism + b"): " + response
            conn.sendall(_FRAME.pack(self.status, len(message)) + message)


class _EchoHandler(BaseHTTPRequestHandler):
    status = 401

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        auth = self.headers.get("Authorization") or ""
        token = auth.removeprefix("Basic ")
        decoded = base64.b64decode(token).decode(errors="replace") if token else ""
        reply = f"you sent {auth} ({decoded}) and {body!r}".encode()
        self.send_response(self.status, f"denied {auth} ({decoded})")
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:
        return


class EchoHttpServer:
    """Answers every request with `status`, echoing the credentials in the reason phrase and body."""

    def __init__(self, status: int = 401) -> None:
        handler = type("Handler", (_EchoHandler,), {"status": status})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, name="echo-http", daemon=True)

    def __enter__(self) -> EchoHttpServer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
