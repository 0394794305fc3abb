"""CopyActivity and LookupActivity: what to read, where to write it, how to run it.

The ADF shape is kept (inputs/outputs as dataset references, `source` with type ImpalaSource, `sink`
with the sink type, `policy`); Kubernetes-shaped settings of the Job pod live under `job`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from impala_copy.api.common import NAME_MAX, NAME_PATTERN, ApiModel, Condition, KindInfo, Resource
from impala_copy.api.durations import (
    DURATION_PATTERN,
    TIMESPAN_PATTERN,
    duration_seconds,
    timespan_seconds,
)
from impala_copy.api.incremental import INCREMENTAL_RANGE, IncrementalSource, Watermark
from impala_copy.api.model import operator_setting
from impala_copy.api.partitions import (
    MAX_PARALLEL_COPIES,
    SOURCE_RULES,
    PartitionOption,
    PartitionSettings,
    partitioned,
)
from impala_copy.api.path_templates import FILE_NAME_PREFIX, check_template
from impala_copy.api.paths import file_name_rules
from impala_copy.api.placeholders import find as find_placeholders
from impala_copy.api.pre_copy_script import check_pre_copy_script
from impala_copy.api.quantity import Quantity, ResourceName
from impala_copy.api.references import Reference
from impala_copy.api.rules import Rule, RuledModel, written
from impala_copy.api.runs import AttemptRecord, Phase
from impala_copy.api.schedule import Schedule, ScheduleStatus
from impala_copy.api.summary import RunSummary
from impala_copy.api.window_status import WindowsStatus

# The shortest refreshInterval of a LookupActivity (each refresh is a query on Impala). A module
# constant read when a spec is checked, so the operator's tests can lower it.
MIN_REFRESH_INTERVAL_SECONDS = 60


class ImpalaDatasetReference(ApiModel):
    """ADF DatasetReference to an ImpalaDataset in the same namespace."""

    reference_name: str = Field(
        min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN, description="Name of the ImpalaDataset."
    )


class SinkDatasetKind(StrEnum):
    PARQUET = "ParquetDataset"
    DELIMITED_TEXT = "DelimitedTextDataset"
    JSON = "JsonDataset"
    POSTGRESQL_TABLE = "PostgreSqlTableDataset"


class SinkDatasetReference(ApiModel):
    """ADF DatasetReference to a sink dataset in the same namespace; `kind` names its kind."""

    reference_name: str = Field(
        min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN, description="Name of the sink dataset."
    )
    kind: SinkDatasetKind = Field(
        description="ParquetDataset, DelimitedTextDataset, JsonDataset or PostgreSqlTableDataset."
    )


class AdditionalColumn(ApiModel):
    """A constant column added to every row (ADF: additionalColumns)."""

    name: str = Field(min_length=1, max_length=128, description="Column name.")
    value: str = Field(
        max_length=4096,
        description="The value, as text; `$$COLUMN:<name>` copies a source column. May hold placeholders "
        "of the run, e.g. {windowStart} or @{pipeline().RunId} (docs/schedules.md).",
    )

    @field_validator("value")
    @classmethod
    def _value_placeholders(cls, value: str) -> str:
        find_placeholders(value, sql=False)
        return value


class ImpalaSource(RuledModel):
    """How to read from Impala (ADF: ImpalaSource)."""

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            cel="!has(self.additionalColumns) || self.additionalColumns.all(c, "
            "self.additionalColumns.exists_one(d, d.name == c.name))",
            message="additionalColumns names must be unique",
            check=lambda m: (
                len({c.name for c in m.additional_columns or []}) == len(m.additional_columns or [])
            ),
        ),
        Rule(
            cel=f"!has(self.incremental) || !has(self.query) || self.query.contains('{INCREMENTAL_RANGE}')",
            message=f"source.query of an incremental copy must contain {INCREMENTAL_RANGE} where the "
            "range predicate goes, e.g. SELECT * FROM sales.orders WHERE {incrementalRange}",
            check=lambda m: m.incremental is None or m.query is None or INCREMENTAL_RANGE in m.query,
        ),
        Rule(
            cel=f"!has(self.query) || has(self.incremental) || !self.query.contains('{INCREMENTAL_RANGE}')",
            message=f"source.query contains {INCREMENTAL_RANGE} but source.incremental is not set",
            check=lambda m: m.query is None or m.incremental is not None or INCREMENTAL_RANGE not in m.query,
        ),
        *SOURCE_RULES,
    )

    type: Literal["ImpalaSource"] = Field(default="ImpalaSource", description="Always ImpalaSource.")
    query: str | None = Field(
        default=None,
        min_length=1,
        max_length=65536,
        description="SQL query to read with (ADF: query). Without it the dataset's table is read whole. "
        "May hold placeholders of the run, ours or ADF's, e.g. {windowStart} or "
        "@{trigger().outputs.windowStartTime}, written as SQL literals (docs/schedules.md).",
    )
    query_timeout: str = Field(
        default="02:00:00",
        pattern=TIMESPAN_PATTERN,
        description="How long the query may run, [D.]HH:MM:SS (ADF: queryTimeout). Default 02:00:00.",
    )
    additional_columns: list[AdditionalColumn] | None = Field(
        default=None,
        max_length=64,
        description="Constant columns added to every row (ADF: additionalColumns).",
    )
    incremental: IncrementalSource | None = Field(
        default=None,
        description="CopyActivity: copy only rows above the stored watermark (docs/incremental.md). With "
        "source.query, the query holds {incrementalRange} where the range predicate goes.",
    )
    partition_option: PartitionOption | None = Field(
        default=None,
        description="CopyActivity: split the read over parallel pods (ADF: partitionOption): None (one "
        "pod, the default), DynamicRange (ranges over partitionSettings.partitionColumnName) or "
        "PhysicalPartitionsOfTable (the table's own partitions). docs/partitioned-copies.md.",
    )
    partition_settings: PartitionSettings | None = Field(
        default=None,
        description="DynamicRange: the column and, optionally, its bounds (ADF: partitionSettings).",
    )

    @field_validator("query")
    @classmethod
    def _query_placeholders(cls, value: str | None) -> str | None:
        if value is not None:
            find_placeholders(value, sql=True)
        return value


class SinkType(StrEnum):
    PARQUET = "ParquetSink"
    DELIMITED_TEXT = "DelimitedTextSink"
    JSON = "JsonSink"
    POSTGRESQL = "PostgreSqlSink"


# The sink type each output dataset kind takes.
SINK_TYPE_FOR_KIND: dict[str, str] = {
    SinkDatasetKind.PARQUET: SinkType.PARQUET,
    SinkDatasetKind.DELIMITED_TEXT: SinkType.DELIMITED_TEXT,
    SinkDatasetKind.JSON: SinkType.JSON,
    SinkDatasetKind.POSTGRESQL_TABLE: SinkType.POSTGRESQL,
}
FILE_SINK_TYPES = (SinkType.PARQUET, SinkType.DELIMITED_TEXT, SinkType.JSON)


# Letters, digits, '_', '.', '-', and placeholders ({windowStart:yyyyMMdd}, @{...}: api/path_templates.py).
PREFIX_PATTERN = r"^([A-Za-z0-9_.\-]|\{[A-Za-z]+(:[^{}]*)?\}|@\{[^{}]*\})+$"


class FormatSettings(RuledModel):
    """File format write settings (ADF: formatSettings, the Parquet/DelimitedText/Json WriteSettings)."""

    # The pattern below limits the characters; these keep the prefix a plain name (api/paths.py).
    RULES: ClassVar[tuple[Rule, ...]] = file_name_rules(
        "file_name_prefix", "fileNamePrefix", characters=False
    )

    max_rows_per_file: int | None = Field(
        default=None, ge=1, description="Start a new file after this many rows (ADF: maxRowsPerFile)."
    )
    file_name_prefix: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=PREFIX_PATTERN,
        description="Prefix of part files, named <prefix>_<NNNNN>.<ext> (ADF: fileNamePrefix). Default part. "
        "May hold placeholders of the run, e.g. orders_{windowStart:yyyyMMdd}.",
    )

    @field_validator("file_name_prefix")
    @classmethod
    def _prefix_template(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value, FILE_NAME_PREFIX)


class WriteBehavior(StrEnum):
    INSERT = "insert"
    UPSERT = "upsert"


class UpsertSettings(ApiModel):
    keys: list[str] = Field(
        min_length=1, max_length=32, description="Key columns that identify a row (ADF: keys)."
    )


class CopySink(RuledModel):
    """How to write (ADF: the sink of a copy activity). Settings apply to the sink types noted on each."""

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            cel="self.type != 'PostgreSqlSink' || !has(self.formatSettings)",
            message="formatSettings apply to file sinks (ParquetSink, DelimitedTextSink, JsonSink) only",
            check=lambda m: m.type != "PostgreSqlSink" or not written(m, "format_settings"),
        ),
        Rule(
            cel="self.type == 'PostgreSqlSink' || (!has(self.preCopyScript) && !has(self.writeBatchSize) && "
            "!has(self.writeBehavior) && !has(self.upsertSettings) && !has(self.tableOption))",
            message="preCopyScript, writeBatchSize, writeBehavior, upsertSettings and tableOption apply to "
            "PostgreSqlSink only",
            check=lambda m: (
                m.type == "PostgreSqlSink"
                or not any(
                    written(m, f)
                    for f in (
                        "pre_copy_script",
                        "write_batch_size",
                        "write_behavior",
                        "upsert_settings",
                        "table_option",
                    )
                )
            ),
        ),
        Rule(
            cel="!has(self.writeBehavior) || self.writeBehavior != 'upsert' || has(self.upsertSettings)",
            message="writeBehavior upsert requires upsertSettings.keys",
            check=lambda m: m.write_behavior != "upsert" or written(m, "upsert_settings"),
        ),
    )

    type: SinkType = Field(description="ParquetSink, DelimitedTextSink, JsonSink or PostgreSqlSink.")
    format_settings: FormatSettings | None = Field(
        default=None, description="File sinks: rotation and naming."
    )
    pre_copy_script: str | None = Field(
        default=None,
        max_length=65536,
        description="PostgreSqlSink: SQL run in the load transaction before rows are written "
        "(ADF: preCopyScript). Transaction control (COMMIT, ROLLBACK, BEGIN, SAVEPOINT, SET TRANSACTION...) "
        "is rejected.",
    )
    write_batch_size: int | None = Field(
        default=None,
        ge=1,
        le=10_000_000,
        description="PostgreSqlSink: rows per bulk-load batch (ADF: writeBatchSize).",
    )
    write_behavior: WriteBehavior | None = Field(
        default=None, description="PostgreSqlSink: insert or upsert (ADF: writeBehavior). Default insert."
    )
    upsert_settings: UpsertSettings | None = Field(default=None, description="PostgreSqlSink: upsert keys.")
    table_option: Literal["autoCreate"] | None = Field(
        default=None, description="PostgreSqlSink: autoCreate creates a missing table from the source schema."
    )

    @field_validator("pre_copy_script")
    @classmethod
    def _script_stays_in_the_transaction(cls, value: str | None) -> str | None:
        if value is not None:
            check_pre_copy_script(value)
        return value


def _refresh_interval_allowed(value: str | None) -> bool:
    return value is None or duration_seconds(value) >= MIN_REFRESH_INTERVAL_SECONDS


# On the spec, not on `policy`: the CRD's default of policy is {}, which its own rules must accept,
# and the API server fills in policy.timeout before the spec's rules run.
POLICY_TIMEOUT_RULE = Rule(
    # The pattern already holds; a timespan with a non-zero digit is longer than zero.
    cel="self.policy.timeout.matches('[1-9]')",
    message="policy.timeout must be longer than 00:00:00 (e.g. 0.12:00:00, the default)",
    check=lambda m: timespan_seconds(m.policy.timeout) > 0,
)


class ActivityPolicy(ApiModel):
    """Execution policy (ADF: policy)."""

    timeout: str = Field(
        default="0.12:00:00",
        max_length=16,
        pattern=TIMESPAN_PATTERN,
        description="Longest a run may take, [D.]HH:MM:SS, more than zero (ADF: timeout). "
        "Default 0.12:00:00.",
    )
    retry: int = Field(
        default=0, ge=0, le=100, description="Retries after a failed attempt (ADF: retry). Default 0."
    )
    retry_interval_in_seconds: int = Field(
        default=30,
        ge=30,
        le=86400,
        description="Seconds between attempts (ADF: retryIntervalInSeconds). Default 30.",
    )
    secure_input: bool = Field(
        default=False, description="Keep the query out of logs and status (ADF: secureInput)."
    )
    secure_output: bool = Field(
        default=False,
        description="Keep the run's output paths and messages out of status (ADF: secureOutput).",
    )


class LocalObjectReference(ApiModel):
    """A reference to an object in the same namespace by name (as in a PodSpec's imagePullSecrets)."""

    name: str = Field(
        min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN, description="Name of the object."
    )


class ResourceRequirements(ApiModel):
    """Compute resources of the engine's container, as in a Kubernetes ResourceRequirements. Each map is
    keyed by resource name (cpu, memory, ephemeral-storage, hugepages-2Mi, nvidia.com/gpu, ...) and
    holds Kubernetes quantities (500m, 2, 512Mi, 4Gi)."""

    limits: dict[ResourceName, Quantity] | None = Field(
        default=None,
        max_length=32,
        description="The most the container may use, e.g. {memory: 2Gi}: above its memory limit the "
        "container is killed (OOMKilled), above its cpu limit it is throttled. A request left out takes "
        "its limit.",
    )
    requests: dict[ResourceName, Quantity] | None = Field(
        default=None,
        max_length=32,
        description="What the scheduler reserves for the container on a node, e.g. {cpu: 500m, "
        "memory: 512Mi}; at most the limit.",
    )


class JobSettings(ApiModel):
    """Kubernetes settings of the Job pod that runs the engine. Unset fields take the operator's defaults
    (Helm values `job.*`). affinity and tolerations are passed to the pod as written."""

    image: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="Engine image. Default: the operator's job image.",
    )
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = Field(
        default=None, description="Always, IfNotPresent or Never. Default: the operator's setting."
    )
    image_pull_secrets: list[LocalObjectReference] | None = Field(
        default=None,
        max_length=16,
        description="Secrets to pull the image with, [{name: ...}] as in a PodSpec.",
    )
    service_account_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=NAME_MAX,
        pattern=NAME_PATTERN,
        description="Service account of the pod. Default: the operator's job service account.",
    )
    resources: ResourceRequirements | None = Field(
        default=None,
        description="Compute resources of the engine's container (requests and limits). "
        "Default: the operator's job resources.",
    )
    node_selector: dict[str, str] | None = Field(default=None, description="Node labels the pod must run on.")
    tolerations: list[dict[str, Any]] | None = Field(
        default=None, max_length=64, description="Pod tolerations, each a Kubernetes Toleration."
    )
    affinity: dict[str, Any] | None = Field(default=None, description="Pod affinity, a Kubernetes Affinity.")
    ttl_seconds_after_finished: int | None = Field(
        default=None, ge=0, description="Seconds a finished Job is kept before Kubernetes deletes it."
    )
    labels: dict[str, str] | None = Field(default=None, description="Extra labels for the Job and its pod.")
    annotations: dict[str, str] | None = Field(default=None, description="Extra annotations for the pod.")


