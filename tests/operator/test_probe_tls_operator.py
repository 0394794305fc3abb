"""Connection tests and lookups over TLS, run as Jobs: the CA comes from a ConfigMap or a Secret that
the pod mounts (the operator reads neither the Secret nor the certificate's text).

In:  connection tests turned on; the Spark Thrift Server with TLS (`sts_tls`: a self-signed
     certificate for 127.0.0.1), linked services without a CA, with the CA in a ConfigMap, with the
     CA in a Secret; a LookupActivity through the last one; then the CA ConfigMap replaced by a wrong
     certificate and a run-now. Each Job's pod is run by the test's kubelet (Cluster.run_pod), which
     mounts the ConfigMap or Secret items as files.
Out: Connected False/TLSVerificationFailed without the CA, True with it (from either source), the
     volumes of each Job, a lookup's output, and a failing test after the CA ConfigMap changed.
Faked: the API server (kmock), the kubelet and the Job controller (tests/operator/kubelet.py).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from devservers.sts import StsServer, make_keystore

from tests.operator import manifests
from tests.operator.harness import Cluster, start_operator, until
from tests.operator.harness import test_settings as operator_settings
from tests.operator.impala_objects import dataset, login_secret, lookup, sts_linked_service

KIND = "ImpalaLinkedService"
WAIT = 90.0


def reason(cluster: Cluster, name: str) -> Any:
    return cluster.condition(KIND, name, "Connected").get("reason") if cluster.exists(KIND, name) else None


def cert_volumes(job: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, name) of each certificate volume of the Job's pod."""
    found = []
    for volume in job["spec"]["template"]["spec"]["volumes"]:
        if "configMap" in volume:
            found.append(("ConfigMap", volume["configMap"]["name"]))
        elif "secret" in volume:
            found.append(("Secret", volume["secret"]["secretName"]))
    return found


async def test_tls_with_and_without_the_ca(
    kmock: Any, sts_tls: StsServer, cluster: Cluster, tmp_path: Path
) -> None:
    assert sts_tls.ca_pem is not None
    pem = Path(sts_tls.ca_pem).read_text()
    operator = await start_operator(kmock, operator_settings(connection_tests=True))
    try:
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
        names = ("no-ca", "ca-config-map", "ca-secret")
        runs = await asyncio.gather(*(cluster.run_next(KIND, n, tmp_path, timeout=WAIT) for n in names))
        jobs = dict(zip(names, (job for job, _ in runs), strict=True))
        assert cert_volumes(jobs["no-ca"]) == []
        assert cert_volumes(jobs["ca-config-map"]) == [("ConfigMap", "impala-ca")]
        assert cert_volumes(jobs["ca-secret"]) == [("Secret", "impala-ca-secret")]
        await until(lambda: reason(cluster, "no-ca") == "TLSVerificationFailed", timeout=WAIT)
        assert "certificate" in cluster.condition(KIND, "no-ca", "Connected")["message"]
        await until(lambda: reason(cluster, "ca-config-map") == "Connected", timeout=WAIT)
        await until(lambda: reason(cluster, "ca-secret") == "Connected", timeout=WAIT)

        _, result = await cluster.run_next("LookupActivity", "over-tls", tmp_path, timeout=WAIT)
        assert result.exit_code == 0, result.log[-3000:]
        await until(
            lambda: cluster.status("LookupActivity", "over-tls").get("phase") == "Succeeded", timeout=WAIT
        )
        assert cluster.status("LookupActivity", "over-tls")["output"] == {"firstRow": {"orders": 5000}}

        # Another CA in the ConfigMap: the next test's pod mounts it, and fails.
        _, other = make_keystore(tmp_path)
        await cluster.patch("ConfigMap", "impala-ca", {"data": {"ca.pem": other.read_text()}})
        await cluster.patch(
            KIND, "ca-config-map", {"metadata": {"annotations": {"impalacopy.io/run-now": "new-ca"}}}
        )
        await cluster.run_next(KIND, "ca-config-map", tmp_path, timeout=WAIT)
        await until(lambda: reason(cluster, "ca-config-map") == "TLSVerificationFailed", timeout=WAIT)
    finally:
        await operator.stop()
