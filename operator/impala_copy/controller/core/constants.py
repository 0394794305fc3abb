"""Names the operator writes: labels, annotations, condition types and reasons, Event reasons.

Every condition reason the operator can set is listed here (`CONDITION_REASONS`), so the
troubleshooting guide can be checked against it. Engine error codes pass through as reasons of the
Failed condition; they are listed from `engine/errors.py`.
"""

from __future__ import annotations

import inspect
from typing import Final

from impala_copy.api import pod_contract, resolve, runs
from impala_copy.api.common import API_GROUP
from impala_copy.engine import errors as engine_errors

# ------------------------------------------------------------------ labels and annotations
# The object whose run a Job is: a CopyActivity, a LookupActivity or (connection tests) an
# ImpalaLinkedService; `kind` says which (Jobs without it are CopyActivity runs).
LABEL_ACTIVITY: Final = f"{API_GROUP}/activity"
LABEL_KIND: Final = f"{API_GROUP}/kind"
LABEL_RUN: Final = f"{API_GROUP}/run"
LABEL_ATTEMPT: Final = f"{API_GROUP}/attempt"
# A partitioned copy's attempt runs as three Jobs, one per step (core/steps.py); unpartitioned runs have none.
LABEL_STEP: Final = f"{API_GROUP}/step"
ANNOTATION_RUN_NOW: Final = f"{API_GROUP}/run-now"
# Sets the watermark of an incremental CopyActivity to its value (handled once per value).
ANNOTATION_RESET_WATERMARK: Final = f"{API_GROUP}/reset-watermark"
ANNOTATION_ACTIVITY_NAME: Final = f"{API_GROUP}/activity-name"
ANNOTATION_OWNER_KIND: Final = f"{API_GROUP}/owner-kind"
ANNOTATION_GENERATION: Final = f"{API_GROUP}/generation"
ANNOTATION_TRIGGER: Final = f"{API_GROUP}/trigger"
ANNOTATION_PLAN_DIGEST: Final = f"{API_GROUP}/plan-digest"
ANNOTATION_SCHEDULED_TIME: Final = f"{API_GROUP}/scheduled-time"  # the due time of a scheduled run
# Tumbling windows: the window a Job copies, and the rerun-window value that started it (if any).
ANNOTATION_WINDOW_START: Final = f"{API_GROUP}/window-start"
ANNOTATION_WINDOW_END: Final = f"{API_GROUP}/window-end"
ANNOTATION_RERUN_WINDOW: Final = f"{API_GROUP}/rerun-window"

APP_NAME: Final = "impala-copy"
MANAGED_BY: Final = "impala-copy-operator"
COMPONENT_ENGINE: Final = "copy-engine"

# The kinds whose runs are Jobs, and the engine task each runs.
RUNNING_KINDS: Final = ("CopyActivity", "LookupActivity", "ImpalaLinkedService")

# The steps of a partitioned copy, in order: plan the partitions, copy them (an Indexed Job), commit.
STEP_PLAN: Final = "plan"
STEP_COPY: Final = "copy"
STEP_COMMIT: Final = "commit"
STEPS: Final = (STEP_PLAN, STEP_COPY, STEP_COMMIT)
# What status.lastRun.step says while each step runs.
STEP_STATES: Final = {STEP_PLAN: "planning", STEP_COPY: "copying", STEP_COMMIT: "committing"}

# Labels the Job controller puts on a Job's pods.
POD_JOB_NAME_LABELS: Final = ("batch.kubernetes.io/job-name", "job-name")
# Where the Job controller writes the completion index of an Indexed Job's pod.
POD_INDEX_KEYS: Final = ("batch.kubernetes.io/job-completion-index",)

ENGINE_CONTAINER: Final = pod_contract.ENGINE_CONTAINER
TERMINATION_MESSAGE_PATH: Final = pod_contract.TERMINATION_MESSAGE_PATH
EVENT_SOURCE: Final = "impala-copy-operator"


# ------------------------------------------------------------------ run triggers
Trigger = runs.Trigger


# ------------------------------------------------------------------ conditions
class ConditionType:
    READY: Final = "Ready"
    RUNNING: Final = "Running"
    SUCCEEDED: Final = "Succeeded"
    FAILED: Final = "Failed"
    CONNECTED: Final = "Connected"  # ImpalaLinkedService (controller/connection/)


