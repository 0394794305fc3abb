"""The LookupActivity controller, step by step: its Jobs, its output in status or in a ConfigMap.

In:  a LookupActivity with the standard dataset and linked service (tests/operator/manifests.py),
     reconciled by its controller; the test plays the Job controller and the kubelet (pod states,
     termination messages with a LookupSummary, the pod log carrying the output frames).
Out: the Job (task, secrets by reference), status (phase, conditions, lastRun, output,
     resultConfigMap, rowsReturned, truncated), the result ConfigMap, when to run again.
Faked: nothing; pure planning (tests/operator/scenarios.py).
"""

from __future__ import annotations

import base64
import gzip
import json
from datetime import timedelta
from typing import Any

from tests.operator import manifests
from tests.operator.scenarios import (
    PASSWORD,
    Scenario,
    lookup_failure,
    lookup_log,
    lookup_object,
    lookup_output,
    lookup_summary,
)

from impala_copy.controller.core.timeutil import format_time
from impala_copy.controller.lookup.output import result_config_map_name


def scenario(**spec: Any) -> Scenario:
    s = Scenario([*manifests.standard_set(PASSWORD), lookup_object(**spec)], kind="LookupActivity")
    s.step()
    return s


def succeed(s: Scenario, rows: int, truncated: bool = False) -> None:
    s.set_pod(manifests.terminated(0, lookup_summary(rows, truncated)))
    s.pod_logs[manifests.pod_for(s.job())["metadata"]["name"]] = lookup_log(rows)
    s.set_job_status(manifests.job_succeeded(format_time(s.now)))
    s.step()


def fail(s: Scenario, exit_code: int, code: str, message: str) -> None:
    s.set_pod(manifests.terminated(exit_code, lookup_failure(code, message)))
    s.set_job_status(manifests.job_failed("BackoffLimitExceeded", "", format_time(s.now)))
    s.step()


def condition(s: Scenario, type_: str) -> tuple[str, str]:
    cond = next(c for c in s.activity["status"]["conditions"] if c["type"] == type_)
    return cond["status"], cond["reason"]


def config_maps(s: Scenario) -> list[dict[str, Any]]:
    return [
        o for o in s.objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-lookup-result")
    ]


def test_a_lookup_is_a_job_running_the_lookup_task_with_the_password_by_reference() -> None:
    s = scenario()
    job = s.job()
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["engine", "--task", "lookup"]
    assert job["metadata"]["labels"]["impalacopy.io/kind"] == "LookupActivity"
    refs = [e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e]
    assert {"name": "impala-credentials", "key": "password"} in refs
    assert PASSWORD not in json.dumps(job)
    assert s.activity["status"]["phase"] == "Pending"


def test_a_small_output_goes_into_status() -> None:
    s = scenario(firstRowOnly=False)
    succeed(s, 3)
    status = s.activity["status"]
    assert status["phase"] == "Succeeded"
    assert status["output"] == lookup_output(3)
    assert (status["rowsReturned"], status["truncated"]) == (3, False)
    assert "resultConfigMap" not in status
    assert status["lastRun"]["rowsReturned"] == 3
    assert condition(s, "Truncated") == ("False", "WithinRowLimit")
    assert config_maps(s) == []


