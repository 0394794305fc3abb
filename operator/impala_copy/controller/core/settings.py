"""The operator's settings, read from environment variables (the Helm chart sets them).

Every variable is declared once in `ENV_VARS` (name, default, meaning); `docs/operator.md` lists the
same table and a test keeps the two in step. A bad value stops the operator at start with a message
that names the variable, never with a traceback.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from impala_copy import __version__
from impala_copy.api.partitions import MAX_PARALLEL_COPIES
from impala_copy.api.pod_policy import POD_POLICY_ENV, PodPolicy, load_pod_policy
from impala_copy.controller.core.lease import Timing

PREFIX = "IMPALA_COPY_"
LOG_FORMATS = ("plain", "full", "json")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_NAMESPACE_PATTERN = re.compile(r"^!?[a-z0-9*?\[\]]([-a-z0-9*?\[\]]*[a-z0-9*?\[\]])?$")


class SettingsError(ValueError):
    """A setting with a bad value; the message names the environment variable."""


Parser = Callable[[str, str], Any]  # (value, variable name) -> the setting; SettingsError if bad


def _text(value: str, name: str) -> str:
    return value


@dataclass(frozen=True)
class EnvVar:
    """One variable: its name, default and meaning, the setting it fills (`job.` for the Job defaults)
    and how its text becomes that setting."""

    name: str
    default: str
    help: str
    field: str = ""
    parse: Parser = _text


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def log_level_number(level: str) -> int:
    return int(logging.getLevelName(level))


def parse_namespaces(value: str, name: str = "--namespace") -> tuple[str, ...]:
    """Namespaces (or kopf globs such as `team-*`, `!kube-system`) from a comma/space separated list."""
    items = [item for item in re.split(r"[,\s]+", value) if item]
    for item in items:
        if not _NAMESPACE_PATTERN.match(item):
            raise SettingsError(f"{name}: {item!r} is not a namespace name or pattern")
    return tuple(dict.fromkeys(items))


def _required(value: str, name: str) -> str:
    if not value:
        raise SettingsError(f"{name} must not be empty")
    return value


def _choice(value: str, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _pod_policy(text: str, name: str) -> PodPolicy:
    try:
        return load_pod_policy(text, source=name)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def _bool(value: str, name: str) -> bool:
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise SettingsError(f"{name} must be true or false, not {value!r}")
    return lowered == "true"


def _int(value: str, name: str, minimum: int = 0) -> int:
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number; got {value!r}") from None
    if number < minimum:
        raise SettingsError(f"{name} must be at least {minimum}; got {number}")
    return number


def _parallel_copies(value: str, name: str) -> int:
    number = _int(value, name, 1)
    if number > MAX_PARALLEL_COPIES:
        raise SettingsError(f"{name} must be at most {MAX_PARALLEL_COPIES}; got {number}")
    return number


def _seconds(value: str, name: str) -> float:
    """A positive number of seconds (decimals allowed)."""
    try:
        number = float(value)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds; got {value!r}") from None
    if not number > 0 or number == float("inf"):
        raise SettingsError(f"{name} must be more than 0 seconds; got {value!r}")
    return number


def _optional_int(value: str, name: str) -> int | None:
    return _int(value, name) if value else None


def _optional_port(value: str, name: str) -> int | None:
    if not value:
        return None
    port = _int(value, name, minimum=1)
    if port > 65535:
        raise SettingsError(f"{name} must be a port number from 1 to 65535; got {port}")
    return port


def _optional_name(value: str, name: str) -> str | None:
    if not value:
        return None
    if not _NAME.match(value):
        raise SettingsError(f"{name}: {value!r} is not a valid object name")
    return value


def _names(value: str, name: str) -> tuple[str, ...]:
    items = tuple(item for item in re.split(r"[,\s]+", value) if item)
    for item in items:
        _optional_name(item, name)
    return items


def _json(value: str, name: str, kind: type) -> Any:
    if not value:
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{name} is not valid JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(parsed, kind):
        raise SettingsError(f"{name} must be a JSON {'object' if kind is dict else 'list'}")
    return parsed


def _tuple(value: list[Any] | None) -> tuple[Any, ...] | None:
    return tuple(value) if value is not None else None


ENV_VARS: tuple[EnvVar, ...] = (
    EnvVar(
        "IMPALA_COPY_NAMESPACES",
        "",
        "Namespaces to watch, comma-separated (globs allowed). Empty: all namespaces.",
        field="namespaces",
        parse=parse_namespaces,
    ),
    EnvVar(
        "IMPALA_COPY_LOG_LEVEL",
        "INFO",
        "DEBUG, INFO, WARNING or ERROR.",
        field="log_level",
        parse=lambda v, n: _choice(v.upper(), n, _LEVELS),
    ),
    EnvVar(
        "IMPALA_COPY_LOG_FORMAT",
        "full",
        "plain, full (with time and level) or json.",
        field="log_format",
        parse=lambda v, n: _choice(v.lower(), n, LOG_FORMATS),
    ),
    EnvVar(
        "IMPALA_COPY_LIVENESS_ENDPOINT",
        "http://0.0.0.0:8080/healthz",
        "Where the liveness endpoint listens. Empty: no endpoint.",
        field="liveness_endpoint",
        parse=lambda v, n: v or None,
    ),
    EnvVar(
        "IMPALA_COPY_METRICS_PORT",
        "",
        "Port on which Prometheus metrics are served at /metrics (docs/operator.md#metrics). Empty: none.",
        field="metrics_port",
        parse=_optional_port,
    ),
    EnvVar(
        "IMPALA_COPY_WORKERS",
        "8",
        "Objects reconciled at the same time.",
        field="workers",
        parse=lambda v, n: _int(v, n, minimum=1),
    ),
    EnvVar(
        "IMPALA_COPY_RESYNC_SECONDS",
        "300",
        "Every object is reconciled again after this long. 0: never.",
        field="resync_seconds",
        parse=lambda v, n: float(_int(v, n)),
    ),
    EnvVar(
        POD_POLICY_ENV,
        "",
        "What a CopyActivity's job section may put into its pod, JSON (Helm: podPolicy; docs/security.md). "
        "Empty: only the engine image, nothing that changes security.",
        field="pod_policy",
        parse=_pod_policy,
    ),
    EnvVar(
        "IMPALA_COPY_CONNECTION_TESTS",
        "true",
        "Test each ImpalaLinkedService's connection in a Job pod (true/false; docs/lookup.md).",
        field="connection_tests",
        parse=_bool,
    ),
    EnvVar(
        "IMPALA_COPY_ENGINE_IMAGE",
        f"impala-copy:{__version__}",
        "Image of the copy Job pods.",
        field="job.image",
        parse=_required,
    ),
    EnvVar(
        "IMPALA_COPY_ENGINE_IMAGE_PULL_POLICY",
        "IfNotPresent",
        "Always, IfNotPresent or Never.",
        field="job.image_pull_policy",
        parse=lambda v, n: _choice(v, n, PULL_POLICIES),
    ),
    EnvVar(
        "IMPALA_COPY_JOB_IMAGE_PULL_SECRETS",
        "",
        "Secrets to pull the image with, comma-separated.",
        field="job.image_pull_secrets",
        parse=_names,
    ),
    EnvVar(
        "IMPALA_COPY_JOB_SERVICE_ACCOUNT_NAME",
        "",
        "Service account of the Job pods. Empty: the namespace's default.",
        field="job.service_account_name",
        parse=_optional_name,
    ),
    EnvVar(
        "IMPALA_COPY_JOB_RESOURCES",
        '{"requests":{"cpu":"250m","memory":"512Mi"},"limits":{"memory":"2Gi"}}',
        "Container resources of the Job pods, JSON (a Kubernetes ResourceRequirements).",
        field="job.resources",
        parse=lambda v, n: _json(v, n, dict) or {},
    ),
    EnvVar(
        "IMPALA_COPY_JOB_NODE_SELECTOR",
        "",
        "Node selector of the Job pods, JSON object.",
        field="job.node_selector",
        parse=lambda v, n: _json(v, n, dict),
    ),
    EnvVar(
        "IMPALA_COPY_JOB_TOLERATIONS",
        "",
        "Tolerations of the Job pods, JSON list.",
        field="job.tolerations",
        parse=lambda v, n: _tuple(_json(v, n, list)),
    ),
    EnvVar(
        "IMPALA_COPY_JOB_AFFINITY",
        "",
        "Affinity of the Job pods, JSON object.",
        field="job.affinity",
        parse=lambda v, n: _json(v, n, dict),
    ),
    EnvVar(
        "IMPALA_COPY_JOB_TTL_SECONDS_AFTER_FINISHED",
        "604800",
        "Seconds a finished Job is kept before Kubernetes deletes it. Empty: until history limits remove it.",
        field="job.ttl_seconds_after_finished",
        parse=_optional_int,
    ),
    EnvVar(
        "IMPALA_COPY_JOB_RUN_AS_USER",
        "65532",
        "UID of the Job pods (the image's user). Empty: not set, the platform assigns one "
        "(OpenShift's restricted-v2 SCC); the pods still run as non-root.",
        field="job.run_as_user",
        parse=lambda v, n: _int(v, n, minimum=1) if v else None,
    ),
    EnvVar(
        "IMPALA_COPY_JOB_RUN_AS_GROUP",
        "65532",
        "GID of the Job pods. Empty: not set (the image's or the platform's).",
        field="job.run_as_group",
        parse=_optional_int,
    ),
    EnvVar(
        "IMPALA_COPY_JOB_FS_GROUP",
        "65532",
        "fsGroup of the Job pods: group owner of mounted volumes. Empty: not set (the platform's).",
        field="job.fs_group",
        parse=_optional_int,
    ),
    EnvVar(
        "IMPALA_COPY_SUCCESSFUL_JOBS_HISTORY_LIMIT",
        "3",
        "Jobs of succeeded runs kept, when a CopyActivity does not set successfulJobsHistoryLimit.",
        field="job.successful_jobs_history_limit",
        parse=_int,
    ),
    EnvVar(
        "IMPALA_COPY_FAILED_JOBS_HISTORY_LIMIT",
        "1",
        "Jobs of failed runs kept, when a CopyActivity does not set failedJobsHistoryLimit.",
        field="job.failed_jobs_history_limit",
        parse=_int,
    ),
    EnvVar(
        "IMPALA_COPY_JOB_MAX_PARALLEL_COPIES",
        "32",
        "Most pods a partitioned CopyActivity may ask for (spec.parallelCopies, 1 to 256); one above "
        "it is not Ready (InvalidSpec).",
        field="job.max_parallel_copies",
        parse=_parallel_copies,
    ),
    EnvVar(
        "IMPALA_COPY_LEASE_NAMESPACE",
        "",
        "Namespace of the Lease that elects the one replica that reconciles (Helm: the operator's own). "
        "Empty: no election, this replica reconciles alone (run one replica only).",
        field="lease_namespace",
        parse=_optional_name,
    ),
    EnvVar(
        "IMPALA_COPY_LEASE_NAME",
        "impala-copy-operator",
        "Name of that Lease (Helm: the release's full name).",
        field="lease_name",
        parse=lambda v, n: _optional_name(_required(v, n), n),
    ),
    EnvVar(
        "IMPALA_COPY_LEASE_DURATION_SECONDS",
        "15",
        "A standby takes over when the leader has not renewed the Lease for this long.",
        field="lease_duration",
        parse=lambda v, n: _int(v, n, minimum=1),
    ),
    EnvVar(
        "IMPALA_COPY_LEASE_RENEW_DEADLINE_SECONDS",
        "10",
        "The leader stops reconciling when it could not renew the Lease for this long "
        "(less than the lease duration).",
        field="lease_renew_deadline",
        parse=_seconds,
    ),
    EnvVar(
        "IMPALA_COPY_LEASE_RETRY_PERIOD_SECONDS",
        "2",
        "How often the leader renews the Lease and a standby reads it (less than the renew deadline).",
        field="lease_retry_period",
        parse=_seconds,
    ),
    EnvVar(
        "IMPALA_COPY_POD_NAME",
        "",
        "Name of the operator's pod (downward API), reported in Events.",
        field="pod_name",
        parse=_text,
    ),
)


@dataclass(frozen=True)
class JobDefaults:
    """What a Job pod gets when the CopyActivity's `job` section leaves it out."""

    image: str = f"impala-copy:{__version__}"
    image_pull_policy: str = "IfNotPresent"
    image_pull_secrets: tuple[str, ...] = ()
    service_account_name: str | None = None
    resources: Mapping[str, Any] = field(
        default_factory=lambda: {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}}
    )
    node_selector: Mapping[str, str] | None = None
    tolerations: tuple[Mapping[str, Any], ...] | None = None
    affinity: Mapping[str, Any] | None = None
    ttl_seconds_after_finished: int | None = 604800
    run_as_user: int | None = 65532  # None: not set, the platform assigns the UID (OpenShift)
    run_as_group: int | None = 65532
    fs_group: int | None = 65532
    successful_jobs_history_limit: int = 3
    failed_jobs_history_limit: int = 1
    tmp_size_limit: str | None = "1Gi"  # the pod's /tmp emptyDir
    max_parallel_copies: int = 32  # the cap of spec.parallelCopies (partitioned copies)


