"""Where a LookupActivity's output goes, and the ConfigMap that holds a large one. Pure.

Into `status.output` when its JSON is at most `STATUS_OUTPUT_LIMIT` bytes (and policy.secureOutput is
false); otherwise into a ConfigMap owned by the activity, as the key `output.json`, or
gzip-compressed as binaryData `output.json.gz` when the JSON is larger than `CONFIG_MAP_TEXT_LIMIT`.
The engine refuses outputs over 4 MiB (ADF's limit); a compressed output that still does not fit a
ConfigMap fails the run with ResultTooLarge.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from dataclasses import dataclass
from typing import Any

from impala_copy.api.common import GROUP_VERSION

# status.output holds at most this many bytes of JSON. An object must stay well under the API
# server's 1.5 MiB request limit (etcd), be cheap to watch and list (every watcher receives the whole
# object on each change) and readable with `kubectl get -o yaml`; 16 KiB is about a hundred small rows.
STATUS_OUTPUT_LIMIT = 16 * 1024
# A ConfigMap holds at most 1 MiB (data and binaryData together); keep room for metadata.
CONFIG_MAP_TEXT_LIMIT = 900 * 1024
CONFIG_MAP_OUTPUT_KEY = "output.json"
CONFIG_MAP_GZIP_KEY = "output.json.gz"
RESULT_TOO_LARGE = "ResultTooLarge"
MANAGED_BY = "impala-copy-operator"


class OutputTooLarge(ValueError):
    """Even compressed, the output does not fit a ConfigMap."""


@dataclass(frozen=True)
class Placement:
    """Where a successful output goes: status (`in_status`) or the ConfigMap `data`/`binary_data`."""

    in_status: bool
    data: dict[str, str] | None = None
    binary_data: dict[str, str] | None = None
    stored_bytes: int = 0


def place_output(text: str, *, secure_output: bool) -> Placement:
    """Status when small (and not secureOutput), else a ConfigMap; OutputTooLarge if gzip does not fit."""
    size = len(text.encode())
    if size <= STATUS_OUTPUT_LIMIT and not secure_output:
        return Placement(in_status=True, stored_bytes=size)
    if size <= CONFIG_MAP_TEXT_LIMIT:
        return Placement(in_status=False, data={CONFIG_MAP_OUTPUT_KEY: text}, stored_bytes=size)
    packed = gzip.compress(text.encode(), compresslevel=6, mtime=0)
    if len(packed) > CONFIG_MAP_TEXT_LIMIT:
        raise OutputTooLarge(
            f"the lookup output is {size} bytes of JSON, {len(packed)} bytes compressed: more than the "
            f"{CONFIG_MAP_TEXT_LIMIT // 1024} KiB a result ConfigMap holds; select fewer columns or rows"
        )
    return Placement(
        in_status=False,
        binary_data={CONFIG_MAP_GZIP_KEY: base64.b64encode(packed).decode("ascii")},
        stored_bytes=len(packed),
    )


def result_config_map_name(activity: str) -> str:
    """`<activity>-lookup-result`, shortened with a hash when the name would be too long."""
    suffix = "-lookup-result"
    name = f"{activity}{suffix}"
    if len(name) <= 253:
        return name
    digest = hashlib.sha256(activity.encode()).hexdigest()[:8]
    return f"{activity[: 253 - len(suffix) - 9]}-{digest}{suffix}"


@dataclass(frozen=True)
class StoredOutput:
    """What the result ConfigMap says about the output it holds."""

    activity: str
    namespace: str
    uid: str | None
    run_id: str
    rows: int
    truncated: bool
    size_bytes: int


def result_config_map(out: StoredOutput, placement: Placement) -> dict[str, Any]:
    """The ConfigMap holding a large output, owned by the activity (deleted with it)."""
    meta: dict[str, Any] = {
        "name": result_config_map_name(out.activity),
        "namespace": out.namespace,
        "labels": {
            "app.kubernetes.io/managed-by": MANAGED_BY,
            "app.kubernetes.io/component": "lookup-result",
            "impalacopy.io/activity": out.activity[:63].rstrip("-_."),
        },
        "annotations": {
            "impalacopy.io/run-id": out.run_id,
            "impalacopy.io/rows": str(out.rows),
            "impalacopy.io/truncated": "true" if out.truncated else "false",
            "impalacopy.io/output-bytes": str(out.size_bytes),
            "impalacopy.io/encoding": "gzip" if placement.binary_data else "none",
        },
    }
    if out.uid:
        meta["ownerReferences"] = [
            {
                "apiVersion": GROUP_VERSION,
                "kind": "LookupActivity",
                "name": out.activity,
                "uid": out.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
    if placement.data is not None:
        body["data"] = placement.data
    if placement.binary_data is not None:
        body["binaryData"] = placement.binary_data
    return body


__all__ = [
    "CONFIG_MAP_GZIP_KEY",
    "CONFIG_MAP_OUTPUT_KEY",
    "CONFIG_MAP_TEXT_LIMIT",
    "STATUS_OUTPUT_LIMIT",
    "OutputTooLarge",
    "Placement",
    "StoredOutput",
    "place_output",
    "result_config_map",
    "result_config_map_name",
]
