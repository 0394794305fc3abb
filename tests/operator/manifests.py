"""Objects the operator tests apply: our kinds, Secrets, ConfigMaps, PVCs, and what the Job controller
and kubelet would write (pods, Job status).

Every object gets the metadata an API server would fill in (uid, generation, creationTimestamp,
namespace), because the API emulator fills in none of it.
"""

from __future__ import annotations

import base64
import copy
import uuid
from typing import Any

from impala_copy.api.summary import PartitionPlanSummary, RunError, RunSummary
from impala_copy.controller.core.timeutil import format_time, utcnow
from tests import session_password

NS = "default"
GV = "impalacopy.io/v1alpha1"


def random_password() -> str:
    """A password of its own that begins with the session's (tests/session_password.py), so the
    session's leak check finds it too; no fixture text contains it by chance."""
    return session_password.variant()


def meta(name: str, namespace: str = NS, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "uid": str(uuid.uuid4()),
        "generation": 1,
        "creationTimestamp": format_time(utcnow()),
        **extra,
    }


def secret(name: str, data: dict[str, str], namespace: str = NS) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta(name, namespace),
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def config_map(name: str, data: dict[str, str], namespace: str = NS) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(name, namespace), "data": dict(data)}


def pvc(name: str, namespace: str = NS) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta(name, namespace),
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        "status": {"phase": "Bound"},
    }


def impala_linked_service(
    name: str = "impala",
    *,
    secret_name: str = "impala-credentials",
    key: str = "password",
    ca_config_map: str | None = None,
    namespace: str = NS,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "host": "impala.example.internal",
        "port": 21050,
        "authenticationType": "UsernameAndPassword",
        "username": "alice",
        "password": {"secretKeyRef": {"name": secret_name, "key": key}},
    }
    if ca_config_map:
        spec["enableSsl"] = True
        spec["trustedCert"] = {"configMapKeyRef": {"name": ca_config_map, "key": "ca.pem"}}
    return {"apiVersion": GV, "kind": "ImpalaLinkedService", "metadata": meta(name, namespace), "spec": spec}


def impala_dataset(
    name: str = "orders", *, linked_service: str = "impala", namespace: str = NS
) -> dict[str, Any]:
    return {
        "apiVersion": GV,
        "kind": "ImpalaDataset",
        "metadata": meta(name, namespace),
        "spec": {"linkedServiceName": {"referenceName": linked_service}, "schema": "demo", "table": "orders"},
    }


def parquet_dataset(
    name: str = "orders-parquet", *, claim: str = "copies", namespace: str = NS
) -> dict[str, Any]:
    return {
        "apiVersion": GV,
        "kind": "ParquetDataset",
        "metadata": meta(name, namespace),
        "spec": {
            "location": {"type": "PersistentVolumeClaimLocation", "claimName": claim, "folderPath": "orders"}
        },
    }


def copy_activity(
    name: str = "copy-orders",
    *,
    dataset: str = "orders",
    output: str = "orders-parquet",
    namespace: str = NS,
    **spec_extra: Any,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "inputs": [{"referenceName": dataset}],
        "outputs": [{"referenceName": output, "kind": "ParquetDataset"}],
        "source": {"type": "ImpalaSource"},
        "sink": {"type": "ParquetSink"},
        **spec_extra,
    }
    return {"apiVersion": GV, "kind": "CopyActivity", "metadata": meta(name, namespace), "spec": spec}


def standard_set(password: str, namespace: str = NS) -> list[dict[str, Any]]:
    """Everything one copy needs: Secret, ConfigMap with a CA, PVC, linked service, datasets, activity."""
    return [
        secret("impala-credentials", {"password": password}, namespace),
        config_map(
            "impala-ca",
            {"ca.pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"},
            namespace,
        ),
        pvc("copies", namespace),
        impala_linked_service(ca_config_map="impala-ca", namespace=namespace),
        impala_dataset(namespace=namespace),
        parquet_dataset(namespace=namespace),
        copy_activity(namespace=namespace),
    ]


# ------------------------------------------------------------------ what Kubernetes would write
def summary(rows: int = 5000, **extra: Any) -> RunSummary:
    return RunSummary(
        status="Succeeded",
        rows_read=rows,
        rows_copied=rows,
        data_read=rows * 40,
        data_written=rows * 12,
        files_written=1,
        copy_duration=2.5,
        throughput=rows / 2.5,
        output_paths=["/mnt/impala-copy/volumes/copies/orders/part_00000.parquet"],
        **extra,
    )


def failed_summary(code: str, message: str) -> RunSummary:
    return RunSummary(status="Failed", errors=[RunError(code=code, message=message)])


def pod_for(job: dict[str, Any], suffix: str = "x1", **status: Any) -> dict[str, Any]:
    """A pod of `job` as the Job controller creates it (template labels and annotations, owner)."""
    template = job["spec"]["template"]
    name = f"{job['metadata']['name']}-{suffix}"
    labels = {
        **copy.deepcopy(template["metadata"]["labels"]),
        "batch.kubernetes.io/job-name": job["metadata"]["name"],
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            **meta(name, job["metadata"]["namespace"]),
            "labels": labels,
            "annotations": copy.deepcopy(template["metadata"].get("annotations", {})),
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "name": job["metadata"]["name"],
                    "uid": job["metadata"].get("uid", ""),
                    "controller": True,
                }
            ],
        },
        "spec": copy.deepcopy(template["spec"]),
        "status": status,
    }


