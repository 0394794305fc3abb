"""The copy Job pods run where the docs say they do: a namespace enforcing the "restricted" Pod
Security Standard, with a read-only root filesystem and no service account token.

In:  the Job the operator's own planning creates for the standard scenario (tests/operator/
     scenarios.py: a password Secret, a CA from a ConfigMap, a PersistentVolumeClaim sink).
Out: no Pod Security "restricted" violation (tests/install/pod_security.py); the fields the image
     relies on (user 65532, /tmp as an emptyDir, no token); the Job matches the Kubernetes schema.
Faked: the API server (the Job is the dict the operator would send).
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate

from tests.install.pod_security import restricted_violations
from tests.operator.scenarios import BUILDERS


def _job() -> dict[str, Any]:
    job: dict[str, Any] = BUILDERS["pending"]().job()
    return job


def test_copy_job_pod_passes_restricted_pod_security() -> None:
    pod = _job()["spec"]["template"]["spec"]
    assert restricted_violations(pod) == []
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsUser"] == 65532
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
    assert len(tmp) == 1
    (volume,) = [v for v in pod["volumes"] if v["name"] == tmp[0]["name"]]
    assert "emptyDir" in volume
    kinds = {next(k for k in v if k != "name") for v in pod["volumes"]}
    assert {"emptyDir", "configMap", "persistentVolumeClaim"} <= kinds


def test_copy_job_matches_the_kubernetes_schema() -> None:
    job = _job()
    kubernetes_validate.validate(job, "1.29.0", strict=True)
    kubernetes_validate.validate(job, kubernetes_validate.latest_version(), strict=True)
