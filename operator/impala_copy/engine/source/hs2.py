"""A small typed adapter over impyla's HiveServer2 client: connect, run a query, stream Arrow batches.

    with connect(plan.impala, secrets) as session:
        source = session.query("SELECT * FROM `db`.`t`", timeout_seconds=7200)
        for batch in source.batches(): ...

What it adds to impyla:
- authenticationType -> HS2 mechanism: Anonymous = NOSASL; SASLUsername = SASL PLAIN with the user
  name and a placeholder password (PLAIN refuses an empty one); UsernameAndPassword = SASL PLAIN
  (LDAP) with the password. Over HTTP the same credentials go in a Basic Authorization header.
  Kerberos = SASL GSSAPI with tickets from the keytab; over HTTP a SPNEGO `Negotiate` header
  (engine/source/kerberos.py).
- TLS verified by default, with OpenSSL's own reason when it fails (engine/source/tls.py). The TCP connection
  and the TLS handshake happen on our socket, and a closed connection is never silently reopened
  (impyla's retry would reopen it without TLS).
- Arrow: the result schema comes from GetResultSetMetadata, and each FetchResults block becomes one
  record batch through bulk conversion (engine/source/arrow_types.py). A fetch thread keeps at most
  `prefetch` raw blocks ahead of the consumer, so memory stays flat whatever the result size
  (engine/source/query.py).
- Errors: every failure is a CopyError subclass that says what happened (engine/source/errors.py).
"""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from impala_copy.api.impala import SASL_DEFAULT_USERNAME, AuthenticationType, ThriftTransportProtocol
from impala_copy.api.plan import ImpalaConnection, KerberosLogin
from impala_copy.engine.errors import ConfigurationError, CopyError, QueryFailed, ServerError
from impala_copy.engine.secrets import Scrubber, read_secret
from impala_copy.engine.source import errors as hs2_errors
from impala_copy.engine.source import kerberos, tls
from impala_copy.engine.source.query import HS2Query, ResponseTooLarge

# Most rows asked for per FetchResults call (Impala and Spark honour at least 50,000); a wide result
# gets fewer (hs2_query.fetch_rows). See docs/benchmarks.md.
DEFAULT_BATCH_ROWS = 50_000
# Blocks the fetch thread may hold ahead of the consumer.
DEFAULT_PREFETCH = 1
# The longest a single RPC may block once connected (a FetchResults of a slow query included).
MAX_RPC_SECONDS = 900.0
# Read buffer of the unframed transports (NOSASL, HTTP); thrift's default of 4 KiB costs a Python
# call per 4 KiB of a FetchResults response.
READ_BUFFER_BYTES = 1 << 20
# SASLUsername: HiveServer2's PLAIN mechanism refuses an empty password, so a user-name-only login
# sends this placeholder, as impyla does; a server that accepts such logins does not check it.
SASL_USERNAME_PLACEHOLDER = "password"


@dataclass(frozen=True)
class Login:
    """The HS2 login an ImpalaConnection asks for. `password` is a secret: never logged or shown."""

    mechanism: str  # NOSASL, PLAIN or GSSAPI
    user: str | None
    password: str | None
    kerberos: KerberosLogin | None = None

    def __repr__(self) -> str:
        return f"Login(mechanism={self.mechanism!r}, user={self.user!r})"


def login_for(conn: ImpalaConnection, secrets: Mapping[str, str]) -> Login:
    """authenticationType -> HS2 mechanism and credentials (reads the password Secret)."""
    if conn.authentication_type == AuthenticationType.ANONYMOUS:
        return Login("NOSASL", None, None)
    if conn.authentication_type == AuthenticationType.SASL_USERNAME:
        return Login("PLAIN", conn.username or SASL_DEFAULT_USERNAME, SASL_USERNAME_PLACEHOLDER)
    if conn.authentication_type == AuthenticationType.KERBEROS:
        if conn.kerberos is None:
            raise ConfigurationError("authenticationType Kerberos requires principal and keytab")
        return Login("GSSAPI", conn.kerberos.principal, None, conn.kerberos)
    if not conn.username:
        raise ConfigurationError("authenticationType UsernameAndPassword requires username")
    if conn.password is None:
        raise ConfigurationError("authenticationType UsernameAndPassword requires password")
    return Login("PLAIN", conn.username, read_secret(conn.password, secrets))


def endpoint(conn: ImpalaConnection) -> str:
    """host:port (plus the HTTP path) as messages name the server."""
    where = f"{conn.host}:{conn.port}"
    if conn.thrift_transport_protocol == ThriftTransportProtocol.HTTP:
        where += "/" + conn.http_path.lstrip("/")
    return where


