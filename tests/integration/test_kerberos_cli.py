"""`impala-copy run`, `lookup` and `test-connection` with a Kerberos linked service, as a user runs them.

In:  manifests with an ImpalaLinkedService of authenticationType Kerberos (principal etl, realm
     IMPALA.TEST, the server's principal as kerberosServiceName + kerberosHost), its keytab in a Secret
     manifest (`data`, base64) or in a local file named by the environment, krb5.conf in a ConfigMap
     manifest; the `sts_kerberos` server and the `realm` KDC (tests/fixtures/kerberos.py).
Out: the copy's Parquet files and summary, the lookup's output JSON, the connection test's result,
     and one error line for a keytab that is not there; never the keytab's bytes on stdout or stderr.
Faked: nothing.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from devservers.sts import ORDERS_ROWS, StsServer
from tests.fixtures.kerberos import Realm
from tests.integration.copy_docs import obj, single_copy, table, write

from impala_copy.api.common import SecretKeySelector
from impala_copy.cli.local import file_env_name

KEYTAB_KEY = SecretKeySelector(name="etl-keytab", key="etl.keytab")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ICP_SECRET_", "KRB5"))}
    return subprocess.run(
        [sys.executable, "-m", "impala_copy.cli", *args],
        env=base | (env or {}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def kerberos_docs(server: StsServer, realm: Realm, *, keytab_in_secret: bool = True) -> list[dict[str, Any]]:
    spec = {
        "host": server.host,
        "port": server.port,
        "authenticationType": "Kerberos",
        "principal": "etl",
        "realm": realm.name,
        "keytab": {"secretKeyRef": {"name": KEYTAB_KEY.name, "key": KEYTAB_KEY.key}},
        "krb5Conf": {"configMapKeyRef": {"name": "krb5", "key": "krb5.conf"}},
        "kerberosServiceName": "hive",
        "kerberosHost": "localhost",
        "connectTimeoutSeconds": 20,
    }
    docs = [
        obj("ImpalaLinkedService", "impala", spec),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "krb5"},
            "data": {"krb5.conf": realm.krb5_conf.read_text()},
        },
    ]
    if keytab_in_secret:
        keytab = base64.b64encode(realm.keytabs["etl"].read_bytes()).decode()
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": KEYTAB_KEY.name},
                "data": {KEYTAB_KEY.key: keytab},
            }
        )
    return docs


def keytab_never_shown(realm: Realm, *outputs: str) -> None:
    raw = realm.keytabs["etl"].read_bytes()
    for text in outputs:
        assert base64.b64encode(raw).decode()[:40] not in text
        assert raw.decode("latin-1")[8:40] not in text


def test_run_copies_with_the_keytab_from_a_secret_manifest(
    sts_kerberos: StsServer, realm: Realm, tmp_path: Path
) -> None:
    write(tmp_path / "manifests", single_copy(kerberos_docs(sts_kerberos, realm), "ParquetDataset"))
    result = cli(
        "run", "-f", str(tmp_path / "manifests"), "--activity", "copy", "--volume", f"out={tmp_path / 'out'}",
        "-o", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["status"], summary["rowsCopied"]) == ("Succeeded", ORDERS_ROWS)
    written = pq.read_table(tmp_path / "out" / "data" / "part_00000.parquet")
    assert written.num_rows == ORDERS_ROWS
    assert sorted(written.column("order_id").to_pylist()) == list(range(1, ORDERS_ROWS + 1))
    keytab_never_shown(realm, result.stdout, result.stderr)


def test_lookup_with_a_keytab_file(sts_kerberos: StsServer, realm: Realm, tmp_path: Path) -> None:
    lookup = obj(
        "LookupActivity",
        "who",
        {
            "dataset": {"referenceName": "source"},
            "source": {
                "type": "ImpalaSource",
                "query": "SELECT current_user() AS u, count(*) AS n FROM demo.orders",
            },
        },
    )
    docs = [*kerberos_docs(sts_kerberos, realm, keytab_in_secret=False), table("source", None, None), lookup]
    write(tmp_path / "manifests", docs)
    args = ("lookup", "-f", str(tmp_path / "manifests"), "--activity", "who")
    missing = cli(*args)
    assert missing.returncode == 2
    assert "Secret 'etl-keytab' key 'etl.keytab' (a Kerberos keytab) not found" in missing.stderr
    assert f"set {file_env_name(KEYTAB_KEY)} to a file holding it" in missing.stderr
    result = cli(*args, env={file_env_name(KEYTAB_KEY): str(realm.keytabs["etl"])})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"firstRow": {"u": "etl", "n": ORDERS_ROWS}}


def test_test_connection_reports_the_kerberos_login(
    sts_kerberos: StsServer, realm: Realm, tmp_path: Path
) -> None:
    write(tmp_path / "manifests", kerberos_docs(sts_kerberos, realm))
    result = cli("test-connection", "-f", str(tmp_path / "manifests"), "-l", "impala", "-o", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["connected"] is True
    assert "as etl@IMPALA.TEST (Kerberos)" in outcome["message"]
    keytab_never_shown(realm, result.stdout, result.stderr)


def test_validate_checks_the_kerberos_rules(tmp_path: Path) -> None:
    ls = obj(
        "ImpalaLinkedService",
        "impala",
        {
            "host": "impala.example.com",
            "authenticationType": "Kerberos",
            "principal": "etl",
            "password": {"secretKeyRef": {"name": "p", "key": "p"}},
        },
    )
    write(tmp_path / "manifests", [ls])
    result = cli("validate", "-f", str(tmp_path / "manifests"))
    assert result.returncode != 0
    assert "ImpalaLinkedService/impala: spec: authenticationType Kerberos requires principal and keytab" in (
        result.stdout
    )
