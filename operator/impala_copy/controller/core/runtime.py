"""The running operator's parts: API client, work queue, reconciler; and what wakes which object.

kopf calls in here from the handlers (handlers.py): a watched object changed, a Job or pod of a
run changed, a ConfigMap/PVC changed. Each wakes the objects concerned; the work queue
reconciles each at most once at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from impala_copy.controller.core.constants import (
    ANNOTATION_ACTIVITY_NAME,
    ANNOTATION_OWNER_KIND,
    RUNNING_KINDS,
)
from impala_copy.controller.core.controller import KindController
from impala_copy.controller.core.dependents import ObjectKey
from impala_copy.controller.core.kube import OUR_KINDS, KubeClient
from impala_copy.controller.core.leader_election import LeaderElection
from impala_copy.controller.core.metrics import Metrics
from impala_copy.controller.core.reconcile import Reconciler
from impala_copy.controller.core.records import Meta, job_record, pod_job_name
from impala_copy.controller.core.settings import Settings
from impala_copy.controller.core.timeutil import utcnow
from impala_copy.controller.core.view import ClusterView
from impala_copy.controller.core.workqueue import WorkQueue

log = logging.getLogger("impala_copy.controller")


class NotReady(RuntimeError):
    """The replica is neither the leader nor a standby in touch with the API server."""


def replica_identity(pod_name: str) -> str:
    """This process's name in the election: the pod's name and a random part (a restarted container
    in the same pod is another candidate, never a holder that resumes a lease it cannot know)."""
    return f"{pod_name or socket.gethostname()}_{uuid.uuid4().hex[:8]}"


class Runtime:
    def __init__(
        self,
        settings: Settings,
        controllers: Mapping[str, KindController],
        client: KubeClient | None = None,
    ) -> None:
        self.settings = settings
        self.controllers = controllers
        self.identity = replica_identity(settings.pod_name)
        self.client = client or KubeClient(agent=f"impala-copy-operator ({self.identity})")
        self.metrics = Metrics()
        self.election: LeaderElection | None = None
        self.clock: Callable[[], datetime] = utcnow  # what "now" is to the controllers (tests set another)
        self.reconciler: Reconciler | None = None
        self.queue: WorkQueue[ObjectKey] | None = None
        self._resync: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------- lifecycle
    def start_metrics(self) -> None:
        """Serve /metrics when a port is set (MetricsServerError when the port cannot be opened)."""
        if self.settings.metrics_port is not None:
            self.metrics.serve(self.settings.metrics_port)

    def start(self, view: ClusterView) -> None:
        self.start_metrics()
        self.reconciler = Reconciler(
            self.client, self.settings, view, controllers=self.controllers, clock=self.clock,
            metrics=self.metrics,
        )  # fmt: skip
        self.queue = WorkQueue(self.reconciler.reconcile, workers=self.settings.workers)
        if self.settings.lease_namespace is None:
            self.queue.start()  # no election: this replica reconciles alone
            self.metrics.set_leader(True)
        else:
            self.election = LeaderElection(
                self.client, self.settings.lease_namespace, self.settings.lease_name, self.identity,
                self.settings.lease_timing, on_lead=self._lead, on_standby=self._stand_by,
            )  # fmt: skip
            self.client.may_write = self.election.leading
            self.election.start()
        if self.settings.resync_seconds > 0:
            self._resync = asyncio.create_task(self._resync_loop(), name="impala-copy resync")

    async def _lead(self) -> None:
        """Won the Lease: reconcile every object woken while standing by (kopf's watches stayed warm,
        each object was woken once they were filled), from what the cluster shows now."""
        assert self.queue is not None
        assert self.reconciler is not None
        self.reconciler.reset_memory()  # another leader may have written since
        self.queue.start()
        self.metrics.set_leader(True)

    async def _stand_by(self) -> None:
        """Lost (or gave up) the Lease: no reconciliation until it is won again; wake-ups are kept."""
        self.metrics.set_leader(False)
        if self.queue is not None:
            await self.queue.pause()

    def leadership(self) -> dict[str, str]:
        """What the readiness probe reports; NotReady when this replica neither leads nor reads the Lease."""
        election = self.election
        if election is None:
            return {"role": "leader", "identity": self.identity, "election": "off"}
        holder = election.elector.holder
        if election.leading():
            return {"role": "leader", "identity": self.identity, "lease": election.where}
        if not election.ready():
            raise NotReady(f"{self.identity} has not read Lease {election.where} within the lease duration")
        return {"role": "standby", "identity": self.identity, "lease": election.where, "holder": holder}

    async def stop(self) -> None:
        if self.election is not None:
            await self.election.stop(release=True)  # stops reconciling first, then gives the Lease up
        if self._resync is not None:
            self._resync.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resync
        if self.queue is not None:
            await self.queue.stop()
        await self.client.close()
        self.metrics.stop()

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.resync_seconds)
            assert self.reconciler is not None
            assert self.queue is not None
            for kind in OUR_KINDS:
                for namespace, name in self.reconciler.view.object_keys(kind):
                    self.queue.add((kind, namespace, name))

    def probe(self) -> dict[str, int]:
        if self.queue is None or self.reconciler is None:
            return {"started": 0}
        return {
            "started": 1,
            "queued": len(self.queue),
            "scheduled": self.queue.scheduled,
            "handled": self.queue.handled,
            "tracked": len(self.reconciler.dependents),
        }

    # ---------------------------------------------------------------- wake-ups
    def _wake(self, key: ObjectKey) -> None:
        if self.queue is not None:
            self.queue.add(key)

    def _wake_dependents(self, namespace: str, kind: str, name: str) -> None:
        if self.reconciler is None:
            return
        for key in self.reconciler.dependents.of(namespace, kind, name):
            self._wake(key)

    def object_changed(self, kind: str, event_type: str | None, body: Mapping[str, Any]) -> None:
        """One of our objects was added, changed or deleted."""
        meta = Meta.of(body)
        key = (kind, meta.namespace, meta.name)
        if event_type == "DELETED":
            if self.reconciler is not None:
                self.reconciler.forget(key)
            if self.queue is not None:
                self.queue.forget(key)
        else:
            self._wake(key)
        self._wake_dependents(meta.namespace, kind, meta.name)

    def referenced_changed(self, kind: str, body: Mapping[str, Any], event_type: str | None = None) -> None:
        """A Secret, ConfigMap or PersistentVolumeClaim changed: wake who looked at it."""
        meta = Meta.of(body)
        self._wake_dependents(meta.namespace, kind, meta.name)

    def job_changed(self, body: Mapping[str, Any]) -> None:
        record = job_record(body)
        if record is not None:
            self._wake((record.kind, record.namespace, record.activity))

    def pod_changed(self, body: Mapping[str, Any]) -> None:
        meta = Meta.of(body)
        activity = meta.annotations.get(ANNOTATION_ACTIVITY_NAME)
        kind = meta.annotations.get(ANNOTATION_OWNER_KIND, "CopyActivity")
        if activity and kind in RUNNING_KINDS and pod_job_name(body):
            self._wake((kind, meta.namespace, activity))