class Reason:
    """Reasons of the conditions the operator sets (engine error codes come on top, see below)."""

    # Ready
    RESOLVED: Final = "Resolved"
    REFERENCE_NOT_FOUND: Final = resolve.REFERENCE_NOT_FOUND
    SECRET_NOT_FOUND: Final = resolve.SECRET_NOT_FOUND
    SECRET_KEY_NOT_FOUND: Final = resolve.SECRET_KEY_NOT_FOUND
    CONFIG_MAP_NOT_FOUND: Final = resolve.CONFIG_MAP_NOT_FOUND
    CONFIG_MAP_KEY_NOT_FOUND: Final = resolve.CONFIG_MAP_KEY_NOT_FOUND
    INVALID_SPEC: Final = resolve.INVALID_SPEC
    INVALID_REFERENCE: Final = resolve.INVALID_REFERENCE
    POLICY_VIOLATION: Final = "PolicyViolation"
    # ClaimBound (file datasets on a PersistentVolumeClaim): informs, never blocks a run
    CLAIM_BOUND: Final = "ClaimBound"
    CLAIM_NOT_BOUND: Final = "ClaimNotBound"
    # Running
    JOB_PENDING: Final = "JobPending"
    JOB_RUNNING: Final = "JobRunning"
    RETRY_SCHEDULED: Final = "RetryScheduled"
    NOT_READY: Final = "NotReady"
    IDLE: Final = "Idle"
    IMAGE_PULL_BACK_OFF: Final = "ImagePullBackOff"
    ERR_IMAGE_PULL: Final = "ErrImagePull"
    INVALID_IMAGE_NAME: Final = "InvalidImageName"
    CREATE_CONTAINER_CONFIG_ERROR: Final = "CreateContainerConfigError"
    UNSCHEDULABLE: Final = "Unschedulable"
    # Running (Connected for an ImpalaLinkedService), and Events: the API server refused a request
    # of the operator (core/refusals.py): 403, 422, any other error
    FORBIDDEN: Final = "Forbidden"
    INVALID: Final = "Invalid"
    API_ERROR: Final = "ApiError"
    # Succeeded / Failed
    NOT_STARTED: Final = "NotStarted"
    RUN_IN_PROGRESS: Final = "RunInProgress"
    RUN_SUCCEEDED: Final = "RunSucceeded"
    OOM_KILLED: Final = "OOMKilled"
    DEADLINE_EXCEEDED: Final = "DeadlineExceeded"
    EVICTED: Final = "Evicted"
    ENGINE_FAILED: Final = "EngineFailed"
    CONFIGURATION_ERROR: Final = "ConfigurationError"
    JOB_FAILED: Final = "JobFailed"
    JOB_DELETED: Final = "JobDeleted"
    # Partitioned copies (core/steps.py): the plan step ended without a usable list of partitions
    PARTITION_PLAN_LOST: Final = "PartitionPlanLost"
    # LookupActivity (controller/lookup/): Failed, Truncated
    RESULT_NOT_STORED: Final = "ResultNotStored"
    ROW_LIMIT_EXCEEDED: Final = "RowLimitExceeded"
    WITHIN_ROW_LIMIT: Final = "WithinRowLimit"
    # ImpalaLinkedService connection test (controller/connection/): Connected
    CONNECTED: Final = "Connected"
    REFERENCES_NOT_RESOLVED: Final = "ReferencesNotResolved"


# Container waiting reasons that keep a pod from ever starting on its own.
STUCK_WAITING_REASONS: Final = frozenset(
    {
        Reason.IMAGE_PULL_BACK_OFF,
        Reason.ERR_IMAGE_PULL,
        Reason.INVALID_IMAGE_NAME,
        Reason.CREATE_CONTAINER_CONFIG_ERROR,
        "CreateContainerError",
    }
)


def _engine_error_codes() -> frozenset[str]:
    codes = set()
    for _, cls in inspect.getmembers(engine_errors, inspect.isclass):
        if issubclass(cls, engine_errors.CopyError):
            codes.add(str(cls.code))
    return frozenset(codes)


# Codes of the engine's errors: they become the reason of the Failed condition.
ENGINE_ERROR_REASONS: Final = _engine_error_codes()

OPERATOR_REASONS: Final = frozenset(
    value for name, value in vars(Reason).items() if not name.startswith("_") and isinstance(value, str)
) | {"CreateContainerError"}

# Every reason a condition set by the operator can carry.
CONDITION_REASONS: Final = OPERATOR_REASONS | ENGINE_ERROR_REASONS


# ------------------------------------------------------------------ Events
class EventReason:
    RUN_STARTED: Final = "RunStarted"
    RUN_SUCCEEDED: Final = "RunSucceeded"
    RUN_FAILED: Final = "RunFailed"
    MISSED_SCHEDULE: Final = "MissedSchedule"  # due times of spec.schedule.cron that started no run
    RESOLVED: Final = "Resolved"
    POD_STUCK: Final = "PodNotStarting"
    LOOKUP_STARTED: Final = "LookupStarted"
    LOOKUP_SUCCEEDED: Final = "LookupSucceeded"
    LOOKUP_TRUNCATED: Final = "LookupTruncated"
    LOOKUP_FAILED: Final = "LookupFailed"
    CONNECTION_SUCCEEDED: Final = "ConnectionSucceeded"
    CONNECTION_FAILED: Final = "ConnectionFailed"
    # Tumbling windows (controller/core/windows.py)
    WINDOW_SUCCEEDED: Final = "WindowSucceeded"
    WINDOW_FAILED: Final = "WindowFailed"
    WINDOW_ATTEMPT_FAILED: Final = "WindowAttemptFailed"
    WINDOW_RERUN: Final = "WindowRerun"
    INVALID_RERUN_WINDOW: Final = "InvalidRerunWindow"
    RUN_NOW_IGNORED: Final = "RunNowIgnored"
    WATERMARK_RESET: Final = "WatermarkReset"
    INVALID_WATERMARK_RESET: Final = "InvalidWatermarkReset"
    # A reference problem is posted with the Ready condition's reason (SecretNotFound, ...).


EVENT_REASONS: Final = frozenset(
    value for name, value in vars(EventReason).items() if not name.startswith("_") and isinstance(value, str)
)
