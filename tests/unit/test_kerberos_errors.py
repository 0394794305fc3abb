"""Kerberos failures by their cause, and the keytab checked before any login.

In:  the exact failures MIT krb5 1.20 and pykerberos produced against a real KDC and HiveServer2
     (recorded in the Kerberos recipe: `kerberos.GSSError` args, their str() inside a SASL transport
     error, `GSS initiate failed`, HTTP 401), and keytab files that are missing, unreadable or not
     keytabs.
Out: the CopyError class (AuthenticationFailed, Unreachable, SecretMissing, ConfigurationError), its
     exit code, and the words of its message; the ticket cache's name and folder.
Faked: the exceptions are built from the recorded texts (the integration tests produce them for real).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from impala_copy.api.plan import KerberosLogin
from impala_copy.engine.errors import AuthenticationFailed, ConfigurationError, SecretMissing, Unreachable
from impala_copy.engine.source import kerberos

A = ("No credentials were supplied, or the credentials were unavailable or inaccessible", 458752)
B = ("Unspecified GSS failure.  Minor code may provide more information", 851968)
WHERE = "127.0.0.1:10000"


class GSSError(Exception):
    """Stands for `kerberos.GSSError` (the binding's class, by module and name)."""


GSSError.__module__ = "kerberos"


class TTransportException(Exception):
    """Stands for thrift's transport error as thrift_sasl raises it after a failed SASL step."""


def login(tmp_path: Path, keytab: bytes | None = b"\x05\x02rest") -> KerberosLogin:
    path = tmp_path / "client.keytab"
    if keytab is not None:
        path.write_bytes(keytab)
    return KerberosLogin.model_validate(
        {
            "principal": "etl@IMPALA.TEST",
            "keytab": {"source": {"secretKeyRef": {"name": "etl", "key": "etl.keytab"}}, "path": str(path)},
            "serviceName": "impala",
            "serviceHost": "impalad-1",
        }
    )


CASES = [
    (
        (A, ("Client 'ghost@IMPALA.TEST' not found in Kerberos database", -1765328378)),
        AuthenticationFailed,
        "the KDC does not know the client principal etl@IMPALA.TEST: check principal (and realm)",
    ),
    (
        (A, ("Preauthentication failed", -1765328360)),
        AuthenticationFailed,
        "key version mismatch: the principal was re-keyed after the keytab was exported",
    ),
    ((A, ("Decrypt integrity check failed", -1765328353)), AuthenticationFailed, "key version mismatch"),
    ((B, ("Clock skew too great", -1765328347)), AuthenticationFailed, "clock skew: the clocks of"),
    (
        (A, ("Cannot contact any KDC for realm 'IMPALA.TEST'", -1765328228)),
        Unreachable,
        "no KDC of realm IMPALA.TEST could be reached: check the kdc entries of krb5.conf",
    ),
    (
        (B, ("Server impala/impalad-1@IMPALA.TEST not found in Kerberos database", -1765328377)),
        AuthenticationFailed,
        "the KDC does not know the server principal impala/impalad-1 (in the server host's realm): set "
        "kerberosServicePrincipal, or kerberosServiceName and kerberosHost",
    ),
    (
        (A, ("No Kerberos credentials available (default cache: FILE:/tmp/cc)", -1765328243)),
        AuthenticationFailed,
        "the keytab holds no key for etl@IMPALA.TEST",
    ),
    (
        (A, ("Client's credentials have been revoked", -1765328366)),
        AuthenticationFailed,
        "the KDC refuses to issue tickets to etl@IMPALA.TEST",
    ),
    ((B, ("Ticket expired", -1765328352)), AuthenticationFailed, "no new one could be obtained"),
]


@pytest.mark.parametrize(("args", "cls", "words"), CASES)
def test_each_gss_failure_names_its_cause(tmp_path: Path, args: tuple, cls: type, words: str) -> None:
    error = kerberos.login_failure(GSSError(*args), login(tmp_path), WHERE)
    assert type(error) is cls
    assert error is not None
    assert error.message.startswith(f"Kerberos login to {WHERE} as etl@IMPALA.TEST failed: ")
    assert words in error.message
    assert error.message.endswith(f"({args[1][0]})")  # the library's own words, last


def test_a_gss_failure_inside_a_sasl_step_is_read_from_its_text(tmp_path: Path) -> None:
    """A SASL step reports the GSSError as text inside the transport error."""
    inner = GSSError(B, ("Clock skew too great", -1765328347))
    error = kerberos.login_failure(
        TTransportException(f"Bad SASL negotiation status: 3 ({inner})"), login(tmp_path), WHERE
    )
    assert isinstance(error, AuthenticationFailed)
    assert "clock skew" in error.message


def test_a_ticket_the_server_refuses(tmp_path: Path) -> None:
    error = kerberos.login_failure(
        TTransportException("Bad status: 3 (b'GSS initiate failed')"), login(tmp_path), WHERE
    )
    assert isinstance(error, AuthenticationFailed)
    assert error.message.startswith(
        f"{WHERE} did not accept the Kerberos ticket of etl@IMPALA.TEST for impala/impalad-1 (GSS initiate "
        "failed): the server's principal is another one"
    )

    class HttpError(Exception):
        code = 401

    assert "(HTTP 401 Unauthorized)" in str(kerberos.login_failure(HttpError(), login(tmp_path), WHERE))
    assert kerberos.login_failure(TTransportException("TSocket read 0 bytes"), login(tmp_path), WHERE) is None


def test_an_unknown_gss_failure_keeps_the_library_words(tmp_path: Path) -> None:
    error = kerberos.login_failure(GSSError(B, ("Something new", -1)), login(tmp_path), WHERE)
    assert isinstance(error, AuthenticationFailed)
    assert error.message == f"Kerberos login to {WHERE} as etl@IMPALA.TEST failed: Something new"


def test_a_missing_keytab_names_its_secret(tmp_path: Path) -> None:
    with pytest.raises(SecretMissing) as info:
        kerberos.check_keytab(login(tmp_path, keytab=None))
    assert info.value.message == (
        f"the keytab (Secret 'etl' key 'etl.keytab') is not available: no file at {tmp_path / 'client.keytab'}"
    )
    assert info.value.exit_code == 2


def test_a_file_that_is_not_a_keytab(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        kerberos.check_keytab(login(tmp_path, keytab=b"-----BEGIN nonsense"))
    assert info.value.message == (
        "Secret 'etl' key 'etl.keytab' is not a Kerberos keytab (it must be the binary keytab file, "
        "base64-encoded under the Secret's data)"
    )
    assert "nonsense" not in info.value.message


def test_the_ticket_cache_is_private_and_per_principal(tmp_path: Path) -> None:
    first = kerberos.ticket_cache(login(tmp_path))
    assert first.startswith("FILE:")
    folder = Path(first[len("FILE:") :]).parent
    assert folder.stat().st_mode & 0o777 == 0o700
    assert folder.stat().st_uid == os.getuid()
    other = login(tmp_path).model_copy(update={"principal": "other@IMPALA.TEST"})
    assert kerberos.ticket_cache(other) != first
    assert Path(kerberos.ticket_cache(other)[len("FILE:") :]).parent == folder
