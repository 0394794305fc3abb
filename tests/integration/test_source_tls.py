"""TLS of the HiveServer2 source against a Spark Thrift Server with a self-signed certificate.

In:  the `sts_tls` server, whose certificate is self-signed and names only 127.0.0.1 (`ca_pem` holds it);
     ImpalaConnection TLS settings (trustedCert, allowSelfSignedServerCert, allowHostNameCNMismatch,
     enableServerCertificateValidation) and host 127.0.0.1 or localhost.
Out: a working query, or TLSVerificationFailed whose message gives the real cause.
Faked: nothing.
"""

from __future__ import annotations

import pytest
from tests.integration.source_helpers import SECRETS, connection

from impala_copy.engine.errors import AuthenticationFailed, ConfigurationError, TLSVerificationFailed
from impala_copy.engine.source.hs2 import connect


def _count(conn) -> int:
    with connect(conn, SECRETS) as session:
        source = session.query("SELECT count(*) AS n FROM demo.all_types", timeout_seconds=60)
        rows = [r for b in source.batches() for r in b.to_pylist()]
        source.close()
    return rows[0]["n"]


def test_trusted_ca_verifies_the_server(sts_tls):
    assert _count(connection(sts_tls)) == 4


def test_self_signed_certificate_is_rejected_by_default(sts_tls):
    conn = connection(sts_tls, trustedCert=None)
    with pytest.raises(TLSVerificationFailed) as info:
        _count(conn)
    assert "the server certificate is not trusted (self-signed)" in info.value.message
    assert "allowSelfSignedServerCert" in info.value.message


def test_allow_self_signed_accepts_it(sts_tls):
    assert _count(connection(sts_tls, trustedCert=None, allowSelfSignedServerCert=True)) == 4


def test_hostname_mismatch_is_rejected(sts_tls):
    conn = connection(sts_tls, host="localhost")
    with pytest.raises(TLSVerificationFailed) as info:
        _count(conn)
    assert "hostname mismatch: the server certificate is not valid for 'localhost'" in info.value.message
    assert "allowHostNameCNMismatch" in info.value.message


def test_self_signed_allowance_still_checks_the_hostname(sts_tls):
    conn = connection(sts_tls, host="localhost", trustedCert=None, allowSelfSignedServerCert=True)
    with pytest.raises(TLSVerificationFailed, match="hostname mismatch"):
        _count(conn)


def test_hostname_mismatch_accepted_when_allowed(sts_tls):
    assert _count(connection(sts_tls, host="localhost", allowHostNameCNMismatch=True)) == 4


def test_validation_can_be_switched_off_explicitly(sts_tls):
    conn = connection(sts_tls, host="localhost", trustedCert=None, enableServerCertificateValidation=False)
    assert _count(conn) == 4


def test_wrong_password_over_tls_is_an_authentication_error(sts_tls):
    with (
        pytest.raises(AuthenticationFailed, match="rejected the login of user 'alice'"),
        connect(connection(sts_tls), {"TEST_IMPALA_PASSWORD": "nope"}),
    ):
        pass


def test_plain_client_against_tls_server_fails_at_login(sts_tls):
    conn = connection(sts_tls, enableSsl=False, trustedCert=None)
    with pytest.raises(AuthenticationFailed, match=r"closed the connection during login.*enableSsl"):
        _count(conn)


def test_missing_trusted_cert_file_is_a_configuration_error(sts_tls, tmp_path):
    conn = connection(
        sts_tls,
        trustedCert={
            "source": {"configMapKeyRef": {"name": "ca", "key": "ca.pem"}},
            "path": str(tmp_path / "absent.pem"),
        },
    )
    with pytest.raises(ConfigurationError, match=r"absent\.pem does not exist"):
        _count(conn)
