"""The running operator's parts: API client, work queue, reconciler; and what wakes which object.

kopf calls in here from the handlers (handlers.py): a watched object changed, a Job or pod of a
run changed, a ConfigMap/PVC changed. Each wakes the objects concerned; the work queue
reconciles each at most once at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
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
from impala_copy.controller.core.metrics import Metrics
from impala_copy.controller.core.reconcile import Reconciler
from impala_copy.controller.core.records import Meta, job_record, pod_job_name
from impala_copy.controller.core.settings import Settings
from impala_copy.controller.core.timeutil import utcnow
from impala_copy.controller.core.view import ClusterView
from impala_copy.controller.core.workqueue import WorkQueue

log = logging.getLogger("impala_copy.controller")


class Runtime:
    def __init__(
        self,
        settings: Settings,
        controllers: Mapping[str, KindController],
        client: KubeClient | None = None,
    ) -> None:
        self.settings = settings
        self.controllers = controllers
        self.client = client or KubeClient()
        self.metrics = Metrics()
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
        self.queue.start()
        if self.settings.resync_seconds > 0:
            self._resync = asyncio.create_task(self._resync_loop(), name="impala-copy resync")

    async def stop(self) -> None:
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
