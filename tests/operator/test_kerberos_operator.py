"""Kerberos in the cluster: copies, lookups and connection tests run as Jobs whose pods log in with the
keytab the pod mounts, and the keytab's bytes appear nowhere the operator writes or logs.

In:  connection tests on; the Kerberos Spark Thrift Server (`sts_kerberos`) and the test realm's KDC;
     a Secret holding etl's binary keytab (`data`), krb5.conf in a ConfigMap; an ImpalaLinkedService
     with authenticationType Kerberos, a CopyActivity into a PVC and a LookupActivity through it; a
     second linked service whose keytab is the one of a principal the KDC no longer knows, a third
     whose keytab Secret does not exist. Every pod is
     run by the test's kubelet (Cluster.run_pod), which mounts the Secret's items as files with the
     modes the Job asks for. Every logger of the process at DEBUG.
Out: Connected True (the message names the principal), AuthenticationFailed naming the unknown client
     principal, Connected False naming the missing keytab's Secret and key, the copy's rows in the PVC, the lookup's output; the keytab mounted read-only with
     mode 0440 and no env var referring to it; no form of the keytab's bytes in any request, log line,
     Event, status, ConfigMap or Job.
Faked: the API server (kmock), the kubelet and the Job controller. Impala and the KDC are real.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from devservers.sts import ORDERS_ROWS, StsServer

from tests.fixtures.kerberos import Realm
from tests.operator import manifests
from tests.operator.harness import Cluster, LogCapture, settle, start_operator, until
from tests.operator.harness import test_settings as operator_settings
from tests.operator.impala_objects import dataset, linked_service, lookup
from tests.operator.leak_search import assert_nowhere, operator_texts

WAIT = 120.0
LS = "ImpalaLinkedService"


def keytab_secret(name: str, raw: bytes) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": manifests.meta(name),
        "type": "Opaque",
        "data": {"client.keytab": base64.b64encode(raw).decode()},
    }


def kerberos_service(server: StsServer, name: str, secret: str, principal: str = "etl") -> dict[str, Any]:
    ls = linked_service(server.host, server.port, name=name)
    for key in ("username", "password"):
        ls["spec"].pop(key)
    ls["spec"] |= {
        "authenticationType": "Kerberos",
        "principal": principal,
        "realm": "IMPALA.TEST",
        "keytab": {"secretKeyRef": {"name": secret, "key": "client.keytab"}},
        "krb5Conf": {"configMapKeyRef": {"name": "krb5", "key": "krb5.conf"}},
        "kerberosServiceName": "hive",
        "kerberosHost": "localhost",
    }
    return ls


def assert_keytab_mounted(job: dict[str, Any]) -> None:
    """The keytab's Secret volume: mounted read-only, its item for the pod's user (and fsGroup) only."""
    pod = job["spec"]["template"]["spec"]
    [container] = pod["containers"]
    mount = next(m for m in container["volumeMounts"] if "/secret-" in m["mountPath"])
    assert mount["readOnly"] is True
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert [item["mode"] for item in volume["secret"]["items"]] == [0o440]
    assert [e for e in container["env"] if "valueFrom" in e] == []


async def test_kerberos_pods_copy_look_up_and_connect_and_the_keytab_leaks_nowhere(
    kmock: Any, sts_kerberos: StsServer, realm: Realm, cluster: Cluster, logs: LogCapture, tmp_path: Path
) -> None:
    raw = realm.keytabs["etl"].read_bytes()
    operator = await start_operator(kmock, operator_settings(connection_tests=True))
    try:
        await cluster.apply(
            keytab_secret("etl-keytab", raw),
            keytab_secret("ghost-keytab", realm.keytabs["ghost"].read_bytes()),
            manifests.config_map("krb5", {"krb5.conf": realm.krb5_conf.read_text()}),
            kerberos_service(sts_kerberos, "impala", "etl-keytab"),
            kerberos_service(sts_kerberos, "ghost", "ghost-keytab", principal="ghost"),
            kerberos_service(sts_kerberos, "no-keytab", "absent-keytab"),
            dataset("orders"),
            manifests.pvc("copies"),
            manifests.parquet_dataset(),
            manifests.copy_activity(),
            lookup("who", "SELECT current_user() AS u, count(*) AS n FROM demo.orders"),
        )
        runs = (
            (LS, "impala"), (LS, "ghost"), (LS, "no-keytab"), ("CopyActivity", "copy-orders"),
            ("LookupActivity", "who"),
        )  # fmt: skip
        for kind, name in runs:
            job, result = await cluster.run_next(kind, name, tmp_path, timeout=WAIT)
            assert result.started, result.waiting_message
            assert_keytab_mounted(job)
        await until(
            lambda: cluster.condition(LS, "impala", "Connected").get("status") == "True", timeout=WAIT
        )
        assert "as etl@IMPALA.TEST (Kerberos)" in cluster.condition(LS, "impala", "Connected")["message"]
        await until(
            lambda: cluster.condition(LS, "ghost", "Connected").get("reason") == "AuthenticationFailed",
            timeout=WAIT,
        )
        message = cluster.condition(LS, "ghost", "Connected")["message"]
        assert "the KDC does not know the client principal ghost@IMPALA.TEST" in message
        # A keytab Secret that does not exist: the pod starts (its volume is optional) and says which.
        await until(
            lambda: cluster.condition(LS, "no-keytab", "Connected").get("status") == "False", timeout=WAIT
        )
        missing = cluster.condition(LS, "no-keytab", "Connected")
        assert (
            "the keytab (Secret 'absent-keytab' key 'client.keytab') is not available" in missing["message"]
        )
        await until(
            lambda: cluster.status("CopyActivity", "copy-orders").get("phase") == "Succeeded", timeout=WAIT
        )
        files = sorted(tmp_path.glob("*/mounts/sink-volume/orders/*.parquet"))
        assert sum(pq.read_table(f).num_rows for f in files) == ORDERS_ROWS
        await until(lambda: cluster.status("LookupActivity", "who").get("phase") == "Succeeded", timeout=WAIT)
        assert cluster.status("LookupActivity", "who")["output"] == {
            "firstRow": {"u": "etl", "n": ORDERS_ROWS}
        }
        await settle(cluster)
    finally:
        await operator.stop()
    assert_nowhere([raw, realm.keytabs["ghost"].read_bytes()], operator_texts(cluster, logs))
