"""A random password never leaves its Secret: not in any request the operator sends (Jobs, status,
Events), not in any log line, status, Event, ConfigMap or Job.

In:  random passwords as the Impala password and as an S3 secret access key; the operator taken
     through a missing Secret and a missing key (reported by the run's pod, which the test's kubelet
     leaves waiting), a failure, retries by run-now, a success, a rotation of the password and a
     restart, with every logger of the process at DEBUG.
Out: every request body and URL the operator (kopf and our client) sent, every log line, Event,
     status, ConfigMap and Job, searched for each password, in plain text and base64; the Jobs name
     the Secret by name and key only.
Faked: the API server (kmock), the Job controller and kubelet (tests/operator/kubelet.py).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from tests.operator import manifests
from tests.operator.harness import TEST_AGENT, Cluster, LogCapture, secret_env, settle, start_operator, until
from tests.operator.leak_search import assert_nowhere, forms, operator_texts

CA = "copy-orders"


def s3_objects(secret_key: str) -> list[dict[str, Any]]:
    keys = manifests.secret("s3-keys", {"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": secret_key})
    store = {
        "apiVersion": manifests.GV,
        "kind": "AmazonS3LinkedService",
        "metadata": manifests.meta("s3"),
        "spec": {
            "accessKeyId": {"secretKeyRef": {"name": "s3-keys", "key": "accessKeyId"}},
            "secretAccessKey": {"secretKeyRef": {"name": "s3-keys", "key": "secretAccessKey"}},
            "serviceUrl": "http://127.0.0.1:9",
            "allowInsecureEndpoint": True,
            "forcePathStyle": True,
        },
    }
    dataset = {
        "apiVersion": manifests.GV,
        "kind": "JsonDataset",
        "metadata": manifests.meta("orders-json"),
        "spec": {
            "linkedServiceName": {"referenceName": "s3"},
            "location": {"type": "AmazonS3Location", "bucketName": "copies", "folderPath": "orders"},
        },
    }
    activity = manifests.copy_activity("copy-orders-s3", output="orders-json", sink={"type": "JsonSink"})
    activity["spec"]["outputs"][0]["kind"] = "JsonDataset"
    return [keys, store, dataset, activity]


async def test_random_passwords_appear_in_no_request_and_no_log_line(
    kmock: Any, cluster: Cluster, logs: LogCapture, tmp_path: Path
) -> None:
    password, rotated, s3_secret = (manifests.random_password() for _ in range(3))
    objects = manifests.standard_set(password)
    secret = objects[0]
    operator = await start_operator(kmock)
    try:
        # Missing Secret, then a Secret without the key (the password sits under another key): the
        # run's pod reports each, as the kubelet would.
        await cluster.apply(*objects[1:], *s3_objects(s3_secret))
        job = await until(
            lambda: next((j for j in cluster.jobs() if j["metadata"]["name"].startswith(CA + "-")), None)
        )
        await until(lambda: len(cluster.jobs()) == 2, what="the S3 activity's Job")
        assert not (await cluster.run_pod(job, tmp_path)).started
        await until(lambda: cluster.condition("CopyActivity", CA, "Ready").get("reason") == "SecretNotFound")
        await cluster.apply(manifests.secret("impala-credentials", {"passwd": password}))
        assert not (await cluster.run_pod(job, tmp_path)).started
        await until(
            lambda: cluster.condition("CopyActivity", CA, "Ready").get("reason") == "SecretKeyNotFound"
        )
        await cluster.patch("Secret", "impala-credentials", {"data": secret["data"]})

        # A failure, a run on demand that succeeds, a rotation and one more run.
        await cluster.fail(job, manifests.terminated(137, "", "OOMKilled"))
        await until(lambda: cluster.status("CopyActivity", CA).get("phase") == "Failed")
        await cluster.patch("CopyActivity", CA, {"metadata": {"annotations": {"impalacopy.io/run-now": "1"}}})
        second = await until(
            lambda: next((j for j in cluster.jobs() if j["metadata"]["name"].endswith("-2-1")), None)
        )
        await cluster.finish(second, manifests.summary())
        await until(lambda: cluster.status("CopyActivity", CA).get("phase") == "Succeeded")
        await cluster.patch(
            "Secret",
            "impala-credentials",
            {"data": {"password": base64.b64encode(rotated.encode()).decode()}},
        )
        await cluster.patch("CopyActivity", CA, {"metadata": {"annotations": {"impalacopy.io/run-now": "2"}}})
        await until(lambda: any(j["metadata"]["name"].endswith("-3-1") for j in cluster.jobs()))
        await settle(cluster)
    finally:
        await operator.stop()
    operator = await start_operator(kmock)
    try:
        await settle(cluster)
    finally:
        await operator.stop()

    sent = cluster.operator_requests()
    # The search sees request bodies: the test's own Secret creation carries the encoded password.
    own = [r for r in cluster.kmock if r.headers.get("User-Agent") == TEST_AGENT]
    assert any(forms(password)[1] in r.body.decode() for r in own)
    writes = [r for r in sent if r.method.value in ("POST", "PATCH", "PUT", "DELETE")]
    assert len([r for r in writes if r.resource.plural == "jobs" and r.method.value == "POST"]) == 4
    assert any(r.resource.plural == "events" for r in writes)
    assert any(r.subresource == "status" for r in writes)
    assert len(logs.lines) > 100  # kopf's and the operator's DEBUG lines were captured
    assert_nowhere((password, rotated, s3_secret), operator_texts(cluster, logs))
    # The Secrets the Jobs use are referenced by name and key only.
    for job in cluster.jobs():
        assert ("impala-credentials", "password") in secret_env(job).values()
