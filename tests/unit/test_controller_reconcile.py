"""The CopyActivity controller and the Ready check, step by step: what one reconciliation decides.

In:  a small cluster (scenarios.Scenario: manifests, Jobs created by earlier steps, pods and Job
     status written by the test) and a clock.
Out: the Job to create, the status, Jobs deleted by history limits, Events, re-check times; the same
     decisions after a restart (only the cluster as input); Ready of linked services and datasets.
Faked: nothing; pure planning over a dict-backed cluster view.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from tests.operator import manifests
from tests.operator.scenarios import Scenario, view_of

from impala_copy.controller.copy.controller import CopyController
from impala_copy.controller.core.controller import Actions, PlanContext
from impala_copy.controller.core.dependents import Dependents
from impala_copy.controller.core.ready import ReadyController
from impala_copy.controller.core.settings import JobDefaults, Settings
from impala_copy.controller.core.timeutil import format_time


def plan(s: Scenario, old_status: dict[str, Any]) -> Actions:
    """One plan of the scenario's CopyActivity, without applying it."""
    ctx = PlanContext(view=view_of(s.objects), old_status=old_status, settings=s.settings, now=s.now)
    return CopyController().plan(s.activity, ctx)


def jobs(s: Scenario) -> list[dict[str, Any]]:
    return [o for o in s.objects if o["kind"] == "Job"]


def succeed(s: Scenario, rows: int = 10) -> None:
    s.set_pod(manifests.terminated(0, manifests.summary(rows=rows).to_termination_message()))
    s.set_job_status(manifests.job_succeeded(format_time(s.now)))
    s.step()


def fail(s: Scenario, seconds_ago: float = 0, exit_code: int = 1) -> None:
    s.set_pod(
        manifests.terminated(
            exit_code, manifests.failed_summary("Unreachable", "refused").to_termination_message()
        )
    )
    s.set_job_status(
        manifests.job_failed("BackoffLimitExceeded", "", format_time(s.now - timedelta(seconds=seconds_ago)))
    )
    s.step()


def test_one_job_per_run_however_often_it_reconciles() -> None:
    s = Scenario(manifests.standard_set("pw"))
    for _ in range(5):
        s.step()
    assert len(jobs(s)) == 1
    succeed(s)
    for _ in range(3):
        s.step()
    assert len(jobs(s)) == 1
    assert s.activity["status"]["phase"] == "Succeeded"


def test_spec_change_and_run_now_start_new_runs() -> None:
    s = Scenario(manifests.standard_set("pw"))
    s.step()
    succeed(s)
    s.activity["metadata"]["generation"] = 2
    s.step()
    assert [j["metadata"]["labels"]["impalacopy.io/run"] for j in jobs(s)] == ["1", "2"]
    assert jobs(s)[-1]["metadata"]["annotations"]["impalacopy.io/trigger"] == "specChange"
    succeed(s)
    s.activity["metadata"]["annotations"] = {"impalacopy.io/run-now": "2026-01-15T09:00"}
    s.step()
    s.step()
    assert len(jobs(s)) == 3
    assert jobs(s)[-1]["metadata"]["annotations"]["impalacopy.io/trigger"] == "runNow"
    assert s.activity["status"]["lastRun"]["trigger"] == "runNow"
    succeed(s)
    assert s.activity["status"]["handledRunNow"] == "2026-01-15T09:00"


def test_a_restart_decides_the_same_from_the_cluster_alone() -> None:
    """A fresh planner (no memory) sees the Jobs and the status and starts nothing new."""
    s = Scenario(manifests.standard_set("pw"))
    s.step()
    s.set_pod(manifests.running())
    s.set_job_status(manifests.job_active())
    s.step()
    restarted = Scenario([])
    restarted.objects = copy.deepcopy(s.objects)
    restarted.now = s.now
    restarted.step()
    assert len(jobs(restarted)) == 1
    assert restarted.activity["status"]["phase"] == "Running"


