"""Kubernetes Events (core/v1) on our objects: built here, posted by the one EventPoster through kube.py."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from impala_copy.api.common import GROUP_VERSION
from impala_copy.controller.core.constants import EVENT_SOURCE
from impala_copy.controller.core.kube import ApiError, KubeClient
from impala_copy.controller.core.records import Meta
from impala_copy.controller.core.status import EventSpec
from impala_copy.controller.core.timeutil import format_time

MESSAGE_LIMIT = 1024


@dataclass(frozen=True)
class Involved:
    kind: str
    name: str
    namespace: str
    uid: str | None
    api_version: str = GROUP_VERSION


def event_body(
    involved: Involved, event: EventSpec, now: datetime, suffix: str, instance: str = ""
) -> dict[str, Any]:
    """An Event named `<object>.<suffix>` (as client-go names them), counted once."""
    stamp = format_time(now)
    reference: dict[str, Any] = {
        "apiVersion": involved.api_version,
        "kind": involved.kind,
        "name": involved.name,
        "namespace": involved.namespace,
    }
    if involved.uid:
        reference["uid"] = involved.uid
    message = (
        event.message if len(event.message) <= MESSAGE_LIMIT else event.message[: MESSAGE_LIMIT - 1] + "…"
    )
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{involved.name[:200]}.{suffix}", "namespace": involved.namespace},
        "involvedObject": reference,
        "type": event.type,
        "reason": event.reason,
        "message": message,
        "source": {"component": EVENT_SOURCE},
        "reportingComponent": EVENT_SOURCE,
        "reportingInstance": instance or EVENT_SOURCE,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


log = logging.getLogger("impala_copy.controller")


class EventPoster:
    """Posts the Events of every kind: best effort, never blocking a reconciliation."""

    def __init__(self, client: KubeClient, instance: str = "") -> None:
        self.client = client
        self.instance = instance
        self._seq = 0

    async def post(self, kind: str, body: Mapping[str, Any], event: EventSpec, now: datetime) -> None:
        meta = Meta.of(body)
        involved = Involved(kind=kind, name=meta.name, namespace=meta.namespace, uid=meta.uid)
        self._seq += 1
        suffix = f"{time.time_ns():x}{self._seq:04x}"
        try:
            await self.client.create_event(
                meta.namespace, event_body(involved, event, now, suffix, self.instance)
            )
        except ApiError as exc:
            # Best effort; a namespace being deleted takes its Events with it: no warning for those.
            level = logging.DEBUG if exc.namespace_terminating else logging.WARNING
            log.log(level, "%s/%s: could not post Event %s: %s", meta.namespace, meta.name, event.reason, exc)