def terminated(exit_code: int, message: str = "", reason: str = "") -> dict[str, Any]:
    """Pod status with the engine container terminated."""
    state: dict[str, Any] = {"exitCode": exit_code, "finishedAt": format_time(utcnow())}
    if message:
        state["message"] = message
    state["reason"] = reason or ("Completed" if exit_code == 0 else "Error")
    return {
        "phase": "Succeeded" if exit_code == 0 else "Failed",
        "containerStatuses": [{"name": "engine", "state": {"terminated": state}, "restartCount": 0}],
    }


def running() -> dict[str, Any]:
    return {
        "phase": "Running",
        "containerStatuses": [
            {"name": "engine", "state": {"running": {"startedAt": format_time(utcnow())}}, "restartCount": 0}
        ],
    }


def waiting(reason: str, message: str) -> dict[str, Any]:
    return {
        "phase": "Pending",
        "containerStatuses": [
            {
                "name": "engine",
                "state": {"waiting": {"reason": reason, "message": message}},
                "restartCount": 0,
            }
        ],
    }


def job_succeeded(when: str | None = None) -> dict[str, Any]:
    moment = when or format_time(utcnow())
    return {
        "succeeded": 1,
        "active": 0,
        "startTime": moment,
        "completionTime": moment,
        "conditions": [
            {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": moment},
            {"type": "Complete", "status": "True", "lastTransitionTime": moment},
        ],
    }


def job_failed(reason: str, message: str = "", when: str | None = None) -> dict[str, Any]:
    moment = when or format_time(utcnow())
    return {
        "failed": 1,
        "active": 0,
        "startTime": moment,
        "conditions": [
            {
                "type": "FailureTarget",
                "status": "True",
                "reason": reason,
                "message": message,
                "lastTransitionTime": moment,
            },
            {
                "type": "Failed",
                "status": "True",
                "reason": reason,
                "message": message,
                "lastTransitionTime": moment,
            },
        ],
    }


def job_active() -> dict[str, Any]:
    return {"active": 1, "startTime": format_time(utcnow())}


# ------------------------------------------------------------------ partitioned copies (Indexed Jobs)
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"


def partitioned_set(
    password: str, parallel: int = 3, namespace: str = NS, column: str = "id", **spec: Any
) -> list[dict[str, Any]]:
    """The standard set with the CopyActivity split by DynamicRange over `column` into `parallel` pods."""
    objects = standard_set(password, namespace)
    activity = objects[-1]["spec"]
    activity["source"] = {
        "type": "ImpalaSource",
        "partitionOption": "DynamicRange",
        "partitionSettings": {"partitionColumnName": column},
    }
    activity["parallelCopies"] = parallel
    activity.update(spec)
    return objects


def partition_wire(count: int, column: str = "id", step: int = 100) -> list[dict[str, Any]]:
    """Partition wire forms as the plan step lists them: open below, ranges, open above."""
    bounds = [step * (i + 1) for i in range(count - 1)]
    found: list[dict[str, Any]] = []
    for index in range(count):
        low = f"`{column}` >= {bounds[index - 1]}" if index > 0 else None
        high = f"`{column}` < {bounds[index]}" if index < count - 1 else None
        predicate = " AND ".join(p for p in (low, high) if p) or "TRUE"
        if index == 0:
            predicate = f"`{column}` IS NULL OR {predicate}" if high else predicate
        found.append({"index": index, "predicate": predicate, "label": predicate.replace("`", "")})
    return found


def plan_summary(count: int) -> str:
    """The plan step's termination message: `count` partitions."""
    return PartitionPlanSummary(partitions=partition_wire(count)).to_termination_message()


def plan_failure(code: str, message: str) -> str:
    return PartitionPlanSummary(
        status="Failed", error=RunError(code=code, message=message)
    ).to_termination_message()


def indexed_pod_for(job: dict[str, Any], index: int, suffix: str = "x1") -> dict[str, Any]:
    """A pod of an Indexed Job for one index, as the Job controller names and annotates it."""
    pod = pod_for(job, f"{index}-{suffix}")
    pod["metadata"]["annotations"][COMPLETION_INDEX] = str(index)
    pod["metadata"]["labels"][COMPLETION_INDEX] = str(index)
    return pod


def index_list(indexes: Any) -> str:
    """Indexes as the Job controller writes them: sorted, runs of consecutive ones as ranges ("0-2,5")."""
    ordered = sorted(set(indexes))
    runs: list[list[int]] = []
    for index in ordered:
        if runs and index == runs[-1][-1] + 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ",".join(map(str, r)) for r in runs)


def indexed_job_status(
    completions: int, completed: Any = (), failed: Any = (), active: int = 0, when: str | None = None
) -> dict[str, Any]:
    """An Indexed Job's status as the Job controller writes it: done and failed indexes, counts, and the
    Complete or Failed conditions once every index succeeded or one failed for good (maxFailedIndexes 0)."""
    done, bad = set(completed), set(failed)
    moment = when or format_time(utcnow())
    status: dict[str, Any] = {"active": active, "succeeded": len(done), "startTime": moment}
    if done:
        status["completedIndexes"] = index_list(done)
    if bad:
        status["failedIndexes"] = index_list(bad)
        status["failed"] = len(bad)
        ended = job_failed("MaxFailedIndexesExceeded", "Job has exceeded the specified maximal number of "
                           "failed indexes", moment)  # fmt: skip
        status["conditions"] = ended["conditions"]
    elif len(done) == completions:
        status["conditions"] = job_succeeded(moment)["conditions"]
        status["completionTime"] = moment
    return status
