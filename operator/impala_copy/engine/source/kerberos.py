"""Kerberos (GSSAPI) for the HiveServer2 client: credentials from a keytab, and failures by their cause.

Tickets: MIT krb5 obtains the initial ticket from the client keytab named by `KRB5_CLIENT_KTNAME`,
and obtains a new one whenever the one it holds has expired, so a run longer than the ticket
lifetime needs no kinit loop (and a connection, once open, stays authenticated). The ticket cache is
a file in a folder of this process's own (mode 0700, under TMPDIR: the pod's /tmp), one cache per
principal, keytab and krb5.conf, never the system-wide default cache. `KRB5_CONFIG` names the mounted
krb5.conf, when there is one. The library reads these variables at each login, so `use_keytab` sets
them right before it.

Binary transport: SASL GSSAPI (pure-sasl over the `kerberos` binding). HTTP transport: SPNEGO, a
`Negotiate` token in the Authorization header of each request (`negotiate_header`).

Failures: the binding raises `kerberos.GSSError((major, code), (minor, code))`; `gss_error` turns
the minor status (the Kerberos library's own words) into an AuthenticationFailed or Unreachable that
names the cause: unknown client principal, a keytab whose key is not the KDC's (key version),
clock skew, no KDC reachable, an unknown server principal. The keytab's content never appears in a
message, only its path.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import shutil
import tempfile
from typing import Any

from impala_copy.api.plan import KerberosLogin
from impala_copy.engine.errors import (
    AuthenticationFailed,
    ConfigurationError,
    CopyError,
    SecretMissing,
    Unreachable,
)

KTNAME_ENV = "KRB5_CLIENT_KTNAME"
CCNAME_ENV = "KRB5CCNAME"
CONFIG_ENV = "KRB5_CONFIG"
# The first bytes of an MIT keytab file: format 0x05, version 0x01 or 0x02.
KEYTAB_MAGIC = (b"\x05\x01", b"\x05\x02")

_cache_dir: str | None = None


def _private_dir() -> str:
    """A folder of this process's own for ticket caches (removed at exit)."""
    global _cache_dir
    if _cache_dir is None or not os.path.isdir(_cache_dir):
        _cache_dir = tempfile.mkdtemp(prefix="impala-copy-krb5-")
        atexit.register(shutil.rmtree, _cache_dir, True)
    return _cache_dir


def ticket_cache(login: KerberosLogin) -> str:
    """The ticket cache of one principal, keytab and krb5.conf: `FILE:<private folder>/krb5cc_<digest>`."""
    conf = login.krb5_conf.path if login.krb5_conf else ""
    digest = hashlib.sha256(f"{login.principal}\0{login.keytab.path}\0{conf}".encode()).hexdigest()[:16]
    return f"FILE:{_private_dir()}/krb5cc_{digest}"


def _keytab_source(login: KerberosLogin) -> str:
    ref = login.keytab.source.secret_key_ref
    return f"Secret {ref.name!r} key {ref.key!r}" if ref is not None else "the keytab"


def check_keytab(login: KerberosLogin) -> None:
    """The keytab file is there, readable, and looks like a keytab; else a ConfigurationError saying so."""
    path = login.keytab.path
    try:
        with open(path, "rb") as f:
            head = f.read(2)
    except FileNotFoundError:
        raise SecretMissing(
            f"the keytab ({_keytab_source(login)}) is not available: no file at {path}"
        ) from None
    except PermissionError:
        raise ConfigurationError(
            f"the keytab at {path} cannot be read by this user (uid {os.getuid()}): in a Job pod it is "
            "readable through the pod's fsGroup (job.fsGroup must be set)"
        ) from None
    except OSError as exc:
        raise ConfigurationError(f"the keytab at {path} cannot be read ({exc.strerror})") from None
    if head not in KEYTAB_MAGIC:
        raise ConfigurationError(
            f"{_keytab_source(login)} is not a Kerberos keytab (it must be the binary keytab file, "
            "base64-encoded under the Secret's data)"
        )
    conf = login.krb5_conf
    if conf is not None and not os.path.isfile(conf.path):
        raise ConfigurationError(f"krb5.conf is not available: no file at {conf.path}")


def use_keytab(login: KerberosLogin) -> None:
    """Point the Kerberos library at the keytab, the private ticket cache and krb5.conf (process-wide)."""
    check_keytab(login)
    os.environ[KTNAME_ENV] = login.keytab.path
    os.environ[CCNAME_ENV] = ticket_cache(login)
    if login.krb5_conf is not None:
        os.environ[CONFIG_ENV] = login.krb5_conf.path


def binding() -> Any:
    """The `kerberos` module (pykerberos); ConfigurationError when the image lacks it."""
    try:
        import kerberos
    except ImportError:
        raise ConfigurationError(
            "authenticationType Kerberos needs the Python package 'kerberos' (pykerberos), which is not "
            "installed: install impala-copy-operator[kerberos]"
        ) from None
    return kerberos


def negotiate_header(login: KerberosLogin) -> str:
    """`Negotiate <token>`: a SPNEGO token for the server's principal (HTTP transport)."""
    krb = binding()
    service = f"{login.service_name}@{login.service_host}"
    _, context = krb.authGSSClientInit(service, principal=login.principal)
    try:
        krb.authGSSClientStep(context, "")
        return f"Negotiate {krb.authGSSClientResponse(context)}"
    finally:
        krb.authGSSClientClean(context)


