"""The connection test of an ImpalaLinkedService: connect, open a session, SELECT 1, close.

The same function serves the operator (condition `Connected` on the linked service) and
`impala-copy test-connection` (printed), so both say the same thing. Every failure gets one of the
reasons AuthenticationFailed, TLSVerificationFailed, Unreachable, Timeout or ServerError and a
message that names the server but never a secret value.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from impala_copy.api.plan import ImpalaConnection
from impala_copy.api.summary import CONNECTION_TEST_REASONS, ConnectionTestSummary
from impala_copy.engine.errors import (
    AuthenticationFailed,
    ConfigurationError,
    CopyError,
    Timeout,
    TLSVerificationFailed,
    Unreachable,
)

CONNECTED = "Connected"
REASON_AUTHENTICATION_FAILED = "AuthenticationFailed"
REASON_TLS_VERIFICATION_FAILED = "TLSVerificationFailed"
REASON_UNREACHABLE = "Unreachable"
REASON_TIMEOUT = "Timeout"
REASON_SERVER_ERROR = "ServerError"
REASON_INVALID_CONFIGURATION = "InvalidConfiguration"
# Reasons of a failed test, most specific first (subclasses before their bases).
_REASONS: tuple[tuple[type[CopyError], str], ...] = (
    (AuthenticationFailed, REASON_AUTHENTICATION_FAILED),
    (TLSVerificationFailed, REASON_TLS_VERIFICATION_FAILED),
    (Unreachable, REASON_UNREACHABLE),
    (Timeout, REASON_TIMEOUT),
)
# Extra seconds the watchdog grants beyond the connection's own timeouts before it gives up.
WATCHDOG_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class ProbeResult:
    """Outcome of one connection test."""

    connected: bool
    reason: str
    message: str
    probed_at: datetime
    duration_milliseconds: float
    round_trip_milliseconds: float | None = None

    @property
    def exit_code(self) -> int:
        """`impala-copy test-connection` exit code: 0 connected, 1 may pass on retry, 2 configuration.

        Unreachable, Timeout and ServerError may pass later (1); a rejected login, an untrusted
        certificate or a missing Secret will not until something is changed (2).
        """
        if self.connected:
            return 0
        return 1 if self.reason in (REASON_UNREACHABLE, REASON_TIMEOUT, REASON_SERVER_ERROR) else 2

    def to_summary(self) -> ConnectionTestSummary:
        """What `impala-copy engine --task connection-test` reports.

        A configuration problem found before the server was reached (a missing Secret value, an
        unreadable CA file) has the reason InvalidConfiguration; its message says which.
        """
        reason = self.reason if self.reason in CONNECTION_TEST_REASONS else REASON_INVALID_CONFIGURATION
        return ConnectionTestSummary(
            connected=self.connected,
            reason=reason,
            message=self.message,
            probed_at=rfc3339(self.probed_at),
            duration_milliseconds=round(self.duration_milliseconds, 3),
            round_trip_milliseconds=self.round_trip_milliseconds,
        )


def rfc3339(moment: datetime) -> str:
    """A time as RFC 3339 UTC, to the second (as Kubernetes writes times)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Session(Protocol):
    def ping(self) -> float: ...

    def close(self) -> None: ...


Connector = Callable[[ImpalaConnection, Mapping[str, str]], _Session]


def endpoint(conn: ImpalaConnection) -> str:
    """host:port (and the HTTP path) of the server, as messages name it."""
    where = f"{conn.host}:{conn.port}"
    if conn.thrift_transport_protocol == "HTTP":
        where += f"/{conn.http_path.lstrip('/')}"
    return where


def _who(conn: ImpalaConnection) -> str:
    if conn.kerberos is not None:
        return f" as {conn.kerberos.principal} (Kerberos)"
    return f" as {conn.username}" if conn.username else ""


def watchdog_seconds(conn: ImpalaConnection) -> float:
    """The longest a test may take: connect, log in and SELECT 1 each bounded by the connect timeout."""
    return 3.0 * conn.connect_timeout_seconds + WATCHDOG_GRACE_SECONDS


