"""Connection tests of ImpalaLinkedServices, run by the operator (decisions in probe_state.py).

The reconciler calls `Probes.reconcile` whenever it reconciles a linked service (a change of the
object, of a Secret or ConfigMap it refers to, the resync) and takes the returned delay as "look
again after". A test runs as a background task: read the password and CA through the API, then
connect, log in, SELECT 1 and close in the probe thread pool, bounded by the connection's timeouts
and a watchdog; then write the `Connected` condition.

The Ready condition of a linked service belongs to the reconciler; the test never rewrites it: its
status write is a compare-and-swap of the conditions list (a JSON patch whose `test` fails if the
list changed since it was read; then it reads again). If someone else's write drops `Connected`,
the next reconciliation notices (`reflects`) and writes it again.

What is remembered (in memory only, rebuilt by testing again after a restart): per linked service,
the spec and the fingerprints of the Secrets/ConfigMaps it was last tested with, and the result;
per Secret/ConfigMap, the fingerprint of its data as last seen on the watch (keyed digests, never
the data).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from impala_copy.api.impala import ImpalaLinkedService
from impala_copy.api.kinds import SpecError, parse_resource
from impala_copy.api.resolve import INVALID_SPEC, Layout, ResolutionError, impala_connection
from impala_copy.controller import probe_state as ps
from impala_copy.controller.core.events import Involved, event_body
from impala_copy.controller.core.kube import OURS, ApiError, KubeClient
from impala_copy.controller.core.metrics import Metrics
from impala_copy.controller.core.records import Meta, as_dict
from impala_copy.controller.core.status import EventSpec
from impala_copy.controller.core.timeutil import utcnow
from impala_copy.controller.impala_credentials import (
    config_map_fingerprint_data,
    load_credentials,
    secret_fingerprint_data,
)
from impala_copy.controller.workers import DeadlineExceeded, InFlight, WorkerPool
from impala_copy.engine.errors import CopyError
from impala_copy.engine.probe import ProbeResult, failure_result, probe, timeout_result, watchdog_seconds

log = logging.getLogger("impala_copy.controller.probes")

KIND = "ImpalaLinkedService"
ObjectKey = tuple[str, str, str]
RefKey = tuple[str, str]  # (kind, name)
CAS_ATTEMPTS = 5


@dataclass
class Tested:
    """What this operator last tested a linked service with, and what came out."""

    spec_print: str
    ref_prints: dict[RefKey, str | None] = field(default_factory=dict)
    result: ProbeResult | None = None
    not_tested: tuple[str, str] | None = None  # (reason, message) when references did not resolve
    probed_at: str | None = None  # lastProbeTime written for this test


class Probes:
    def __init__(
        self,
        client: KubeClient,
        *,
        workers: int = 4,
        pod_name: str = "",
        clock: Callable[[], datetime] = utcnow,
        wake: Callable[[ObjectKey], None] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.client = client
        self.metrics = metrics or Metrics()
        self.pool = WorkerPool("probe", workers)
        self.in_flight = InFlight("probe")
        self.pod_name = pod_name
        self.clock = clock
        self.wake = wake
        self.tested: dict[tuple[str, str], Tested] = {}
        self.ref_prints: dict[tuple[str, str, str], str] = {}  # (namespace, kind, name) -> fingerprint
        self._event_seq = 0

    # ---------------------------------------------------------------- inputs
    def reference_seen(self, kind: str, body: Mapping[str, Any], deleted: bool) -> None:
        """A Secret or ConfigMap event: remember the fingerprint of its data (or that it is gone)."""
        meta = Meta.of(body)
        key = (meta.namespace, kind, meta.name)
        if deleted:
            self.ref_prints.pop(key, None)
            return
        data = secret_fingerprint_data(body) if kind == "Secret" else config_map_fingerprint_data(body)
        self.ref_prints[key] = ps.data_fingerprint(data)

    def forget(self, namespace: str, name: str) -> None:
        self.tested.pop((namespace, name), None)
        self.in_flight.cancel((namespace, name))

    async def close(self) -> None:
        await self.in_flight.close()
        self.pool.shutdown()

    # ---------------------------------------------------------------- reconcile
    def _references(self, namespace: str, spec: Mapping[str, Any]) -> dict[RefKey, str | None]:
        refs: dict[RefKey, str | None] = {}
        for name in sorted(ps.referenced_secrets(spec)):
            refs[("Secret", name)] = self.ref_prints.get((namespace, "Secret", name))
        for name in sorted(ps.referenced_config_maps(spec)):
            refs[("ConfigMap", name)] = self.ref_prints.get((namespace, "ConfigMap", name))
        return refs

    async def reconcile(self, body: Mapping[str, Any], now: datetime) -> float | None:
        """Start a test if one is due; repair a status someone overwrote. Returns when to look again."""
        meta = Meta.of(body)
        if meta.deleting:
            return None
        key = (meta.namespace, meta.name)
        spec = as_dict(body.get("spec"))
        status = as_dict(body.get("status"))
        spec_print = ps.spec_fingerprint(spec)
        tested = self.tested.get(key)
        current = self._references(meta.namespace, spec)
        changed = tested is not None and any(
            fp is not None and fp != tested.ref_prints.get(ref) for ref, fp in current.items()
        )
        interval = spec.get("probeIntervalSeconds", 300)
        if not isinstance(interval, int) or isinstance(interval, bool):
            interval = 300
        decision = ps.decide_probe(
            spec_print=spec_print,
            tested_spec_print=tested.spec_print if tested else None,
            references_changed=changed,
            # This operator's own last test counts even before the watch shows the status it wrote.
            last_probe_time=max(filter(None, (status.get("lastProbeTime"), tested.probed_at)), default=None)
            if tested
            else None,
            interval_seconds=interval,
            now=now,
            in_flight=key in self.in_flight,
        )
        if decision.probe:
            log.info("%s/%s: testing the connection (%s)", meta.namespace, meta.name, decision.trigger)
            self.in_flight.start(key, self._test(dict(body), spec_print, current))
            return None
        if tested is not None and tested.spec_print == spec_print and key not in self.in_flight:
            await self._repair(body, tested)
        if decision.wake_at is not None:
            return max(0.0, (decision.wake_at - now).total_seconds())
        return None

    async def _repair(self, body: Mapping[str, Any], tested: Tested) -> None:
        """Write the last result again if the object's status no longer shows it."""
        status = as_dict(body.get("status"))
        meta = Meta.of(body)
        result = tested.result
        if result is not None and not ps.reflects(status, result):
            await self._write(meta, lambda s: ps.probe_status(s, result, meta.generation))
        elif result is None and tested.not_tested is not None:
            cond = ps.connected_condition(status)
            reason, message = tested.not_tested
            if cond is None or cond.get("reason") != reason:
                await self._write(
                    meta, lambda s: ps.not_tested_status(s, reason, message, self.clock(), meta.generation)
                )

    # ---------------------------------------------------------------- the test
    async def _test(
        self, body: dict[str, Any], spec_print: str, ref_prints: dict[RefKey, str | None]
    ) -> None:
        meta = Meta.of(body)
        key = (meta.namespace, meta.name)
        tested = Tested(spec_print=spec_print, ref_prints=dict(ref_prints))
        try:
            try:
                ls = parse_resource(body)
            except SpecError as exc:
                raise ResolutionError(INVALID_SPEC, str(exc)) from None
            assert isinstance(ls, ImpalaLinkedService)
            with tempfile.TemporaryDirectory(prefix="impala-copy-probe-") as cert_dir:
                conn = impala_connection(ls, Layout(cert_dir=cert_dir))
                started = self.clock()
                t0 = time.monotonic()
                try:
                    secrets, prints = await load_credentials(
                        self.client, meta.namespace, conn, f"ImpalaLinkedService {meta.name!r}"
                    )
                except CopyError as exc:
                    result = failure_result(conn, exc, started, (time.monotonic() - t0) * 1000.0)
                else:
                    tested.ref_prints.update(prints)
                    watchdog = watchdog_seconds(conn)
                    try:
                        result = await self.pool.run(lambda: probe(conn, secrets), deadline_seconds=watchdog)
                    except DeadlineExceeded:
                        result = timeout_result(conn, watchdog, started)
                    finally:
                        secrets.clear()
        except ResolutionError as exc:
            # A missing Secret, key or ConfigMap (named in the message; Ready says the same): not tested.
            reason = exc.reason if exc.reason == INVALID_SPEC else ps.REASON_NOT_TESTED
            message = exc.message
            tested.not_tested = (reason, message)
            tested.probed_at = ps.rfc3339(self.clock())
            self.tested[key] = tested
            self.metrics.connection_tested(meta.namespace, meta.name, "notTested", reason)
            log.info("%s/%s: connection not tested: %s", meta.namespace, meta.name, message)
            await self._write(
                meta, lambda s: ps.not_tested_status(s, reason, message, self.clock(), meta.generation)
            )
            return
        tested.result = result
        tested.probed_at = ps.rfc3339(result.probed_at)
        self.tested[key] = tested
        self.metrics.connection_tested(
            meta.namespace, meta.name, "connected" if result.connected else "failed", result.reason
        )
        log.info(
            "%s/%s: connection test: %s (%s)",
            meta.namespace,
            meta.name,
            "connected" if result.connected else "failed",
            result.reason,
        )
        previous = await self._write(meta, lambda s: ps.probe_status(s, result, meta.generation))
        event = ps.transition_event(previous, result)
        if event is not None:
            await self._post(meta, EventSpec(*event))
        if self.wake is not None:
            self.wake((KIND, meta.namespace, meta.name))

    # ---------------------------------------------------------------- writing
    async def _write(
        self, meta: Meta, build: Callable[[Mapping[str, Any]], dict[str, Any]]
    ) -> dict[str, Any] | None:
        """Compare-and-swap the status; returns the Connected condition that was there before (or None)."""
        ref = OURS[KIND]
        for _ in range(CAS_ATTEMPTS):
            try:
                current = await self.client.get(ref, meta.namespace, meta.name)
            except ApiError as exc:
                if exc.not_found:
                    return None
                raise
            status = as_dict(current.get("status"))
            previous = ps.connected_condition(status)
            new = build(status)
            ops: list[dict[str, Any]] = []
            if "status" not in current or not isinstance(current.get("status"), dict):
                ops.append({"op": "add", "path": "/status", "value": new})
            else:
                if "conditions" in status:
                    ops.append({"op": "test", "path": "/status/conditions", "value": status["conditions"]})
                ops.extend({"op": "add", "path": f"/status/{k}", "value": v} for k, v in new.items())
            try:
                await self.client.json_patch_status(ref, meta.namespace, meta.name, ops)
                return previous
            except ApiError as exc:
                if exc.not_found:
                    return None
                if exc.status in (409, 422, 500):
                    continue  # the conditions changed since they were read: read again
                raise
        log.warning("%s/%s: could not write the connection test result (status kept changing)",
                    meta.namespace, meta.name)  # fmt: skip
        return None

    async def _post(self, meta: Meta, event: EventSpec) -> None:
        self._event_seq += 1
        suffix = f"{time.time_ns():x}{self._event_seq:04x}p"
        involved = Involved(kind=KIND, name=meta.name, namespace=meta.namespace, uid=meta.uid)
        try:
            await self.client.create_event(
                meta.namespace, event_body(involved, event, self.clock(), suffix, self.pod_name)
            )
        except ApiError as exc:
            log.warning("%s/%s: could not post Event %s: %s", meta.namespace, meta.name, event.reason, exc)


__all__ = ["Probes"]
