"""Running the operator against the Kubernetes API emulator (kmock) inside a test.

The operator runs as in production (`controller.main.serve`: kopf, every handler, the work queue) in
its own thread and event loop; kmock serves in pytest's loop. `Cluster` is the test's side: it
applies objects as kubectl would, plays the Job controller and the kubelet (pods and Job status
written by hand, or `run_pod`: a Job's container run as a local process, see kubelet.py), and reads
back objects, Events and every request the operator sent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import kopf

from impala_copy.api.kinds import KINDS
from impala_copy.api.plan import PLAN_ENV
from impala_copy.controller import main as operator_main
from impala_copy.controller.core.constants import (
    LABEL_ACTIVITY,
    LABEL_ATTEMPT,
    LABEL_KIND,
    LABEL_RUN,
    LABEL_STEP,
)
from impala_copy.controller.core.kube import (
    CONFIG_MAPS,
    EVENTS,
    JOBS,
    LEASES,
    NAMESPACES,
    PODS,
    PVCS,
    SECRETS,
    ResourceRef,
)
from impala_copy.controller.core.runtime import Runtime
from impala_copy.controller.core.settings import Settings
from tests.operator import kubelet, manifests
from tests.operator.admission import TEST_AGENT
from tests.operator.kubelet import RunResult

OURS = {
    kind: ResourceRef("impalacopy.io", "v1alpha1", cls.KIND_INFO.plural, kind) for kind, cls in KINDS.items()
}
CORE = {ref.kind: ref for ref in (JOBS, PODS, SECRETS, CONFIG_MAPS, PVCS, EVENTS, NAMESPACES, LEASES)}
ALL = {**OURS, **CORE}
VERBS = ["list", "watch", "get", "patch", "create", "delete"]


def declare_resources(kmock: Any) -> None:
    """What discovery shows: every kind kopf watches, with the verbs kopf needs."""
    for ref in ALL.values():
        kmock.resources[f"{ref.group}/{ref.version}/{ref.plural}" if ref.group else f"v1/{ref.plural}"] = {
            "kind": ref.kind,
            "singular": ref.kind.lower(),
            "namespaced": ref.namespaced,
            "verbs": VERBS,
            "shortnames": [],
            "categories": [],
            "subresources": ["status"]
            if ref.kind not in ("Secret", "ConfigMap", "Event", "Namespace", "Lease")
            else [],
        }


def test_settings(**changes: Any) -> Settings:
    # Connection tests create a Job per linked service: off unless a test turns them on.
    base = Settings(
        liveness_endpoint=None, workers=4, resync_seconds=0, summary_grace_seconds=5.0, connection_tests=False
    )
    return dataclasses.replace(base, **changes)


class OperatorThread:
    """The operator in a thread of its own, pointed at the emulator.

    Every started operator is in `started` until stopped: a test that fails before it stops one still
    gets it stopped at teardown (conftest.py), so no operator outlives its test and its emulator.
    """

    started: ClassVar[list[OperatorThread]] = []

    def __init__(self, url: str, settings: Settings, clock: Callable[[], datetime] | None = None) -> None:
        self.url = url
        self.settings = settings
        self.registry, self.runtime = operator_main.build(settings, login=self._login)
        if clock is not None:
            self.runtime.clock = clock  # the controllers' "now" (schedules' due times)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="operator", daemon=True)
        self.error: BaseException | None = None

    def _login(self, **_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=self.url, insecure=True)

    def _main(self) -> None:
        try:
            asyncio.run(
                operator_main.serve(
                    self.settings, self.registry, stop_flag=self._stop, ready_flag=self._ready
                )
            )
        except BaseException as exc:  # reported by stop()
            self.error = exc

    async def start(self) -> None:
        OperatorThread.started.append(self)
        self._thread.start()
        ready = await asyncio.to_thread(self._ready.wait, 15)
        assert ready, f"the operator did not start: {self.error!r}"

    @property
    def running(self) -> bool:
        """The operator's thread is alive and has not failed."""
        return self._thread.is_alive() and self.error is None

    async def stop(self) -> None:
        if self in OperatorThread.started:
            OperatorThread.started.remove(self)
        self._stop.set()
        await asyncio.to_thread(self._thread.join, 30)
        assert not self._thread.is_alive(), "the operator did not stop within 30 s"
        assert self.error is None, f"the operator failed: {self.error!r}"


