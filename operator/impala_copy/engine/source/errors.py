"""HiveServer2 / impyla / thrift / socket failures -> the engine's CopyErrors, with their real causes.

impyla surfaces most failures as a bare `TTransportException` ("Could not connect to any of...",
"TSocket read 0 bytes", "Bad status: 3"), an `HttpError`, or a server status with a Java stack trace.
These functions look at the phase (connect, TLS, login, query) and the text, and say what happened
and what to check. Messages never contain a password; server messages are cut to their first line.
"""

from __future__ import annotations

import errno
import re
import socket
import ssl
from typing import TYPE_CHECKING, Any

from impala_copy.engine.errors import (
    AuthenticationFailed,
    ConfigurationError,
    CopyError,
    QueryFailed,
    ServerError,
    TableNotFound,
    Timeout,
    TLSVerificationFailed,
    Unreachable,
)

if TYPE_CHECKING:
    from impala_copy.api.plan import ImpalaConnection
    from impala_copy.engine.source.hs2 import Login

MAX_SERVER_MESSAGE = 400
_NOT_FOUND = re.compile(
    r"TABLE_OR_VIEW_NOT_FOUND|SCHEMA_NOT_FOUND|Could not resolve table reference|Table not found|"
    r"Table or view not found|Database does not exist|Database '[^']*' not found|"
    r"Could not resolve path|Table does not exist",
    re.IGNORECASE,
)
_NOT_FOUND_SQLSTATES = frozenset({"42P01", "42S02", "42704", "42000:TABLE_OR_VIEW_NOT_FOUND"})
_LOGIN_REJECTED = re.compile(
    r"Error validating the login|Bad status: 3|authentication failed|invalid credentials|"
    r"PLAIN auth failed|Unauthorized|not authorized|LDAP",
    re.IGNORECASE,
)
# A Java exception class at the start of a line ("org.apache...HiveSQLException: ", "AnalysisException: "),
# optionally preceded by Spark's error class ("[PARSE_SYNTAX_ERROR] org...ParseException: ").
_JAVA_PREFIX = re.compile(r"(?:\[[A-Z0-9_.]+\]\s*)?(?:[a-z_][\w$]*\.)*[A-Z][\w$]*(?:Exception|Error):\s*")
_NOISE_PREFIX = re.compile(r"(?:Error running query|Query failed|ERROR):\s*", re.IGNORECASE)


def _strip_prefixes(line: str) -> str:
    while True:
        match = _JAVA_PREFIX.match(line) or _NOISE_PREFIX.match(line)
        if match is None or not match.group():
            return line.strip()
        line = line[match.end() :]


def server_message(text: str | None) -> str:
    """The first meaningful line of a server error message: no stack trace, no Java class prefixes."""
    if not text:
        return "(no message)"
    head = text.split("\n\tat ", 1)[0]
    line = next((x for x in (_strip_prefixes(ln) for ln in head.splitlines()) if x), "")
    if len(line) > MAX_SERVER_MESSAGE:
        line = line[: MAX_SERVER_MESSAGE - 3] + "..."
    return line or "(no message)"


def query_error(message: str | None, sql_state: str | None) -> CopyError:
    """The error of a failed statement: TableNotFound when the server could not find it, else QueryFailed."""
    text = server_message(message)
    if (message and _NOT_FOUND.search(message)) or (sql_state or "") in _NOT_FOUND_SQLSTATES:
        return TableNotFound(f"table not found: {text}")
    return QueryFailed(f"the query failed: {text}")


def check_status(
    status: Any, doing: str, *, login_phase: bool = False, conn: ImpalaConnection | None = None
) -> None:
    """Raise the CopyError a non-success TStatus stands for."""
    if status is None or status.statusCode in (0, 1, 2):  # SUCCESS, SUCCESS_WITH_INFO, STILL_EXECUTING
        return
    message = status.errorMessage or ", ".join(status.infoMessages or []) or None
    if login_phase:
        who = f" as {conn.username!r}" if conn is not None and conn.username else ""
        raise AuthenticationFailed(f"the server refused to open a session{who}: {server_message(message)}")
    if status.statusCode == 4:  # INVALID_HANDLE
        raise ServerError(f"the server no longer knows this session or query while {doing}")
    raise query_error(message, status.sqlState)


