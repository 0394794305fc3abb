"""Prometheus metrics of the operator: what changed between the status before and after a write.

The counters follow the status the operator writes, never its own memory of what it did: a run
counts as started when `status.lastRun` names a new attempt, and as finished (with its rows and
bytes) when `status.lastRun` turns Succeeded or Failed. Reconciling the same finished run again
writes no change and counts nothing; an operator that restarts reads the final status from the
object and counts nothing either. Connection tests count once per test the operator ran.

`copy_change` and `lookup_change` are pure (old status, new status -> `RunChange`); `Metrics` holds
the counters in a registry of its own and serves them on `/metrics` when a port is set.

Labels are the namespace, the kind and the object's name (bounded by the objects that exist), the
run trigger, the outcome and a reason code. Nothing read from a Secret ever becomes a label, and a
reason or trigger that is not a plain code is counted as `Other`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)

from impala_copy.controller.core.constants import Reason
from impala_copy.controller.core.records import as_dict, as_int, as_str, same_attempt

COPY = "CopyActivity"
LOOKUP = "LookupActivity"
LINKED_SERVICE = "ImpalaLinkedService"
SUCCEEDED = "succeeded"
FAILED = "failed"
OTHER = "Other"
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


def label_code(value: Any) -> str:
    """A reason or trigger as a label: plain codes as they are, anything else `Other`."""
    return value if isinstance(value, str) and _CODE.match(value) else OTHER


@dataclass(frozen=True)
class RunChange:
    """What one status write means for the metrics of one activity."""

    started: str | None = None  # the trigger of an attempt that started
    finished: tuple[str, str] | None = None  # (outcome, reason) of an attempt that ended
    rows_copied: int = 0
    bytes_written: int = 0
    active: bool = False  # an attempt is in progress after the write


def run_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> RunChange:
    """A CopyActivity's or LookupActivity's status before and after a write: the attempt started or finished.

    A new run or attempt number (`records.same_attempt`) is a new attempt; Succeeded or Failed that the
    old status did not show for that attempt, a finished attempt (rows and bytes from its run summary).
    """
    old_run, new_run = as_dict(old.get("lastRun")), as_dict(new.get("lastRun"))
    if not new_run:
        return RunChange()
    state = as_str(new_run.get("status"))
    same = same_attempt(old_run, new_run)
    started = None if same else label_code(new_run.get("trigger"))
    finished: tuple[str, str] | None = None
    rows = written = 0
    if state in ("Succeeded", "Failed") and (not same or old_run.get("status") != state):
        if state == "Succeeded":
            finished = (SUCCEEDED, Reason.RUN_SUCCEEDED)
        else:
            finished = (FAILED, label_code(new_run.get("reason") or Reason.JOB_FAILED))
        rows = max(0, as_int(new_run.get("rowsCopied")) or 0)
        written = max(0, as_int(new_run.get("dataWritten")) or 0)
    return RunChange(
        started=started,
        finished=finished,
        rows_copied=rows,
        bytes_written=written,
        active=state in ("Pending", "Running"),
    )


def _connected(status: Mapping[str, Any]) -> Mapping[str, Any]:
    conds = status.get("conditions")
    for cond in conds if isinstance(conds, list) else []:
        if isinstance(cond, dict) and cond.get("type") == "Connected":
            return cond
    return {}


def connection_result(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, str] | None:
    """(result, reason) of a connection test that the new status shows for the first time."""
    cond = _connected(new)
    if not cond or (new.get("lastProbeTime") == old.get("lastProbeTime") and cond == _connected(old)):
        return None
    status = cond.get("status")
    result = "connected" if status == "True" else "failed" if status == "False" else "notTested"
    return result, str(cond.get("reason") or "")


class MetricsServerError(RuntimeError):
    """The metrics port could not be opened; the message names the setting and the port."""


class Metrics:
    """The operator's counters and gauges, in a registry of their own (one per running operator)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        names = ["namespace", "kind", "name"]
        self.runs_started = Counter(
            "impala_copy_runs_started",
            "Attempts of CopyActivity and LookupActivity runs started, by trigger.",
            [*names, "trigger"],
            registry=self.registry,
        )
        self.runs_finished = Counter(
            "impala_copy_runs_finished",
            "Attempts of CopyActivity and LookupActivity runs finished, by outcome and reason.",
            [*names, "outcome", "reason"],
            registry=self.registry,
        )
        self.rows_copied = Counter(
            "impala_copy_rows_copied",
            "Rows written to the sink by finished copy attempts (run summary rowsCopied).",
            [*names, "outcome"],
            registry=self.registry,
        )
        self.bytes_written = Counter(
            "impala_copy_bytes_written",
            "Bytes written to the sink by finished copy attempts (run summary dataWritten).",
            [*names, "outcome"],
            registry=self.registry,
        )
        self.connection_tests = Counter(
            "impala_copy_connection_tests",
            "Connection tests of ImpalaLinkedServices, by result (connected, failed, notTested) and reason.",
            [*names, "result", "reason"],
            registry=self.registry,
        )
        self.active_runs = Gauge(
            "impala_copy_active_runs",
            "Attempts in progress: copy Jobs not finished, lookups running.",
            ["namespace", "kind"],
            registry=self.registry,
        )
        self.leader = Gauge(
            "impala_copy_leader",
            "1 while this replica leads (reconciles), 0 while it stands by (leader election).",
            registry=self.registry,
        )
        self._active: dict[tuple[str, str, str], bool] = {}
        self._lock = threading.Lock()
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- counting
    def record(self, kind: str, namespace: str, name: str, change: RunChange) -> None:
        """Count what one status write of an activity changed, and whether it has a run in progress."""
        labels = {"namespace": namespace, "kind": kind, "name": name}
        if change.started is not None:
            self.runs_started.labels(**labels, trigger=change.started).inc()
        if change.finished is not None:
            outcome, reason = change.finished
            self.runs_finished.labels(**labels, outcome=outcome, reason=reason).inc()
            if kind == COPY:
                self.rows_copied.labels(**labels, outcome=outcome).inc(change.rows_copied)
                self.bytes_written.labels(**labels, outcome=outcome).inc(change.bytes_written)
        self._set_active(kind, namespace, name, change.active)

    def status_changed(
        self, kind: str, namespace: str, name: str, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> None:
        """An object's status now in effect (written, or unchanged) after `old`."""
        if kind in (COPY, LOOKUP):
            self.record(kind, namespace, name, run_change(old, new))
        elif kind == LINKED_SERVICE:
            tested = connection_result(old, new)
            if tested is not None:
                self.connection_tested(namespace, name, *tested)

    def connection_tested(self, namespace: str, name: str, result: str, reason: str) -> None:
        self.connection_tests.labels(
            namespace=namespace, kind=LINKED_SERVICE, name=name, result=result, reason=label_code(reason)
        ).inc()

    def set_leader(self, leading: bool) -> None:
        self.leader.set(1 if leading else 0)

    def forget(self, kind: str, namespace: str, name: str) -> None:
        """The object is gone: it has no run in progress any more (its counters stay)."""
        self._set_active(kind, namespace, name, False)

    def _set_active(self, kind: str, namespace: str, name: str, active: bool) -> None:
        key = (kind, namespace, name)
        with self._lock:
            if active == self._active.get(key, False):
                return
            if active:
                self._active[key] = True
            else:
                del self._active[key]
            count = sum(1 for k in self._active if k[:2] == (kind, namespace))
            self.active_runs.labels(namespace=namespace, kind=kind).set(count)

    # ---------------------------------------------------------------- serving
    @property
    def serving(self) -> bool:
        return self._server is not None

    def serve(self, port: int, address: str = "0.0.0.0") -> None:  # noqa: S104 - scraped from outside the pod
        """Serve /metrics on `port` in a thread (once; later calls do nothing)."""
        if self._server is not None:
            return
        try:
            self._server, self._thread = start_http_server(port, addr=address, registry=self.registry)
        except OSError as exc:
            raise MetricsServerError(
                f"IMPALA_COPY_METRICS_PORT: cannot serve metrics on port {port}: {exc.strerror or exc}"
            ) from None

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(5)


__all__ = ["Metrics", "MetricsServerError", "RunChange", "connection_result", "label_code", "run_change"]