class CopyActivitySpec(RuledModel):
    """One copy: an ImpalaDataset (or a query through it) into a sink dataset."""

    RULES: ClassVar[tuple[Rule, ...]] = (
        POLICY_TIMEOUT_RULE,
        Rule(
            # Guarded: with `outputs: []` only the list's own minItems error is reported.
            cel="size(self.outputs) == 0 || "
            "(self.outputs[0].kind == 'ParquetDataset' && self.sink.type == 'ParquetSink') || "
            "(self.outputs[0].kind == 'DelimitedTextDataset' && self.sink.type == 'DelimitedTextSink') || "
            "(self.outputs[0].kind == 'JsonDataset' && self.sink.type == 'JsonSink') || "
            "(self.outputs[0].kind == 'PostgreSqlTableDataset' && self.sink.type == 'PostgreSqlSink')",
            message="sink.type must match the output dataset: ParquetDataset/ParquetSink, "
            "DelimitedTextDataset/DelimitedTextSink, JsonDataset/JsonSink, "
            "PostgreSqlTableDataset/PostgreSqlSink",
            check=lambda m: not m.outputs or SINK_TYPE_FOR_KIND[m.outputs[0].kind] == m.sink.type,
        ),
        Rule(
            cel="!has(self.source.incremental) || !has(self.schedule) || !has(self.schedule.window)",
            message="source.incremental and schedule.window cannot both be set: windows and watermarks are "
            "two ways to pick the rows of a run (use window placeholders in the query, or a watermark)",
            check=lambda m: m.source.incremental is None or m.schedule is None or m.schedule.window is None,
        ),
        Rule(
            cel="!has(self.parallelCopies) || (has(self.source.partitionOption) && "
            "self.source.partitionOption != 'None')",
            message="parallelCopies applies to a partitioned copy only: set source.partitionOption "
            "(DynamicRange or PhysicalPartitionsOfTable); without one a copy reads with one pod",
            check=lambda m: m.parallel_copies is None or partitioned(m.source),
        ),
        Rule(
            cel="!has(self.schedule) || !has(self.schedule.window) || !has(self.source.partitionOption) || "
            "self.source.partitionOption == 'None'",
            message="schedule.window and a source.partitionOption cannot both be set (partitioned "
            "tumbling windows are not built)",
            check=lambda m: m.schedule is None or m.schedule.window is None or not partitioned(m.source),
        ),
    )

    inputs: list[ImpalaDatasetReference] = Field(
        min_length=1, max_length=1, description="The ImpalaDataset to read (ADF: inputs). Exactly one."
    )
    outputs: list[SinkDatasetReference] = Field(
        min_length=1, max_length=1, description="The sink dataset to write (ADF: outputs). Exactly one."
    )
    source: ImpalaSource = Field(default_factory=ImpalaSource, description="Read settings (ADF: source).")
    sink: CopySink = Field(description="Write settings (ADF: sink).")
    policy: ActivityPolicy = Field(
        default_factory=ActivityPolicy, description="Timeout and retries (ADF: policy)."
    )
    validate_data_consistency: bool = Field(
        default=False,
        description="Check rows read == rows copied == rows in the written output "
        "(ADF: validateDataConsistency).",
    )
    enable_skip_incompatible_row: bool = Field(
        default=False,
        description="PostgreSqlSink: skip rows the table rejects (ADF: enableSkipIncompatibleRow).",
    )
    parallel_copies: int | None = Field(
        default=None,
        ge=1,
        le=MAX_PARALLEL_COPIES,
        description="A partitioned copy (source.partitionOption): how many pods read at once, and the "
        "number of partitions (ADF: parallelCopies). Default 4. At most the operator's "
        "job.maxParallelCopies.",
    )
    job: JobSettings | None = Field(default=None, description="Kubernetes settings of the Job pod.")
    schedule: Schedule | None = Field(
        default=None,
        description="Run by the clock: a cron schedule or tumbling windows. Without it the activity runs on "
        "apply, on a spec change and on the impalacopy.io/run-now annotation.",
    )
    successful_jobs_history_limit: int = Field(
        default=3,
        ge=0,
        le=100,
        json_schema_extra=operator_setting("job.successfulJobsHistoryLimit"),
        description="Finished Jobs of succeeded runs to keep. Not written: the operator's setting "
        "(Helm value job.successfulJobsHistoryLimit, 3 unless changed).",
    )
    failed_jobs_history_limit: int = Field(
        default=1,
        ge=0,
        le=100,
        json_schema_extra=operator_setting("job.failedJobsHistoryLimit"),
        description="Finished Jobs of failed runs to keep. Not written: the operator's setting "
        "(Helm value job.failedJobsHistoryLimit, 1 unless changed).",
    )

    def references(self) -> list[Reference]:
        """The ImpalaDataset read and the sink dataset written."""
        out = self.outputs[0]
        return [
            Reference("ImpalaDataset", self.inputs[0].reference_name, "spec.inputs[0].referenceName"),
            Reference(str(out.kind), out.reference_name, "spec.outputs[0].referenceName"),
        ]


