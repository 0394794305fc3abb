"""Logins, transports and failures of the HiveServer2 source, against real servers.

In:  the `sts` (CUSTOM password check), `sts_nosasl` and `sts_http` dev servers; ImpalaConnection objects
     for each authenticationType; a port where nothing listens; failing and slow SQL.
Out: the user the server saw (`current_user()`), rows read, and for each failure the CopyError class
     and the words of its message (never the password).
Faked: nothing.
"""

from __future__ import annotations

import pytest
from devservers.sts import free_port
from tests.integration.source_helpers import SECRETS, connection

from impala_copy.engine.errors import (
    AuthenticationFailed,
    QueryFailed,
    SecretMissing,
    TableNotFound,
    Timeout,
    Unreachable,
)
from impala_copy.engine.source.hs2 import connect

WRONG = {"TEST_IMPALA_PASSWORD": "not-the-password"}


def _current_user(conn, secrets=SECRETS) -> str:
    with connect(conn, secrets) as session:
        source = session.query("SELECT current_user() AS u", timeout_seconds=60)
        rows = [r for b in source.batches() for r in b.to_pylist()]
        source.close()
    return rows[0]["u"]


def test_username_and_password_logs_in_as_that_user(sts):
    assert _current_user(connection(sts)) == "alice"


def test_wrong_password_is_rejected_with_a_clear_error(sts):
    with pytest.raises(AuthenticationFailed) as info:
        _current_user(connection(sts), WRONG)
    assert "rejected the login of user 'alice'" in info.value.message
    assert "wrong user name or password" in info.value.message
    assert "not-the-password" not in info.value.message
    assert info.value.exit_code == 2


def test_missing_password_secret_names_the_secret(sts):
    with pytest.raises(SecretMissing) as info:
        _current_user(connection(sts), {})
    assert "Secret 'impala-login' key 'password'" in info.value.message


def test_sasl_username_logs_in_without_a_password(sts):
    conn = connection(sts, authenticationType="SASLUsername", username="bob", password=None)
    assert _current_user(conn, {}) == "bob"


def test_sasl_username_of_an_unknown_user_is_rejected(sts):
    conn = connection(sts, authenticationType="SASLUsername", username="mallory", password=None)
    with pytest.raises(AuthenticationFailed, match="rejected the login of user 'mallory': wrong user name"):
        _current_user(conn, {})


def test_anonymous_logs_in_to_a_nosasl_server(sts_nosasl):
    conn = connection(sts_nosasl)
    assert conn.authentication_type == "Anonymous"
    with connect(conn, {}) as session:
        source = session.query("SELECT count(*) AS n FROM demo.all_types", timeout_seconds=60)
        assert [r for b in source.batches() for r in b.to_pylist()] == [{"n": 4}]
        source.close()


def test_anonymous_against_a_password_server_says_why(sts):
    conn = connection(sts, authenticationType="Anonymous", username=None, password=None)
    with pytest.raises(AuthenticationFailed, match="does not accept no SASL \\(Anonymous\\) logins"):
        _current_user(conn, {})


def test_http_transport_reads_rows(sts_http):
    conn = connection(sts_http)
    assert conn.thrift_transport_protocol == "HTTP"
    assert _current_user(conn) == "alice"
    with connect(conn, SECRETS) as session:
        source = session.query("SELECT * FROM demo.orders", timeout_seconds=60, batch_rows=1000)
        assert sum(b.num_rows for b in source.batches()) == 5000
        source.close()


def test_http_transport_wrong_password(sts_http):
    with pytest.raises(AuthenticationFailed, match="rejected the login of user 'alice'"):
        _current_user(connection(sts_http), WRONG)


def test_server_down_is_unreachable(sts):
    conn = connection(sts, port=free_port())  # nothing listens there
    with pytest.raises(Unreachable, match="refused the connection: no server is listening"):
        _current_user(conn)


def test_unknown_host_is_unreachable(sts):
    with pytest.raises(Unreachable, match=r"cannot resolve host 'no-such-host\.invalid'"):
        _current_user(connection(sts, host="no-such-host.invalid"))


def test_missing_table_is_table_not_found(sts):
    with connect(connection(sts), SECRETS) as session, pytest.raises(TableNotFound) as info:
        session.query("SELECT * FROM `demo`.`no_such_table`", timeout_seconds=60)
    assert "`demo`.`no_such_table` cannot be found" in info.value.message
    assert "\tat " not in info.value.message  # no Java stack trace


def test_sql_error_is_query_failed_with_the_server_reason(sts):
    with connect(connection(sts), SECRETS) as session:
        with pytest.raises(QueryFailed, match=r"Syntax error at or near 'SELEC'") as info:
            session.query("SELEC 1", timeout_seconds=60)
        assert not isinstance(info.value, TableNotFound)
        assert session.ping() > 0  # the session survives a failed statement


def test_query_timeout_cancels_the_query(sts):
    slow = "SELECT reflect('java.lang.Thread', 'sleep', CAST(60000 AS BIGINT)) AS slept"
    with connect(connection(sts), SECRETS) as session:
        with pytest.raises(Timeout, match=r"did not finish within 2s \(queryTimeout\) and was cancelled"):
            session.query(slow, timeout_seconds=2)
        assert session.ping() > 0
