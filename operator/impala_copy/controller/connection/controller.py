"""The ImpalaLinkedService controller: the Ready check, and connection tests run as Jobs.

A test is a run like any other (core/runs.py): on create, on a spec change, on the run-now annotation
and every `probeIntervalSeconds` after the last test ended. Its pod runs `impala-copy engine --task
connection-test` in the linked service's namespace with the password from its Secret, so the operator
never holds it. The pod's summary (termination message) becomes the `Connected` condition,
`lastProbeTime`, `roundTripMilliseconds` and `probeDurationMilliseconds`; `connectionTest` records the
newest test's Job, so a restart decides the same once the Job is gone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from impala_copy.api.impala import ImpalaLinkedService
from impala_copy.api.kinds import SpecError, parse_resource
from impala_copy.api.plan import TASK_CONNECTION_TEST, ConnectionTestPlan
from impala_copy.api.resolve import Layout, impala_connection
from impala_copy.controller.connection.status import connection_events, connection_status
from impala_copy.controller.core.constants import ANNOTATION_RUN_NOW
from impala_copy.controller.core.controller import Actions, PlanContext
from impala_copy.controller.core.job import JobOwner, build_job
from impala_copy.controller.core.readiness import object_readiness
from impala_copy.controller.core.ready import plan_ready
from impala_copy.controller.core.records import Meta, as_dict
from impala_copy.controller.core.run_plan import RunInputs, plan_runs
from impala_copy.controller.core.runs import NewAttempt, RunPolicy, Wanted
from impala_copy.controller.core.status import merge_patch, ready_events
from impala_copy.controller.core.view import ViewCatalog

KIND = "ImpalaLinkedService"
STATUS_KEY = "connectionTest"
# A test pod that has not finished in this long is stopped (login timeout and SELECT 1 are far shorter;
# a pod waiting for a missing Secret is retried at the next interval).
TEST_DEADLINE_SECONDS = 600
HISTORY = (1, 1)
_NO_RETRY = RunPolicy(retry=0)


def _linked_service(body: Mapping[str, Any]) -> ImpalaLinkedService | None:
    try:
        parsed = parse_resource(dict(body))
    except SpecError:
        return None
    return parsed if isinstance(parsed, ImpalaLinkedService) else None


class ConnectionController:
    kind = KIND

    def plan(self, body: Mapping[str, Any], ctx: PlanContext) -> Actions:
        if not ctx.settings.connection_tests:
            return plan_ready(body, ctx)
        old_status = as_dict(ctx.old_status)
        meta = Meta.of(body)
        catalog = ViewCatalog(ctx.view, meta.namespace)
        readiness = object_readiness(body, catalog)
        refs = frozenset(catalog.seen)
        if meta.deleting:
            return Actions(refs=refs)
        ls = _linked_service(body) if readiness.ready else None

        def make_job(start: NewAttempt) -> dict[str, Any] | None:
            if ls is None:
                return None
            plan = ConnectionTestPlan(
                namespace=meta.namespace,
                linked_service=meta.name,
                run_id=start.run_id,
                impala=impala_connection(ls, Layout()),
            )
            owner = JobOwner(name=meta.name, namespace=meta.namespace, uid=meta.uid, kind=KIND)
            return build_job(
                plan, owner, ctx.settings.job, start,
                task=TASK_CONNECTION_TEST, timeout_seconds=TEST_DEADLINE_SECONDS,
            )  # fmt: skip

        interval = ls.spec.probe_interval_seconds if ls is not None else 0
        state = plan_runs(
            RunInputs(
                kind=KIND,
                meta=meta,
                wanted=Wanted(
                    generation=meta.generation,
                    run_now=meta.annotations.get(ANNOTATION_RUN_NOW),
                    policy=_NO_RETRY,
                    ready=ls is not None,
                    every_seconds=interval or None,
                ),
                make_job=make_job,
                old_status=old_status,
                now=ctx.now,
                history=HISTORY,
                summary_grace_seconds=ctx.settings.summary_grace_seconds,
                status_key=STATUS_KEY,
                extra_jobs=ctx.extra_jobs,
            ),
            ctx.view,
        )
        status = connection_status(old_status, readiness, state.decision, meta.generation, ctx.now)
        return Actions(
            status=status,
            status_patch=merge_patch(old_status, status),
            create=state.create,
            delete=state.delete,
            events=(*ready_events(old_status, status), *connection_events(old_status, status)),
            recheck_after=state.recheck_after,
            refs=refs,
        )


__all__ = ["ConnectionController"]
