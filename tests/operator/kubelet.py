"""A kubelet and Job controller stand-in: run a Job's pod as a local process and report it.

`run_pod(cluster, job, root)` does for one pod of `job` what the kubelet and the Job controller would:
resolve each env `secretKeyRef` / `configMapKeyRef` from the objects in the API emulator (a missing
Secret, ConfigMap or key leaves the container waiting with `CreateContainerConfigError` and the
kubelet's exact message, and nothing runs), materialise the volumes under `root` (ConfigMap and
Secret items as files, with their modes, a PersistentVolumeClaim as a folder) and point the plan's mount paths at them
(the only change made to what the pod gets), run the container's command, then write the pod
terminated with its termination message (the file, or the log's tail on error as
`FallbackToLogsOnError` does) and exit code, the Job Complete or Failed, and serve the process's
stdout and stderr as the pod's log.

`run_indexed(cluster, job, root)` does the same for every index of an Indexed Job (a partitioned copy's
copy step), one after the other in the order given: each index's pod gets `JOB_COMPLETION_INDEX` and the
completion-index annotation, an index that fails is run again in a new pod up to
`backoffLimitPerIndex` times, a configuration error (exit code 2) fails the Job at once (the Job's
podFailurePolicy FailJob) and an index failed for good fails it too (`maxFailedIndexes: 0`); the
Job's status lists completedIndexes and failedIndexes as the Job controller writes them. With
`claims`, a PersistentVolumeClaim is one folder per claim under it, shared by every pod that mounts it.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from impala_copy.api.partitions import PARTITION_INDEX_ENV
from impala_copy.api.plan import PLAN_ENV
from impala_copy.controller.core.kube import PODS
from impala_copy.engine.main import TERMINATION_LOG_ENV
from tests.operator import manifests

if TYPE_CHECKING:
    from tests.operator.harness import Cluster

# The kubelet keeps at most this much of a termination message, and of the log's tail as a fallback.
TERMINATION_MESSAGE_LIMIT = 4096
FALLBACK_LOG_LINES = 80
# What the test process passes on to the engine besides the pod's env (its interpreter and Java).
PASSED_ON = ("PATH", "LANG", "JAVA_HOME", "PYTHONPATH")
POD_SUFFIX = "x1"


@dataclass(frozen=True)
class RunResult:
    """What became of one pod: the container's end (exit code, message, log) or why it did not start."""

    pod: str
    exit_code: int | None = None  # None: the container never started
    termination_message: str = ""
    log: str = ""
    waiting_message: str = ""  # the kubelet's CreateContainerConfigError message

    @property
    def started(self) -> bool:
        return self.exit_code is not None


class ContainerConfigError(Exception):
    """A Secret, ConfigMap or key the container needs is missing (the kubelet's words)."""


def _key_bytes(cluster: Cluster, kind: str, namespace: str, name: str) -> dict[str, bytes]:
    """The data of a Secret or ConfigMap as bytes (a Secret's may be binary, e.g. a keytab), or
    ContainerConfigError in the kubelet's words."""
    if not cluster.exists(kind, name, namespace):
        raise ContainerConfigError(f'{kind.lower()} "{name}" not found')
    obj = cluster.get(kind, name, namespace)
    if kind == "Secret":
        return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    return {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}


def _key_data(cluster: Cluster, kind: str, namespace: str, name: str) -> dict[str, str]:
    """The decoded data of a Secret or ConfigMap, or ContainerConfigError in the kubelet's words."""
    return {k: v.decode() for k, v in _key_bytes(cluster, kind, namespace, name).items()}


def _env_value(cluster: Cluster, namespace: str, source: dict[str, Any]) -> str:
    kind, ref = ("Secret", source["secretKeyRef"]) if "secretKeyRef" in source else (
        "ConfigMap", source["configMapKeyRef"])  # fmt: skip
    data = _key_data(cluster, kind, namespace, ref["name"])
    if ref["key"] not in data:
        raise ContainerConfigError(f"couldn't find key {ref['key']} in {kind} {namespace}/{ref['name']}")
    return data[ref["key"]]