# ----------------------------------------------------------------------------------------- transports


def _tcp_connect(conn: ImpalaConnection, timeout: float, where: str) -> socket.socket:
    host = conn.host.strip("[]")
    try:
        return socket.create_connection((host, conn.port), timeout=timeout)
    except OSError as exc:
        raise hs2_errors.connect_error(exc, conn, where, timeout) from None


def _handshake(sock: socket.socket, ctx: ssl.SSLContext, conn: ImpalaConnection, where: str) -> ssl.SSLSocket:
    try:
        return ctx.wrap_socket(sock, server_hostname=conn.host.strip("[]"))
    except ssl.SSLError as exc:
        sock.close()
        raise tls.verification_error(exc, conn, where) from None
    except OSError as exc:
        sock.close()
        raise hs2_errors.handshake_error(exc, conn, where) from None


def _tls_context(conn: ImpalaConnection, timeout: float, where: str) -> ssl.SSLContext:
    peer = None
    if tls.needs_peer_certificate(conn):
        try:
            peer = tls.fetch_peer_certificate(conn.host.strip("[]"), conn.port, timeout)
        except ssl.SSLError as exc:
            raise tls.verification_error(exc, conn, where) from None
        except OSError as exc:
            raise hs2_errors.connect_error(exc, conn, where, timeout) from None
    return tls.build_context(conn, peer_certificate=peer)


def _socket_transport(sock: socket.socket, conn: ImpalaConnection) -> Any:
    from thrift.transport.TSocket import TSocket
    from thrift.transport.TTransport import TTransportException

    class ConnectedSocket(TSocket):  # type: ignore[misc]
        """A TSocket over an already connected (and TLS-wrapped) socket that never reconnects.

        `readAll` fills one preallocated buffer: thrift's own appends chunk by chunk to a bytes
        object, which copies a multi-megabyte FetchResults frame over and over (quadratic).
        With `max_read_bytes` set (a bounded fetch, engine/source/query.py), a larger read (the body
        of a SASL frame) is refused before anything is allocated or read.
        """

        max_read_bytes: int | None = None

        def open(self) -> None:
            if self.handle is None:
                raise TTransportException(TTransportException.NOT_OPEN, "the connection was closed")

        def readAll(self, sz: int) -> bytes:  # noqa: N802 - thrift's name
            if self.handle is None:
                raise TTransportException(TTransportException.NOT_OPEN, "the connection was closed")
            if self.max_read_bytes is not None and sz > self.max_read_bytes:
                raise ResponseTooLarge(sz, self.max_read_bytes)
            buffer = bytearray(sz)
            view = memoryview(buffer)
            have = 0
            while have < sz:
                try:
                    got = self.handle.recv_into(view[have:], sz - have)
                except TimeoutError as exc:
                    raise TTransportException(
                        TTransportException.TIMED_OUT, "read timeout", inner=exc
                    ) from exc
                except OSError as exc:
                    raise TTransportException(message="unexpected exception", inner=exc) from exc
                if got == 0:
                    raise TTransportException(TTransportException.END_OF_FILE, "TSocket read 0 bytes")
                have += got
            return bytes(buffer)

    tsock = ConnectedSocket(conn.host, conn.port)
    tsock.setHandle(sock)
    return tsock


def _binary_transport(
    conn: ImpalaConnection, login: Login, ctx: ssl.SSLContext | None, timeout: float
) -> Any:
    from thrift.transport.TTransport import TBufferedTransport

    where = endpoint(conn)
    sock: socket.socket = _tcp_connect(conn, timeout, where)
    if ctx is not None:
        sock = _handshake(sock, ctx, conn, where)
    tsock = _socket_transport(sock, conn)
    if login.mechanism == "NOSASL":
        return TBufferedTransport(tsock, rbuf_size=READ_BUFFER_BYTES)
    from impala.sasl_compat import PureSASLClient
    from thrift_sasl import TSaslClientTransport

    def sasl_factory() -> Any:
        if login.kerberos is not None:
            krb = login.kerberos
            return PureSASLClient(krb.service_host, service=krb.service_name, principal=krb.principal)
        return PureSASLClient(conn.host, username=login.user, password=login.password or "", service="impala")

    transport = TSaslClientTransport(sasl_factory, login.mechanism, tsock)
    try:
        transport.open()
    except Exception as exc:  # noqa: BLE001 - thrift_sasl raises plain TTransportException/socket errors
        with contextlib.suppress(Exception):
            sock.close()
        raise hs2_errors.login_error(exc, conn, login, where, timeout) from None
    return transport