class LastRun(RunSummary):
    """The newest run: its Job, attempt, times and the engine's summary.

    `status` is Pending or Running while the attempt is in progress, then Succeeded or Failed.
    """

    job_name: str | None = Field(default=None, description="Job of the newest attempt.")
    run_id: str | None = Field(default=None, description="Identifier of the run (shared by its attempts).")
    trigger: str | None = Field(
        default=None, description="What started the run: create, specChange, runNow, retry, schedule."
    )
    scheduled_time: str | None = Field(
        default=None, description="RFC 3339 due time of spec.schedule.cron the run is for (scheduled runs)."
    )
    attempt: int = Field(default=1, description="Attempt number, 1 for the first.")
    start_time: str | None = Field(default=None, description="RFC 3339 start of the attempt.")
    completion_time: str | None = Field(default=None, description="RFC 3339 end of the attempt.")
    reason: str | None = Field(default=None, description="Reason of a failure, e.g. EngineError, OOMKilled.")
    generation: int | None = Field(default=None, description="metadata.generation the run was started for.")
    exit_code: int | None = Field(
        default=None,
        description="Exit code of the engine: 0 done, 1 may succeed on retry, 2 configuration error.",
    )


REASON_DESCRIPTION = (
    "Why the phase is what it is: the reason of the condition that explains it (Ready when not ready, "
    "Running while pending or running, Failed for a failure, RunSucceeded)."
)