def _materialise(cluster: Cluster, namespace: str, volume: dict[str, Any], local: Path) -> None:
    """Write a volume's files under `local` (an optional Secret that is missing mounts empty)."""
    if "configMap" in volume:
        kind, name, source = "ConfigMap", volume["configMap"]["name"], volume["configMap"]
    elif "secret" in volume:
        kind, name, source = "Secret", volume["secret"]["secretName"], volume["secret"]
    else:
        return  # a PersistentVolumeClaim is the empty folder itself
    try:
        data = _key_bytes(cluster, kind, namespace, name)
    except ContainerConfigError:
        if source.get("optional"):
            return
        raise
    for item in source.get("items") or [{"key": k, "path": k} for k in data]:
        if item["key"] in data:
            file = local / item["path"]
            file.unlink(missing_ok=True)  # a pod run again: the earlier file may be read-only
            file.write_bytes(data[item["key"]])
            file.chmod(item.get("mode", source.get("defaultMode", 0o644)))
        elif not source.get("optional"):
            raise ContainerConfigError(f"couldn't find key {item['key']} in {kind} {namespace}/{name}")


def kubelet_env(
    cluster: Cluster, job: dict[str, Any], root: Path, claims: Path | None = None
) -> tuple[list[str], dict[str, str]]:
    """What the kubelet would give the container: its argv, and env with secrets and mounts in place
    (a claim's folder under `claims` when given, shared by the pods that mount it).

    Raises ContainerConfigError (with the kubelet's message) when a Secret, ConfigMap or key is missing.
    """
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    namespace = job["metadata"]["namespace"]
    env: dict[str, str] = {}
    for var in container.get("env", []):
        env[var["name"]] = (
            var["value"] if "value" in var else _env_value(cluster, namespace, var["valueFrom"])
        )
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    moved: dict[str, str] = {}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        if "emptyDir" in volume:
            continue  # /tmp stays the machine's /tmp
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        local = claims / claim if claims is not None and claim else root / "mounts" / mount["name"]
        local.mkdir(parents=True, exist_ok=True)
        _materialise(cluster, namespace, volume, local)
        moved[mount["mountPath"]] = str(local)
    for pod_path, local_path in moved.items():
        env[PLAN_ENV] = env[PLAN_ENV].replace(f'"{pod_path}', f'"{local_path}')
    env[TERMINATION_LOG_ENV] = str(root / "termination-log")
    executable = (
        shutil.which(container["command"][0], path=str(Path(sys.executable).parent))
        or container["command"][0]
    )
    return [executable, *container["command"][1:], *container.get("args", [])], env


def _termination_message(root: Path, exit_code: int, log: str) -> str:
    path = root / "termination-log"
    message = path.read_text() if path.exists() else ""
    if not message and exit_code != 0:  # terminationMessagePolicy: FallbackToLogsOnError
        message = "\n".join(log.splitlines()[-FALLBACK_LOG_LINES:])
    return message.encode()[:TERMINATION_MESSAGE_LIMIT].decode("utf-8", "ignore")


def _job_end(exit_code: int) -> dict[str, Any]:
    if exit_code == 0:
        return manifests.job_succeeded()
    if exit_code == 2:  # the Job's podFailurePolicy: a configuration error fails the Job at once
        return manifests.job_failed("PodFailurePolicy", "Container engine failed with exit code 2")
    return manifests.job_failed("BackoffLimitExceeded", "Job has reached the specified backoff limit")