@dataclass(frozen=True)
class Settings:
    """Everything the operator is configured with."""

    namespaces: tuple[str, ...] = ()
    log_level: str = "INFO"
    log_format: str = "full"
    liveness_endpoint: str | None = "http://0.0.0.0:8080/healthz"
    metrics_port: int | None = None
    workers: int = 8
    resync_seconds: float = 300.0
    connection_tests: bool = True
    pod_policy: PodPolicy = field(default_factory=PodPolicy)
    pod_name: str = ""
    lease_namespace: str | None = None
    lease_name: str = "impala-copy-operator"
    lease_duration: int = 15
    lease_renew_deadline: float = 10.0
    lease_retry_period: float = 2.0
    job: JobDefaults = field(default_factory=JobDefaults)
    # Not from the environment: how long a finished Job may wait for its pod's summary to be seen.
    summary_grace_seconds: float = 20.0

    @property
    def clusterwide(self) -> bool:
        return not self.namespaces

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Settings from environment variables; SettingsError names the first bad one."""
        top: dict[str, Any] = {}
        job: dict[str, Any] = {}
        for var in ENV_VARS:
            value = var.parse(env.get(var.name, var.default).strip(), var.name)
            if var.field.startswith("job."):
                job[var.field.removeprefix("job.")] = value
            else:
                top[var.field] = value
        settings = cls(**top, job=JobDefaults(**job))
        check_lease_timing(settings)
        return settings

    @property
    def lease_timing(self) -> Timing:
        return Timing(self.lease_duration, self.lease_renew_deadline, self.lease_retry_period)


def check_lease_timing(settings: Settings) -> None:
    """The leader must stop before a standby may take over, and renew more than once before it stops."""
    if not settings.lease_renew_deadline < settings.lease_duration:
        raise SettingsError(
            "IMPALA_COPY_LEASE_RENEW_DEADLINE_SECONDS must be less than IMPALA_COPY_LEASE_DURATION_SECONDS; "
            f"got {settings.lease_renew_deadline:g} and {settings.lease_duration}"
        )
    if not settings.lease_retry_period < settings.lease_renew_deadline:
        raise SettingsError(
            "IMPALA_COPY_LEASE_RETRY_PERIOD_SECONDS must be less than "
            f"IMPALA_COPY_LEASE_RENEW_DEADLINE_SECONDS; got {settings.lease_retry_period:g} "
            f"and {settings.lease_renew_deadline:g}"
        )


def with_options(
    env: Mapping[str, str],
    *,
    namespaces: list[str] | None = None,
    log_level: str | None = None,
    liveness: str | None = None,
) -> Settings:
    """Settings from the environment, overridden by command-line options."""
    settings = Settings.from_env(env)
    changes: dict[str, Any] = {}
    if namespaces:
        changes["namespaces"] = parse_namespaces(",".join(namespaces))
    if log_level is not None:
        changes["log_level"] = _choice(log_level.upper(), "--log-level", _LEVELS)
    if liveness is not None:
        changes["liveness_endpoint"] = liveness or None
    return dataclasses.replace(settings, **changes)
