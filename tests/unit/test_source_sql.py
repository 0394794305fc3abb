"""Identifier quoting, SELECT building, secret lookup and login mapping of the HiveServer2 source.

In:  table/column names (ordinary, unicode, hostile), SourcePlan objects, SecretRef + env mappings,
     ImpalaConnection authentication types.
Out: the exact SQL text, HS2 mechanisms and credentials, or ConfigurationError/SecretMissing with its
     message. Faked: nothing (pure functions).
"""

from __future__ import annotations

import pytest

from impala_copy.api.plan import SecretRef, SourcePlan
from impala_copy.engine.errors import ConfigurationError, SecretMissing
from impala_copy.engine.secrets import read_secret
from impala_copy.engine.source.sql import build_select, quote_identifier


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("orders", "`orders`"),
        ("Order Lines", "`Order Lines`"),
        ("größe", "`größe`"),
        ("select", "`select`"),
        ("a.b", "`a.b`"),
        ("x'; DROP TABLE t; --", "`x'; DROP TABLE t; --`"),
    ],
)
def test_quote_identifier(name, quoted):
    assert quote_identifier(name) == quoted


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a`b", "contains a backtick"),
        ("`; DROP TABLE x; --", "contains a backtick"),
        ("line\nbreak", r"control character U\+000A"),
        ("nul\x00", r"control character U\+0000"),
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        (" padded", "starts or ends with white space"),
        ("x" * 129, "longer than 128 characters"),
    ],
)
def test_unquotable_identifiers_are_rejected(name, message):
    with pytest.raises(ConfigurationError, match=message):
        quote_identifier(name)


def test_select_of_a_table():
    plan = SourcePlan.model_validate({"schema": "sales", "table": "orders"})
    assert build_select(plan) == "SELECT * FROM `sales`.`orders`"


def test_select_without_schema_and_with_structure_columns():
    plan = SourcePlan.model_validate({"table": "orders", "columns": ["id", "Order Date"]})
    assert build_select(plan) == "SELECT `id`, `Order Date` FROM `orders`"


def test_query_wins_over_table_and_loses_trailing_semicolons():
    plan = SourcePlan.model_validate({"schema": "s", "table": "t", "query": "  SELECT 1 AS x ;; \n"})
    assert build_select(plan) == "SELECT 1 AS x"


def test_bad_column_name_is_rejected_before_any_sql():
    plan = SourcePlan.model_validate({"table": "t", "columns": ["ok", "bad`name"]})
    with pytest.raises(ConfigurationError, match="column 'bad`name' contains a backtick"):
        build_select(plan)


def test_bad_table_name_is_rejected():
    plan = SourcePlan.model_validate({"schema": "s`", "table": "t"})
    with pytest.raises(ConfigurationError, match="schema 's`' contains a backtick"):
        build_select(plan)


def test_neither_table_nor_query():
    with pytest.raises(ConfigurationError, match="neither a query nor a table"):
        build_select(SourcePlan.model_validate({}))


def test_only_semicolons_is_an_empty_query():
    with pytest.raises(ConfigurationError, match="source query is empty"):
        build_select(SourcePlan.model_validate({"query": " ; ;"}))


def _ref() -> SecretRef:
    return SecretRef.model_validate(
        {"secretKeyRef": {"name": "impala", "key": "password"}, "env": "IMPALA_PW"}
    )


def test_read_secret_returns_the_value():
    assert read_secret(_ref(), {"IMPALA_PW": "s3cr3t"}) == "s3cr3t"


def test_missing_secret_names_secret_and_key_only():
    with pytest.raises(SecretMissing) as info:
        read_secret(_ref(), {"OTHER": "s3cr3t"})
    assert info.value.message == (
        "Secret 'impala' key 'password' is not available (expected in environment variable IMPALA_PW)"
    )
    assert "s3cr3t" not in info.value.message
    assert info.value.exit_code == 2


def test_login_mechanisms_per_authentication_type():
    from impala_copy.api.plan import ImpalaConnection
    from impala_copy.engine.source.hs2 import SASL_USERNAME_PLACEHOLDER, login_for

    def conn(**spec):
        return ImpalaConnection.model_validate({"host": "h", **spec})

    anonymous = login_for(conn(), {})
    assert (anonymous.mechanism, anonymous.user, anonymous.password) == ("NOSASL", None, None)
    sasl = login_for(conn(authenticationType="SASLUsername", username="bob"), {})
    assert (sasl.mechanism, sasl.user, sasl.password) == ("PLAIN", "bob", SASL_USERNAME_PLACEHOLDER)
    assert login_for(conn(authenticationType="SASLUsername"), {}).user == "anonymous"  # ADF's default
    full = login_for(
        conn(
            authenticationType="UsernameAndPassword",
            username="alice",
            password=_ref().model_dump(by_alias=True),
        ),
        {"IMPALA_PW": "s3cr3t"},
    )
    assert (full.mechanism, full.user, full.password) == ("PLAIN", "alice", "s3cr3t")
    assert "s3cr3t" not in repr(full)