async def _execute(argv: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    base = {k: v for k, v in os.environ.items() if k in PASSED_ON}
    process = await asyncio.create_subprocess_exec(
        *argv, env=base | env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"the pod's process ran longer than {timeout} s") from None
    assert process.returncode is not None
    return process.returncode, output.decode("utf-8", "replace")


async def run_pod(
    cluster: Cluster, job: dict[str, Any], root: Path, timeout: float = 300.0, claims: Path | None = None
) -> RunResult:
    """Run `job`'s pod once (again, for a pod left waiting) and report it as the kubelet would."""
    pod_name = manifests.pod_for(job, POD_SUFFIX)["metadata"]["name"]

    async def report(status: dict[str, Any]) -> None:
        await cluster.pod(job, status, POD_SUFFIX)
        if status["phase"] in ("Pending", "Running"):  # waiting or running: the Job is active
            await cluster.job_status(job, manifests.job_active())

    result = await _run(cluster, job, root / pod_name, pod_name, report, {}, timeout, claims)
    if result.exit_code is not None:
        await cluster.job_status(job, _job_end(result.exit_code))
    return result


async def _run(
    cluster: Cluster,
    job: dict[str, Any],
    root: Path,
    pod_name: str,
    report: Callable[[dict[str, Any]], Awaitable[None]],
    extra_env: dict[str, str],
    timeout: float,
    claims: Path | None,
) -> RunResult:
    """One pod of `job`: its container run as a local process, its status reported through `report`."""
    namespace = job["metadata"]["namespace"]
    root.mkdir(parents=True, exist_ok=True)
    try:
        argv, env = kubelet_env(cluster, job, root, claims)
    except ContainerConfigError as exc:
        await report(manifests.waiting("CreateContainerConfigError", str(exc)))
        return RunResult(pod=pod_name, waiting_message=str(exc))
    await report(manifests.running())
    exit_code, log = await _execute(argv, env | extra_env, timeout)
    cluster.kmock[f"get {PODS.path(namespace, pod_name, 'log')}"] << log.encode()
    message = _termination_message(root, exit_code, log)
    await report(manifests.terminated(exit_code, message))
    return RunResult(pod=pod_name, exit_code=exit_code, termination_message=message, log=log)


async def run_indexed(
    cluster: Cluster,
    job: dict[str, Any],
    root: Path,
    order: Sequence[int] | None = None,
    timeout: float = 300.0,
    claims: Path | None = None,
) -> list[RunResult]:
    """Run every index of an Indexed Job (in `order`), with per-index retries, and report the Job. A pod
    that cannot start leaves the Job active (as the kubelet would, until the Secret exists)."""
    spec = job["spec"]
    completions, retries = int(spec["completions"]), int(spec.get("backoffLimitPerIndex") or 0)
    done: set[int] = set()
    results: list[RunResult] = []
    for index in order if order is not None else range(completions):
        for attempt in range(retries + 1):
            result = await _run_index(cluster, job, root, index, attempt, timeout, claims)
            results.append(result)
            if result.exit_code in (0, 2, None):
                break
        failed_pods = sum(1 for r in results if r.exit_code not in (0, None))
        if result.exit_code == 0:
            done.add(index)
        status = manifests.indexed_job_status(
            completions, done, {index} if result.exit_code not in (0, None) else (), active=1
        )
        if failed_pods:
            status["failed"] = failed_pods
        if result.exit_code == 2:  # podFailurePolicy FailJob: the whole Job, at once
            ended = manifests.job_failed("PodFailurePolicy", "Container engine failed with exit code 2")
            status["conditions"] = ended["conditions"]
        if result.exit_code != 0 or len(done) == completions:
            status["active"] = 1 if result.exit_code is None else 0
            await cluster.job_status(job, status)
            return results
        await cluster.job_status(job, status)
    return results


async def _run_index(
    cluster: Cluster,
    job: dict[str, Any],
    root: Path,
    index: int,
    attempt: int,
    timeout: float,
    claims: Path | None,
) -> RunResult:
    suffix = f"x{attempt + 1}"
    pod_name = manifests.indexed_pod_for(job, index, suffix)["metadata"]["name"]

    async def report(status: dict[str, Any]) -> None:
        await cluster.index_pod(job, index, status, suffix)

    extra = {PARTITION_INDEX_ENV: str(index)}
    return await _run(cluster, job, root / pod_name, pod_name, report, extra, timeout, claims)


__all__ = ["ContainerConfigError", "RunResult", "kubelet_env", "run_indexed", "run_pod"]
