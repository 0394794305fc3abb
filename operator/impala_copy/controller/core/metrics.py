"""Prometheus metrics of the operator and of the copy pods, told by the status the operator writes.

The copy pods push nothing: each run's summary reaches the operator as the pod's termination message
and lands in the activity's status, and the metrics follow that status, never the operator's memory of
what it did (core/run_change.py says when a status write means an attempt started or finished).
Reconciling the same finished run again counts nothing; an operator that restarts reads the final
status from the object and counts nothing either. Connection tests count once per test the operator ran.

Two families: counters summed over runs (`*_total`, one series per object and trigger / outcome /
reason code), and gauges of each activity's last finished run (`impala_copy_last_run_*`, one series per
object, plus at most `PARTITION_LABELS` per-partition series). Every series naming an object is
removed when the object is deleted (`forget`), so the number of series follows the objects that exist,
never the runs. Nothing read from a Secret ever becomes a label, and a reason or trigger that is not a
plain code is counted as `Other`.

`Metrics` holds them in a registry of its own and serves them on `/metrics` when a port is set;
`EXPORTED` lists every name it exports (docs/operator.md, the chart's rules and dashboard are checked
against it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
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
from prometheus_client.metrics import MetricWrapperBase

from impala_copy.controller.core.records import as_dict, as_int, as_str
from impala_copy.controller.core.run_change import (
    FAILED,
    OTHER,
    SUCCEEDED,
    RunChange,
    RunCounts,
    label_code,
    run_change,
)

COPY = "CopyActivity"
LOOKUP = "LookupActivity"
LINKED_SERVICE = "ImpalaLinkedService"
PARTITION_LABELS = 32  # partitions of a run exported one by one: indexes 0 to 31
OBJECT = ("namespace", "kind", "name")
ObjectKey = tuple[str, str, str]  # kind, namespace, name (as the reconciler keys objects)


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


def _last_finished(status: Mapping[str, Any]) -> RunChange | None:
    """status.lastRun as a finished attempt (a restarted operator's last-run gauges), else None."""
    last = as_dict(status.get("lastRun"))
    state = as_str(last.get("status"))
    if state == "Succeeded":
        return RunChange(finished=(SUCCEEDED, ""), counts=RunCounts.of(last))
    if state == "Failed":
        return RunChange(finished=(FAILED, ""), counts=RunCounts.of(last))
    return None


class MetricsServerError(RuntimeError):
    """The metrics port could not be opened; the message names the setting and the port."""


class Metrics:
    """The operator's counters and gauges, in a registry of their own (one per running operator)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self._series: dict[ObjectKey, set[tuple[MetricWrapperBase, tuple[str, ...]]]] = {}
        self._define_totals()
        self._define_last_run()
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

    def _counter(self, name: str, text: str, *labels: str) -> Counter:
        return Counter(name, text, [*OBJECT, *labels], registry=self.registry)

    def _gauge(self, name: str, text: str, *labels: str) -> Gauge:
        return Gauge(name, text, [*OBJECT, *labels], registry=self.registry)

    def _define_totals(self) -> None:
        self.runs_started = self._counter(
            "impala_copy_runs_started", "Attempts of CopyActivity and LookupActivity runs started.", "trigger"
        )
        self.runs_finished = self._counter(
            "impala_copy_runs_finished", "Attempts finished, by outcome and reason.", "outcome", "reason"
        )
        copy = "summed over finished CopyActivity attempts (run summary "
        self.rows_read = self._counter("impala_copy_rows_read", f"Rows read, {copy}rowsRead).", "outcome")
        self.rows_copied = self._counter(
            "impala_copy_rows_copied", f"Rows written to the sink, {copy}rowsCopied).", "outcome"
        )
        self.bytes_read = self._counter("impala_copy_bytes_read", f"Bytes read, {copy}dataRead).", "outcome")
        self.bytes_written = self._counter(
            "impala_copy_bytes_written", f"Bytes written to the sink, {copy}dataWritten).", "outcome"
        )
        self.files_written = self._counter(
            "impala_copy_files_written", f"Files written, {copy}filesWritten).", "outcome"
        )
        self.run_seconds = self._counter(
            "impala_copy_run_duration_seconds", "Seconds of finished attempts (copyDuration).", "outcome"
        )
        self.missed_runs = self._counter(
            "impala_copy_missed_runs", "Due times of spec.schedule.cron that started no run (missedRuns)."
        )
        self.connection_tests = self._counter(
            "impala_copy_connection_tests",
            "Connection tests of ImpalaLinkedServices, by result (connected, failed, notTested) and reason.",
            "result",
            "reason",
        )
        self.connected = self._gauge(
            "impala_copy_connected", "1 while the Connected condition is True, 0 while it is False."
        )

    def _define_last_run(self) -> None:
        last = "of the last finished attempt"
        self.last_timestamp = self._gauge(
            "impala_copy_last_run_timestamp_seconds", f"Unix time of the end {last}.", "outcome"
        )
        self.last_duration = self._gauge(
            "impala_copy_last_run_duration_seconds", f"Seconds {last} took.", "outcome"
        )
        self.last_rows_read = self._gauge("impala_copy_last_run_rows_read", f"Rows read {last}.", "outcome")
        self.last_rows_copied = self._gauge(
            "impala_copy_last_run_rows_copied", f"Rows copied {last}.", "outcome"
        )
        self.last_bytes_read = self._gauge(
            "impala_copy_last_run_bytes_read", f"Bytes read {last}.", "outcome"
        )
        self.last_bytes_written = self._gauge(
            "impala_copy_last_run_bytes_written", f"Bytes written {last}.", "outcome"
        )
        self.last_files = self._gauge(
            "impala_copy_last_run_files_written", f"Files written {last}.", "outcome"
        )
        self.last_partitions = self._gauge(
            "impala_copy_last_run_partitions", f"Partitions {last} (0: not partitioned).", "outcome"
        )
        self.partition_rows = self._gauge(
            "impala_copy_last_run_partition_rows_copied",
            f"Rows copied by one partition {last} (indexes below {PARTITION_LABELS}).",
            "partition",
        )
        self.partition_seconds = self._gauge(
            "impala_copy_last_run_partition_duration_seconds",
            f"Seconds one partition {last} took (indexes below {PARTITION_LABELS}).",
            "partition",
        )

    def exported(self) -> tuple[str, ...]:
        """The names of the impala_copy_* series, as PromQL spells them (counters with `_total`)."""
        names = []
        for family in self.registry.collect():
            if family.name.startswith("impala_copy_"):
                names.append(f"{family.name}_total" if family.type == "counter" else family.name)
        return tuple(sorted(names))

    # ---------------------------------------------------------------- series of an object
    def _child(self, metric: MetricWrapperBase, key: ObjectKey, *extra: str) -> Any:
        kind, namespace, name = key
        values = (namespace, kind, name, *extra)
        with self._lock:
            self._series.setdefault(key, set()).add((metric, values))
        return metric.labels(*values)

    def _drop(self, key: ObjectKey, metrics: Iterable[MetricWrapperBase] | None = None) -> None:
        """Remove the object's series (of `metrics`, or all of them)."""
        wanted = None if metrics is None else set(metrics)
        with self._lock:
            series = self._series.get(key, set())
            gone = {s for s in series if wanted is None or s[0] in wanted}
            series -= gone
            if not series:
                self._series.pop(key, None)
        for metric, values in gone:
            metric.remove(*values)

    def _has(self, key: ObjectKey, metric: MetricWrapperBase) -> bool:
        with self._lock:
            return any(m is metric for m, _ in self._series.get(key, ()))

    # ---------------------------------------------------------------- counting
    def record(self, kind: str, namespace: str, name: str, change: RunChange) -> None:
        """Count what one status write of an activity changed for one attempt."""
        key = (kind, namespace, name)
        if change.started is not None:
            self._child(self.runs_started, key, change.started).inc()
        if change.finished is None:
            return
        outcome, reason = change.finished
        self._child(self.runs_finished, key, outcome, reason).inc()
        counts = change.counts
        self._child(self.run_seconds, key, outcome).inc(counts.duration)
        if kind == COPY:
            totals = (
                (self.rows_read, counts.rows_read),
                (self.rows_copied, counts.rows_copied),
                (self.bytes_read, counts.bytes_read),
                (self.bytes_written, counts.bytes_written),
                (self.files_written, counts.files_written),
            )
            for metric, amount in totals:
                self._child(metric, key, outcome).inc(amount)
        self._set_last_run(key, outcome, counts)

    def _set_last_run(self, key: ObjectKey, outcome: str, counts: RunCounts) -> None:
        """The last-run gauges of an object: its previous ones removed, this attempt's set."""
        gauges = (self.last_timestamp, self.last_duration, self.last_rows_read, self.last_rows_copied)
        more = (self.last_bytes_read, self.last_bytes_written, self.last_files, self.last_partitions)
        self._drop(key, (*gauges, *more, self.partition_rows, self.partition_seconds))
        ended = counts.finished_at if counts.finished_at is not None else time.time()
        values = [(self.last_timestamp, ended), (self.last_duration, counts.duration)]
        if key[0] == COPY:
            values += [
                (self.last_rows_read, counts.rows_read),
                (self.last_rows_copied, counts.rows_copied),
                (self.last_bytes_read, counts.bytes_read),
                (self.last_bytes_written, counts.bytes_written),
                (self.last_files, counts.files_written),
                (self.last_partitions, len(counts.partitions)),
            ]
        for metric, value in values:
            self._child(metric, key, outcome).set(value)
        for part in counts.partitions:
            if part.index < PARTITION_LABELS:
                self._child(self.partition_rows, key, str(part.index)).set(part.rows_copied)
                self._child(self.partition_seconds, key, str(part.index)).set(part.duration)

    def status_changed(
        self,
        kind: str,
        namespace: str,
        name: str,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        runs: Iterable[RunChange] | None = None,
    ) -> None:
        """An object's status now in effect (written, or unchanged) after `old`; `runs`: the attempts
        the write started or ended when status.lastRun alone does not tell (tumbling windows)."""
        key = (kind, namespace, name)
        if kind in (COPY, LOOKUP):
            changes = (run_change(old, new),) if runs is None else tuple(runs)
            for change in sorted(changes, key=_end_order):
                self.record(kind, namespace, name, change)
            restored = None if self._has(key, self.last_timestamp) else _last_finished(new)
            if restored is not None and restored.finished is not None:
                self._set_last_run(key, restored.finished[0], restored.counts)
            running = as_str(as_dict(new.get("lastRun")).get("status")) in ("Pending", "Running")
            self._set_active(kind, namespace, name, running)
            self._count_missed(key, old, new)
        elif kind == LINKED_SERVICE:
            tested = connection_result(old, new)
            if tested is not None:
                self.connection_tested(namespace, name, *tested)
            self._set_connected(key, _connected(new).get("status"))

    def _count_missed(self, key: ObjectKey, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        """status.missedRuns grew: that many due times missed (the series exists, at 0, for every
        activity with a cron schedule, so `increase()` sees the first miss)."""
        if "missedRuns" not in new:
            return
        grown = (as_int(new.get("missedRuns")) or 0) - (as_int(old.get("missedRuns")) or 0)
        self._child(self.missed_runs, key).inc(max(0, grown))

    def _set_connected(self, key: ObjectKey, status: Any) -> None:
        if status in ("True", "False"):
            self._child(self.connected, key).set(1 if status == "True" else 0)
        else:
            self._drop(key, (self.connected,))

    def connection_tested(self, namespace: str, name: str, result: str, reason: str) -> None:
        key = (LINKED_SERVICE, namespace, name)
        self._child(self.connection_tests, key, result, label_code(reason)).inc()

    def set_leader(self, leading: bool) -> None:
        """Leading or standing by; a replica that stops leading drops the series of every object (the
        new leader exports them), so no stale last-run gauge of a standby keeps an alert firing."""
        self.leader.set(1 if leading else 0)
        if not leading:
            with self._lock:
                keys = list(self._series)
                active = list(self._active)
            for kind, namespace, name in {*keys, *active}:
                self.forget(kind, namespace, name)

    def forget(self, kind: str, namespace: str, name: str) -> None:
        """The object is gone: every series naming it is removed, and it has no run in progress."""
        self._drop((kind, namespace, name))
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


def _end_order(change: RunChange) -> float:
    """Finished attempts in the order they ended (the last-run gauges show the newest)."""
    return change.counts.finished_at or 0.0


def exported_names() -> tuple[str, ...]:
    """Every impala_copy_* series name the operator exports."""
    return Metrics().exported()


__all__ = [
    "FAILED",
    "OTHER",
    "PARTITION_LABELS",
    "SUCCEEDED",
    "Metrics",
    "MetricsServerError",
    "RunChange",
    "connection_result",
    "exported_names",
    "label_code",
    "run_change",
]
