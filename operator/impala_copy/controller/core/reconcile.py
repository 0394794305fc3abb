"""Reconciling one object: a pure plan of what to do, then a thin executor that does it.

`plan_copy_activity` and `plan_ready_object` decide from the cluster view and the clock (no I/O):
the Job to create, the status to write, the Jobs to delete, the Events to post, when to look again.
`Reconciler` gathers the inputs, applies the plan through kube.py, and remembers only what speeds it
up (Jobs just created but not yet seen, the status last written, which objects refer to which):
everything it decides can be decided again from the cluster after a restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from impala_copy.api.activities import CopyActivity
from impala_copy.controller.core.constants import ANNOTATION_RUN_NOW, ConditionType, Reason
from impala_copy.controller.core.events import Involved, event_body
from impala_copy.controller.core.job import JobOwner, build_job
from impala_copy.controller.core.kube import JOBS, OURS, ApiError, KubeClient
from impala_copy.controller.core.metrics import Metrics
from impala_copy.controller.core.outcome import FAILED, RUNNING, SUCCEEDED, AttemptOutcome, attempt_outcome
from impala_copy.controller.core.readiness import copy_activity_readiness, object_readiness
from impala_copy.controller.core.records import JobRecord, Meta, as_dict, job_record
from impala_copy.controller.core.runs import (
    Attempt,
    RunPolicy,
    Wanted,
    attempt_from_status,
    latest_attempt,
    which_run,
)
from impala_copy.controller.core.settings import Settings
from impala_copy.controller.core.status import (
    CopyStatusInputs,
    EventSpec,
    copy_activity_status,
    merge_patch,
    ready_events,
    ready_status,
    status_events,
)
from impala_copy.controller.core.timeutil import parse_time, utcnow
from impala_copy.controller.core.view import ClusterView, ViewCatalog
from impala_copy.controller.lookups import Lookups
from impala_copy.controller.probes import Probes

log = logging.getLogger("impala_copy.controller")

ObjectKey = tuple[str, str, str]  # kind, namespace, name
RefKey = tuple[str, str, str]  # namespace, kind, name


# ------------------------------------------------------------------ pure planning
@dataclass(frozen=True)
class Actions:
    """What one reconciliation does."""

    status: dict[str, Any] | None = None  # the new status (None: leave it)
    status_patch: dict[str, Any] = field(default_factory=dict)
    create: dict[str, Any] | None = None  # a Job manifest
    delete: tuple[str, ...] = ()  # Job names
    events: tuple[EventSpec, ...] = ()
    recheck_after: float | None = None  # seconds
    refs: frozenset[tuple[str, str]] = frozenset()  # (kind, name) looked at


def attempt_of(job: JobRecord, view: ClusterView) -> Attempt:
    return Attempt(
        run_number=job.run_number,
        attempt=job.attempt,
        generation=job.generation,
        run_now=job.run_now,
        trigger=job.trigger,
        job_name=job.name,
        outcome=attempt_outcome(job, view.pods_of(job.namespace, job.name)),
    )


def _hold_for_summary(attempt: Attempt, now: datetime, grace: float) -> tuple[Attempt, float | None]:
    """A finished attempt whose pod has not been seen yet stays Running for a short grace period."""
    outcome = attempt.outcome
    if not outcome.finished or not outcome.summary_missing:
        return attempt, None
    finished = parse_time(outcome.completion_time)
    waited = (now - finished).total_seconds() if finished else grace
    if waited >= grace:
        return attempt, None
    held = AttemptOutcome(
        state=RUNNING,
        reason=Reason.JOB_RUNNING,
        message="the Job finished; waiting for its pod's run summary",
        start_time=outcome.start_time,
    )
    return replace(attempt, outcome=held), grace - waited


def _history_to_delete(
    attempts: Sequence[Attempt], jobs: Mapping[str, JobRecord], keep_succeeded: int, keep_failed: int
) -> tuple[str, ...]:
    """Finished Jobs beyond the history limits (newest kept), never one still being deleted."""
    finished = sorted(
        (a for a in attempts if a.job_name in jobs and a.outcome.finished and not jobs[a.job_name].deleting),
        key=lambda a: a.key,
        reverse=True,
    )
    succeeded = [a.job_name for a in finished if a.outcome.state == SUCCEEDED]
    failed = [a.job_name for a in finished if a.outcome.state == FAILED]
    return tuple(succeeded[keep_succeeded:] + failed[keep_failed:])


def _limits(activity: CopyActivity | None, settings: Settings) -> tuple[int, int]:
    if activity is None:
        return settings.job.successful_jobs_history_limit, settings.job.failed_jobs_history_limit
    spec = activity.spec
    written = spec.model_fields_set
    ok = (
        spec.successful_jobs_history_limit
        if "successful_jobs_history_limit" in written
        else settings.job.successful_jobs_history_limit
    )
    bad = (
        spec.failed_jobs_history_limit
        if "failed_jobs_history_limit" in written
        else settings.job.failed_jobs_history_limit
    )
    return ok, bad


def plan_copy_activity(
    body: Mapping[str, Any],
    view: ClusterView,
    *,
    old_status: Mapping[str, Any],
    settings: Settings,
    now: datetime,
    extra_jobs: Sequence[JobRecord] = (),
) -> Actions:
    """Everything one reconciliation of a CopyActivity does, decided from what is observed."""
    old_status = as_dict(old_status)
    meta = Meta.of(body)
    catalog = ViewCatalog(view, meta.namespace)
    checked = copy_activity_readiness(body, catalog)
    refs = frozenset(catalog.seen)
    if meta.deleting:
        return Actions(refs=refs)
    activity = checked.activity

    # The attempts seen: our Jobs (this incarnation), Jobs just created, and status.lastRun.
    jobs: dict[str, JobRecord] = {}
    for job in [*view.jobs_of(meta.namespace, meta.name), *extra_jobs]:
        if meta.uid is None or job.owner_uid in (None, meta.uid):
            jobs.setdefault(job.name, job)
    attempts = [attempt_of(job, view) for job in jobs.values()]
    recorded = attempt_from_status(old_status, now)
    newest = latest_attempt(attempts)
    if recorded is not None and (newest is None or recorded.key > newest.key):
        attempts.append(recorded)

    recheck: list[float] = []
    held: list[Attempt] = []
    for attempt in attempts:
        attempt, wait = _hold_for_summary(attempt, now, settings.summary_grace_seconds)
        held.append(attempt)
        if wait is not None:
            recheck.append(wait)
    attempts = held

    policy = activity.spec.policy if activity is not None else None
    wanted = Wanted(
        generation=meta.generation,
        run_now=meta.annotations.get(ANNOTATION_RUN_NOW),
        policy=RunPolicy(policy.retry, policy.retry_interval_in_seconds) if policy else RunPolicy(),
        ready=checked.readiness.ready,
    )
    decision = which_run(wanted, attempts, now)

    create: dict[str, Any] | None = None
    if decision.start is not None and checked.plan is not None and activity is not None:
        start = decision.start
        plan = checked.plan.model_copy(update={"run_id": start.run_id})
        owner = JobOwner(name=meta.name, namespace=meta.namespace, uid=meta.uid, settings=activity.spec.job)
        create = build_job(plan, owner, settings.job, start)
        created = job_record(create)
        assert created is not None
        attempts.append(attempt_of(created, view))
        decision = which_run(wanted, attempts, now)
    if decision.retry_at is not None:
        recheck.append(max(0.0, (decision.retry_at - now).total_seconds()))

    secure = bool(policy and policy.secure_output)
    status = copy_activity_status(
        CopyStatusInputs(
            old=old_status,
            generation=meta.generation,
            readiness=checked.readiness,
            decision=decision,
            attempts=attempts,
            secure_output=secure,
            now=now,
        )
    )
    keep_ok, keep_bad = _limits(activity, settings)
    delete = _history_to_delete(attempts, jobs, keep_ok, keep_bad)
    return Actions(
        status=status,
        status_patch=merge_patch(old_status, status),
        create=create,
        delete=delete,
        events=tuple(status_events(old_status, status)),
        recheck_after=min(recheck) if recheck else None,
        refs=refs,
    )


def plan_ready_object(
    body: Mapping[str, Any], view: ClusterView, *, old_status: Mapping[str, Any], now: datetime
) -> Actions:
    """The Ready condition of a linked service or dataset."""
    old_status = as_dict(old_status)
    meta = Meta.of(body)
    catalog = ViewCatalog(view, meta.namespace)
    readiness = object_readiness(body, catalog)
    refs = frozenset(catalog.seen)
    if meta.deleting:
        return Actions(refs=refs)
    new = ready_status(old_status, readiness, meta.generation, now)
    mine: dict[str, Any] = {k: old_status[k] for k in ("observedGeneration", "conditions") if k in old_status}
    return Actions(
        status=new,
        status_patch=merge_patch(mine, new),
        events=tuple(ready_events(old_status, new)),
        refs=refs,
    )


# ------------------------------------------------------------------ dependents
class Dependents:
    """Which objects looked at which (kind, name): a change of the latter wakes the former."""

    def __init__(self) -> None:
        self._by_ref: dict[RefKey, set[ObjectKey]] = {}
        self._refs: dict[ObjectKey, set[RefKey]] = {}

    def record(self, key: ObjectKey, refs: frozenset[tuple[str, str]]) -> None:
        new = {(key[1], kind, name) for kind, name in refs}
        old = self._refs.get(key, set())
        for ref in old - new:
            users = self._by_ref.get(ref)
            if users is not None:
                users.discard(key)
                if not users:
                    del self._by_ref[ref]
        for ref in new - old:
            self._by_ref.setdefault(ref, set()).add(key)
        if new:
            self._refs[key] = new
        else:
            self._refs.pop(key, None)

    def forget(self, key: ObjectKey) -> None:
        self.record(key, frozenset())

    def of(self, namespace: str, kind: str, name: str) -> set[ObjectKey]:
        return set(self._by_ref.get((namespace, kind, name), ()))

    def __len__(self) -> int:
        return len(self._refs)


# ------------------------------------------------------------------ the executor
EXPECTATION_SECONDS = 120.0


class Reconciler:
    """Applies plans through the API client; one call per object key at a time (the work queue sees to it)."""

    def __init__(
        self,
        client: KubeClient,
        settings: Settings,
        view: ClusterView,
        *,
        clock: Callable[[], datetime] = utcnow,
        metrics: Metrics | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.view = view
        self.clock = clock
        self.metrics = metrics or Metrics()
        self.dependents = Dependents()
        # LookupActivity runs and ImpalaLinkedService connection tests (set by the Runtime).
        self.lookups: Lookups | None = None
        self.probes: Probes | None = None
        self._expected: dict[ObjectKey, dict[str, tuple[JobRecord, float]]] = {}
        self._written: dict[ObjectKey, dict[str, Any]] = {}
        self._event_seq = 0

    def forget(self, key: ObjectKey) -> None:
        self.dependents.forget(key)
        if key[0] == "LookupActivity" and self.lookups is not None:
            self.lookups.forget(key[1], key[2])
        if key[0] == "ImpalaLinkedService" and self.probes is not None:
            self.probes.forget(key[1], key[2])
        self._expected.pop(key, None)
        self._written.pop(key, None)
        self.metrics.forget(*key)

    async def reconcile(self, key: ObjectKey) -> float | None:
        """Reconcile one object; returns when to look again (seconds), if anything is pending."""
        kind, namespace, name = key
        body = self.view.object(kind, namespace, name)
        if body is None:
            self.forget(key)
            return None
        now = self.clock()
        if kind == "LookupActivity":
            if self.lookups is None:
                return None
            found = await self.lookups.reconcile(body, now)
            self.dependents.record(key, found.refs)
            return found.recheck_after
        old = self._old_status(key, body)
        if kind == "CopyActivity":
            actions = plan_copy_activity(
                body,
                self.view,
                old_status=old,
                settings=self.settings,
                now=now,
                extra_jobs=self._expected_jobs(key),
            )
        else:
            actions = plan_ready_object(body, self.view, old_status=old, now=now)
        self.dependents.record(key, actions.refs)
        await self._apply(key, body, actions, now, old)
        if kind == "ImpalaLinkedService" and self.probes is not None:
            probe_after = await self.probes.reconcile(body, now)
            if probe_after is not None:
                return min(probe_after, actions.recheck_after or probe_after)
        return actions.recheck_after

    def _old_status(self, key: ObjectKey, body: Mapping[str, Any]) -> dict[str, Any]:
        current = dict(as_dict(body.get("status")))
        written = self._written.get(key)
        if written is None:
            return current
        if key[0] == "CopyActivity":
            return dict(written)  # all of a CopyActivity's status is ours
        # Others (a probe) may write other conditions: take theirs from the object, ours from memory.
        ours = {c.get("type") for c in written.get("conditions", [])}
        others = [
            c for c in current.get("conditions", []) if isinstance(c, dict) and c.get("type") not in ours
        ]
        return {**current, **written, "conditions": [*written.get("conditions", []), *others]}

    def _expected_jobs(self, key: ObjectKey) -> list[JobRecord]:
        expected = self._expected.get(key)
        if not expected:
            return []
        seen = {job.name for job in self.view.jobs_of(key[1], key[2])}
        cutoff = time.monotonic() - EXPECTATION_SECONDS
        for job_name, (_, since) in list(expected.items()):
            if job_name in seen or since < cutoff:
                del expected[job_name]
        if not expected:
            self._expected.pop(key, None)
        return [record for record, _ in expected.values()]

    async def _apply(
        self,
        key: ObjectKey,
        body: Mapping[str, Any],
        actions: Actions,
        now: datetime,
        old_status: Mapping[str, Any],
    ) -> None:
        kind, namespace, name = key
        if actions.create is not None:
            job_name = actions.create["metadata"]["name"]
            try:
                await self.client.create(JOBS, namespace, actions.create)
                log.info("%s/%s: created Job %s", namespace, name, job_name)
            except ApiError as exc:
                if not exc.conflict:
                    raise
                log.info("%s/%s: Job %s exists already", namespace, name, job_name)
            record = job_record(actions.create)
            assert record is not None
            self._expected.setdefault(key, {})[job_name] = (record, time.monotonic())
        if actions.status is not None and actions.status_patch:
            try:
                if "status" in body and not isinstance(body["status"], dict):
                    # A status that is not an object (written around the schema): clear it first.
                    await self.client.patch_status(OURS[kind], namespace, name, None)
                await self.client.patch_status(OURS[kind], namespace, name, actions.status_patch)
            except ApiError as exc:
                if exc.not_found:
                    self.forget(key)
                    return
                raise
            self._written[key] = (
                actions.status
                if kind == "CopyActivity"
                else {
                    "observedGeneration": actions.status.get("observedGeneration"),
                    "conditions": [
                        c
                        for c in actions.status.get("conditions", [])
                        if c.get("type") == ConditionType.READY
                    ],
                }
            )
        if kind == "CopyActivity" and actions.status is not None:
            # Counted from the status now in effect: a write that changed nothing counts nothing.
            self.metrics.copy_status(namespace, name, old_status, actions.status)
        for job_name in actions.delete:
            if await self.client.delete(JOBS, namespace, job_name):
                log.info("%s/%s: deleted Job %s (history limit)", namespace, name, job_name)
        if actions.events:
            meta = Meta.of(body)
            involved = Involved(kind=kind, name=name, namespace=namespace, uid=meta.uid)
            for event in actions.events:
                await self._post(involved, event, now)

    async def _post(self, involved: Involved, event: EventSpec, now: datetime) -> None:
        self._event_seq += 1
        suffix = f"{time.time_ns():x}{self._event_seq:04x}"
        try:
            await self.client.create_event(
                involved.namespace, event_body(involved, event, now, suffix, self.settings.pod_name)
            )
        except ApiError as exc:
            # An Event is best effort: never let it block the reconciliation.
            log.warning(
                "%s/%s: could not post Event %s: %s", involved.namespace, involved.name, event.reason, exc
            )
