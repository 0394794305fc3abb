"""LookupActivity end to end: the operator (kopf on the Kubernetes API emulator) runs each lookup as a
Job whose pod queries a real HiveServer2, and writes ADF's output into status or an owned ConfigMap.

In:  a Secret, an ImpalaLinkedService pointing at the Spark Thrift Server (`sts`, alice's password
     checked by the server), ImpalaDatasets of the sample database and LookupActivities: firstRowOnly
     true/false, 0 and 1 rows, every value type, 5001 rows, a result over the 16 KiB status cap, one
     over 900 KiB (gzip), one over the 4 MiB hard cap; then spec changes, run-now, refreshInterval,
     missing references (a dataset, then the Secret reported by the pod), a wrong password, a lookup
     whose Job never runs while others do, deletion, foreign ConfigMaps, a wrong shape, a restart.
     Each lookup's Job is run by the test's kubelet (Cluster.run_pod): the engine as a local process.
Out: the Jobs (in the activity's namespace, the password only as a secretKeyRef), status (phase,
     conditions, lastRun, output, rowsReturned, truncated, resultConfigMap), the result ConfigMap
     (owner, data, annotations), Events, printer-column values, and the shapes the pure status
     functions give (tests/operator/scenarios.py).
Faked: the API server (kmock), the kubelet and the Job controller (tests/operator/kubelet.py). Impala
is the real Spark Thrift Server; the output of a large lookup travels through the pod's log.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from devservers.sts import ORDERS_ROWS, StsServer

from tests import session_password
from tests.integration.lookup_expected import ALL_TYPES_JSON
from tests.operator import manifests
from tests.operator.harness import (
    Cluster,
    OperatorThread,
    printer_columns,
    secret_env,
    settle,
    start_operator,
    until,
)
from tests.operator.impala_objects import dataset, login_secret, lookup, sts_linked_service
from tests.operator.kubelet import RunResult
from tests.operator.scenarios import lookup_scenarios, shape

KIND = "LookupActivity"
WAIT = 120.0  # upper bound for a loaded machine: a lookup takes a few seconds


def phase(cluster: Cluster, name: str) -> str | None:
    return cluster.status(KIND, name).get("phase") if cluster.exists(KIND, name) else None


async def finished(cluster: Cluster, name: str, run: int = 1) -> dict[str, Any]:
    """Wait for the `run`-th LookupSucceeded/LookupTruncated/LookupFailed Event of `name`; its status."""

    def done() -> bool:
        ends = [
            r
            for r in cluster.event_reasons(name)
            if r in ("LookupSucceeded", "LookupTruncated", "LookupFailed")
        ]
        return len(ends) >= run and phase(cluster, name) in ("Succeeded", "Failed")

    await until(done, timeout=WAIT, what=f"{name} to finish run {run}")
    return cluster.status(KIND, name)


async def run_lookup(cluster: Cluster, name: str, root: Path, run: int = 1) -> dict[str, Any]:
    """Run the lookup's next Job (its pod as a local process) and wait for the status of that run."""
    await cluster.run_next(KIND, name, root, timeout=WAIT)
    return await finished(cluster, name, run)


def condition(status: dict[str, Any], type_: str) -> tuple[str, str]:
    cond = next(c for c in status["conditions"] if c["type"] == type_)
    return cond["status"], cond["reason"]


async def apply_base(cluster: Cluster, sts: StsServer) -> None:
    await cluster.apply(
        login_secret(), sts_linked_service(sts), dataset("orders"), dataset("queries", table=None)
    )