class CopyActivityStatus(ScheduleStatus):
    phase: Phase | None = Field(default=None, description="Pending, Running, Succeeded or Failed.")
    reason: str | None = Field(default=None, description=REASON_DESCRIPTION)
    observed_generation: int | None = Field(default=None, description="metadata.generation last reconciled.")
    conditions: list[Condition] = Field(
        default_factory=list, description="Ready, Running, Succeeded, Failed."
    )
    last_run: LastRun | None = Field(default=None, description="The newest run.")
    last_successful_time: str | None = Field(
        default=None, description="RFC 3339 end of the last successful run."
    )
    last_failure_time: str | None = Field(default=None, description="RFC 3339 end of the last failed run.")
    next_retry_time: str | None = Field(
        default=None, description="When the next attempt of a failed run starts."
    )
    handled_run_now: str | None = Field(
        default=None, description="Value of the run-now annotation last acted upon."
    )
    windows: WindowsStatus | None = Field(
        default=None, description="Tumbling windows (spec.schedule.window): which windows ran."
    )
    watermark: Watermark | None = Field(
        default=None,
        description="Incremental copies: the watermark the next run starts above, set by the last "
        "succeeded run (or the impalacopy.io/reset-watermark annotation).",
    )
    handled_reset_watermark: str | None = Field(
        default=None, description="Value of the reset-watermark annotation last acted upon."
    )


