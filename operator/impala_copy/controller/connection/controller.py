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
from impala_copy.controller.core.controller import (
    Actions,
    PlanContext,
    observe,
    run_actions,
    run_inputs,
    wanted,
)
from impala_copy.controller.core.job import JobOwner, build_job
from impala_copy.controller.core.readiness import object_readiness
from impala_copy.controller.core.ready import plan_ready
from impala_copy.controller.core.run_plan import plan_runs
from impala_copy.controller.core.runs import NewAttempt, RunPolicy
from impala_copy.controller.core.status import ready_events

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
        seen = observe(body, ctx, object_readiness)
        if seen.meta.deleting:
            return Actions(refs=seen.refs)
        meta, readiness = seen.meta, seen.checked
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
            task = TASK_CONNECTION_TEST
            return build_job(
                plan, owner, ctx.settings.job, start, task=task, timeout_seconds=TEST_DEADLINE_SECONDS
            )

        interval = ls.spec.probe_interval_seconds if ls is not None else 0
        want = wanted(meta, _NO_RETRY, ready=ls is not None, every_seconds=interval or None)
        inputs = run_inputs(KIND, seen, ctx, want, make_job, HISTORY, status_key=STATUS_KEY)
        state = plan_runs(inputs, ctx.view)
        status = connection_status(seen.old, readiness, state.decision, meta.generation, ctx.now)
        events = [*ready_events(seen.old, status), *connection_events(seen.old, status)]
        return run_actions(seen, status, state, events)


__all__ = ["ConnectionController"]