def _http_transport(conn: ImpalaConnection, login: Login, ctx: ssl.SSLContext | None, timeout: float) -> Any:
    from impala._thrift_api import ImpalaHttpClient
    from thrift.transport.TTransport import TBufferedTransport

    where = endpoint(conn)
    # impyla opens a new HTTP connection per request and reports every failure the same way: check
    # reachability and the certificate once on our own socket first, so the real cause is reported.
    sock = _tcp_connect(conn, timeout, where)
    if ctx is not None:
        sock = _handshake(sock, ctx, conn, where)
    sock.close()
    host = conn.host if ":" not in conn.host or conn.host.startswith("[") else f"[{conn.host}]"
    url = f"{'https' if ctx is not None else 'http'}://{host}:{conn.port}/{conn.http_path.lstrip('/')}"
    client = ImpalaHttpClient(url, ssl_context=ctx)
    client.setTimeout(timeout * 1000.0)
    authorization = None
    if login.mechanism == "PLAIN":
        token = base64.b64encode(f"{login.user}:{login.password or ''}".encode()).decode()
        authorization = f"Basic {token}"

    def headers(cookie_header: str | None, has_auth_cookie: bool) -> dict[str, str]:
        out: dict[str, str] = {}
        if cookie_header:
            out["Cookie"] = cookie_header
        if authorization is not None:
            out["Authorization"] = authorization
        elif login.kerberos is not None:
            # A token per request, from the cached service ticket (a new one once it has expired).
            out["Authorization"] = kerberos.negotiate_header(login.kerberos)
        return out

    client.setGetCustomHeadersFunc(headers)
    return TBufferedTransport(client, rbuf_size=READ_BUFFER_BYTES), client


# ------------------------------------------------------------------------------------------- session


def connect(conn: ImpalaConnection, secrets: Mapping[str, str]) -> ImpalaSession:
    """Connect, log in and open an HS2 session; every failure is a CopyError with its real cause.

    Error messages (the session's too) are scrubbed of every value in `secrets`: a server may echo
    the login it received.
    """
    scrub = Scrubber.of(secrets)
    try:
        session = _open_session(conn, secrets)
    except CopyError as err:
        raise scrub.error(err) from None
    session.scrub = scrub
    return session


def _open_session(conn: ImpalaConnection, secrets: Mapping[str, str]) -> ImpalaSession:
    from impala._thrift_gen.TCLIService import TCLIService
    from impala._thrift_gen.TCLIService.ttypes import TOpenSessionReq, TProtocolVersion
    from thrift.protocol.TBinaryProtocol import TBinaryProtocolAccelerated

    login = login_for(conn, secrets)
    timeout = float(conn.connect_timeout_seconds)
    where = endpoint(conn)
    if login.kerberos is not None:
        kerberos.binding()
        kerberos.use_keytab(login.kerberos)
    ctx = _tls_context(conn, timeout, where) if conn.enable_ssl else None
    http_client = None
    if conn.thrift_transport_protocol == ThriftTransportProtocol.HTTP:
        transport, http_client = _http_transport(conn, login, ctx, timeout)
    else:
        transport = _binary_transport(conn, login, ctx, timeout)
    client = TCLIService.Client(TBinaryProtocolAccelerated(transport))
    request = TOpenSessionReq(
        client_protocol=TProtocolVersion.HIVE_CLI_SERVICE_PROTOCOL_V6, username=login.user, configuration=None
    )
    try:
        response = client.OpenSession(request)
        hs2_errors.check_status(response.status, "opening a session", login_phase=True, conn=conn)
    except CopyError:
        with contextlib.suppress(Exception):
            transport.close()
        raise
    except Exception as exc:  # noqa: BLE001 - thrift, socket and HTTP errors alike
        with contextlib.suppress(Exception):
            transport.close()
        raise hs2_errors.login_error(exc, conn, login, where, timeout) from None
    session = ImpalaSession(conn, client, transport, response.sessionHandle, http_client=http_client)
    session.frames = _frame_reader(transport)
    session.set_rpc_timeout(max(timeout, MAX_RPC_SECONDS))
    return session