class CopyActivity(Resource):
    KIND_INFO: ClassVar[KindInfo] = KindInfo(
        kind="CopyActivity",
        plural="copyactivities",
        singular="copyactivity",
        short_names=["copyact", "ca"],
        printer_columns=[
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
            {"name": "Rows", "type": "integer", "jsonPath": ".status.lastRun.rowsCopied"},
            {"name": "Attempt", "type": "integer", "jsonPath": ".status.lastRun.attempt", "priority": 1},
            {"name": "Reason", "type": "string", "jsonPath": ".status.reason", "priority": 1},
            {"name": "Watermark", "type": "string", "jsonPath": ".status.watermark.value", "priority": 1},
            {"name": "Last Success", "type": "date", "jsonPath": ".status.lastSuccessfulTime"},
            {"name": "Schedule", "type": "string", "jsonPath": ".spec.schedule.cron"},
            {"name": "Suspended", "type": "boolean", "jsonPath": ".spec.schedule.suspend"},
            {"name": "Next", "type": "date", "jsonPath": ".status.nextScheduleTime"},
            {
                "name": "Windows Through",
                "type": "string",
                "jsonPath": ".status.windows.completedThrough",
                "priority": 1,
            },
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    )
    kind: Literal["CopyActivity"] = "CopyActivity"
    spec: CopyActivitySpec
    status: CopyActivityStatus | None = None


class LookupActivitySpec(RuledModel):
    """Run a query and keep the first row or all rows (ADF: Lookup activity).

    The query runs in the operator (not in a Job pod), in a bounded pool of worker threads: see
    docs/lookup.md for the reasons and the limits (5000 rows, 4 MiB of JSON).
    """

    RULES: ClassVar[tuple[Rule, ...]] = (
        POLICY_TIMEOUT_RULE,
        Rule(
            cel="!has(self.source.additionalColumns)",
            message="source.additionalColumns apply to a CopyActivity only, not to a LookupActivity",
            check=lambda m: not written(m.source, "additional_columns"),
        ),
        Rule(
            cel="!has(self.source.incremental)",
            message="source.incremental applies to a CopyActivity only, not to a LookupActivity",
            check=lambda m: not written(m.source, "incremental"),
        ),
        Rule(
            cel="!has(self.source.partitionOption)",
            message="source.partitionOption applies to a CopyActivity only, not to a LookupActivity",
            check=lambda m: not written(m.source, "partition_option"),
        ),
        Rule(
            cel=f"!has(self.refreshInterval) || duration(self.refreshInterval) >= "
            f"duration('{MIN_REFRESH_INTERVAL_SECONDS}s')",
            message=f"refreshInterval must be at least {MIN_REFRESH_INTERVAL_SECONDS}s",
            check=lambda m: _refresh_interval_allowed(m.refresh_interval),
        ),
        Rule(
            cel="!has(self.refreshInterval) || !has(self.schedule)",
            message="refreshInterval and schedule cannot both be set (refreshInterval is a shorthand for "
            "a repeat after each run; schedule runs by the clock)",
            check=lambda m: not (written(m, "refresh_interval") and written(m, "schedule")),
        ),
        Rule(
            cel="!has(self.schedule) || !has(self.schedule.window)",
            message="schedule.window applies to a CopyActivity only; a LookupActivity takes schedule.cron",
            check=lambda m: m.schedule is None or m.schedule.window is None,
        ),
    )

    dataset: ImpalaDatasetReference = Field(
        description="The ImpalaDataset (and through it the linked service) to query (ADF: dataset)."
    )
    source: ImpalaSource = Field(
        default_factory=ImpalaSource,
        description="Query settings (ADF: source). Without source.query the dataset's table is read.",
    )
    first_row_only: bool = Field(
        default=True,
        description="Return only the first row as output.firstRow; false returns output.count and "
        "output.value, at most 5000 rows (ADF: firstRowOnly). Default true.",
    )
    refresh_interval: str | None = Field(
        default=None,
        min_length=2,
        max_length=32,
        pattern=DURATION_PATTERN,
        description="Run again this long after the last run ended, e.g. 15m or 1h; at least 60s. Default: "
        "run only on apply, spec change and the impalacopy.io/run-now annotation.",
    )
    schedule: Schedule | None = Field(
        default=None,
        description="Run by the clock: schedule.cron (with timeZone, suspend, concurrencyPolicy, "
        "startingDeadlineSeconds). Not together with refreshInterval.",
    )
    policy: ActivityPolicy = Field(
        default_factory=ActivityPolicy,
        description="Timeout of the whole lookup and retries of failures that may pass on retry "
        "(ADF: policy). secureOutput keeps the output out of status and Events: it goes to the result "
        "ConfigMap only.",
    )

    def references(self) -> list[Reference]:
        return [Reference("ImpalaDataset", self.dataset.reference_name, "spec.dataset.referenceName")]


class LookupRun(AttemptRecord):
    """The newest lookup run."""

    scheduled_time: str | None = Field(
        default=None, description="RFC 3339 due time of spec.schedule.cron the run is for (scheduled runs)."
    )

    duration_seconds: float | None = Field(default=None, description="Seconds from connect to close.")
    rows_returned: int | None = Field(default=None, description="Rows in the output.")
    result_bytes: int | None = Field(default=None, description="Bytes of the output as compact JSON.")
    message: str | None = Field(default=None, description="Readable outcome of the attempt.")


class LookupActivityStatus(ScheduleStatus):
    phase: Phase | None = Field(default=None, description="Pending, Running, Succeeded or Failed.")
    reason: str | None = Field(default=None, description=REASON_DESCRIPTION)
    observed_generation: int | None = Field(default=None, description="metadata.generation last reconciled.")
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready (references resolved), Running, Succeeded, Failed, and Truncated (True when the "
        "query returned more than 5000 rows).",
    )
    last_run: LookupRun | None = Field(default=None, description="The newest run.")
    output: dict[str, Any] | None = Field(
        default=None,
        description="ADF output: {firstRow: {...}} or {count: N, value: [...]}, when its JSON is at most "
        "16 KiB (larger outputs go to resultConfigMap).",
    )
    result_config_map: str | None = Field(
        default=None,
        description="ConfigMap owned by this LookupActivity that holds an output larger than 16 KiB: key "
        "output.json, or binaryData output.json.gz (gzip) above 900 KiB.",
    )
    rows_returned: int | None = Field(default=None, description="Rows in the output of the last success.")
    truncated: bool | None = Field(
        default=None, description="The query returned more than 5000 rows; the output holds the first 5000."
    )
    last_successful_time: str | None = Field(default=None, description="RFC 3339 end of the last success.")
    last_failure_time: str | None = Field(default=None, description="RFC 3339 end of the last failed run.")
    next_run_time: str | None = Field(
        default=None,
        description="When the next run starts: a retry after a failure, the refreshInterval, or the next "
        "due time of schedule.cron.",
    )
    handled_run_now: str | None = Field(
        default=None, description="Value of the run-now annotation last acted upon."
    )


class LookupActivity(Resource):
    KIND_INFO: ClassVar[KindInfo] = KindInfo(
        kind="LookupActivity",
        plural="lookupactivities",
        singular="lookupactivity",
        short_names=["lookupact", "la"],
        printer_columns=[
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
            {"name": "Rows", "type": "integer", "jsonPath": ".status.rowsReturned"},
            {"name": "Truncated", "type": "boolean", "jsonPath": ".status.truncated", "priority": 1},
            {"name": "Reason", "type": "string", "jsonPath": ".status.reason", "priority": 1},
            {"name": "Result", "type": "string", "jsonPath": ".status.resultConfigMap", "priority": 1},
            {"name": "Last Success", "type": "date", "jsonPath": ".status.lastSuccessfulTime"},
            {"name": "Schedule", "type": "string", "jsonPath": ".spec.schedule.cron"},
            {"name": "Suspended", "type": "boolean", "jsonPath": ".spec.schedule.suspend"},
            {"name": "Next", "type": "date", "jsonPath": ".status.nextScheduleTime"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    )
    kind: Literal["LookupActivity"] = "LookupActivity"
    spec: LookupActivitySpec
    status: LookupActivityStatus | None = None
