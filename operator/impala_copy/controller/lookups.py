"""LookupActivities, run by the operator (decisions and status in lookup_state.py; reasons in docs/lookup.md).

The reconciler calls `Lookups.reconcile` for each LookupActivity it reconciles (a change of the
object or of anything it refers to, the resync, a delay this returned). Reconciling only decides:
it checks the references, asks `lookup_state.decide` which run should exist now, and starts at most
one background task per activity. The task waits for a slot of the lookup pool (status Pending,
Queued, when there is none), writes Running, reads the password and CA through the API, runs the
query in a pool thread (engine/lookup.py, bounded by queryTimeout, policy.timeout and the socket
timeouts, and by an outer deadline here), stores the output in status or in the owned ConfigMap,
and writes the outcome. Everything else the operator does goes on meanwhile.

All of a LookupActivity's status is written here. The status last written is remembered, so a
decision taken before the watch shows that write never starts the same run twice.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from impala_copy.api.activities import LookupActivity
from impala_copy.api.kinds import SpecError, parse_resource
from impala_copy.api.plan import LookupPlan
from impala_copy.api.resolve import INVALID_REFERENCE, INVALID_SPEC, Layout, ResolutionError, resolve_lookup
from impala_copy.controller import lookup_state as st
from impala_copy.controller.core.constants import Reason
from impala_copy.controller.core.events import Involved, event_body
from impala_copy.controller.core.kube import CONFIG_MAPS, OURS, ApiError, KubeClient
from impala_copy.controller.core.metrics import Metrics
from impala_copy.controller.core.records import Meta, as_dict
from impala_copy.controller.core.status import EventSpec
from impala_copy.controller.core.timeutil import utcnow
from impala_copy.controller.core.view import ClusterView, ViewCatalog
from impala_copy.controller.impala_credentials import load_credentials
from impala_copy.controller.workers import DeadlineExceeded, InFlight, WorkerPool
from impala_copy.engine.errors import CopyError
from impala_copy.engine.lookup import LookupResult, run_lookup

log = logging.getLogger("impala_copy.controller.lookups")

KIND = "LookupActivity"
ObjectKey = tuple[str, str, str]
# Seconds the outer deadline adds to policy.timeout (the engine checks policy.timeout itself).
DEADLINE_GRACE_SECONDS = 30.0


class ResultNotStored(CopyError):
    """The output could not be written to its ConfigMap."""

    code = Reason.RESULT_NOT_STORED
    retryable = False


@dataclass(frozen=True)
class LookupReconciled:
    """What one reconciliation found: when to look again, and which objects it looked at."""

    recheck_after: float | None
    refs: frozenset[tuple[str, str]]


class Lookups:
    def __init__(
        self,
        client: KubeClient,
        view: ClusterView,
        *,
        workers: int = 4,
        pod_name: str = "",
        clock: Callable[[], datetime] = utcnow,
        wake: Callable[[ObjectKey], None] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.client = client
        self.view = view
        self.metrics = metrics or Metrics()
        self.pool = WorkerPool("lookup", workers)
        self.in_flight = InFlight("lookup")
        self.pod_name = pod_name
        self.clock = clock
        self.wake = wake
        self._written: dict[tuple[str, str], dict[str, Any]] = {}
        self._slots: asyncio.Semaphore | None = None
        self._event_seq = 0

    def forget(self, namespace: str, name: str) -> None:
        self._written.pop((namespace, name), None)
        self.in_flight.cancel((namespace, name))

    async def close(self) -> None:
        await self.in_flight.close()
        self.pool.shutdown()

    def _status(self, namespace: str, name: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
        """The newest status known: what was last written here, else what the object shows."""
        written = self._written.get((namespace, name))
        if written is not None:
            return dict(written)
        return dict(as_dict((body or {}).get("status")))

    # ---------------------------------------------------------------- reconcile
    async def reconcile(self, body: Mapping[str, Any], now: datetime) -> LookupReconciled:
        meta = Meta.of(body)
        catalog = ViewCatalog(self.view, meta.namespace)
        if meta.deleting:
            return LookupReconciled(None, frozenset())
        status = self._status(meta.namespace, meta.name, body)
        try:
            activity = parse_resource(dict(body))
        except SpecError as exc:
            await self._not_ready(meta, status, INVALID_SPEC, str(exc), now)
            return LookupReconciled(None, frozenset())
        assert isinstance(activity, LookupActivity)
        try:
            resolve_lookup(catalog, activity, run_id="", layout=Layout())
        except ResolutionError as exc:
            await self._not_ready(meta, status, exc.reason, exc.message, now)
            return LookupReconciled(None, frozenset(catalog.seen))
        except SpecError as exc:
            message = f"{exc.kind} {exc.name!r} is invalid: {str(exc).split(': ', 1)[-1]}"
            await self._not_ready(meta, status, INVALID_REFERENCE, message, now)
            return LookupReconciled(None, frozenset(catalog.seen))
        refs = frozenset(catalog.seen)
        key = (meta.namespace, meta.name)
        observed = st.Observed.of(activity, status, meta.generation)
        decision = st.decide(meta.name, observed, now, in_flight=key in self.in_flight)
        if decision.start:
            log.info(
                "%s/%s: lookup run %s attempt %d (%s)",
                meta.namespace, meta.name, decision.run_id, decision.attempt, decision.trigger,
            )  # fmt: skip
            self.in_flight.start(key, self._run(meta, activity, decision))
            return LookupReconciled(None, refs)
        await self._mark_ready(meta, status, now)
        if decision.wake_at is not None:
            return LookupReconciled(max(0.0, (decision.wake_at - now).total_seconds()), refs)
        return LookupReconciled(None, refs)

    async def _not_ready(
        self, meta: Meta, status: dict[str, Any], reason: str, message: str, now: datetime
    ) -> None:
        patch = st.not_ready_patch(status, reason, message, meta.generation, now)
        before = [c for c in status.get("conditions", []) if isinstance(c, dict)]
        after = patch.status["conditions"]
        if st.same_conditions(before, after) and status.get("phase") == patch.status.get(
            "phase", status.get("phase")
        ):
            return
        await self._apply(meta, status, patch)

    async def _mark_ready(self, meta: Meta, status: dict[str, Any], now: datetime) -> None:
        """References resolve again after they did not: Ready=True (a blocked run starts on its own)."""
        ready = next(
            (c for c in status.get("conditions", []) if isinstance(c, dict) and c.get("type") == "Ready"),
            None,
        )
        if ready is None or ready.get("status") == "True":
            return
        conds = st.set_condition(
            [dict(c) for c in status.get("conditions", []) if isinstance(c, dict)],
            "Ready", "True", "Resolved", "references resolved", now, meta.generation,
        )  # fmt: skip
        await self._apply(meta, status, st.StatusPatch(status={"conditions": conds}))

    # ---------------------------------------------------------------- the run
    def _slot(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.pool.size)
        return self._slots

    async def _run(self, meta: Meta, activity: LookupActivity, decision: st.Decision) -> None:
        try:
            await self._run_once(meta, activity, decision)
        finally:
            if self.wake is not None:
                self.wake((KIND, meta.namespace, meta.name))

    async def _run_once(self, meta: Meta, activity: LookupActivity, decision: st.Decision) -> None:
        ns, name = meta.namespace, meta.name
        slots = self._slot()
        if slots.locked():
            status = self._status(ns, name, self.view.object(KIND, ns, name))
            await self._apply(
                meta, status, st.queued_patch(status, meta.generation, self.clock(), self.pool.size)
            )
        async with slots:
            body = self.view.object(KIND, ns, name)
            status = self._status(ns, name, body)
            run_now = Meta.of(body).annotations.get(st.RUN_NOW_ANNOTATION) if body else None
            started = self.clock()
            status = await self._apply(
                meta, status, st.started_patch(status, decision, meta.generation, run_now or None, started)
            )
            observed = st.Observed.of(activity, status, meta.generation)
            result, failure = await self._execute(meta, activity, decision)
            if failure is not None:
                reason, message = st.visible_failure(*failure, secure_input=activity.spec.policy.secure_input)
                log.info("%s/%s: lookup failed: %s: %s", ns, name, reason, message)
                await self._apply(
                    meta, status, st.failed_patch(status, observed, decision, reason, message, self.clock())
                )
                return
            assert result is not None
            await self._succeeded(meta, activity, decision, observed, status, result)

    async def _execute(
        self, meta: Meta, activity: LookupActivity, decision: st.Decision
    ) -> tuple[LookupResult | None, tuple[str, str] | None]:
        """Resolve, read credentials, run the query in the pool: (result, None) or (None, (reason, text))."""
        referrer = f"LookupActivity {meta.name!r}"
        with tempfile.TemporaryDirectory(prefix="impala-copy-lookup-") as cert_dir:
            try:
                plan: LookupPlan = resolve_lookup(
                    ViewCatalog(self.view, meta.namespace),
                    activity,
                    decision.run_id or "",
                    Layout(cert_dir=cert_dir),
                )
                secrets, _ = await load_credentials(self.client, meta.namespace, plan.impala, referrer)
            except ResolutionError as exc:
                return None, (exc.reason, exc.message)
            except SpecError as exc:
                return None, (INVALID_REFERENCE, str(exc))
            except CopyError as exc:
                return None, (exc.code, exc.message)
            deadline = float(plan.timeout_seconds) + DEADLINE_GRACE_SECONDS
            try:
                result = await self.pool.run(lambda: run_lookup(plan, secrets), deadline_seconds=deadline)
            except DeadlineExceeded:
                return None, (
                    "Timeout",
                    f"the lookup did not finish within {plan.timeout_seconds}s (policy.timeout)",
                )
            except CopyError as exc:
                return None, (exc.code, exc.message)
            finally:
                secrets.clear()
        return result, None

    async def _succeeded(
        self,
        meta: Meta,
        activity: LookupActivity,
        decision: st.Decision,
        observed: st.Observed,
        status: dict[str, Any],
        result: LookupResult,
    ) -> None:
        ns, name = meta.namespace, meta.name
        try:
            placement = st.place_result(result, secure_output=activity.spec.policy.secure_output)
            if not placement.in_status:
                await self._write_config_map(activity, meta.uid, placement, result, decision.run_id)
        except CopyError as exc:
            patch = st.failed_patch(status, observed, decision, exc.code, exc.message, self.clock())
            await self._apply(meta, status, patch)
            return
        except ApiError as exc:
            message = (
                f"could not write ConfigMap {st.result_config_map_name(name)}: {exc.reason or exc.status}"
            )
            patch = st.failed_patch(status, observed, decision, ResultNotStored.code, message, self.clock())
            await self._apply(meta, status, patch)
            return
        previous_config_map = status.get("resultConfigMap")
        patch = st.succeeded_patch(status, observed, name, decision, result, placement, self.clock())
        await self._apply(meta, status, patch)
        log.info("%s/%s: lookup succeeded: %s", ns, name, patch.event_message)
        if placement.in_status and isinstance(previous_config_map, str):
            try:
                await self.client.delete(CONFIG_MAPS, ns, previous_config_map)
            except ApiError as exc:
                log.warning("%s/%s: could not delete ConfigMap %s: %s", ns, name, previous_config_map, exc)

    async def _write_config_map(
        self,
        activity: LookupActivity,
        uid: str | None,
        placement: st.Placement,
        result: LookupResult,
        run_id: str | None,
    ) -> None:
        body = st.result_config_map(activity, uid, placement, result, run_id)
        name = body["metadata"]["name"]
        try:
            await self.client.create(CONFIG_MAPS, activity.namespace, body)
            return
        except ApiError as exc:
            if not exc.conflict:
                raise
        # It exists: an earlier run's (replace its content; the key not used this time is removed), or
        # someone else's ConfigMap of that name, which is never overwritten.
        existing = await self.client.get(CONFIG_MAPS, activity.namespace, name)
        owners = as_dict(existing.get("metadata")).get("ownerReferences") or []
        if uid is not None and not any(isinstance(o, dict) and o.get("uid") == uid for o in owners):
            raise ResultNotStored(
                f"ConfigMap {name!r} exists and does not belong to LookupActivity {activity.name!r}: "
                "rename or delete it, then run the lookup again"
            )
        patch = {
            "metadata": {
                k: body["metadata"][k]
                for k in ("labels", "annotations", "ownerReferences")
                if k in body["metadata"]
            },
            "data": body.get("data") or {st.CONFIG_MAP_OUTPUT_KEY: None},
            "binaryData": body.get("binaryData") or {st.CONFIG_MAP_GZIP_KEY: None},
        }
        await self.client.patch(CONFIG_MAPS, activity.namespace, name, patch)

    # ---------------------------------------------------------------- writing
    async def _apply(self, meta: Meta, status: dict[str, Any], patch: st.StatusPatch) -> dict[str, Any]:
        """Send a status merge patch and the Event that goes with it; returns the status as it now is."""
        key = (meta.namespace, meta.name)
        new = st.apply_merge_patch(status, patch.status)
        try:
            await self.client.patch_status(OURS[KIND], meta.namespace, meta.name, patch.status)
        except ApiError as exc:
            if exc.not_found:
                self._written.pop(key, None)
                return new
            raise
        self._written[key] = new
        self.metrics.lookup_status(meta.namespace, meta.name, status, new)
        if patch.event_reason is not None and patch.event_type is not None:
            await self._post(meta, EventSpec(patch.event_type, patch.event_reason, patch.event_message or ""))
        return new

    async def _post(self, meta: Meta, event: EventSpec) -> None:
        self._event_seq += 1
        suffix = f"{time.time_ns():x}{self._event_seq:04x}l"
        involved = Involved(kind=KIND, name=meta.name, namespace=meta.namespace, uid=meta.uid)
        try:
            await self.client.create_event(
                meta.namespace, event_body(involved, event, self.clock(), suffix, self.pod_name)
            )
        except ApiError as exc:
            log.warning("%s/%s: could not post Event %s: %s", meta.namespace, meta.name, event.reason, exc)


__all__ = ["LookupReconciled", "Lookups"]
