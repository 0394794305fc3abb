"""Malformed objects by the hundred beside valid ones: each malformed one is told which field is wrong,
each valid one gets its Job, and the operator keeps running throughout.

In:  the standard objects, then COUNT CopyActivities whose spec has a wrong shape the API server's
     schema would have rejected (kmock validates nothing): one of the MALFORMED field changes each, in
     turn, and COUNT valid CopyActivities on the same datasets, created interleaved.
Out: Ready=False with InvalidSpec and a message naming the field
     (`CopyActivity/<name>: spec.<path>: ...`) on every malformed one, and no Job for it; exactly
     one Job of run 1 for every valid one; no failed reconciliation, traceback or restart in the
     operator's log; the operator's thread alive.
Faked: the API server (kmock) and the Job controller (not needed: the Jobs are only counted).
"""

from __future__ import annotations

import copy
from typing import Any

from impala_copy.controller.core.constants import LABEL_ACTIVITY, LABEL_RUN
from tests.operator import manifests
from tests.operator.harness import Cluster, LogCapture, OperatorThread, settle, until

# 100 of each, not the 200 of the plan: on kmock with a loaded 2-core machine 200 + 200 took 4.5 min
# (the emulator serves every watch event to kopf one by one); 100 + 100 shows the same behaviour.
COUNT = 100
# spec field -> a wrong value, and the field path the message must name.
MALFORMED: list[tuple[str, Any, str]] = [
    ("inputs", "orders", "spec.inputs"),
    ("inputs", [{"referenceName": 42}], "spec.inputs[0].referenceName"),
    ("outputs", {"referenceName": "orders-parquet"}, "spec.outputs"),
    ("sink", "ParquetSink", "spec.sink"),
    ("policy", {"retry": "many"}, "spec.policy.retry"),
    ("policy", {"timeout": 12}, "spec.policy.timeout"),
    ("source", ["ImpalaSource"], "spec.source"),
    ("enableSkipIncompatibleRow", "maybe", "spec.enableSkipIncompatibleRow"),
    ("validateDataConsistency", [True], "spec.validateDataConsistency"),
    ("parallelCopies", {"n": 1}, "spec.parallelCopies"),
]


def malformed(index: int) -> tuple[dict[str, Any], str]:
    field, value, path = MALFORMED[index % len(MALFORMED)]
    obj = manifests.copy_activity(f"malformed-{index:03d}")
    obj["spec"] = copy.deepcopy(obj["spec"]) | {field: value}
    return obj, path


def ready(cluster: Cluster, name: str) -> dict[str, Any]:
    return cluster.condition("CopyActivity", name, "Ready")


async def test_hundreds_of_malformed_objects_beside_valid_ones(
    cluster: Cluster, operator: OperatorThread, logs: LogCapture
) -> None:
    await cluster.apply(*manifests.standard_set(manifests.random_password())[:-1])  # no copy-orders
    expected: dict[str, str] = {}
    for index in range(COUNT):
        bad, path = malformed(index)
        expected[bad["metadata"]["name"]] = path
        await cluster.apply(bad, manifests.copy_activity(f"valid-{index:03d}"))

    def judged() -> int:
        return sum(1 for name in expected if ready(cluster, name).get("reason") == "InvalidSpec")

    def jobs_of_valid() -> int:
        return len({j["metadata"]["labels"][LABEL_ACTIVITY] for j in cluster.jobs()})

    await until(lambda: judged() == COUNT, timeout=300, what=f"InvalidSpec on {COUNT} malformed objects")
    await until(lambda: jobs_of_valid() == COUNT, timeout=300, what=f"a Job for {COUNT} valid objects")
    await settle(cluster, quiet=1.0)

    for name, path in expected.items():
        cond = ready(cluster, name)
        assert cond["status"] == "False", name
        assert cond["message"].startswith(f"CopyActivity/{name}: {path}: "), cond["message"]
    jobs = cluster.jobs()
    assert sorted(j["metadata"]["labels"][LABEL_ACTIVITY] for j in jobs) == [
        f"valid-{i:03d}" for i in range(COUNT)
    ]  # one Job each, none for a malformed one
    assert {j["metadata"]["labels"][LABEL_RUN] for j in jobs} == {"1"}
    assert len(cluster.job_creations()) == COUNT
    assert not [line for line in logs.lines if "reconciliation failed" in line or "Traceback" in line]
    assert operator.running
