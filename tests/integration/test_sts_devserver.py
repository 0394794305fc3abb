"""The local HiveServer2 (devservers/sts.py) behaves as the other tests assume.

In:  the `sts`, `sts_tls`, `sts_http` and `sts_nosasl` fixtures (real Spark Thrift Servers), plain impyla.
Out: the seeded sample rows, the logged-in user, and the server's own rejection of bad logins.
Faked: nothing.
"""

from __future__ import annotations

import pytest
from devservers.sts import ALL_TYPES_COLUMNS, ORDERS_COLUMNS, ORDERS_ROWS, orders_row, sts_connect_kwargs
from impala.dbapi import connect


def _query(kwargs: dict, sql: str) -> list[tuple]:
    conn = connect(**kwargs)
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return list(cur.fetchall())
    finally:
        conn.close()


def test_sample_orders_match_their_formula(sts):
    rows = _query(sts_connect_kwargs(sts), "SELECT * FROM demo.orders ORDER BY order_id")
    assert len(rows) == ORDERS_ROWS
    assert [dict(zip(ORDERS_COLUMNS, r, strict=True)) for r in rows[:50]] == [
        orders_row(i) for i in range(1, 51)
    ]
    assert dict(zip(ORDERS_COLUMNS, rows[-1], strict=True)) == orders_row(ORDERS_ROWS)


def test_sample_all_types_and_empty_table_exist(sts):
    kwargs = sts_connect_kwargs(sts)
    assert _query(kwargs, "SELECT count(*) FROM demo.all_types") == [(4,)]
    assert _query(kwargs, "SELECT count(*) FROM demo.empty_table") == [(0,)]
    conn = connect(**kwargs)
    cur = conn.cursor()
    cur.execute("SELECT * FROM demo.all_types LIMIT 0")
    assert tuple(d[0] for d in cur.description) == ALL_TYPES_COLUMNS
    conn.close()


def test_custom_authenticator_checks_alice_and_lets_bob_in(sts):
    assert _query(sts_connect_kwargs(sts, "alice"), "SELECT current_user()") == [("alice",)]
    assert _query(sts_connect_kwargs(sts, "bob", None), "SELECT current_user()") == [("bob",)]
    with pytest.raises(Exception, match="Error validating the login"):
        _query(sts_connect_kwargs(sts, "alice", "wrong"), "SELECT 1")
    with pytest.raises(Exception, match="Error validating the login"):
        _query(sts_connect_kwargs(sts, "mallory", sts.users["alice"]), "SELECT 1")


def test_tls_server_presents_the_certificate_of_its_ca(sts_tls):
    assert sts_tls.ca_pem is not None
    assert sts_tls.ca_pem.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert _query(sts_connect_kwargs(sts_tls), "SELECT count(*) FROM demo.all_types") == [(4,)]


def test_http_transport_serves_the_sample_data(sts_http):
    assert _query(sts_connect_kwargs(sts_http), "SELECT count(*) FROM demo.orders") == [(ORDERS_ROWS,)]


def test_nosasl_server_logs_in_without_credentials(sts_nosasl):
    assert _query(sts_connect_kwargs(sts_nosasl), "SELECT count(*) FROM demo.empty_table") == [(0,)]