_TTRANSPORT_TIMED_OUT = 3
_TTRANSPORT_END_OF_FILE = 4


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and the exceptions thrift wrapped inside it (`inner`), outermost first."""
    out = [exc]
    while len(out) < 5:
        inner = getattr(out[-1], "inner", None)
        if not isinstance(inner, BaseException):
            break
        out.append(inner)
    return out


def _transport_type(exc: BaseException) -> int | None:
    """The `type` of a thrift TTransportException (None for anything else)."""
    if type(exc).__name__ != "TTransportException":
        return None
    value = getattr(exc, "type", None)
    return value if isinstance(value, int) else None


def _is_timeout(exc: BaseException) -> bool:
    return any(
        isinstance(e, TimeoutError) or _transport_type(e) == _TTRANSPORT_TIMED_OUT for e in _chain(exc)
    )


def _is_closed(exc: BaseException) -> bool:
    """The peer hung up (EOF, reset, TLS close) rather than answering."""
    closed = (ConnectionResetError, BrokenPipeError, EOFError, ssl.SSLEOFError, ssl.SSLZeroReturnError)
    return any(
        isinstance(e, closed) or _transport_type(e) == _TTRANSPORT_END_OF_FILE or "read 0 bytes" in str(e)
        for e in _chain(exc)
    )


def _describe(exc: BaseException) -> str:
    """The most specific text of a (possibly wrapped) exception."""
    for e in reversed(_chain(exc)):
        text = getattr(e, "strerror", None) or str(e)
        if text:
            return server_message(text)
    return type(exc).__name__


def connect_error(exc: OSError, conn: ImpalaConnection, where: str, timeout: float) -> CopyError:
    """A failed TCP connection (before any TLS or login)."""
    if isinstance(exc, socket.gaierror):
        return Unreachable(f"cannot resolve host {conn.host!r} ({exc.strerror or exc})")
    if _is_timeout(exc):
        return Unreachable(f"{where} did not accept a connection within {timeout:g}s (connectTimeout)")
    if isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED:
        return Unreachable(
            f"{where} refused the connection: no server is listening there (check host and port)"
        )
    reason = exc.strerror or str(exc) or type(exc).__name__
    return Unreachable(f"cannot connect to {where}: {reason}")


def handshake_error(exc: OSError, conn: ImpalaConnection, where: str) -> CopyError:
    """A TLS handshake broken off by the peer or the network (not a certificate verdict)."""
    if _is_timeout(exc):
        return Timeout(
            f"the TLS handshake with {where} did not complete within {conn.connect_timeout_seconds}s"
        )
    return TLSVerificationFailed(
        f"the TLS handshake with {where} failed ({exc.strerror or exc or type(exc).__name__}); "
        "check that the server has TLS enabled (enableSsl)"
    )


def login_error(
    exc: BaseException, conn: ImpalaConnection, login: Login, where: str, timeout: float
) -> CopyError:
    """A failure while logging in (SASL handshake or OpenSession)."""
    if login.kerberos is not None:
        from impala_copy.engine.source.kerberos import login_failure

        failure = login_failure(exc, login.kerberos, where)
        if failure is not None:
            return failure
    text = str(exc)
    http_code = getattr(exc, "code", None)
    if _is_timeout(exc):
        return Timeout(f"{where} did not complete the login within {timeout:g}s (connectTimeout)")
    if http_code == 401 or (http_code is None and _LOGIN_REJECTED.search(text)):
        if login.mechanism == "NOSASL":
            return AuthenticationFailed(
                f"{where} requires a login: authenticationType Anonymous was refused "
                "(use SASLUsername or UsernameAndPassword)"
            )
        what = "user name" if conn.authentication_type == "SASLUsername" else "user name or password"
        return AuthenticationFailed(
            f"{where} rejected the login of user {login.user!r}: wrong {what} ({server_message(text)})"
        )
    if isinstance(http_code, int):
        if http_code == 404:
            return ConfigurationError(f"{where} answered HTTP 404 Not Found: check httpPath")
        return ServerError(f"{where} answered HTTP {http_code} while logging in")
    if _is_closed(exc):
        mechanism = "no SASL (Anonymous)" if login.mechanism == "NOSASL" else "SASL PLAIN"
        tls_hint = "" if conn.enable_ssl else ", or the server expects TLS (enableSsl)"
        return AuthenticationFailed(
            f"{where} closed the connection during login: the server does not accept {mechanism} logins "
            f"(check authenticationType{tls_hint})"
        )
    return ServerError(f"login to {where} failed: {_describe(exc)}")


_SIZE_LIMIT = re.compile(
    r"Frame size \((\d+)\) larger than the maximum \((\d+)\)|"
    r"(?:Length exceeded max allowed|size exceeded specified limit): (\d+)"
)


def size_limit_error(where: str, doing: str, what: str, limit: int) -> CopyError:
    """A reply over a client-side size limit: the same data fails the same way, so not retryable."""
    return ConfigurationError(
        f"{where} sent {what} while {doing}, over the client's limit of {limit} bytes "
        f"({limit / 1_000_000:g} MB); a single value that large cannot be read: leave the column out "
        "or cut it in the query (e.g. substr)"
    )


def _size_limit(exc: BaseException, where: str, doing: str) -> CopyError | None:
    """thrift's frame / string size limit (16 MB by default), when that is what `exc` is."""
    for e in _chain(exc):
        match = _SIZE_LIMIT.search(str(e))
        if match is None:
            continue
        if match.group(3):
            return size_limit_error(where, doing, "a value", int(match.group(3)))
        return size_limit_error(where, doing, f"a frame of {match.group(1)} bytes", int(match.group(2)))
    return None


def rpc_error(exc: BaseException, where: str, doing: str, timeout: float) -> CopyError:
    """A transport failure during an RPC of an open session."""
    too_large = _size_limit(exc, where, doing)
    if too_large is not None:
        return too_large
    if _is_timeout(exc):
        return Timeout(f"{where} sent no response within {timeout:g}s while {doing}")
    http_code = getattr(exc, "code", None)
    if http_code == 401:
        return AuthenticationFailed(f"{where} rejected the credentials (HTTP 401) while {doing}")
    if any(isinstance(e, ConnectionRefusedError) for e in _chain(exc)):
        return Unreachable(f"{where} refused the connection while {doing}")
    if _is_closed(exc):
        return ServerError(f"{where} closed the connection while {doing}")
    return ServerError(f"the connection to {where} failed while {doing}: {_describe(exc)}")


__all__ = [
    "check_status",
    "connect_error",
    "handshake_error",
    "login_error",
    "query_error",
    "rpc_error",
    "server_message",
    "size_limit_error",
]
