"""Searching everything the operator wrote or logged for secret values (plain text and base64)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable

from tests.operator.harness import OURS_RECONCILED, Cluster, LogCapture


def forms(secret: str | bytes) -> list[str]:
    """The texts a secret may show as: itself and its base64; a binary secret (a keytab) as base64 at
    each alignment inside a longer encoded text, and its bytes read as Latin-1."""
    if isinstance(secret, bytes):
        shifted = [base64.b64encode(secret[shift:]).decode()[4:44] for shift in range(3)]
        return [*shifted, secret.decode("latin-1")[4:36]]
    encoded = base64.b64encode(secret.encode()).decode()
    return [secret, encoded, encoded.rstrip("=")]


def operator_texts(cluster: Cluster, logs: LogCapture) -> dict[str, list[str]]:
    """Every text the operator produced, by where it went: request URLs and bodies, its log lines,
    Events, the status of each of our objects, ConfigMaps and Jobs (as stored in the emulator)."""
    sent = cluster.operator_requests()
    return {
        "request": [f"{r.method.value} {r.url}\n{r.body.decode(errors='replace')}" for r in sent],
        "log line": list(logs.lines),
        "Event": [json.dumps(e) for e in cluster.all("Event", None)],
        "status": [
            json.dumps(obj.get("status")) for kind in OURS_RECONCILED for obj in cluster.all(kind, None)
        ],
        "ConfigMap": [json.dumps(cm) for cm in cluster.all("ConfigMap", None)],
        "Job": [json.dumps(job) for job in cluster.all("Job", None)],
    }


def assert_nowhere(values: Iterable[str | bytes], texts: dict[str, list[str]]) -> None:
    """No form of any value in any text; the failure names where it was found, not the value."""
    for index, value in enumerate(values):
        for form in forms(value):
            for where, items in texts.items():
                for position, item in enumerate(items):
                    assert form not in item, f"secret value #{index} found in {where} #{position}"
