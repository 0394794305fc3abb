"""Kerberos (GSSAPI) logins of the HiveServer2 source, against a real KDC and a Kerberos HiveServer2.

In:  the `realm` (MIT KDC on loopback, realm IMPALA.TEST), `sts_kerberos` (binary transport, no TLS)
     and `sts_kerberos_http` (SPNEGO over HTTPS, the CA verified; no auth cookie: every request
     carries a new token), and
     ImpalaConnections that log in as a principal with its keytab file (tests/fixtures/kerberos.py).
Out: the user the server saw (`current_user()`), rows, connection-test results, and for each Kerberos
     failure the CopyError class and the words of its message: unknown client principal, a stale
     keytab (key version), clock skew (the client under faketime), KDC unreachable, unknown server
     principal, a server that refuses the ticket; a read over HTTP that lasts several ticket
     lifetimes; the ticket cache kept in this process's own folder.
Faked: the clock of one subprocess (faketime), nothing else.

Recipe and pitfalls of the Kerberos server (devservers/sts.py, devservers/kdc.py): Spark's Thrift
Server needs `hive.server2.authentication=KERBEROS` with its principal and keytab, Hadoop in secure
mode (`spark.hadoop.hadoop.security.authentication=kerberos`) and `-Djava.security.krb5.conf` (Java
ignores KRB5_CONFIG). The principal's host is `localhost` while clients connect to 127.0.0.1, so the
client names the host separately (kerberosHost). `ktadd` re-keys a principal: every older keytab of it
stops working (that is how the stale keytab is made). With a fresh ticket cache MIT corrects a client
clock that is off (kdc_timesync), so the skew case turns that off in its krb5.conf.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from devservers.kdc import client_conf, free_port
from devservers.sts import StsServer
from tests.fixtures.kerberos import BRIEF_LIFETIME_SECONDS, Realm

from impala_copy.api.plan import ImpalaConnection
from impala_copy.engine.errors import AuthenticationFailed, SecretMissing, Unreachable
from impala_copy.engine.probe import probe
from impala_copy.engine.source import kerberos
from impala_copy.engine.source.hs2 import connect

ROOT = Path(__file__).resolve().parents[2]
KEYTAB_SOURCE = {"secretKeyRef": {"name": "k", "key": "k"}}


def conf_ref(path: Path) -> dict[str, Any]:
    return {"source": {"configMapKeyRef": {"name": "c", "key": "c"}}, "path": str(path)}


def kerberos_connection(
    server: StsServer, realm: Realm, principal: str = "etl", *, keytab: Path | None = None, **krb: Any
) -> ImpalaConnection:
    """A Kerberos ImpalaConnection to `server` as `principal` with its keytab (overrides in `krb`)."""
    login = {
        "principal": realm.kdc.principal(principal),
        "keytab": {"source": KEYTAB_SOURCE, "path": str(keytab or realm.keytabs[principal]), "secret": True},
        "krb5Conf": conf_ref(realm.krb5_conf),
        "serviceName": "hive",
        "serviceHost": "localhost",
        **krb,
    }
    spec: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "authenticationType": "Kerberos",
        "connectTimeoutSeconds": 20,
        "kerberos": login,
    }
    if server.http:
        spec |= {"thriftTransportProtocol": "HTTP", "httpPath": server.http_path}
    if server.tls:
        ca = {"source": {"configMapKeyRef": {"name": "ca", "key": "ca.pem"}}, "path": str(server.ca_pem)}
        spec |= {"enableSsl": True, "trustedCert": ca}
    return ImpalaConnection.model_validate(spec)


def current_user(conn: ImpalaConnection) -> str:
    with connect(conn, {}) as session:
        source = session.query("SELECT current_user() AS u", timeout_seconds=60)
        rows = [r for b in source.batches() for r in b.to_pylist()]
        source.close()
    return str(rows[0]["u"])


def test_binary_login_as_the_keytab_principal(sts_kerberos: StsServer, realm: Realm) -> None:
    assert current_user(kerberos_connection(sts_kerberos, realm)) == "etl"
    cache = os.environ[kerberos.CCNAME_ENV]
    assert cache.startswith("FILE:")
    folder = Path(cache[len("FILE:") :]).parent
    assert folder.name.startswith("impala-copy-krb5-")
    assert folder.stat().st_mode & 0o777 == 0o700  # this process's own, never the shared default cache
    assert Path(cache[len("FILE:") :]).exists()


def test_connection_test_succeeds_and_names_the_principal(sts_kerberos: StsServer, realm: Realm) -> None:
    result = probe(kerberos_connection(sts_kerberos, realm), {})
    assert result.connected, result.message
    assert result.reason == "Connected"
    assert f"as etl@{realm.name}" in result.message


def test_https_spnego_login_reads_rows(sts_kerberos_http: StsServer, realm: Realm) -> None:
    conn = kerberos_connection(sts_kerberos_http, realm)
    assert (conn.enable_ssl, conn.thrift_transport_protocol) == (True, "HTTP")
    assert current_user(conn) == "etl"
    with connect(conn, {}) as session:
        source = session.query("SELECT * FROM demo.orders", timeout_seconds=60, batch_rows=1000)
        assert sum(b.num_rows for b in source.batches()) == 5000
        source.close()


def test_http_unknown_server_principal_fails_before_any_request(
    sts_kerberos_http: StsServer, realm: Realm
) -> None:
    with pytest.raises(AuthenticationFailed) as info:
        current_user(kerberos_connection(sts_kerberos_http, realm, serviceName="impala"))
    assert "the KDC does not know the server principal impala/localhost" in info.value.message
    assert f"Kerberos login to 127.0.0.1:{sts_kerberos_http.port}/cliservice as etl@IMPALA.TEST" in (
        info.value.message
    )


def test_a_read_longer_than_the_ticket_lifetime_renews_from_the_keytab(
    sts_kerberos_http: StsServer, realm: Realm
) -> None:
    """8-second tickets, a 20-second read over HTTP where every request needs a valid service ticket."""
    conn = kerberos_connection(sts_kerberos_http, realm, "brief")
    started, wall_started = time.monotonic(), time.time() - 1.0  # klist shows whole seconds
    rows = 0
    with connect(conn, {}) as session:
        source = session.query("SELECT * FROM demo.orders", timeout_seconds=120, batch_rows=250, prefetch=0)
        for batch in source.batches():
            rows += batch.num_rows
            time.sleep(1.0)
        source.close()
    elapsed = time.monotonic() - started
    assert rows == 5000
    assert elapsed > 2 * BRIEF_LIFETIME_SECONDS
    # The cache's tickets were obtained after the first ones had expired: renewed from the keytab.
    assert conn.kerberos is not None
    issued = ticket_start_times(kerberos.ticket_cache(conn.kerberos), realm)
    assert max(issued) >= wall_started + BRIEF_LIFETIME_SECONDS, (issued, wall_started)
    assert current_user(conn) == "brief"  # and a new connection after expiry logs in too


def ticket_start_times(cache: str, realm: Realm) -> list[float]:
    """When each ticket in a cache became valid (klist -c CACHE, in the C locale), as epoch seconds."""
    env = {**os.environ, "LC_ALL": "C", "TZ": "UTC", "KRB5_CONFIG": str(realm.krb5_conf)}
    listing = subprocess.run(
        ["klist", "-c", cache], env=env, capture_output=True, text=True, check=True
    ).stdout
    starts = re.findall(r"^(\d\d/\d\d/\d\d \d\d:\d\d:\d\d)\s", listing, re.MULTILINE)
    assert starts, listing
    return [datetime.strptime(text, "%m/%d/%y %H:%M:%S").replace(tzinfo=UTC).timestamp() for text in starts]


def test_unknown_client_principal(sts_kerberos: StsServer, realm: Realm) -> None:
    with pytest.raises(AuthenticationFailed) as info:
        current_user(kerberos_connection(sts_kerberos, realm, "ghost"))
    assert "the KDC does not know the client principal ghost@IMPALA.TEST" in info.value.message
    assert "Client 'ghost@IMPALA.TEST' not found in Kerberos database" in info.value.message


def test_stale_keytab_is_a_key_version_mismatch(sts_kerberos: StsServer, realm: Realm) -> None:
    with pytest.raises(AuthenticationFailed) as info:
        current_user(kerberos_connection(sts_kerberos, realm, "stale"))
    assert "key version mismatch" in info.value.message
    assert "(Preauthentication failed)" in info.value.message
    stale_current = realm.kdc.workdir / "keytabs" / "stale-current.keytab"
    assert current_user(kerberos_connection(sts_kerberos, realm, "stale", keytab=stale_current)) == "stale"


def test_unknown_server_principal(sts_kerberos: StsServer, realm: Realm) -> None:
    conn = kerberos_connection(sts_kerberos, realm, serviceName="impala")  # Impala's default name
    with pytest.raises(AuthenticationFailed) as info:
        current_user(conn)
    assert "the KDC does not know the server principal impala/localhost" in info.value.message
    assert "set kerberosServicePrincipal" in info.value.message


def test_a_principal_the_server_does_not_hold_is_refused_by_the_server(
    sts_kerberos: StsServer, realm: Realm
) -> None:
    conn = kerberos_connection(sts_kerberos, realm, serviceName="brief", serviceHost="localhost")
    realm.kdc.kadmin("addprinc -randkey brief/localhost@IMPALA.TEST")
    with pytest.raises(AuthenticationFailed) as info:
        current_user(conn)
    assert "did not accept the Kerberos ticket of etl@IMPALA.TEST for brief/localhost" in info.value.message
    assert "(GSS initiate failed)" in info.value.message


def test_kdc_unreachable(sts_kerberos: StsServer, realm: Realm, tmp_path: Path) -> None:
    conf = tmp_path / "krb5.conf"
    conf.write_text(client_conf(realm.name, free_port()))  # nothing listens there
    conn = kerberos_connection(sts_kerberos, realm, krb5Conf=conf_ref(conf))
    with pytest.raises(Unreachable) as info:
        current_user(conn)
    assert "no KDC of realm IMPALA.TEST could be reached" in info.value.message
    assert info.value.exit_code == 1  # a retry may help


def test_missing_keytab_names_the_secret(sts_kerberos: StsServer, realm: Realm, tmp_path: Path) -> None:
    with pytest.raises(SecretMissing) as info:
        current_user(kerberos_connection(sts_kerberos, realm, keytab=tmp_path / "absent.keytab"))
    assert "the keytab (Secret 'k' key 'k') is not available: no file at" in info.value.message


SKEW_SCRIPT = """
import json, sys
from impala_copy.api.plan import ImpalaConnection
from impala_copy.engine.probe import probe
result = probe(ImpalaConnection.model_validate_json(sys.argv[1]), {})
print(json.dumps({"reason": result.reason, "message": result.message}))
"""


def test_clock_skew(sts_kerberos: StsServer, realm: Realm, tmp_path: Path) -> None:
    """The client's clock 10 minutes ahead (faketime), with MIT's clock correction off."""
    conf = tmp_path / "krb5.conf"
    conf.write_text(client_conf(realm.name, realm.kdc.port, timesync=False))
    conn = kerberos_connection(sts_kerberos, realm, krb5Conf=conf_ref(conf))
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'operator'}", "TMPDIR": str(tmp_path)}
    result = subprocess.run(
        ["faketime", "-f", "+10m", sys.executable, "-c", SKEW_SCRIPT, conn.model_dump_json(by_alias=True)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["reason"] == "AuthenticationFailed"
    assert "clock skew" in outcome["message"]
    assert "(Clock skew too great)" in outcome["message"]