def is_gss_error(exc: BaseException) -> bool:
    return type(exc).__name__ == "GSSError" and type(exc).__module__ in ("kerberos", "winkerberos")


# str() of a GSSError, as a SASL step reports it inside a transport error: ((major, n), (minor, n))
_GSS_TEXT = re.compile(r"\(\((['\"])(?P<major>.*?)\1, -?\d+\), \((['\"])(?P<minor>.*?)\3, -?\d+\)\)")


def _minor(exc: BaseException) -> str:
    """The Kerberos library's own words: the minor status text, else the major one."""
    parts = [p for p in exc.args if isinstance(p, tuple) and p and isinstance(p[0], str)]
    texts = [p[0].strip() for p in reversed(parts) if p[0].strip()]
    return texts[0] if texts else str(exc)


def login_failure(exc: BaseException, login: KerberosLogin, where: str) -> CopyError | None:
    """The CopyError of a failed Kerberos login, when `exc` says what failed; None when it does not."""
    if is_gss_error(exc):
        return gss_error(exc, login, where)
    text = str(exc)
    match = _GSS_TEXT.search(text)
    if match is not None:
        words = match.group("minor").strip() or match.group("major")
        return gss_error(Exception((match.group("major"), 0), (words, 0)), login, where)
    if "GSS initiate failed" in text:
        return rejected_by_server(login, where, "GSS initiate failed")
    if getattr(exc, "code", None) == 401:
        return rejected_by_server(login, where, "HTTP 401 Unauthorized")
    return None


_REALM = re.compile(r"realm '([^']*)'")
# (pattern of the library's words, error class, what it means and what to check)
_CAUSES: tuple[tuple[re.Pattern[str], type[CopyError], str], ...] = (
    (
        re.compile(r"Client '?[^']*'? not found in Kerberos database", re.I),
        AuthenticationFailed,
        "the KDC does not know the client principal {principal}: check principal (and realm)",
    ),
    (
        re.compile(r"Preauthentication failed|Decrypt integrity check failed|Password incorrect", re.I),
        AuthenticationFailed,
        "the keytab's key for {principal} is not the KDC's (key version mismatch: the principal was "
        "re-keyed after the keytab was exported); export the keytab again and update the Secret",
    ),
    (
        re.compile(r"Clock skew too great", re.I),
        AuthenticationFailed,
        "clock skew: the clocks of this machine and the KDC (or the server) differ by more than the "
        "allowed skew (5 minutes by default); fix the node's time",
    ),
    (
        re.compile(r"Cannot (contact|find) any KDC|Unable to locate KDC|resolve network address", re.I),
        Unreachable,
        "no KDC{realm} could be reached: check the kdc entries of krb5.conf and the network path to them",
    ),
    (
        re.compile(r"Server '?[^']*'? not found in Kerberos database", re.I),
        AuthenticationFailed,
        "the KDC does not know the server principal {service} (in the server host's realm): set "
        "kerberosServicePrincipal, or kerberosServiceName and kerberosHost, to the server's principal",
    ),
    (
        re.compile(
            r"No Kerberos credentials available|Keytab contains no suitable keys|"
            r"No key table entry found|Key table entry not found",
            re.I,
        ),
        AuthenticationFailed,
        "the keytab holds no key for {principal}: check principal, or export that principal's key into "
        "the keytab",
    ),
    (
        re.compile(r"credentials have been revoked|Client's entry in database has expired", re.I),
        AuthenticationFailed,
        "the KDC refuses to issue tickets to {principal} (the principal is disabled, locked or expired)",
    ),
    (
        re.compile(r"Ticket expired", re.I),
        AuthenticationFailed,
        "the ticket of {principal} has expired and no new one could be obtained from the keytab",
    ),
)


def gss_error(exc: BaseException, login: KerberosLogin, where: str) -> CopyError:
    """A GSSError of the Kerberos library as the CopyError that names its cause."""
    words = _minor(exc)
    realm_match = _REALM.search(words)
    for pattern, cls, meaning in _CAUSES:
        if pattern.search(words):
            text = meaning.format(
                principal=login.principal,
                service=login.service_principal,
                realm=f" of realm {realm_match.group(1)}" if realm_match else "",
            )
            return cls(f"Kerberos login to {where} as {login.principal} failed: {text} ({words})")
    return AuthenticationFailed(f"Kerberos login to {where} as {login.principal} failed: {words}")


def rejected_by_server(login: KerberosLogin, where: str, detail: str) -> CopyError:
    """The server refused a ticket the KDC issued (GSS initiate failed, HTTP 401)."""
    return AuthenticationFailed(
        f"{where} did not accept the Kerberos ticket of {login.principal} for {login.service_principal} "
        f"({detail}): the server's principal is another one (check kerberosServicePrincipal, or "
        "kerberosServiceName and kerberosHost), its key changed, or the clocks differ by more than the "
        "allowed skew"
    )


__all__ = [
    "CCNAME_ENV",
    "CONFIG_ENV",
    "KTNAME_ENV",
    "binding",
    "check_keytab",
    "gss_error",
    "is_gss_error",
    "login_failure",
    "negotiate_header",
    "rejected_by_server",
    "ticket_cache",
    "use_keytab",
]
