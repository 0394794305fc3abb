"""LookupActivity end to end: the operator (kopf on the Kubernetes API emulator) runs lookups against
a real HiveServer2 and writes ADF's output into status or into an owned ConfigMap.

In:  a Secret, an ImpalaLinkedService pointing at the Spark Thrift Server (`sts`, alice's password
     checked by the server), ImpalaDatasets of the sample database and LookupActivities: firstRowOnly
     true/false, 0 and 1 rows, every value type, 5001 rows, a result over the 16 KiB status cap, one
     over 900 KiB (gzip), one over the 4 MiB hard cap; then spec changes, run-now, refreshInterval,
     missing references, a wrong password, and a slow server while other objects are reconciled.
Out: status (phase, conditions, lastRun, output, rowsReturned, truncated, resultConfigMap), the
     result ConfigMap (owner, data, annotations), Events, printer-column values, and the shapes the
     pure status functions give (tests/operator/scenarios.py).
Faked: the API server (kmock). Impala is the real Spark Thrift Server.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
from typing import Any

import pytest
from devservers.sts import ORDERS_ROWS, StsServer

from tests.integration.lookup_expected import ALL_TYPES_JSON
from tests.integration.silent_server import SilentServer
from tests.operator import manifests
from tests.operator.harness import (
    Cluster,
    OperatorThread,
    printer_columns,
    start_operator,
    until,
)
from tests.operator.harness import test_settings as operator_settings
from tests.operator.impala_objects import dataset, linked_service, login_secret, lookup, sts_linked_service
from tests.operator.scenarios import lookup_scenarios, shape

KIND = "LookupActivity"
WAIT = 120.0  # upper bound for a loaded machine: a lookup takes about a second


def phase(cluster: Cluster, name: str) -> str | None:
    return cluster.status(KIND, name).get("phase") if cluster.exists(KIND, name) else None


async def finished(cluster: Cluster, name: str, run: int = 1) -> dict[str, Any]:
    """Wait for the `run`-th LookupSucceeded/LookupFailed Event of `name`; returns its status."""

    def done() -> bool:
        ends = [
            r
            for r in cluster.event_reasons(name)
            if r in ("LookupSucceeded", "LookupTruncated", "LookupFailed")
        ]
        return len(ends) >= run and phase(cluster, name) in ("Succeeded", "Failed")

    await until(done, timeout=WAIT, what=f"{name} to finish run {run}")
    return cluster.status(KIND, name)


def condition(status: dict[str, Any], type_: str) -> tuple[str, str]:
    cond = next(c for c in status["conditions"] if c["type"] == type_)
    return cond["status"], cond["reason"]


async def apply_base(cluster: Cluster, sts: StsServer) -> None:
    await cluster.apply(
        login_secret(), sts_linked_service(sts), dataset("orders"), dataset("queries", table=None)
    )


async def test_first_row_only_puts_the_first_row_in_status(
    sts: StsServer, cluster: Cluster, operator: OperatorThread
) -> None:
    await apply_base(cluster, sts)
    query = (
        "SELECT max(order_id) AS max_id, count(*) AS orders, min(ordered_at) AS first_order FROM demo.orders"
    )
    await cluster.apply(lookup("max-order", query))
    status = await finished(cluster, "max-order")

    assert status["phase"] == "Succeeded", status
    assert status["output"] == {
        "firstRow": {"max_id": ORDERS_ROWS, "orders": ORDERS_ROWS, "first_order": "2024-01-01T00:00:00"}
    }
    assert (status["rowsReturned"], status["truncated"], status["observedGeneration"]) == (1, False, 1)
    assert "resultConfigMap" not in status
    run = status["lastRun"]
    assert (run["trigger"], run["attempt"], run["generation"], run["rowsReturned"]) == ("create", 1, 1, 1)
    assert run["resultBytes"] == len(json.dumps(status["output"], separators=(",", ":")).encode())
    assert run["completionTime"] >= run["startTime"]
    assert status["lastSuccessfulTime"] == run["completionTime"]
    assert "nextRunTime" not in status
    assert {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]} == {
        "Ready": ("True", "Resolved"),
        "Running": ("False", "LookupCompleted"),
        "Succeeded": ("True", "LookupSucceeded"),
        "Failed": ("False", "LookupSucceeded"),
        "Truncated": ("False", "WithinRowLimit"),
    }
    assert shape(status) == shape(lookup_scenarios()["succeeded"]["status"])
    assert [(e["type"], e["reason"]) for e in cluster.events("max-order")] == [
        ("Normal", "LookupStarted"),
        ("Normal", "LookupSucceeded"),
    ]
    assert (
        cluster.events("max-order")[1]["message"]
        == f"1 row, {run['resultBytes']} bytes of JSON in status.output"
    )
    columns = printer_columns(cluster.get(KIND, "max-order"))
    assert (columns["Phase"], columns["Rows"], columns["Truncated"], columns["Result"]) == (
        "Succeeded", 1, False, None)  # fmt: skip


async def test_all_rows_zero_rows_one_row_and_every_type(
    sts: StsServer, cluster: Cluster, operator: OperatorThread
) -> None:
    await apply_base(cluster, sts)
    await cluster.apply(
        lookup("none", "SELECT * FROM demo.empty_table", dataset="queries", firstRowOnly=False),
        lookup("none-first", "SELECT * FROM demo.empty_table", dataset="queries"),
        lookup("one", "SELECT order_id, status FROM demo.orders WHERE order_id = 7", firstRowOnly=False),
        lookup("types", "SELECT * FROM demo.all_types ORDER BY id", dataset="queries", firstRowOnly=False),
    )
    statuses = {name: await finished(cluster, name) for name in ("none", "none-first", "one", "types")}
    assert statuses["none"]["output"] == {"count": 0, "value": []}
    assert statuses["none"]["rowsReturned"] == 0
    assert statuses["none-first"]["output"] == {}
    assert statuses["one"]["output"] == {"count": 1, "value": [{"order_id": 7, "status": "shipped"}]}
    assert statuses["types"]["output"] == {"count": 4, "value": ALL_TYPES_JSON}
    assert all(s["phase"] == "Succeeded" for s in statuses.values())


async def test_5001_rows_are_truncated_and_the_output_goes_to_a_config_map(
    sts: StsServer, cluster: Cluster, operator: OperatorThread
) -> None:
    await apply_base(cluster, sts)
    activity = lookup("ids", "SELECT id FROM range(5001) ORDER BY id", dataset="queries", firstRowOnly=False)
    await cluster.apply(activity)
    status = await finished(cluster, "ids")

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

    cm = cluster.get("ConfigMap", "ids-lookup-result")
    assert cm["metadata"]["ownerReferences"] == [
        {"apiVersion": "impalacopy.io/v1alpha1", "kind": KIND, "name": "ids",
         "uid": activity["metadata"]["uid"], "controller": True}
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
    sts: StsServer, cluster: Cluster, operator: OperatorThread
) -> None:
    await apply_base(cluster, sts)
    await cluster.apply(lookup("all-orders", firstRowOnly=False))  # the dataset's table: 5000 rows, ~1 MB
    status = await finished(cluster, "all-orders")
    assert status["phase"] == "Succeeded", status
    assert (status["rowsReturned"], status["truncated"]) == (ORDERS_ROWS, False)
    assert status["lastRun"]["resultBytes"] > 900 * 1024
    cm = cluster.get("ConfigMap", "all-orders-lookup-result")
    assert "data" not in cm or "output.json" not in cm["data"]
    assert cm["metadata"]["annotations"]["impalacopy.io/encoding"] == "gzip"
    output = json.loads(gzip.decompress(base64.b64decode(cm["binaryData"]["output.json.gz"])))
    assert output["count"] == ORDERS_ROWS
    assert {row["order_id"] for row in output["value"]} == set(range(1, ORDERS_ROWS + 1))
    assert "(gzip)" in status["lastRun"]["message"]


async def test_an_output_over_4_mib_fails_with_a_clear_error_and_is_not_retried(
    sts: StsServer, cluster: Cluster, operator: OperatorThread
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
    status = await finished(cluster, "too-big")
    assert status["phase"] == "Failed"
    assert condition(status, "Failed") == ("True", "ResultTooLarge")
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert "exceeds the 4 MiB limit" in failed["message"]
    assert "select fewer columns or rows, or use a CopyActivity" in failed["message"]
    assert status["lastRun"]["reason"] == "ResultTooLarge"
    assert "nextRunTime" not in status
    assert not cluster.exists("ConfigMap", "too-big-lookup-result")
    assert shape(status) == shape(lookup_scenarios()["failed"]["status"])
    assert [(e["type"], e["reason"]) for e in cluster.events("too-big")][-1] == ("Warning", "LookupFailed")


async def test_spec_change_and_run_now_run_again_and_a_small_output_replaces_the_config_map(
    sts: StsServer, cluster: Cluster, operator: OperatorThread
) -> None:
    await apply_base(cluster, sts)
    await cluster.apply(lookup("ids", "SELECT id FROM range(3000)", dataset="queries", firstRowOnly=False))
    first = await finished(cluster, "ids")
    assert first["resultConfigMap"] == "ids-lookup-result"

    generation = await cluster.change_spec(KIND, "ids", {"source": {"query": "SELECT 42 AS answer"}})
    second = await finished(cluster, "ids", run=2)
    assert second["output"] == {"count": 1, "value": [{"answer": 42}]}
    assert "resultConfigMap" not in second
    assert (second["lastRun"]["trigger"], second["lastRun"]["generation"]) == ("specChange", generation)
    await until(
        lambda: not cluster.exists("ConfigMap", "ids-lookup-result"), what="the old ConfigMap deleted"
    )

    await cluster.patch(KIND, "ids", {"metadata": {"annotations": {"impalacopy.io/run-now": "2026-01-01"}}})
    third = await finished(cluster, "ids", run=3)
    assert (third["lastRun"]["trigger"], third["handledRunNow"]) == ("runNow", "2026-01-01")
    assert len({first["lastRun"]["runId"], second["lastRun"]["runId"], third["lastRun"]["runId"]}) == 3
    assert cluster.event_reasons("ids").count("LookupStarted") == 3


async def test_refresh_interval_runs_again(
    sts: StsServer, cluster: Cluster, operator: OperatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    from impala_copy.api import activities

    monkeypatch.setattr(activities, "MIN_REFRESH_INTERVAL_SECONDS", 1)  # users get at least 60s
    await apply_base(cluster, sts)
    await cluster.apply(
        lookup("now", "SELECT current_timestamp() AS at", dataset="queries", refreshInterval="2s")
    )
    first = await finished(cluster, "now")
    assert first["nextRunTime"] > first["lastRun"]["completionTime"]
    second = await finished(cluster, "now", run=2)
    assert second["lastRun"]["trigger"] == "refresh"
    assert second["lastRun"]["runId"] != first["lastRun"]["runId"]


async def test_missing_references_block_the_run_until_they_appear(
    sts: StsServer, cluster: Cluster, operator: OperatorThread
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
    await cluster.apply(dataset("orders"), sts_linked_service(sts))
    await until(lambda: cluster.condition(KIND, "max-order", "Ready").get("reason") == "SecretNotFound")
    await cluster.apply(login_secret())
    status = await finished(cluster, "max-order")
    assert status["output"] == {"firstRow": {"m": ORDERS_ROWS}}
    assert condition(status, "Ready") == ("True", "Resolved")


async def test_wrong_password_fails_without_retry_until_run_now_after_the_fix(
    sts: StsServer, cluster: Cluster, operator: OperatorThread
) -> None:
    await cluster.apply(login_secret("wrong-password"), sts_linked_service(sts), dataset("orders"))
    await cluster.apply(lookup("max-order", "SELECT 1 AS one", policy={"retry": 3}))
    status = await finished(cluster, "max-order")
    assert status["phase"] == "Failed"
    assert condition(status, "Failed") == ("True", "AuthenticationFailed")
    assert "nextRunTime" not in status
    await cluster.patch("Secret", "impala-login", {"data": login_secret("secret")["data"]})
    await cluster.patch(KIND, "max-order", {"metadata": {"annotations": {"impalacopy.io/run-now": "fixed"}}})
    status = await finished(cluster, "max-order", run=2)
    assert status["phase"] == "Succeeded"
    assert status["output"] == {"firstRow": {"one": 1}}
    assert "lastFailureTime" in status


async def test_a_slow_lookup_does_not_hold_up_other_objects(
    kmock: Any, sts: StsServer, cluster: Cluster
) -> None:
    operator = await start_operator(kmock, dataclasses.replace(operator_settings(), lookup_workers=1))
    try:
        with SilentServer() as silent:
            await cluster.apply(
                login_secret(),
                linked_service("127.0.0.1", silent.port, name="stuck", connectTimeoutSeconds=15),
                dataset("stuck-orders", linked_service="stuck"),
                lookup("slow", "SELECT 1 AS one", dataset="stuck-orders"),
            )
            await until(
                lambda: phase(cluster, "slow") == "Running", timeout=WAIT, what="the slow lookup to start"
            )
            # The only lookup worker is taken; a second lookup waits, Queued ...
            await cluster.apply(
                sts_linked_service(sts), dataset("orders"), lookup("queued", "SELECT 2 AS two")
            )
            await until(
                lambda: cluster.condition(KIND, "queued", "Running").get("reason") == "Queued",
                timeout=WAIT, what="the second lookup to be queued",
            )  # fmt: skip
            assert phase(cluster, "queued") == "Pending"
            # ... while everything else is reconciled at once.
            await cluster.apply(dataset("more-orders"))
            await until(
                lambda: cluster.condition("ImpalaDataset", "more-orders", "Ready").get("status") == "True"
            )
            assert phase(cluster, "slow") == "Running"
            slow = await finished(cluster, "slow")
        assert condition(slow, "Failed") == ("True", "Timeout")
        queued = await finished(cluster, "queued")
        assert queued["output"] == {"firstRow": {"two": 2}}
    finally:
        await operator.stop()


async def test_deleting_the_activity_leaves_nothing_running(
    sts: StsServer, cluster: Cluster, operator: OperatorThread
) -> None:
    await apply_base(cluster, sts)
    await cluster.apply(lookup("ids", "SELECT id FROM range(3000)", dataset="queries", firstRowOnly=False))
    await finished(cluster, "ids")
    await cluster.delete(KIND, "ids")
    runtime = operator.runtime
    assert runtime.reconciler is not None
    lookups = runtime.reconciler.lookups
    assert lookups is not None
    await until(lambda: len(lookups.in_flight) == 0)
    assert not cluster.exists(KIND, "ids")
    # Kubernetes' garbage collector deletes the ConfigMap through its ownerReference (kmock has none).
    assert cluster.get("ConfigMap", "ids-lookup-result")["metadata"]["ownerReferences"][0]["name"] == "ids"


async def test_a_foreign_config_map_of_the_same_name_is_never_overwritten(
    sts: StsServer, cluster: Cluster, operator: OperatorThread
) -> None:
    await apply_base(cluster, sts)
    await cluster.apply(manifests.config_map("ids-lookup-result", {"mine": "keep me"}))
    await cluster.apply(lookup("ids", "SELECT id FROM range(3000)", dataset="queries", firstRowOnly=False))
    status = await finished(cluster, "ids")
    assert status["phase"] == "Failed"
    assert condition(status, "Failed") == ("True", "ResultNotStored")
    assert (
        "ConfigMap 'ids-lookup-result' exists and does not belong to LookupActivity 'ids'"
        in (status["lastRun"]["message"])
    )
    assert cluster.get("ConfigMap", "ids-lookup-result")["data"] == {"mine": "keep me"}


async def test_an_object_of_the_wrong_shape_is_invalid_and_others_still_run(
    sts: StsServer, cluster: Cluster, operator: OperatorThread
) -> None:
    await apply_base(cluster, sts)
    broken = lookup("broken", "SELECT 1 AS one", firstRowOnly="sometimes", refreshInterval=5)
    await cluster.apply(broken, lookup("fine", "SELECT 1 AS one"))
    await until(lambda: cluster.condition(KIND, "broken", "Ready").get("reason") == "InvalidSpec")
    message = cluster.condition(KIND, "broken", "Ready")["message"]
    assert "spec.firstRowOnly" in message
    assert "spec.refreshInterval" in message
    assert (await finished(cluster, "fine"))["output"] == {"firstRow": {"one": 1}}
    assert "LookupStarted" not in cluster.event_reasons("broken")


async def test_a_lookup_running_when_the_operator_stops_runs_again_after_a_restart(
    kmock: Any, sts: StsServer, cluster: Cluster
) -> None:
    with SilentServer() as silent:
        operator = await start_operator(kmock)
        try:
            await cluster.apply(
                login_secret(),
                linked_service("127.0.0.1", silent.port, name="stuck", connectTimeoutSeconds=5),
                dataset("stuck-orders", linked_service="stuck"),
                lookup("slow", "SELECT 1 AS one", dataset="stuck-orders"),
            )
            await until(lambda: phase(cluster, "slow") == "Running", timeout=WAIT)
            first = cluster.status(KIND, "slow")["lastRun"]
        finally:
            await operator.stop()
        assert phase(cluster, "slow") == "Running"  # the stopped operator left it as it was
        operator = await start_operator(kmock)
        try:
            status = await finished(cluster, "slow")
        finally:
            await operator.stop()
    run = status["lastRun"]
    assert (run["trigger"], run["runId"], run["attempt"]) == ("restart", first["runId"], 1)
    assert condition(status, "Failed") == ("True", "Timeout")
    assert cluster.event_reasons("slow").count("LookupStarted") == 2