async def test_first_row_only_puts_the_first_row_in_status(
    sts: StsServer, cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    await apply_base(cluster, sts)
    query = (
        "SELECT max(order_id) AS max_id, count(*) AS orders, min(ordered_at) AS first_order FROM demo.orders"
    )
    await cluster.apply(lookup("max-order", query))
    job, result = await cluster.run_next(KIND, "max-order", tmp_path, timeout=WAIT)
    assert job["metadata"]["namespace"] == manifests.NS
    assert job["metadata"]["ownerReferences"][0]["name"] == "max-order"
    assert list(secret_env(job).values()) == [("impala-login", "password")]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"][-2:] == ["--task", "lookup"]
    assert result.exit_code == 0, result.log[-3000:]
    status = await finished(cluster, "max-order")

    assert status["phase"] == "Succeeded", status
    assert status["output"] == {
        "firstRow": {"max_id": ORDERS_ROWS, "orders": ORDERS_ROWS, "first_order": "2024-01-01T00:00:00"}
    }
    assert (status["rowsReturned"], status["truncated"], status["observedGeneration"]) == (1, False, 1)
    assert "resultConfigMap" not in status
    run = status["lastRun"]
    assert (run["trigger"], run["attempt"], run["generation"], run["rowsReturned"]) == ("create", 1, 1, 1)
    assert run["jobName"] == job["metadata"]["name"]
    assert run["resultBytes"] == len(json.dumps(status["output"], separators=(",", ":")).encode())
    assert run["completionTime"] >= run["startTime"]
    assert status["lastSuccessfulTime"] == run["completionTime"]
    assert "nextRunTime" not in status
    assert {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]} == {
        "Ready": ("True", "Resolved"),
        "Running": ("False", "Idle"),
        "Succeeded": ("True", "RunSucceeded"),
        "Failed": ("False", "RunSucceeded"),
        "Truncated": ("False", "WithinRowLimit"),
    }
    assert shape(status) == shape(lookup_scenarios()["succeeded"]["status"])
    assert [(e["type"], e["reason"]) for e in cluster.events("max-order")] == [
        ("Normal", "LookupStarted"),
        ("Normal", "LookupSucceeded"),
    ]
    assert cluster.events("max-order")[1]["message"] == (
        f"run 1 attempt 1 succeeded: 1 row, {run['resultBytes']} bytes of JSON by Job {job['metadata']['name']}"
    )
    columns = printer_columns(cluster.get(KIND, "max-order"))
    assert (columns["Phase"], columns["Rows"], columns["Truncated"], columns["Result"]) == (
        "Succeeded", 1, False, None)  # fmt: skip


