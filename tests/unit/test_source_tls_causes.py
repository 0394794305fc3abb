"""TLS verdicts and connection failures of the HiveServer2 source, against small local socket servers.

In:  certificates made here with `cryptography` (expired, signed by a private CA, self-signed), a TLS
     server thread presenting them on 127.0.0.1, a plain server that hangs up, one that never answers.
Out: the CopyError class and the cause its message names (expired, unknown CA, TLS not enabled,
     login timeout); the default SSLContext settings. Faked: the HiveServer2 behind the TLS layer
     (these servers stop after the handshake, which is all these cases need).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from impala_copy.api.plan import ImpalaConnection
from impala_copy.engine.errors import AuthenticationFailed, Timeout, TLSVerificationFailed
from impala_copy.engine.source import tls
from impala_copy.engine.source.hs2 import connect

NOW = dt.datetime.now(dt.UTC)


def _cert(subject: str, key, issuer_key=None, issuer_name: str | None = None, *, days=(-1, 30), ca=False):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name or subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + dt.timedelta(days=days[0]))
        .not_valid_after(NOW + dt.timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    return builder.sign(issuer_key or key, hashes.SHA256())


def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write_identity(folder: Path, cert, key, name: str) -> tuple[Path, Path]:
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    cert_path.write_bytes(_pem(cert))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class TlsServer:
    """Accepts connections on 127.0.0.1, completes the TLS handshake, then hangs up."""

    def __init__(self, cert_path: Path, key_path: Path) -> None:
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert_path, key_path)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.handshakes = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            try:
                with self.ctx.wrap_socket(conn, server_side=True):
                    self.handshakes += 1
            except (ssl.SSLError, OSError):
                conn.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def certs(tmp_path) -> dict[str, tuple[Path, Path]]:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("Test CA", ca_key, ca=True, days=(-1, 365))
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _cert("127.0.0.1", leaf_key, ca_key, "Test CA")
    expired_key = ec.generate_private_key(ec.SECP256R1())
    expired = _cert("127.0.0.1", expired_key, days=(-30, -1))
    (tmp_path / "ca.pem").write_bytes(_pem(ca))
    return {
        "ca": (tmp_path / "ca.pem", tmp_path / "ca.pem"),
        "leaf": _write_identity(tmp_path, leaf, leaf_key, "leaf"),
        "expired": _write_identity(tmp_path, expired, expired_key, "expired"),
    }


@pytest.fixture
def serve(certs) -> Iterator:
    servers: list[TlsServer] = []

    def start(identity: str) -> TlsServer:
        server = TlsServer(*certs[identity])
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def _conn(port: int, **tls_settings) -> ImpalaConnection:
    return ImpalaConnection.model_validate(
        {"host": "127.0.0.1", "port": port, "authenticationType": "SASLUsername", "username": "bob",
         "enableSsl": True, "connectTimeoutSeconds": 5, **tls_settings}
    )  # fmt: skip


def _ca(path: Path) -> dict:
    return {"source": {"secretKeyRef": {"name": "ca", "key": "ca.pem"}}, "path": str(path)}


def test_expired_certificate_is_named_as_expired(serve, certs):
    server = serve("expired")
    with pytest.raises(TLSVerificationFailed, match="the server certificate has expired"):
        connect(_conn(server.port, trustedCert=_ca(certs["expired"][0])), {})


def test_expired_self_signed_certificate_is_refused_even_when_self_signed_is_allowed(serve):
    server = serve("expired")
    with pytest.raises(TLSVerificationFailed, match="has expired"):
        connect(_conn(server.port, allowSelfSignedServerCert=True), {})


def test_certificate_of_an_unknown_ca_is_untrusted(serve):
    server = serve("leaf")
    with pytest.raises(
        TLSVerificationFailed, match=r"not trusted \(signed by an unknown CA\).*give its CA as trustedCert"
    ):
        connect(_conn(server.port), {})


def test_allowing_self_signed_does_not_trust_an_unknown_ca(serve):
    server = serve("leaf")
    with pytest.raises(TLSVerificationFailed, match=r"signed by an unknown CA"):
        connect(_conn(server.port, allowSelfSignedServerCert=True), {})


def test_trusted_ca_passes_tls_and_fails_only_at_login(serve, certs):
    server = serve("leaf")
    with pytest.raises(AuthenticationFailed, match="closed the connection during login"):
        connect(_conn(server.port, trustedCert=_ca(certs["ca"][0])), {})
    assert server.handshakes >= 1


def test_tls_client_against_a_plain_server_says_tls_is_not_enabled():
    listener = socket.create_server(("127.0.0.1", 0))

    def hang_up() -> None:
        conn, _ = listener.accept()
        conn.recv(1024)
        conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    try:
        with pytest.raises(
            TLSVerificationFailed, match=r"check that the server has TLS enabled \(enableSsl\)"
        ):
            connect(_conn(listener.getsockname()[1]), {})
    finally:
        listener.close()


def test_a_server_that_never_answers_times_out_at_login():
    listener = socket.create_server(("127.0.0.1", 0))  # the kernel accepts; nobody ever reads
    conn = ImpalaConnection.model_validate(
        {"host": "127.0.0.1", "port": listener.getsockname()[1], "authenticationType": "SASLUsername",
         "username": "bob", "connectTimeoutSeconds": 1}
    )  # fmt: skip
    try:
        with pytest.raises(Timeout, match=r"did not complete the login within 1s \(connectTimeout\)"):
            connect(conn, {})
    finally:
        listener.close()


def test_default_context_verifies_chain_and_host_name():
    ctx = tls.build_context(_conn(1))
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname is True
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert not ctx.verify_flags & getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0)


def test_mismatch_allowance_keeps_chain_verification():
    ctx = tls.build_context(_conn(1, allowHostNameCNMismatch=True))
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname is False


def test_validation_off_is_explicit():
    ctx = tls.build_context(_conn(1, enableServerCertificateValidation=False))
    assert ctx.verify_mode == ssl.CERT_NONE