def test_history_limits_delete_the_oldest_finished_jobs() -> None:
    s = Scenario(manifests.standard_set("pw"))
    s.activity["spec"]["successfulJobsHistoryLimit"] = 1
    s.step()
    succeed(s)
    for generation in (2, 3):
        s.activity["metadata"]["generation"] = generation
        s.step()
        succeed(s)
    names = [j["metadata"]["labels"]["impalacopy.io/run"] for j in jobs(s)]
    assert names == ["3"]
    # The status still tells the newest run, and nothing re-runs once the Jobs are gone.
    s.step()
    assert len(jobs(s)) == 1
    assert s.activity["status"]["lastRun"]["runId"] == "3"


def test_failed_jobs_history_limit_zero_keeps_the_outcome_in_status() -> None:
    s = Scenario(manifests.standard_set("pw"))
    s.activity["spec"]["failedJobsHistoryLimit"] = 0
    s.step()
    fail(s)
    assert jobs(s) == []
    status = s.activity["status"]
    assert status["phase"] == "Failed"
    assert status["lastRun"]["reason"] == "Unreachable"
    s.step()
    assert jobs(s) == []
    assert s.activity["status"]["phase"] == "Failed"


def test_history_limit_defaults_come_from_the_operator_settings() -> None:
    settings = Settings(summary_grace_seconds=0, job=JobDefaults(successful_jobs_history_limit=0))
    s = Scenario(manifests.standard_set("pw"), settings)
    s.step()
    succeed(s)
    assert jobs(s) == []


def test_retries_after_the_interval_count_attempts() -> None:
    s = Scenario(manifests.standard_set("pw"))
    s.activity["spec"]["policy"] = {"retry": 1, "retryIntervalInSeconds": 30}
    s.step()
    fail(s)
    status = s.activity["status"]
    assert status["phase"] == "Pending"
    assert status["nextRetryTime"]
    assert len(jobs(s)) == 1
    actions = plan(s, status)
    assert actions.create is None
    assert actions.recheck_after is not None
    assert 0 < actions.recheck_after <= 30
    s.step(31)
    assert len(jobs(s)) == 2
    retry = jobs(s)[-1]
    assert retry["metadata"]["labels"]["impalacopy.io/attempt"] == "2"
    assert retry["metadata"]["annotations"]["impalacopy.io/trigger"] == "retry"
    assert s.activity["status"]["lastRun"]["attempt"] == 2
    fail(s)
    status = s.activity["status"]
    assert status["phase"] == "Failed"
    assert "nextRetryTime" not in status
    # failedJobsHistoryLimit 1: attempt 1's Job is gone, attempt 2's stays; no third attempt.
    s.step(120)
    assert [j["metadata"]["labels"]["impalacopy.io/attempt"] for j in jobs(s)] == ["2"]


def test_a_job_deleted_while_running_is_a_failed_attempt() -> None:
    s = Scenario(manifests.standard_set("pw"))
    s.step()
    s.step()
    s.objects.remove(jobs(s)[0])
    s.step()
    status = s.activity["status"]
    assert status["phase"] == "Failed"
    assert status["lastRun"]["reason"] == "JobDeleted"
    s.step(60)
    assert jobs(s) == []


def test_a_finished_job_waits_briefly_for_its_pod_summary() -> None:
    s = Scenario(manifests.standard_set("pw"), Settings(summary_grace_seconds=20))
    s.step()
    s.set_job_status(manifests.job_succeeded(format_time(s.now)))
    actions = plan(s, s.activity["status"])
    assert actions.status is not None
    assert actions.status["phase"] == "Running"
    assert actions.recheck_after == 20
    s.step(25)
    assert s.activity["status"]["phase"] == "Succeeded"
    assert s.activity["status"]["lastRun"]["rowsCopied"] == 0