class ImpalaSession:
    """An open HS2 session. One query at a time; close it (or use `with`)."""

    def __init__(
        self, conn: ImpalaConnection, client: Any, transport: Any, handle: Any, *, http_client: Any = None
    ) -> None:
        self.conn = conn
        self.where = endpoint(conn)
        self._client = client
        self._transport = transport
        self._handle = handle
        self._http_client = http_client
        self._lock = threading.RLock()
        self._closed = False
        self._aborted = False
        self.rpc_timeout = MAX_RPC_SECONDS
        self.scrub = Scrubber(())
        # Set by connect() on a framed (SASL) binary connection: lets a query pipeline its fetches.
        self.frames: Any = None

    def set_rpc_timeout(self, seconds: float) -> None:
        self.rpc_timeout = seconds
        if self._http_client is not None:
            self._http_client.setTimeout(seconds * 1000.0)
            return
        sock = _raw_socket(self._transport)
        if sock is not None:
            sock.settimeout(seconds)

    def rpc(self, name: str, request: Any, doing: str) -> Any:
        """Call one HS2 RPC and check its status; transport failures become CopyErrors."""
        if self._closed or self._aborted:
            raise ServerError(f"the connection to {self.where} is closed")
        try:
            with self._lock:
                try:
                    response = getattr(self._client, name)(request)
                except CopyError:
                    raise
                except Exception as exc:  # noqa: BLE001 - socket, thrift and HTTP errors alike
                    if self.conn.kerberos is not None and kerberos.is_gss_error(exc):
                        # HTTP: a new SPNEGO token per request, which may need a new ticket.
                        raise kerberos.gss_error(exc, self.conn.kerberos, self.where) from None
                    raise hs2_errors.rpc_error(exc, self.where, doing, self.rpc_timeout) from None
            hs2_errors.check_status(response.status, doing)
        except CopyError as err:
            raise self.scrub.error(err) from None
        return response

    def query(
        self,
        sql: str,
        *,
        timeout_seconds: float,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        prefetch: int = DEFAULT_PREFETCH,
    ) -> HS2Query:
        """Run `sql` until its result is ready (at most `timeout_seconds`, then it is cancelled)."""
        return HS2Query(self, sql, timeout_seconds=timeout_seconds, batch_rows=batch_rows, prefetch=prefetch)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the connection (no other RPC may interleave) for a sequence of calls."""
        if not self.usable:
            raise ServerError(f"the connection to {self.where} is closed")
        with self._lock:
            yield

    @property
    def client(self) -> Any:
        return self._client

    def ping(self) -> float:
        """Seconds for a `SELECT 1` round trip (execute, fetch, close)."""
        started = time.monotonic()
        result = self.query("SELECT 1", timeout_seconds=float(self.conn.connect_timeout_seconds), prefetch=0)
        try:
            rows = sum(b.num_rows for b in result.batches())
        finally:
            result.close()
        if rows != 1:
            raise QueryFailed(f"SELECT 1 on {self.where} returned {rows} rows")
        return time.monotonic() - started

    def close(self) -> None:
        if self._closed:
            return
        from impala._thrift_gen.TCLIService.ttypes import TCloseSessionReq

        if not self._aborted:
            with contextlib.suppress(Exception):
                self.set_rpc_timeout(min(self.rpc_timeout, float(self.conn.connect_timeout_seconds)))
                self.rpc("CloseSession", TCloseSessionReq(sessionHandle=self._handle), "closing the session")
        self._closed = True
        with contextlib.suppress(Exception):
            self._transport.close()

    @property
    def handle(self) -> Any:
        return self._handle

    @property
    def usable(self) -> bool:
        return not (self._closed or self._aborted)

    def abort(self) -> None:
        """Break the connection at once (another thread may be blocked reading from it)."""
        self._aborted = True
        if self._http_client is not None:
            with contextlib.suppress(Exception):
                self._http_client.close()
            return
        sock = _raw_socket(self._transport)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> ImpalaSession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _frame_reader(transport: Any) -> Any:
    """The connected socket under a SASL transport whose frames are plain (PLAIN: no integrity layer).

    On such a connection every HS2 message is one frame (4-byte length + body), so a response can be
    read whole and decoded later, while the next request is already with the server.
    """
    if type(transport).__name__ != "TSaslClientTransport" or getattr(transport, "encode", True):
        return None
    qop = getattr(getattr(transport, "sasl", None), "qop", b"auth")
    if qop not in (b"auth", "auth"):  # GSSAPI with integrity or confidentiality: frames are wrapped
        return None
    inner = getattr(transport, "_trans", None)
    return inner if hasattr(inner, "readAll") and hasattr(inner, "handle") else None


def _raw_socket(transport: Any) -> socket.socket | None:
    """The socket under a (SASL/buffered) transport, to set its timeout."""
    seen = 0
    layer = transport
    while layer is not None and seen < 5:
        handle = getattr(layer, "handle", None)
        if isinstance(handle, socket.socket):
            return handle
        layer = getattr(layer, "_trans", None) or getattr(layer, "transport", None)
        seen += 1
    return None


__all__ = [
    "DEFAULT_BATCH_ROWS",
    "DEFAULT_PREFETCH",
    "SASL_USERNAME_PLACEHOLDER",
    "HS2Query",
    "ImpalaSession",
    "Login",
    "connect",
    "endpoint",
    "login_for",
]
