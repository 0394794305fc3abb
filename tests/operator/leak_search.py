"""What the operator tests search for secret values (tests/leak_search.py does the searching): every
text the operator produced (`operator_texts`), and everything the API emulator holds but the Secrets
themselves (`emulator_texts`, which the session's leak check searches after every test)."""

from __future__ import annotations

import json

from tests.leak_search import assert_nowhere, forms
from tests.operator.admission import TEST_AGENT
from tests.operator.harness import OURS_RECONCILED, Cluster, LogCapture


def operator_texts(cluster: Cluster, logs: LogCapture) -> dict[str, list[str]]:
    """Every text the operator produced, by where it went: request URLs and bodies, its log lines,
    Events, the status of each of our objects, ConfigMaps and Jobs (as stored in the emulator)."""
    sent = cluster.operator_requests()
    return {
        "request": [f"{r.method.value} {r.url}\n{r.body.decode(errors='replace')}" for r in sent],
        "log line": list(logs.lines),
        "Event": [json.dumps(e) for e in cluster.all("Event", None)],
        "status": [
            json.dumps(obj.get("status")) for kind in OURS_RECONCILED for obj in cluster.all(kind, None)
        ],
        "ConfigMap": [json.dumps(cm) for cm in cluster.all("ConfigMap", None)],
        "Job": [json.dumps(job) for job in cluster.all("Job", None)],
    }


def _writes_a_secret(request: object) -> bool:
    """The test's own writes of Secrets: they carry the values, as `kubectl apply` would."""
    resource = getattr(request, "resource", None)
    agent = getattr(request, "headers", {}).get("User-Agent")
    return agent == TEST_AGENT and resource is not None and resource.plural == "secrets"


def emulator_texts(cluster: Cluster) -> dict[str, list[str]]:
    """Everything the emulator received or holds, but the Secrets the test wrote: every request (the
    operator's, and the test's kubelet reporting pods with their termination messages), every
    version of every object stored of every kind but Secret (Events, status, Jobs, pods,
    ConfigMaps; deleted ones too), the pods' logs."""
    requests = [r for r in cluster.kmock if not _writes_a_secret(r)]
    stored = [
        json.dumps(version.raw, default=str)
        for (resource, _, _), obj in list(cluster.kmock.objects.items())
        if resource.plural != "secrets"
        for version in obj.history
        if version is not None
    ]
    return {
        "request to the API emulator": [
            f"{r.method.value} {r.url}\n{r.body.decode(errors='replace')}" for r in requests
        ],
        "object stored in the API emulator": stored,
        "pod log": list(cluster.pod_logs.values()),
    }


__all__ = ["assert_nowhere", "emulator_texts", "forms", "operator_texts"]
