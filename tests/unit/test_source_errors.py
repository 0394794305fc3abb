"""Server and transport failures -> the engine's error classes and messages, without a server.

In:  error texts as Spark, Hive and Impala send them, and thrift/socket exceptions as impyla raises them.
Out: CopyError subclasses and their messages (first line only, no Java class names or stack traces).
Faked: the exceptions themselves (built here).
"""

from __future__ import annotations

import pytest
from thrift.transport.TTransport import TTransportException

from impala_copy.api.plan import ImpalaConnection
from impala_copy.engine.errors import AuthenticationFailed, QueryFailed, ServerError, TableNotFound, Timeout
from impala_copy.engine.source.errors import login_error, query_error, rpc_error, server_message
from impala_copy.engine.source.hs2 import Login

SPARK_NOT_FOUND = (
    "org.apache.hive.service.cli.HiveSQLException: Error running query: [TABLE_OR_VIEW_NOT_FOUND] "
    "org.apache.spark.sql.AnalysisException: [TABLE_OR_VIEW_NOT_FOUND] The table or view `db`.`t` cannot "
    "be found.\nSearch path: [...]\n\tat org.apache.spark.sql.hive.thriftserver.X(X.scala:1)\n"
)


@pytest.mark.parametrize(
    ("message", "sql_state", "kind", "text"),
    [
        (SPARK_NOT_FOUND, "42P01", TableNotFound, "table not found: [TABLE_OR_VIEW_NOT_FOUND] The table or view `db`.`t` cannot be found."),
        ("AnalysisException: Could not resolve table reference: 'db.t'\n", "HY000", TableNotFound, "table not found: Could not resolve table reference: 'db.t'"),
        ("AnalysisException: Database does not exist: nodb", None, TableNotFound, "table not found: Database does not exist: nodb"),
        ("ParseException: Syntax error in line 1:\nSELEC 1\n^", "HY000", QueryFailed, "the query failed: Syntax error in line 1:"),
        ("Memory limit exceeded: Query abc could not allocate 1.00 GB", None, QueryFailed, "the query failed: Memory limit exceeded: Query abc could not allocate 1.00 GB"),
        (None, None, QueryFailed, "the query failed: (no message)"),
    ],
)  # fmt: skip
def test_query_errors(message, sql_state, kind, text):
    error = query_error(message, sql_state)
    assert type(error) is kind
    assert error.message == text


def test_server_message_is_cut_to_a_bounded_first_line():
    assert len(server_message("x" * 5000)) == 400
    assert server_message("\n\n  real reason \nmore") == "real reason"


def _conn(kind: str = "UsernameAndPassword") -> ImpalaConnection:
    spec = {"host": "db.example", "port": 21050, "authenticationType": kind, "username": "alice"}
    if kind == "UsernameAndPassword":
        spec["password"] = {"secretKeyRef": {"name": "s", "key": "k"}, "env": "E"}
    return ImpalaConnection.model_validate(spec)


def test_bad_status_3_is_a_rejected_login_without_the_password():
    exc = TTransportException(message="Bad status: 3 (b'Error validating the login')")
    error = login_error(exc, _conn(), Login("PLAIN", "alice", "hunter2"), "db.example:21050", 30)
    assert isinstance(error, AuthenticationFailed)
    assert "rejected the login of user 'alice': wrong user name or password" in error.message
    assert "hunter2" not in error.message


def test_http_401_is_a_rejected_login():
    class HttpError(Exception):
        code = 401

    error = login_error(
        HttpError("HTTP code 401: Unauthorized"), _conn(), Login("PLAIN", "alice", "x"), "h:1/cliservice", 30
    )
    assert isinstance(error, AuthenticationFailed)


def test_wrapped_read_timeout_is_a_timeout():
    exc = TTransportException(
        type=TTransportException.TIMED_OUT, message="read timeout", inner=TimeoutError("timed out")
    )
    assert isinstance(login_error(exc, _conn(), Login("PLAIN", "alice", "x"), "h:1", 7), Timeout)
    error = rpc_error(exc, "h:1", "fetching results", 900)
    assert isinstance(error, Timeout)
    assert error.message == "h:1 sent no response within 900s while fetching results"


def test_reset_during_a_fetch_is_a_retryable_server_error():
    exc = TTransportException(
        message="unexpected exception", inner=ConnectionResetError(104, "Connection reset by peer")
    )
    error = rpc_error(exc, "h:1", "fetching results", 900)
    assert isinstance(error, ServerError)
    assert error.retryable
    assert error.message == "h:1 closed the connection while fetching results"
