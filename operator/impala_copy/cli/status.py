"""`impala-copy status`: every CopyActivity's and LookupActivity's state, read from a cluster.

It logs in as `kubectl` does (the kubeconfig in KUBECONFIG or ~/.kube/config, its current context or
`--context`; inside a pod, the pod's service account) and only lists the two kinds: it needs `list` on
copyactivities and lookupactivities, nothing else, and reads no Secret.

Everything printed comes from the objects, which anyone allowed to write them can craft: text columns
are cut to a bounded width and control characters are shown escaped, so no status can move the cursor
or rewrite the terminal. `-o json` prints the same records as JSON.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from impala_copy.api.activities import CopyActivity, LookupActivity
from impala_copy.api.common import API_GROUP, API_VERSION

KINDS = (CopyActivity.KIND_INFO, LookupActivity.KIND_INFO)
CELL_LIMIT = 80  # characters of a text column in the table
NONE = "-"


class StatusError(Exception):
    """Why the activities could not be listed: one line, no secret (the command exits 1 with it)."""


@dataclass(frozen=True)
class ActivityState:
    """What `status` prints of one activity."""

    namespace: str
    kind: str
    name: str
    phase: str | None
    last_run: str | None  # RFC 3339: when the newest attempt ended, or started while it runs
    last_run_status: str | None
    rows: int | None
    reason: str | None
    next_run: str | None  # the next retry, scheduled run, window or interval run
    attempt: int | None
    trigger: str | None
    last_success: str | None
    message: str | None


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _message(status: Mapping[str, Any]) -> str | None:
    """The message of the condition whose reason status.reason names (the phase's explanation)."""
    reason = status.get("reason")
    conditions = status.get("conditions")
    for cond in conditions if isinstance(conditions, list) else []:
        if isinstance(cond, dict) and reason and cond.get("reason") == reason and cond.get("message"):
            return _str(cond.get("message"))
    return None


def activity_state(kind: str, obj: Mapping[str, Any]) -> ActivityState:
    """One activity's state from its object (any shape: what is missing or of the wrong type is None)."""
    meta, status = _dict(obj.get("metadata")), _dict(obj.get("status"))
    run = _dict(status.get("lastRun"))
    windows = _dict(status.get("windows"))
    rows = _int(run.get("rowsCopied" if kind == CopyActivity.KIND_INFO.kind else "rowsReturned"))
    next_times = ("nextRetryTime", "nextScheduleTime", "nextRunTime")
    return ActivityState(
        namespace=_str(meta.get("namespace")) or "",
        kind=kind,
        name=_str(meta.get("name")) or "",
        phase=_str(status.get("phase")),
        last_run=_str(run.get("completionTime")) or _str(run.get("startTime")),
        last_run_status=_str(run.get("status")),
        rows=rows,
        reason=_str(status.get("reason")),
        next_run=next((t for k in next_times if (t := _str(status.get(k)))), None)
        or _str(windows.get("nextWindowTime")),
        attempt=_int(run.get("attempt")),
        trigger=_str(run.get("trigger")),
        last_success=_str(status.get("lastSuccessfulTime")),
        message=_message(status),
    )


# ------------------------------------------------------------------ reading the cluster
def _api(kubeconfig: str | None, context: str | None) -> tuple[Any, str]:
    """The custom objects API logged in from the kubeconfig, and the context's namespace."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    try:
        config.load_kube_config(config_file=kubeconfig, context=context)
        contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
        chosen = next((c for c in contexts or [] if _dict(c).get("name") == context), active)
        namespace = _str(_dict(_dict(chosen).get("context")).get("namespace")) or "default"
    except ConfigException as exc:
        try:
            config.load_incluster_config()
        except ConfigException:
            where = kubeconfig or "KUBECONFIG or ~/.kube/config"
            raise StatusError(f"no cluster to ask: no usable kubeconfig ({where}): {exc}") from None
        namespace = "default"
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise StatusError(f"cannot read the kubeconfig ({kubeconfig or 'KUBECONFIG'}): {exc}") from None
    return client.CustomObjectsApi(), namespace


def _explain(exc: Exception, plural: str, namespace: str | None) -> StatusError:
    """An API error as one line: who refused what, and the server's own message."""
    from kubernetes.client.exceptions import ApiException

    where = f"in namespace {namespace}" if namespace else "in any namespace (--all-namespaces)"
    if isinstance(exc, ApiException):
        try:
            message = _str(json.loads(exc.body or "{}").get("message"))
        except (ValueError, AttributeError):
            message = None
        detail = message or exc.reason or ""
        if exc.status == 403:
            return StatusError(f"forbidden: you may not list {plural}.{API_GROUP} {where}: {detail}")
        if exc.status == 404:
            return StatusError(
                f"{plural}.{API_GROUP} not found {where}: are the impala-copy CRDs installed? ({detail})"
            )
        if exc.status == 401:
            return StatusError(f"unauthorized: the cluster refused your credentials: {detail}")
        return StatusError(f"listing {plural}.{API_GROUP} {where} failed: {exc.status} {detail}")
    reason = getattr(exc, "reason", None) or exc
    return StatusError(f"cannot reach the cluster to list {plural}.{API_GROUP}: {reason}")


def list_activities(
    namespace: str | None, all_namespaces: bool, kubeconfig: str | None = None, context: str | None = None
) -> tuple[list[ActivityState], str | None]:
    """Every CopyActivity and LookupActivity of the namespace (None: of all), sorted by namespace and
    name, and the namespace asked (the context's when none is given)."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    api, default_namespace = _api(kubeconfig, context)
    target = None if all_namespaces else (namespace or default_namespace)
    states: list[ActivityState] = []
    for info in KINDS:
        try:
            if target is None:
                found = api.list_cluster_custom_object(
                    API_GROUP, API_VERSION, info.plural, _request_timeout=30
                )
            else:
                found = api.list_namespaced_custom_object(
                    API_GROUP, API_VERSION, target, info.plural, _request_timeout=30
                )
        except (ApiException, HTTPError, OSError) as exc:
            raise _explain(exc, info.plural, target) from None
        items = _dict(found).get("items")
        states += [
            activity_state(info.kind, o) for o in (items if isinstance(items, list) else []) if _dict(o)
        ]
    return sorted(states, key=lambda s: (s.namespace, s.name, s.kind)), target


# ------------------------------------------------------------------ printing
def safe(value: Any, limit: int = CELL_LIMIT) -> str:
    """A value for the terminal: control characters escaped, cut to `limit` characters."""
    if value is None:
        return NONE
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in str(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _row(state: ActivityState, wide: bool, all_namespaces: bool) -> list[str]:
    last = state.last_run
    if last and state.last_run_status:
        last = f"{last} ({state.last_run_status})"
    row = [state.kind, state.name, state.phase, last, state.rows, state.reason, state.next_run]
    if wide:
        row += [state.attempt, state.trigger, state.last_success, state.message]
    if all_namespaces:
        row.insert(0, state.namespace)
    return [safe(v) for v in row]


def table(states: Iterable[ActivityState], wide: bool = False, all_namespaces: bool = False) -> str:
    """Aligned columns, as kubectl prints them."""
    header = ["KIND", "NAME", "PHASE", "LAST RUN", "ROWS", "REASON", "NEXT RUN"]
    if wide:
        header += ["ATTEMPT", "TRIGGER", "LAST SUCCESS", "MESSAGE"]
    if all_namespaces:
        header.insert(0, "NAMESPACE")
    rows = [header, *(_row(s, wide, all_namespaces) for s in states)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def status(
    namespace: str | None,
    all_namespaces: bool,
    output: str,
    kubeconfig: str | None = None,
    context: str | None = None,
) -> int:
    """Print the activities; exit code 0, or 1 with a one-line error on stderr."""
    try:
        states, target = list_activities(namespace, all_namespaces, kubeconfig, context)
    except StatusError as exc:
        print(f"impala-copy status: {exc}", file=sys.stderr)
        return 1
    if output == "json":
        print(json.dumps([asdict(s) for s in states], indent=2))
    elif not states:
        where = f"namespace {target}" if target else "any namespace"
        print(f"No CopyActivity or LookupActivity found in {where}.", file=sys.stderr)
    else:
        print(table(states, wide=output == "wide", all_namespaces=all_namespaces))
    return 0


__all__ = ["ActivityState", "StatusError", "activity_state", "list_activities", "safe", "status", "table"]
