"""policy.secureInput as copies and lookups show a failure (api/summary.py `visible_failure`).

In:  error codes and server messages quoting a query, with secureInput on and off.
Out: the exact (code, message) pair shown in the run summary, status and Events.
Faked: nothing.
"""

from __future__ import annotations

import pytest

from impala_copy.api.summary import SECURE_INPUT_MESSAGE, visible_failure

QUOTING = "the query failed: [PARSE_SYNTAX_ERROR] Syntax error at or near 'hunter2'"


@pytest.mark.parametrize("code", ["QueryFailed", "TableNotFound"])
def test_secure_input_hides_server_text_that_may_quote_the_query(code: str) -> None:
    assert visible_failure(code, QUOTING, secure_input=True) == (
        code,
        "the server rejected the query (its message is hidden by policy.secureInput)",
    )
    assert visible_failure(code, QUOTING, secure_input=False) == (code, QUOTING)


@pytest.mark.parametrize("code", ["Unreachable", "AuthenticationFailed", "SinkWriteFailed", "Timeout"])
def test_other_failures_keep_their_message(code: str) -> None:
    assert visible_failure(code, "impala:21050 refused the connection", secure_input=True) == (
        code,
        "impala:21050 refused the connection",
    )
    assert SECURE_INPUT_MESSAGE.startswith("the server rejected the query")
