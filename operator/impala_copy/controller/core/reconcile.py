"""Reconciling one object: its kind's controller plans (no I/O), this executor applies the plan.

`Reconciler.reconcile(key)` finds the object in the cluster view, asks the controller registered for
its kind (core/registry.py) for `Actions`, and applies them through kube.py: the Job to create, the
status (one writer for every kind: a JSON merge patch of what changed), a result ConfigMap the object
owns, the Jobs beyond the history limits, the Events (one poster). When a controller needs a pod's
log first, it is read (bounded) and the object is planned again.

What is remembered only speeds things up (Jobs just created but not yet seen, the status last
written, logs read, which objects refer to which): everything decided can be decided again from the
cluster after a restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from impala_copy.controller.core.controller import Actions, KindController, PlanContext
from impala_copy.controller.core.dependents import Dependents, ObjectKey
from impala_copy.controller.core.events import EventPoster
from impala_copy.controller.core.kube import CONFIG_MAPS, JOBS, OURS, ApiError, KubeClient
from impala_copy.controller.core.metrics import Metrics
from impala_copy.controller.core.records import JobRecord, Meta, as_dict, job_record, owned_by
from impala_copy.controller.core.refusals import refusal_event, refused_status
from impala_copy.controller.core.settings import Settings
from impala_copy.controller.core.status import EventSpec, merge_patch
from impala_copy.controller.core.timeutil import utcnow
from impala_copy.controller.core.view import ClusterView

log = logging.getLogger("impala_copy.controller")

EXPECTATION_SECONDS = 120.0
LOG_CACHE_SIZE = 64  # logs kept (by pod) between reading and storing the output they carry


class Reconciler:
    """Applies plans through the API client; one call per object key at a time (the work queue sees to it)."""

    def __init__(
        self,
        client: KubeClient,
        settings: Settings,
        view: ClusterView,
        *,
        controllers: Mapping[str, KindController],
        clock: Callable[[], datetime] = utcnow,
        metrics: Metrics | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.view = view
        self.controllers = dict(controllers)
        self.clock = clock
        self.metrics = metrics or Metrics()
        self.dependents = Dependents()
        self.events = EventPoster(client, settings.pod_name)
        self._expected: dict[ObjectKey, dict[str, tuple[JobRecord, float]]] = {}
        self._deleted: dict[ObjectKey, dict[str, float]] = {}  # Jobs deleted, still in the view
        self._written: dict[ObjectKey, dict[str, Any]] = {}
        self._logs: dict[ObjectKey, dict[str, str]] = {}
        self._notes: dict[ObjectKey, dict[str, str]] = {}
        self._refusals: dict[ObjectKey, set[EventSpec]] = {}  # refusals told (log, Event) and still on

    def reset_memory(self) -> None:
        """Forget what was remembered of every object (statuses written, Jobs expected, refusals told):
        another replica may have acted since; the cluster says what is true."""
        for memory in (self._expected, self._deleted, self._written, self._notes, self._refusals):
            memory.clear()

    def forget(self, key: ObjectKey) -> None:
        self.dependents.forget(key)
        for memory in (self._expected, self._deleted, self._written, self._logs, self._notes, self._refusals):
            memory.pop(key, None)
        self.metrics.forget(*key)

    async def reconcile(self, key: ObjectKey) -> float | None:
        """Reconcile one object; returns when to look again (seconds), if anything is pending."""
        kind, namespace, name = key
        body = self.view.object(kind, namespace, name)
        controller = self.controllers.get(kind)
        if body is None or controller is None:
            self.forget(key)
            return None
        old = self._old_status(key, body)
        actions = controller.plan(body, self._context(key, old))
        if actions.read_log is not None:
            await self._read_log(key, actions)
            actions = controller.plan(body, self._context(key, old))
        self.dependents.record(key, actions.refs)
        if not await self._apply(key, body, actions, old):
            return 0.0  # something could not be stored: plan again at once (a note says why)
        return actions.recheck_after

    def _context(self, key: ObjectKey, old: Mapping[str, Any]) -> PlanContext:
        return PlanContext(
            view=self.view,
            old_status=old,
            settings=self.settings,
            now=self.clock(),
            extra_jobs=self._expected_jobs(key),
            logs=self._logs.get(key, {}),
            notes=self._notes.get(key, {}),
        )

    def _old_status(self, key: ObjectKey, body: Mapping[str, Any]) -> dict[str, Any]:
        """The newest status known: what this operator last wrote, else what the object shows."""
        written = self._written.get(key)
        return dict(written) if written is not None else dict(as_dict(body.get("status")))

    def _expected_jobs(self, key: ObjectKey) -> list[JobRecord]:
        expected = self._expected.get(key)
        if not expected:
            return []
        seen = {job.name for job in self.view.jobs_of(key[1], key[2], key[0])}
        cutoff = time.monotonic() - EXPECTATION_SECONDS
        for job_name, (_, since) in list(expected.items()):
            if job_name in seen or since < cutoff:
                del expected[job_name]
        if not expected:
            self._expected.pop(key, None)
        return [record for record, _ in expected.values()]

    def _not_deleted_yet(self, key: ObjectKey, job_names: tuple[str, ...]) -> list[str]:
        """The Jobs of `job_names` this operator has not deleted already: a deleted Job stays in the view
        until its DELETED event arrives, and reconciliations meanwhile would delete it again."""
        deleted = self._deleted.get(key)
        if not deleted:
            return list(job_names)
        seen = {job.name for job in self.view.jobs_of(key[1], key[2], key[0])}
        cutoff = time.monotonic() - EXPECTATION_SECONDS
        for job_name, since in list(deleted.items()):
            if job_name not in seen or since < cutoff:
                del deleted[job_name]
        if not deleted:
            self._deleted.pop(key, None)
        return [name for name in job_names if name not in deleted]

    async def _read_log(self, key: ObjectKey, actions: Actions) -> None:
        request = actions.read_log
        assert request is not None
        try:
            text = await self.client.pod_log(key[1], request.pod, request.container, request.limit_bytes)
        except ApiError as exc:
            text = ""  # decoding fails and names the problem; a later reconciliation reads again
            log.warning("%s/%s: could not read the log of pod %s: %s", key[1], key[2], request.pod, exc)
        logs = self._logs.setdefault(key, {})
        logs[request.pod] = text
        while len(logs) > LOG_CACHE_SIZE:
            logs.pop(next(iter(logs)))

    # ---------------------------------------------------------------- applying
    async def _apply(
        self, key: ObjectKey, body: Mapping[str, Any], actions: Actions, old_status: Mapping[str, Any]
    ) -> bool:
        """Apply the actions; False when a result could not be stored (the next plan fails the run)."""
        if actions.create is not None:
            await self._create_job(key, body, actions.create)
        if actions.config_map is not None and not await self._store_config_map(key, body, actions):
            return False
        written = actions.status is None or not actions.status_patch
        if not written and not await self._write_status(key, body, actions):
            return True  # the object is gone
        if actions.status is not None:
            # Counted from the status now in effect: a write that changed nothing counts nothing.
            self.metrics.status_changed(*key, old_status, actions.status, actions.runs)
        if actions.drop_config_map is not None:
            await self._drop_config_map(key, body, actions.drop_config_map)
        for job_name in self._not_deleted_yet(key, actions.delete):
            if await self.client.delete(JOBS, key[1], job_name):
                log.info("%s/%s: deleted Job %s (history limit)", key[1], key[2], job_name)
            self._deleted.setdefault(key, {})[job_name] = time.monotonic()
        for event in actions.events:
            await self.events.post(key[0], body, event, self.clock())
        return True

    async def _create_job(self, key: ObjectKey, body: Mapping[str, Any], job: dict[str, Any]) -> None:
        namespace, name = key[1], key[2]
        job_name = job["metadata"]["name"]
        try:
            await self.client.create(JOBS, namespace, job)
            log.info("%s/%s: created Job %s", namespace, name, job_name)
            self._refusals.pop(key, None)
        except ApiError as exc:
            if exc.namespace_terminating:
                log.debug("%s/%s: no Job in a namespace being deleted", namespace, name)
                return
            if not exc.conflict:
                if not exc.throttled:
                    await self._refused_create(key, body, f"create Job {job_name}", exc)
                raise  # the work queue tries again, with backoff
            log.info("%s/%s: Job %s exists already", namespace, name, job_name)
        record = job_record(job)
        assert record is not None
        self._expected.setdefault(key, {})[job_name] = (record, time.monotonic())

    async def _refused_create(
        self, key: ObjectKey, body: Mapping[str, Any], what: str, exc: ApiError
    ) -> None:
        """Tell in status (the refusal's condition) and a Warning Event that the API server refused `what`."""
        old = self._old_status(key, body)
        status = refused_status(key[0], old, what, exc, Meta.of(body).generation, self.clock())
        patch = merge_patch(old, status)
        try:
            if patch:  # a retry that meets the same answer writes nothing (and wakes no watcher)
                await self.client.patch_status(OURS[key[0]], key[1], key[2], patch)
            self._written[key] = status
        except ApiError as write_error:
            if write_error.not_found:
                self.forget(key)
                return  # the object is gone: nothing to tell
            if not write_error.transient:
                await self._tell_refusal(key, body, refusal_event("write the status", write_error))
        await self._tell_refusal(key, body, refusal_event(what, exc))

    async def _tell_refusal(self, key: ObjectKey, body: Mapping[str, Any], event: EventSpec) -> None:
        """Log and post a refusal once: the retries that meet the same answer add nothing."""
        told = self._refusals.setdefault(key, set())
        if event in told:
            return
        told.add(event)
        log.warning("%s/%s: %s", key[1], key[2], event.message)
        await self.events.post(key[0], body, event, self.clock())

    async def _write_status(self, key: ObjectKey, body: Mapping[str, Any], actions: Actions) -> bool:
        """The one status writer: a JSON merge patch of what changed. False when the object is gone."""
        kind, namespace, name = key
        try:
            if "status" in body and not isinstance(body["status"], dict):
                # A status that is not an object (written around the schema): clear it first.
                await self.client.patch_status(OURS[kind], namespace, name, None)
            await self.client.patch_status(OURS[kind], namespace, name, actions.status_patch)
        except ApiError as exc:
            if exc.not_found:
                self.forget(key)
                return False
            # The status cannot tell it: the log and an Event do; the work queue tries again.
            if not exc.transient:
                await self._tell_refusal(key, body, refusal_event("write the status", exc))
            raise
        assert actions.status is not None
        self._written[key] = actions.status
        self._refusals.pop(key, None)
        return True

    async def _owned_config_map(self, key: ObjectKey, body: Mapping[str, Any], name: str) -> bool | None:
        """Whether the ConfigMap exists and carries the object's ownerReference (None: it does not exist)."""
        try:
            existing = await self.client.get(CONFIG_MAPS, key[1], name)
        except ApiError as exc:
            if exc.not_found:
                return None
            raise
        return owned_by(existing, Meta.of(body).uid)

    async def _store_config_map(self, key: ObjectKey, body: Mapping[str, Any], actions: Actions) -> bool:
        """Create or replace a result ConfigMap; never one the object does not own."""
        config_map = actions.config_map
        assert config_map is not None
        name = config_map["metadata"]["name"]
        owned = await self._owned_config_map(key, body, name)
        try:
            if owned is None:
                await self.client.create(CONFIG_MAPS, key[1], config_map)
                return True
            if owned:
                patch = {
                    "metadata": {k: config_map["metadata"][k] for k in ("labels", "annotations")},
                    "data": config_map.get("data") or {"output.json": None},
                    "binaryData": config_map.get("binaryData") or {"output.json.gz": None},
                }
                await self.client.patch(CONFIG_MAPS, key[1], name, patch)
                return True
            problem = (
                f"ConfigMap {name!r} exists and does not belong to {key[0]} {key[2]!r}: "
                "rename or delete it, then run the lookup again"
            )
        except ApiError as exc:
            problem = f"could not write ConfigMap {name!r}: {exc.reason or exc.status}"
        job = as_dict(as_dict(actions.status).get("lastRun")).get("jobName")
        self._notes.setdefault(key, {})[str(job)] = problem
        log.warning("%s/%s: %s", key[1], key[2], problem)
        return False

    async def _drop_config_map(self, key: ObjectKey, body: Mapping[str, Any], name: str) -> None:
        try:
            if await self._owned_config_map(key, body, name):
                await self.client.delete(CONFIG_MAPS, key[1], name)
        except ApiError as exc:
            log.warning("%s/%s: could not delete ConfigMap %s: %s", key[1], key[2], name, exc)


__all__ = ["EXPECTATION_SECONDS", "ObjectKey", "Reconciler"]
