"""TLS for the Impala connection: an `ssl.SSLContext` that verifies by default, and real failure causes.

How the ImpalaLinkedService settings map (ADF's meaning kept):
- enableSsl false: no TLS at all.
- enableServerCertificateValidation false: encrypt without checking the certificate (explicit opt-out).
- trustedCert (a mounted PEM bundle): the CAs that may sign the server certificate.
- useSystemTrustStore, or no trustedCert: the system CA store of the copy image.
- allowSelfSignedServerCert: a self-signed server certificate is accepted as its own trust anchor; it
  is still checked for expiry and (unless allowHostNameCNMismatch) for the host name. A certificate
  signed by an unknown CA is still refused.
- allowHostNameCNMismatch: the certificate need not name `host`; the chain is still verified.

impyla itself reports every TLS failure as "Could not connect to any of [...]"; here the handshake
runs on our own socket so OpenSSL's verdict (untrusted, hostname mismatch, expired...) reaches the user.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

from impala_copy.api.plan import ImpalaConnection
from impala_copy.engine.errors import ConfigurationError, CopyError, TLSVerificationFailed

# OpenSSL X509_V_ERR_* codes that SSLCertVerificationError.verify_code carries.
_NOT_YET_VALID = 9
_EXPIRED = 10
_SELF_SIGNED_LEAF = 18
_SELF_SIGNED_IN_CHAIN = 19
_UNKNOWN_ISSUER = 20
_UNKNOWN_ISSUER_LEAF = 21
_HOSTNAME_MISMATCH = 62
_IP_MISMATCH = 64


def needs_peer_certificate(conn: ImpalaConnection) -> bool:
    """Whether `build_context` needs the server's certificate first (allowSelfSignedServerCert)."""
    return (
        conn.enable_ssl and conn.enable_server_certificate_validation and conn.allow_self_signed_server_cert
    )


def build_context(conn: ImpalaConnection, *, peer_certificate: bytes | None = None) -> ssl.SSLContext:
    """The client context for `conn` (enableSsl must be true).

    `peer_certificate` (DER) is the certificate the server presented, fetched by
    `fetch_peer_certificate`; with allowSelfSignedServerCert it becomes a trust anchor, which
    verifies only when it is self-signed (partial chains are not accepted).
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if not conn.enable_server_certificate_validation:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.check_hostname = not conn.allow_host_name_cn_mismatch
    ctx.verify_flags &= ~getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0)
    if conn.trusted_cert is not None:
        path = Path(conn.trusted_cert.path)
        try:
            ctx.load_verify_locations(cafile=str(path))
        except FileNotFoundError:
            raise ConfigurationError(
                f"trustedCert file {path} does not exist (is the certificate mounted?)"
            ) from None
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise ConfigurationError(
                f"trustedCert file {path} holds no usable PEM certificate ({exc})"
            ) from None
    if conn.use_system_trust_store or conn.trusted_cert is None:
        ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if conn.allow_self_signed_server_cert and peer_certificate:
        ctx.load_verify_locations(cadata=peer_certificate)
    return ctx


def fetch_peer_certificate(host: str, port: int, timeout: float) -> bytes | None:
    """The certificate `host:port` presents (DER), read without verifying it; None when none is sent.

    Only used to decide whether a self-signed certificate may be trusted; the real connection then
    verifies it with `build_context`. Connection errors propagate (the caller maps them).
    """
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        probe.wrap_socket(raw, server_hostname=host) as tls,
    ):
        return tls.getpeercert(binary_form=True)


def verification_error(exc: ssl.SSLError, conn: ImpalaConnection, where: str) -> CopyError:
    """A TLSVerificationFailed that says why the handshake with `where` failed and what would fix it."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = exc.verify_code
        detail = exc.verify_message or str(exc)
        if code == _EXPIRED:
            cause = "the server certificate has expired"
            fix = "renew the server certificate"
        elif code == _NOT_YET_VALID:
            cause = "the server certificate is not valid yet"
            fix = "check the clocks of the server and of the copy"
        elif code in (_HOSTNAME_MISMATCH, _IP_MISMATCH):
            cause = f"hostname mismatch: the server certificate is not valid for {conn.host!r}"
            fix = "connect with a host name the certificate names, or set allowHostNameCNMismatch: true"
        elif code in (_SELF_SIGNED_LEAF, _SELF_SIGNED_IN_CHAIN, _UNKNOWN_ISSUER, _UNKNOWN_ISSUER_LEAF):
            kind = (
                "self-signed"
                if code in (_SELF_SIGNED_LEAF, _SELF_SIGNED_IN_CHAIN)
                else "signed by an unknown CA"
            )
            cause = f"the server certificate is not trusted ({kind})"
            fix = "give its CA as trustedCert"
            if code == _SELF_SIGNED_LEAF:
                fix += ", or set allowSelfSignedServerCert: true"
        else:
            cause = "the server certificate failed verification"
            fix = "check trustedCert and the server certificate"
        return TLSVerificationFailed(f"TLS verification of {where} failed: {cause} ({detail}); {fix}")
    reason = getattr(exc, "reason", None) or str(exc)
    return TLSVerificationFailed(
        f"TLS handshake with {where} failed ({reason}); check that the server has TLS enabled (enableSsl)"
    )


__all__ = ["build_context", "fetch_peer_certificate", "needs_peer_certificate", "verification_error"]
