"""Connection tests and lookups over TLS, run by the operator: the CA comes from a ConfigMap or a
Secret that the operator reads through the API and writes to a private temporary file.

In:  the Spark Thrift Server with TLS (`sts_tls`: a self-signed certificate for 127.0.0.1), linked
     services without a CA, with the CA in a ConfigMap, with the CA in a Secret; a LookupActivity
     through the last one; then the CA ConfigMap replaced by a wrong certificate.
Out: Connected False/TLSVerificationFailed without the CA, True with it (from either source), a
     lookup's output, and a new test (failing) when the CA ConfigMap changes.
Faked: the API server (kmock).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devservers.sts import StsServer, make_keystore

from tests.operator import manifests
from tests.operator.harness import Cluster, OperatorThread, until
from tests.operator.impala_objects import dataset, login_secret, lookup, sts_linked_service

KIND = "ImpalaLinkedService"
WAIT = 90.0


def reason(cluster: Cluster, name: str) -> Any:
    return cluster.condition(KIND, name, "Connected").get("reason") if cluster.exists(KIND, name) else None


async def test_tls_with_and_without_the_ca(
    sts_tls: StsServer, cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    assert sts_tls.ca_pem is not None
    pem = Path(sts_tls.ca_pem).read_text()
    await cluster.apply(
        login_secret(),
        manifests.config_map("impala-ca", {"ca.pem": pem}),
        manifests.secret("impala-ca-secret", {"ca.pem": pem}),
        sts_linked_service(sts_tls, name="no-ca", enableSsl=True),
        sts_linked_service(
            sts_tls, name="ca-config-map", enableSsl=True,
            trustedCert={"configMapKeyRef": {"name": "impala-ca", "key": "ca.pem"}},
        ),
        sts_linked_service(
            sts_tls, name="ca-secret", enableSsl=True,
            trustedCert={"secretKeyRef": {"name": "impala-ca-secret", "key": "ca.pem"}},
        ),
        dataset("orders", linked_service="ca-secret"),
        lookup("over-tls", "SELECT count(*) AS orders FROM demo.orders"),
    )  # fmt: skip
    await until(lambda: reason(cluster, "no-ca") == "TLSVerificationFailed", timeout=WAIT)
    assert "certificate" in cluster.condition(KIND, "no-ca", "Connected")["message"]
    await until(lambda: reason(cluster, "ca-config-map") == "Connected", timeout=WAIT)
    await until(lambda: reason(cluster, "ca-secret") == "Connected", timeout=WAIT)
    await until(
        lambda: cluster.status("LookupActivity", "over-tls").get("phase") == "Succeeded", timeout=WAIT
    )
    assert cluster.status("LookupActivity", "over-tls")["output"] == {"firstRow": {"orders": 5000}}

    # Another CA in the ConfigMap: the change alone starts a new test, which fails.
    _, other = make_keystore(tmp_path)
    await cluster.patch("ConfigMap", "impala-ca", {"data": {"ca.pem": other.read_text()}})
    await until(lambda: reason(cluster, "ca-config-map") == "TLSVerificationFailed", timeout=WAIT)