def test_missing_pvc_and_invalid_reference() -> None:
    s = Scenario(manifests.standard_set("pw"))
    s.objects.remove(s.find("PersistentVolumeClaim"))
    s.step()
    ready = s.activity["status"]["conditions"][0]
    assert (ready["status"], ready["reason"]) == ("False", "ReferenceNotFound")
    assert (
        ready["message"]
        == "PersistentVolumeClaim 'copies' referenced by ParquetDataset 'orders-parquet' was not found"
    )
    assert jobs(s) == []

    s = Scenario(manifests.standard_set("pw"))
    s.find("ImpalaDataset")["spec"]["schema"] = 5
    s.step()
    ready = s.activity["status"]["conditions"][0]
    assert (ready["status"], ready["reason"]) == ("False", "InvalidReference")
    assert ready["message"].startswith("ImpalaDataset 'orders' is invalid: ")
    assert jobs(s) == []


def test_garbled_objects_never_raise() -> None:
    for spec in ("a string", None, {"inputs": "x"}, {"inputs": [{"referenceName": 7}]}):
        s = Scenario(manifests.standard_set("pw"))
        s.activity["spec"] = spec
        s.activity["status"] = "not a dict"
        s.activity["metadata"]["annotations"] = {"impalacopy.io/run-now": 5}
        s.step()
        ready = s.activity["status"]["conditions"][0]
        assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec"), spec
        assert jobs(s) == []