async def test_all_rows_zero_rows_one_row_and_every_type(
    sts: StsServer, cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    await apply_base(cluster, sts)
    await cluster.apply(
        lookup("none", "SELECT * FROM demo.empty_table", dataset="queries", firstRowOnly=False),
        lookup("none-first", "SELECT * FROM demo.empty_table", dataset="queries"),
        lookup("one", "SELECT order_id, status FROM demo.orders WHERE order_id = 7", firstRowOnly=False),
        lookup("types", "SELECT * FROM demo.all_types ORDER BY id", dataset="queries", firstRowOnly=False),
    )
    names = ("none", "none-first", "one", "types")
    results = await asyncio.gather(*(run_lookup(cluster, n, tmp_path) for n in names))
    statuses = dict(zip(names, results, strict=True))
    assert statuses["none"]["output"] == {"count": 0, "value": []}
    assert statuses["none"]["rowsReturned"] == 0
    assert statuses["none-first"]["output"] == {}
    assert statuses["one"]["output"] == {"count": 1, "value": [{"order_id": 7, "status": "shipped"}]}
    assert statuses["types"]["output"] == {"count": 4, "value": ALL_TYPES_JSON}
    assert all(s["phase"] == "Succeeded" for s in statuses.values())


async def test_5001_rows_are_truncated_and_the_output_goes_to_a_config_map(
    sts: StsServer, cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    await apply_base(cluster, sts)
    activity = lookup("ids", "SELECT id FROM range(5001) ORDER BY id", dataset="queries", firstRowOnly=False)
    await cluster.apply(activity)
    status = await run_lookup(cluster, "ids", tmp_path)

    assert status["phase"] == "Succeeded", status
    assert (status["rowsReturned"], status["truncated"]) == (5000, True)
    assert status["resultConfigMap"] == "ids-lookup-result"
    assert "output" not in status
    assert condition(status, "Truncated") == ("True", "RowLimitExceeded")
    assert shape(status) == shape(lookup_scenarios()["truncated-config-map"]["status"])
    events = cluster.events("ids")
    assert [(e["type"], e["reason"]) for e in events] == [
        ("Normal", "LookupStarted"),
        ("Warning", "LookupTruncated"),
    ]
    assert "truncated: the query returned more than 5000 rows" in events[1]["message"]
    # The output did not fit the termination message: the operator read it from the pod's log, bounded.
    reads = [r for r in cluster.operator_requests() if str(r.url.path).endswith("/log")]
    assert len(reads) == 1
    assert reads[0].params["container"] == "engine"
    assert int(reads[0].params["limitBytes"]) > 0

    cm = cluster.get("ConfigMap", "ids-lookup-result")
    assert cm["metadata"]["ownerReferences"] == [
        {"apiVersion": "impalacopy.io/v1alpha1", "kind": KIND, "name": "ids",
         "uid": activity["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    ]  # fmt: skip
    assert cm["metadata"]["labels"]["impalacopy.io/activity"] == "ids"
    annotations = cm["metadata"]["annotations"]
    assert (annotations["impalacopy.io/rows"], annotations["impalacopy.io/truncated"]) == ("5000", "true")
    assert annotations["impalacopy.io/run-id"] == status["lastRun"]["runId"]
    output = json.loads(cm["data"]["output.json"])
    assert output["count"] == 5000
    assert [row["id"] for row in output["value"]] == list(range(5000))
    assert len(cm["data"]["output.json"].encode()) == status["lastRun"]["resultBytes"]
    assert printer_columns(cluster.get(KIND, "ids"))["Result"] == "ids-lookup-result"


async def test_an_output_over_900_kib_is_stored_gzipped(
    sts: StsServer, cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    await apply_base(cluster, sts)
    await cluster.apply(lookup("all-orders", firstRowOnly=False))  # the dataset's table: 5000 rows, ~1 MB
    status = await run_lookup(cluster, "all-orders", tmp_path)
    assert status["phase"] == "Succeeded", status
    assert (status["rowsReturned"], status["truncated"]) == (ORDERS_ROWS, False)
    assert status["lastRun"]["resultBytes"] > 900 * 1024
    cm = cluster.get("ConfigMap", "all-orders-lookup-result")
    assert "data" not in cm or "output.json" not in cm["data"]
    assert cm["metadata"]["annotations"]["impalacopy.io/encoding"] == "gzip"
    output = json.loads(gzip.decompress(base64.b64decode(cm["binaryData"]["output.json.gz"])))
    assert output["count"] == ORDERS_ROWS
    assert {row["order_id"] for row in output["value"]} == set(range(1, ORDERS_ROWS + 1))
    assert (
        status["lastRun"]["message"]
        == f"{ORDERS_ROWS} rows, {status['lastRun']['resultBytes']} bytes of JSON"
    )


async def test_an_output_over_4_mib_fails_with_a_clear_error_and_is_not_retried(
    sts: StsServer, cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    await apply_base(cluster, sts)
    query = "SELECT id, repeat('x', 1000) AS filler FROM range(5000)"
    await cluster.apply(
        lookup(
            "too-big",
            query,
            dataset="queries",
            firstRowOnly=False,
            policy={"retry": 2, "retryIntervalInSeconds": 30},
        )
    )
    status = await run_lookup(cluster, "too-big", tmp_path)
    assert status["phase"] == "Failed"
    assert condition(status, "Failed") == ("True", "ResultTooLarge")
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert "exceeds the 4 MiB limit" in failed["message"]
    assert "select fewer columns or rows, or use a CopyActivity" in failed["message"]
    assert status["lastRun"]["reason"] == "ResultTooLarge"
    assert "nextRunTime" not in status
    assert "nextRetryTime" not in status
    assert not cluster.exists("ConfigMap", "too-big-lookup-result")
    assert shape(status) == shape(lookup_scenarios()["failed"]["status"])
    assert [(e["type"], e["reason"]) for e in cluster.events("too-big")][-1] == ("Warning", "LookupFailed")
    assert cluster.condition(KIND, "too-big", "Running")["reason"] != "RetryScheduled"
    await settle(cluster)
    assert len(cluster.jobs_of(KIND, "too-big")) == 1


async def test_spec_change_and_run_now_run_again_and_a_small_output_replaces_the_config_map(
    sts: StsServer, cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    await apply_base(cluster, sts)
    await cluster.apply(lookup("ids", "SELECT id FROM range(3000)", dataset="queries", firstRowOnly=False))
    first = await run_lookup(cluster, "ids", tmp_path)
    assert first["resultConfigMap"] == "ids-lookup-result"

    generation = await cluster.change_spec(KIND, "ids", {"source": {"query": "SELECT 42 AS answer"}})
    second = await run_lookup(cluster, "ids", tmp_path, run=2)
    assert second["output"] == {"count": 1, "value": [{"answer": 42}]}
    assert "resultConfigMap" not in second
    assert (second["lastRun"]["trigger"], second["lastRun"]["generation"]) == ("specChange", generation)
    await until(
        lambda: not cluster.exists("ConfigMap", "ids-lookup-result"), what="the old ConfigMap deleted"
    )

    await cluster.patch(KIND, "ids", {"metadata": {"annotations": {"impalacopy.io/run-now": "2026-01-01"}}})
    third = await run_lookup(cluster, "ids", tmp_path, run=3)
    assert (third["lastRun"]["trigger"], third["handledRunNow"]) == ("runNow", "2026-01-01")
    assert len({first["lastRun"]["runId"], second["lastRun"]["runId"], third["lastRun"]["runId"]}) == 3
    assert cluster.event_reasons("ids").count("LookupStarted") == 3
    assert len(cluster.job_creations()) == 3


async def test_refresh_interval_runs_again(
    sts: StsServer,
    cluster: Cluster,
    operator: OperatorThread,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from impala_copy.api import activities

    monkeypatch.setattr(activities, "MIN_REFRESH_INTERVAL_SECONDS", 1)  # users get at least 60s
    await apply_base(cluster, sts)
    await cluster.apply(
        lookup("now", "SELECT current_timestamp() AS at", dataset="queries", refreshInterval="2s")
    )
    first = await run_lookup(cluster, "now", tmp_path)
    assert first["nextRunTime"] > first["lastRun"]["completionTime"]
    second = await run_lookup(cluster, "now", tmp_path, run=2)
    assert second["lastRun"]["trigger"] == "interval"
    assert second["lastRun"]["runId"] != first["lastRun"]["runId"]
    assert second["output"]["firstRow"]["at"] != first["output"]["firstRow"]["at"]


async def test_missing_references_block_the_run_until_they_appear(
    sts: StsServer, cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    await cluster.apply(lookup("max-order", "SELECT max(order_id) AS m FROM demo.orders"))
    await until(lambda: cluster.condition(KIND, "max-order", "Ready").get("reason") == "ReferenceNotFound")
    status = cluster.status(KIND, "max-order")
    assert status["phase"] == "Pending"
    assert (
        "ImpalaDataset 'orders' referenced by LookupActivity 'max-order' was not found"
        in (cluster.condition(KIND, "max-order", "Ready")["message"])
    )
    assert shape(status) == shape(lookup_scenarios()["not-ready"]["status"])
    await settle(cluster)
    assert cluster.jobs() == []

    # The operator cannot see Secrets: the Job is created, and its pod reports the missing Secret.
    await cluster.apply(dataset("orders"), sts_linked_service(sts))
    job, result = await cluster.run_next(KIND, "max-order", tmp_path, timeout=WAIT)
    assert not result.started
    assert result.waiting_message == 'secret "impala-login" not found'
    await until(lambda: cluster.condition(KIND, "max-order", "Ready").get("reason") == "SecretNotFound")
    ready = cluster.condition(KIND, "max-order", "Ready")
    assert (ready["status"], ready["message"]) == (
        "False", "Secret 'impala-login' was not found (the run starts once it exists)")  # fmt: skip
    assert cluster.status(KIND, "max-order")["phase"] == "Pending"

    await cluster.apply(login_secret())
    result = await cluster.run_pod(job, tmp_path)  # the kubelet tries again: the same pod starts
    assert result.exit_code == 0, result.log[-3000:]
    status = await finished(cluster, "max-order")
    assert status["output"] == {"firstRow": {"m": ORDERS_ROWS}}
    assert condition(status, "Ready") == ("True", "Resolved")
    assert len(cluster.job_creations()) == 1


async def test_wrong_password_fails_without_retry_until_run_now_after_the_fix(
    sts: StsServer, cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    await cluster.apply(
        login_secret(session_password.variant("wrong")), sts_linked_service(sts), dataset("orders")
    )
    await cluster.apply(
        lookup("max-order", "SELECT 1 AS one", policy={"retry": 3, "retryIntervalInSeconds": 30})
    )
    status = await run_lookup(cluster, "max-order", tmp_path)
    assert status["phase"] == "Failed"
    assert condition(status, "Failed") == ("True", "AuthenticationFailed")
    assert "nextRetryTime" not in status
    assert cluster.condition(KIND, "max-order", "Running")["reason"] != "RetryScheduled"
    await settle(cluster)
    assert len(cluster.jobs_of(KIND, "max-order")) == 1

    # The fixed Secret is read by the next pod; the operator starts one on run-now.
    await cluster.patch("Secret", "impala-login", {"data": login_secret()["data"]})
    await cluster.patch(KIND, "max-order", {"metadata": {"annotations": {"impalacopy.io/run-now": "fixed"}}})
    status = await run_lookup(cluster, "max-order", tmp_path, run=2)
    assert status["phase"] == "Succeeded"
    assert status["output"] == {"firstRow": {"one": 1}}
    assert "lastFailureTime" in status


async def test_a_lookup_job_left_pending_does_not_hold_up_other_objects(
    sts: StsServer, cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    await apply_base(cluster, sts)
    await cluster.apply(lookup("waiting", "SELECT 1 AS one"))
    # Its Job is never run (no node has room, say): the lookup stays Pending ...
    await until(lambda: cluster.jobs_of(KIND, "waiting"), what="the first lookup's Job")
    # ... while a second lookup runs, and other objects are reconciled at once.
    await cluster.apply(lookup("second", "SELECT 2 AS two"), dataset("more-orders"))
    second = await run_lookup(cluster, "second", tmp_path)
    assert second["output"] == {"firstRow": {"two": 2}}
    await until(lambda: cluster.condition("ImpalaDataset", "more-orders", "Ready").get("status") == "True")
    assert phase(cluster, "waiting") == "Pending"
    assert cluster.condition(KIND, "waiting", "Ready")["status"] == "True"

    result = await cluster.run_pod(cluster.jobs_of(KIND, "waiting")[0], tmp_path)
    assert result.exit_code == 0, result.log[-3000:]
    assert (await finished(cluster, "waiting"))["output"] == {"firstRow": {"one": 1}}


async def test_deleting_the_activity_leaves_nothing_running(
    sts: StsServer, cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    await apply_base(cluster, sts)
    activity = lookup("ids", "SELECT id FROM range(3000)", dataset="queries", firstRowOnly=False)
    await cluster.apply(activity)
    await run_lookup(cluster, "ids", tmp_path)
    assert not cluster.get(KIND, "ids")["metadata"].get("finalizers")
    await cluster.patch(KIND, "ids", {"metadata": {"annotations": {"impalacopy.io/run-now": "again"}}})
    running = await until(lambda: len(cluster.jobs_of(KIND, "ids")) == 2 and cluster.jobs_of(KIND, "ids")[1])
    await cluster.delete(KIND, "ids")
    await settle(cluster)
    deletions = [
        f"{r.method.value} {r.url}" for r in cluster.operator_requests() if r.method.value == "DELETE"
    ]
    assert deletions == []
    assert not cluster.exists(KIND, "ids")
    assert len(cluster.job_creations()) == 2
    # Kubernetes' garbage collector deletes the running Job (and its pod) and the ConfigMap through
    # their ownerReferences (kmock has none); the operator adds no finalizer that could hold them up.
    uid = activity["metadata"]["uid"]
    for owned in (running, cluster.get("ConfigMap", "ids-lookup-result")):
        [owner] = owned["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (KIND, "ids", uid, True)


async def test_a_foreign_config_map_of_the_same_name_is_never_overwritten(
    sts: StsServer, cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    await apply_base(cluster, sts)
    await cluster.apply(manifests.config_map("ids-lookup-result", {"mine": "keep me"}))
    await cluster.apply(lookup("ids", "SELECT id FROM range(3000)", dataset="queries", firstRowOnly=False))
    status = await run_lookup(cluster, "ids", tmp_path)
    assert status["phase"] == "Failed"
    assert condition(status, "Failed") == ("True", "ResultNotStored")
    assert (
        "ConfigMap 'ids-lookup-result' exists and does not belong to LookupActivity 'ids'"
        in (status["lastRun"]["message"])
    )
    assert cluster.get("ConfigMap", "ids-lookup-result")["data"] == {"mine": "keep me"}


async def test_a_foreign_config_map_named_in_status_is_never_deleted(
    sts: StsServer, cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    """status.resultConfigMap is writable by anyone with rights on the status: it is no proof of ownership."""
    await apply_base(cluster, sts)
    await cluster.apply(manifests.config_map("payroll", {"salaries.csv": "alice,1"}))
    activity = lookup("small", "SELECT 1 AS one")
    activity["status"] = {"resultConfigMap": "payroll"}
    await cluster.apply(activity)
    status = await run_lookup(cluster, "small", tmp_path)
    assert status["phase"] == "Succeeded", status
    assert status["output"] == {"firstRow": {"one": 1}}
    assert "resultConfigMap" not in status
    await settle(cluster)
    assert cluster.get("ConfigMap", "payroll")["data"] == {"salaries.csv": "alice,1"}
    deletions = [r for r in cluster.operator_requests() if r.method.value == "DELETE"]
    assert [str(r.url.path) for r in deletions if "configmaps" in str(r.url.path)] == []


async def test_an_object_of_the_wrong_shape_is_invalid_and_others_still_run(
    sts: StsServer, cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    await apply_base(cluster, sts)
    broken = lookup("broken", "SELECT 1 AS one", firstRowOnly="sometimes", refreshInterval=5)
    await cluster.apply(broken, lookup("fine", "SELECT 1 AS one"))
    await until(lambda: cluster.condition(KIND, "broken", "Ready").get("reason") == "InvalidSpec")
    message = cluster.condition(KIND, "broken", "Ready")["message"]
    assert "spec.firstRowOnly" in message
    assert "spec.refreshInterval" in message
    assert (await run_lookup(cluster, "fine", tmp_path))["output"] == {"firstRow": {"one": 1}}
    assert "LookupStarted" not in cluster.event_reasons("broken")
    assert cluster.jobs_of(KIND, "broken") == []


async def test_a_lookup_that_ends_while_the_operator_is_stopped_is_reported_after_a_restart(
    kmock: Any, sts: StsServer, cluster: Cluster, tmp_path: Path
) -> None:
    operator = await start_operator(kmock)
    try:
        await apply_base(cluster, sts)
        await cluster.apply(lookup("max-order", "SELECT max(order_id) AS m FROM demo.orders"))
        job = await until(
            lambda: cluster.jobs_of(KIND, "max-order") and cluster.jobs_of(KIND, "max-order")[0]
        )
        await until(
            lambda: (
                phase(cluster, "max-order") == "Pending" and "lastRun" in cluster.status(KIND, "max-order")
            )
        )
        first = cluster.status(KIND, "max-order")["lastRun"]
    finally:
        await operator.stop()
    result: RunResult = await cluster.run_pod(job, tmp_path)  # the pod runs on without the operator
    assert result.exit_code == 0, result.log[-3000:]
    assert phase(cluster, "max-order") == "Pending"  # the stopped operator left it as it was
    operator = await start_operator(kmock)
    try:
        status = await finished(cluster, "max-order")
        await settle(cluster)
    finally:
        await operator.stop()
    run = status["lastRun"]
    assert (run["trigger"], run["runId"], run["attempt"], run["jobName"]) == (
        "create", first["runId"], 1, job["metadata"]["name"])  # fmt: skip
    assert status["output"] == {"firstRow": {"m": ORDERS_ROWS}}
    assert len(cluster.job_creations()) == 1
    assert cluster.event_reasons("max-order").count("LookupStarted") == 1