def path(kind: str, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
    return ALL[kind].path(namespace, name, sub)


class LogCapture(logging.Handler):
    """Every log record of the process while a test runs (kopf's and ours), formatted in full."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        extra = {
            k: v
            for k, v in record.__dict__.items()
            if k not in logging.LogRecord("", 0, "", 0, "", (), None).__dict__
        }
        self.lines.append(f"{text} {extra!r}" if extra else text)


class Cluster:
    """The test's side of the emulated API server."""

    def __init__(self, kmock: Any) -> None:
        self.kmock = kmock
        self.pod_logs: dict[str, str] = {}  # pod name -> what its process wrote (run_pod)
        self._ran: set[str] = set()  # Jobs whose pod ran to its end

    # ---------------------------------------------------------------- writes, as kubectl would
    async def _call(self, method: str, url: str, body: Any = None) -> dict[str, Any]:
        async with self.kmock.request(method, url, json=body, headers={"User-Agent": TEST_AGENT}) as response:
            payload = await response.json(content_type=None)
            assert response.status < 400, f"{method} {url}: {response.status} {payload}"
            return payload if isinstance(payload, dict) else {}

    async def apply(self, *objs: dict[str, Any]) -> None:
        for obj in objs:
            await self._call("POST", path(obj["kind"], obj["metadata"]["namespace"]), obj)

    async def patch(self, kind: str, name: str, patch: dict[str, Any], namespace: str = manifests.NS) -> None:
        await self._call("PATCH", path(kind, namespace, name), patch)

    async def patch_status(
        self, kind: str, name: str, status: dict[str, Any], namespace: str = manifests.NS
    ) -> None:
        await self._call("PATCH", path(kind, namespace, name, "status"), {"status": status})

    async def delete(self, kind: str, name: str, namespace: str = manifests.NS) -> None:
        await self._call("DELETE", path(kind, namespace, name))

    async def change_spec(
        self, kind: str, name: str, spec: dict[str, Any], namespace: str = manifests.NS
    ) -> int:
        """A spec change, with the generation bump the API server would make; returns the new generation."""
        generation = int(self.get(kind, name, namespace)["metadata"].get("generation", 1)) + 1
        await self.patch(kind, name, {"spec": spec, "metadata": {"generation": generation}}, namespace)
        return generation

    # ---------------------------------------------------------------- reads
    def _ref(self, kind: str) -> Any:
        ref = ALL[kind]
        return self.kmock.resource(ref.group, ref.version, ref.plural)

    def get(self, kind: str, name: str, namespace: str = manifests.NS) -> dict[str, Any]:
        return dict(self.kmock.objects[self._ref(kind), namespace, name].raw)

    def exists(self, kind: str, name: str, namespace: str = manifests.NS) -> bool:
        key = (self._ref(kind), namespace, name)
        return key in self.kmock.objects and not self.kmock.objects[key].deleted

    def all(self, kind: str, namespace: str | None = manifests.NS) -> list[dict[str, Any]]:
        res = self._ref(kind)
        out = []
        for (r, ns, _), obj in self.kmock.objects.items():
            if r == res and (namespace is None or ns == namespace) and not obj.deleted:
                out.append(dict(obj.raw))
        return out

    def jobs(self, namespace: str = manifests.NS) -> list[dict[str, Any]]:
        return sorted(self.all("Job", namespace), key=lambda j: j["metadata"]["name"])

    def jobs_of(self, kind: str, name: str, namespace: str = manifests.NS) -> list[dict[str, Any]]:
        """The Jobs of one object (by the operator's labels), oldest run and attempt first."""
        found = [
            j for j in self.all("Job", namespace)
            if (j["metadata"]["labels"].get(LABEL_KIND), j["metadata"]["labels"].get(LABEL_ACTIVITY)) == (kind, name)
        ]  # fmt: skip
        return sorted(
            found, key=lambda j: (int(j["metadata"]["labels"][LABEL_RUN]), int(j["metadata"]["labels"][LABEL_ATTEMPT]))
        )  # fmt: skip

    def status(self, kind: str, name: str, namespace: str = manifests.NS) -> dict[str, Any]:
        return dict(self.get(kind, name, namespace).get("status") or {})

    def condition(self, kind: str, name: str, type_: str, namespace: str = manifests.NS) -> dict[str, Any]:
        for cond in self.status(kind, name, namespace).get("conditions", []):
            if cond.get("type") == type_:
                return dict(cond)
        return {}

    def events(self, name: str | None = None, namespace: str = manifests.NS) -> list[dict[str, Any]]:
        found = [
            e for e in self.all("Event", namespace) if name is None or e["involvedObject"]["name"] == name
        ]
        return sorted(found, key=lambda e: e["metadata"]["name"])

    def event_reasons(self, name: str) -> list[str]:
        return [e["reason"] for e in self.events(name)]

    def operator_requests(self) -> list[Any]:
        """Every request the operator (kopf and our client) sent, in order."""
        return [r for r in self.kmock if r.headers.get("User-Agent") != TEST_AGENT]

    def secret_requests(self) -> list[str]:
        """Every request of the operator that touched Secrets (there must be none, ever)."""
        return [
            f"{r.method.value} {r.url}"
            for r in self.operator_requests()
            if (r.resource is not None and r.resource.plural == "secrets") or "/secrets" in str(r.url)
        ]

    def job_creations(self) -> list[Any]:
        return [
            r for r in self.operator_requests() if r.method.value == "POST" and r.resource == self._ref("Job")
        ]

    def job_deletions(self) -> list[str]:
        return [
            r.name
            for r in self.operator_requests()
            if r.method.value == "DELETE" and r.resource == self._ref("Job")
        ]

    # ---------------------------------------------------------------- the Job controller and the kubelet
    async def pod(self, job: dict[str, Any], status: dict[str, Any], suffix: str = "x1") -> dict[str, Any]:
        """Create (or update) the pod of `job` with `status`."""
        pod = manifests.pod_for(job, suffix)
        name = pod["metadata"]["name"]
        if self.exists("Pod", name, pod["metadata"]["namespace"]):
            await self.patch_status("Pod", name, status, pod["metadata"]["namespace"])
        else:
            pod["status"] = status
            await self.apply(pod)
        return pod

    async def job_status(self, job: dict[str, Any], status: dict[str, Any]) -> None:
        await self.patch_status("Job", job["metadata"]["name"], status, job["metadata"]["namespace"])

    async def finish(self, job: dict[str, Any], summary: Any, when: str | None = None) -> None:
        """The engine succeeded: pod terminated with the summary, then the Job Complete."""
        await self.pod(job, manifests.terminated(0, summary.to_termination_message()))
        await self.job_status(job, manifests.job_succeeded(when))

    async def finish_with(self, job: dict[str, Any], message: str, when: str | None = None) -> None:
        """The engine succeeded with this termination message (any task's summary); the Job Complete."""
        await self.pod(job, manifests.terminated(0, message))
        await self.job_status(job, manifests.job_succeeded(when))

    async def run_pod(self, job: dict[str, Any], root: Path, claims: Path | None = None) -> RunResult:
        """Play the kubelet for `job`'s pod: run it as a local process (kubelet.py) and report it."""
        result = await kubelet.run_pod(self, job, root, claims=claims)
        if result.started:
            self._ran.add(job["metadata"]["name"])
            self.pod_logs[result.pod] = result.log
        return result

    async def run_indexed(
        self, job: dict[str, Any], root: Path, order: Any = None, claims: Path | None = None
    ) -> list[RunResult]:
        """Play the Job controller and kubelet for every index of an Indexed Job (kubelet.py)."""
        results = await kubelet.run_indexed(self, job, root, order, claims=claims)
        self._ran.add(job["metadata"]["name"])
        self.pod_logs.update({r.pod: r.log for r in results if r.started})
        return results

    async def run_next(
        self, kind: str, name: str, root: Path, namespace: str = manifests.NS, timeout: float = 60.0
    ) -> tuple[dict[str, Any], RunResult]:
        """Wait for a Job of the object whose pod has not run yet, and run it."""
        job = await until(
            lambda: next(
                (j for j in self.jobs_of(kind, name, namespace) if j["metadata"]["name"] not in self._ran),
                None,
            ),
            timeout=timeout,
            what=f"a new Job of {kind} {name!r}",
        )
        return job, await self.run_pod(job, root)

    async def fail(
        self,
        job: dict[str, Any],
        pod_status: dict[str, Any],
        reason: str = "BackoffLimitExceeded",
        message: str = "Job has reached the specified backoff limit",
        when: str | None = None,
    ) -> None:
        await self.pod(job, pod_status)
        await self.job_status(job, manifests.job_failed(reason, message, when))

    # ---------------------------------------------------------------- partitioned copies
    def step_job(self, name: str, step: str, namespace: str = manifests.NS) -> dict[str, Any] | None:
        """The newest Job of a CopyActivity's attempts for one step (plan, copy, commit), or None."""
        found = [
            j for j in self.jobs_of("CopyActivity", name, namespace)
            if j["metadata"]["labels"].get(LABEL_STEP) == step
        ]  # fmt: skip
        return found[-1] if found else None

    async def index_pod(
        self, job: dict[str, Any], index: int, status: dict[str, Any], suffix: str = "x1"
    ) -> dict[str, Any]:
        """Create (or update) the pod of one index of an Indexed Job with `status`."""
        pod = manifests.indexed_pod_for(job, index, suffix)
        name = pod["metadata"]["name"]
        if self.exists("Pod", name, pod["metadata"]["namespace"]):
            await self.patch_status("Pod", name, status, pod["metadata"]["namespace"])
        else:
            pod["status"] = status
            await self.apply(pod)
        return pod

    async def indexes_done(
        self,
        job: dict[str, Any],
        summaries: dict[int, Any],
        failed: dict[int, Any] | None = None,
        when: str | None = None,
    ) -> None:
        """Indexes ended: each one's pod terminated with its summary (or failure message), then the Job's
        status as the Job controller writes it (completedIndexes, failedIndexes, conditions)."""
        for index, summary in summaries.items():
            await self.index_pod(job, index, manifests.terminated(0, summary.to_termination_message()))
        for index, summary in (failed or {}).items():
            await self.index_pod(job, index, manifests.terminated(1, summary.to_termination_message()))
        completions = int(job["spec"]["completions"])
        active = completions - len(summaries) - len(failed or {})
        status = manifests.indexed_job_status(completions, summaries, failed or {}, active=active, when=when)
        await self.job_status(job, status)


# The only variables of a Job's container that carry a value; every other one is a secretKeyRef.
PLAIN_ENV = (PLAN_ENV, "PYTHONUNBUFFERED", "TMPDIR", "HOME")


def secret_env(job: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """env name -> (Secret, key) of every secretKeyRef; asserts no other variable than PLAIN_ENV has a value."""
    [container] = job["spec"]["template"]["spec"]["containers"]
    refs: dict[str, tuple[str, str]] = {}
    for var in container["env"]:
        if "valueFrom" in var:
            assert set(var["valueFrom"]) == {"secretKeyRef"}, var
            ref = var["valueFrom"]["secretKeyRef"]
            refs[var["name"]] = (ref["name"], ref["key"])
        else:
            assert var["name"] in PLAIN_ENV, var
    return refs


async def until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Wait for `predicate()` to be truthy (an upper bound for slow machines, not a timing check)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.05)


async def settle(cluster: Cluster, quiet: float = 0.4) -> None:
    """Wait until the operator sends no request for `quiet` seconds (its reaction is complete)."""
    last = -1
    stable_since = time.monotonic()
    deadline = stable_since + 15
    while time.monotonic() < deadline:
        count = len(cluster.operator_requests())
        if count != last:
            last, stable_since = count, time.monotonic()
        elif time.monotonic() - stable_since >= quiet:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the operator kept sending requests for 15 s")


async def start_operator(
    kmock: Any, settings: Settings | None = None, clock: Callable[[], datetime] | None = None
) -> OperatorThread:
    operator = OperatorThread(str(kmock.url).rstrip("/"), settings or test_settings(), clock)
    await operator.start()
    # Objects created before kopf's watches are open would be replayed: wait for every watch.
    watched = {ALL[k].plural for k in (*OURS_RECONCILED, "Job", "Pod", "ConfigMap", "PersistentVolumeClaim")}
    await until(
        lambda: (
            watched <= {r.resource.plural for r in kmock if r.action == kmock.action.WATCH and r.resource}
        ),
        what="kopf's watches",
    )
    await asyncio.sleep(0.1)
    return operator


OURS_RECONCILED = (
    "ImpalaLinkedService",
    "ImpalaDataset",
    "AmazonS3LinkedService",
    "AzureBlobStorageLinkedService",
    "PostgreSqlLinkedService",
    "ParquetDataset",
    "DelimitedTextDataset",
    "JsonDataset",
    "PostgreSqlTableDataset",
    "CopyActivity",
    "LookupActivity",
)


def runtime_of(operator: OperatorThread) -> Runtime:
    return operator.runtime


def printer_columns(obj: dict[str, Any]) -> dict[str, Any]:
    """What `kubectl get` shows for `obj`: each printer column's JSONPath evaluated on it.

    Understands the paths the CRDs use: `.a.b.c` and `.a[?(@.key=="value")].b`.
    """
    import re

    columns = KINDS[obj["kind"]].KIND_INFO.printer_columns
    result: dict[str, Any] = {}
    for column in columns:
        value: Any = obj
        for part in re.findall(r'\.([A-Za-z]+)(?:\[\?\(@\.(\w+)=="([^"]*)"\)\])?', column["jsonPath"]):
            name, key, wanted = part
            value = value.get(name) if isinstance(value, dict) else None
            if key:
                value = next((item for item in value or [] if item.get(key) == wanted), None)
        result[column["name"]] = value
    return result