def test_deleting_object_gets_no_job_and_no_status() -> None:
    s = Scenario(manifests.standard_set("pw"))
    s.activity["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    actions = plan(s, {})
    assert actions.create is None
    assert actions.status is None


def test_references_looked_at_are_reported() -> None:
    s = Scenario(manifests.standard_set("pw"))
    actions = plan(s, {})
    assert {
        ("ImpalaDataset", "orders"),
        ("ImpalaLinkedService", "impala"),
        ("ConfigMap", "impala-ca"),
        ("ParquetDataset", "orders-parquet"),
        ("PersistentVolumeClaim", "copies"),
    } <= actions.refs


def ready_of(objects: list[dict[str, Any]], kind: str, name: str) -> tuple[str, str, str]:
    s = Scenario(objects)
    body = s.find(kind, name)
    ctx = PlanContext(view=view_of(s.objects), old_status={}, settings=s.settings, now=s.now)
    actions = ReadyController(kind).plan(body, ctx)
    assert actions.status is not None
    cond = next(c for c in actions.status["conditions"] if c["type"] == "Ready")
    return cond["status"], cond["reason"], cond["message"]


def test_ready_of_linked_services_and_datasets() -> None:
    full = manifests.standard_set("pw")
    assert ready_of(full, "ImpalaLinkedService", "impala")[:2] == ("True", "Resolved")
    assert ready_of(full, "ImpalaDataset", "orders")[:2] == ("True", "Resolved")
    assert ready_of(full, "ParquetDataset", "orders-parquet")[:2] == ("True", "Resolved")
    # The operator never reads Secrets: a missing one is reported by the pod that needs it.
    no_secret = [o for o in full if o["kind"] != "Secret"]
    assert ready_of(no_secret, "ImpalaLinkedService", "impala")[:2] == ("True", "Resolved")
    assert ready_of(no_secret, "ImpalaDataset", "orders")[:2] == ("True", "Resolved")
    no_ca = [o for o in full if o["kind"] != "ConfigMap"]
    status, reason, message = ready_of(no_ca, "ImpalaLinkedService", "impala")
    assert (status, reason) == ("False", "ConfigMapNotFound")
    assert "'impala-ca'" in message
    no_ls = [o for o in full if o["kind"] != "ImpalaLinkedService"]
    assert ready_of(no_ls, "ImpalaDataset", "orders") == (
        "False",
        "ReferenceNotFound",
        "ImpalaLinkedService 'impala' referenced by ImpalaDataset 'orders' was not found",
    )
    no_pvc = [o for o in full if o["kind"] != "PersistentVolumeClaim"]
    assert ready_of(no_pvc, "ParquetDataset", "orders-parquet")[:2] == ("False", "ReferenceNotFound")
    bad = copy.deepcopy(full)
    next(o for o in bad if o["kind"] == "ImpalaLinkedService")["spec"]["port"] = "not a port"
    status, reason, message = ready_of(bad, "ImpalaLinkedService", "impala")
    assert (status, reason) == ("False", "InvalidSpec")
    assert "port" in message


def test_ready_of_sink_stores() -> None:
    key = {"secretKeyRef": {"name": "s3-keys", "key": "id"}}
    secret_key = {"secretKeyRef": {"name": "s3-keys", "key": "secret"}}
    store = {
        "apiVersion": manifests.GV,
        "kind": "AmazonS3LinkedService",
        "metadata": manifests.meta("s3"),
        "spec": {
            "accessKeyId": key,
            "secretAccessKey": secret_key,
            "serviceUrl": "http://127.0.0.1:9000",
            "allowInsecureEndpoint": True,
        },
    }
    dataset = {
        "apiVersion": manifests.GV,
        "kind": "JsonDataset",
        "metadata": manifests.meta("orders-json"),
        "spec": {
            "linkedServiceName": {"referenceName": "s3"},
            "location": {"type": "AmazonS3Location", "bucketName": "copies"},
        },
    }
    keys = manifests.secret("s3-keys", {"id": "AKIA", "secret": "x"})
    assert ready_of([store, dataset, keys], "JsonDataset", "orders-json")[:2] == ("True", "Resolved")
    assert ready_of([store, dataset], "AmazonS3LinkedService", "s3")[:2] == ("True", "Resolved")
    assert ready_of([dataset], "JsonDataset", "orders-json") == (
        "False",
        "ReferenceNotFound",
        "AmazonS3LinkedService 's3' referenced by JsonDataset 'orders-json' was not found",
    )


def test_dependents_track_what_each_object_looked_at() -> None:
    deps = Dependents()
    key = ("CopyActivity", "ns", "a")
    deps.record(key, frozenset({("Secret", "s"), ("ImpalaDataset", "d")}))
    assert deps.of("ns", "Secret", "s") == {key}
    assert deps.of("other", "Secret", "s") == set()
    deps.record(key, frozenset({("ImpalaDataset", "d")}))
    assert deps.of("ns", "Secret", "s") == set()
    deps.forget(key)
    assert deps.of("ns", "ImpalaDataset", "d") == set()
    assert len(deps) == 0


def test_a_dataset_on_an_unbound_claim_says_so_without_blocking() -> None:
    objects = manifests.standard_set("pw")
    claim = next(o for o in objects if o["kind"] == "PersistentVolumeClaim")
    claim["status"] = {"phase": "Pending"}
    s = Scenario(objects)
    body = s.find("ParquetDataset")
    ctx = PlanContext(view=view_of(s.objects), old_status={}, settings=s.settings, now=s.now)
    actions = ReadyController("ParquetDataset").plan(body, ctx)
    assert actions.status is not None
    conds = {c["type"]: (c["status"], c["reason"], c["message"]) for c in actions.status["conditions"]}
    assert conds["Ready"][:2] == ("True", "Resolved")
    assert conds["ClaimBound"] == (
        "False",
        "ClaimNotBound",
        "PersistentVolumeClaim 'copies' is Pending: a copy's pod starts once it is bound",
    )
    s.step()  # the copy itself still gets its Job: Kubernetes starts the pod once the claim binds
    assert [o for o in s.objects if o["kind"] == "Job"]
    claim_in_view = next(o for o in s.objects if o["kind"] == "PersistentVolumeClaim")
    claim_in_view["status"] = {"phase": "Bound"}
    ctx = PlanContext(view=view_of(s.objects), old_status=actions.status, settings=s.settings, now=s.now)
    bound = ReadyController("ParquetDataset").plan(body, ctx).status
    assert bound is not None
    assert next(c for c in bound["conditions"] if c["type"] == "ClaimBound")["status"] == "True"