def test_a_large_output_is_read_from_the_pod_log_into_an_owned_config_map() -> None:
    s = scenario(firstRowOnly=False)
    succeed(s, 5000, truncated=True)
    status = s.activity["status"]
    assert status["resultConfigMap"] == "max-order-lookup-result"
    assert "output" not in status
    assert condition(s, "Truncated") == ("True", "RowLimitExceeded")
    (cm,) = config_maps(s)
    assert json.loads(cm["data"]["output.json"]) == lookup_output(5000)
    owner = cm["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"], owner["controller"]) == (
        "LookupActivity",
        s.activity["metadata"]["uid"],
        True,
    )
    assert cm["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "impala-copy-operator"


def test_secure_output_keeps_even_a_small_output_out_of_status() -> None:
    s = scenario(policy={"secureOutput": True})
    succeed(s, 1)
    assert "output" not in s.activity["status"]
    assert s.activity["status"]["resultConfigMap"] == "max-order-lookup-result"


def test_an_output_over_900_kib_is_gzipped() -> None:
    s = scenario(firstRowOnly=False)
    rows = 5000
    big = {"count": rows, "value": [{"id": i, "pad": "x" * 200} for i in range(rows)]}
    text = json.dumps(big, separators=(",", ":"))
    from impala_copy.api.lookup_frames import encode_frames
    from impala_copy.api.summary import LookupSummary

    frames, lines = encode_frames(text)
    summary = LookupSummary(status="Succeeded", rows=rows, size_bytes=len(text), frames=frames)
    s.set_pod(manifests.terminated(0, summary.to_termination_message()))
    s.pod_logs[manifests.pod_for(s.job())["metadata"]["name"]] = "\n".join(lines) + "\n"
    s.set_job_status(manifests.job_succeeded(format_time(s.now)))
    s.step()
    (cm,) = config_maps(s)
    packed = base64.b64decode(cm["binaryData"]["output.json.gz"])
    assert json.loads(gzip.decompress(packed)) == big
    assert cm["metadata"]["annotations"]["impalacopy.io/encoding"] == "gzip"


def test_an_unreadable_log_fails_the_run_with_result_not_stored() -> None:
    s = scenario(firstRowOnly=False)
    s.set_pod(manifests.terminated(0, lookup_summary(5000)))
    s.pod_logs[manifests.pod_for(s.job())["metadata"]["name"]] = "the log was rotated away\n"
    s.set_job_status(manifests.job_succeeded(format_time(s.now)))
    s.step()
    assert s.activity["status"]["phase"] == "Failed"
    assert condition(s, "Failed") == ("True", "ResultNotStored")
    assert "unreadable" in s.activity["status"]["lastRun"]["message"]


def test_a_failure_is_retried_by_policy_and_a_configuration_error_is_not() -> None:
    s = scenario(policy={"retry": 1, "retryIntervalInSeconds": 60})
    fail(s, 1, "Unreachable", "nothing listens at impala:21050")
    assert condition(s, "Running") == ("False", "RetryScheduled")
    s.step(61)
    assert [j["metadata"]["labels"]["impalacopy.io/attempt"] for j in s.objects if j["kind"] == "Job"][
        -1
    ] == "2"
    s = scenario(policy={"retry": 3})
    fail(s, 2, "AuthenticationFailed", "the server rejected the login of user 'alice'")
    assert s.activity["status"]["phase"] == "Failed"
    assert condition(s, "Failed") == ("True", "AuthenticationFailed")


def test_secure_input_hides_a_server_message_that_may_quote_the_query() -> None:
    s = scenario(policy={"secureInput": True})
    fail(s, 2, "QueryFailed", "ParseException: SELECT secret_column FROM t")
    message = s.activity["status"]["lastRun"]["message"]
    assert "secret_column" not in json.dumps(s.activity["status"])
    assert message == "the server rejected the query (its message is hidden by policy.secureInput)"


def test_refresh_interval_runs_again_after_the_last_run_ended() -> None:
    s = scenario(refreshInterval="15m")
    succeed(s, 1)
    assert s.activity["status"]["nextRunTime"]
    s.step(14 * 60)
    assert len([o for o in s.objects if o["kind"] == "Job"]) == 1
    s.step(61)
    jobs = [o for o in s.objects if o["kind"] == "Job"]
    assert jobs[-1]["metadata"]["annotations"]["impalacopy.io/trigger"] == "interval"
    assert s.activity["status"]["lastRun"]["trigger"] == "interval"


def test_a_small_output_after_a_large_one_drops_the_config_map() -> None:
    s = scenario(firstRowOnly=False)
    succeed(s, 5000, truncated=True)
    s.activity["metadata"]["annotations"] = {"impalacopy.io/run-now": "again"}
    s.step(timedelta(seconds=1).total_seconds())
    succeed(s, 2)
    status = s.activity["status"]
    assert status["output"] == lookup_output(2)
    assert "resultConfigMap" not in status


def test_the_config_map_name_of_a_very_long_activity_name_stays_valid() -> None:
    name = result_config_map_name("a" * 253)
    assert len(name) <= 253
    assert name.endswith("-lookup-result")