def timeout_result(conn: ImpalaConnection, seconds: float, probed_at: datetime | None = None) -> ProbeResult:
    """The result of a test that the watchdog gave up on."""
    return ProbeResult(
        connected=False,
        reason=REASON_TIMEOUT,
        message=f"{endpoint(conn)} did not complete connect, login and SELECT 1 within {seconds:.0f}s",
        probed_at=probed_at or datetime.now(UTC),
        duration_milliseconds=seconds * 1000.0,
    )


def failure_result(
    conn: ImpalaConnection, exc: CopyError, probed_at: datetime, duration_ms: float
) -> ProbeResult:
    if isinstance(exc, ConfigurationError):
        # Nothing reached the server: a missing Secret key, an unreadable CA file... (its own code).
        reason = exc.code
    else:
        reason = next((r for cls, r in _REASONS if isinstance(exc, cls)), REASON_SERVER_ERROR)
    return ProbeResult(
        connected=False,
        reason=reason,
        message=exc.message,
        probed_at=probed_at,
        duration_milliseconds=duration_ms,
    )


def _default_connect(conn: ImpalaConnection, secrets: Mapping[str, str]) -> _Session:
    from impala_copy.engine.source.hs2 import connect

    return connect(conn, secrets)


def probe(
    conn: ImpalaConnection, secrets: Mapping[str, str], *, connect: Connector | None = None
) -> ProbeResult:
    """Connect, open a session, SELECT 1, close; blocking, bounded by the connection's timeouts."""
    probed_at = datetime.now(UTC)
    started = time.monotonic()
    try:
        session = (connect or _default_connect)(conn, secrets)
        try:
            round_trip = session.ping()
        finally:
            session.close()
    except CopyError as exc:
        return failure_result(conn, exc, probed_at, (time.monotonic() - started) * 1000.0)
    except Exception as exc:  # noqa: BLE001 - anything the driver raises is a server-side failure here
        return failure_result(
            conn, CopyError(f"{type(exc).__name__} talking to {endpoint(conn)}"), probed_at,
            (time.monotonic() - started) * 1000.0,
        )  # fmt: skip
    duration_ms = (time.monotonic() - started) * 1000.0
    round_trip_ms = round(round_trip * 1000.0, 3)
    return ProbeResult(
        connected=True,
        reason=CONNECTED,
        message=f"Connected to {endpoint(conn)}{_who(conn)}: connect, login, SELECT 1 and close took "
        f"{duration_ms:.0f} ms (SELECT 1 round trip {round_trip_ms:.1f} ms)",
        probed_at=probed_at,
        duration_milliseconds=round(duration_ms, 3),
        round_trip_milliseconds=round_trip_ms,
    )


def probe_with_watchdog(
    conn: ImpalaConnection,
    secrets: Mapping[str, str],
    *,
    connect: Connector | None = None,
    watchdog: float | None = None,
) -> ProbeResult:
    """probe() in a daemon thread: a Timeout result if it has not finished within `watchdog` seconds.

    For callers without an event loop (the CLI). The operator uses its own worker pool and asyncio timeouts.
    """
    limit = watchdog if watchdog is not None else watchdog_seconds(conn)
    box: list[ProbeResult] = []
    probed_at = datetime.now(UTC)
    thread = threading.Thread(
        target=lambda: box.append(probe(conn, secrets, connect=connect)),
        name="impala-copy-probe",
        daemon=True,
    )
    thread.start()
    thread.join(limit)
    if box:
        return box[0]
    return timeout_result(conn, limit, probed_at)


__all__ = [
    "CONNECTED",
    "REASON_AUTHENTICATION_FAILED",
    "REASON_INVALID_CONFIGURATION",
    "REASON_SERVER_ERROR",
    "REASON_TIMEOUT",
    "REASON_TLS_VERIFICATION_FAILED",
    "REASON_UNREACHABLE",
    "ProbeResult",
    "endpoint",
    "probe",
    "probe_with_watchdog",
    "rfc3339",
    "timeout_result",
    "watchdog_seconds",
]
