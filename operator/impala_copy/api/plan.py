"""The CopyPlan: a resolved CopyActivity as the engine runs it. It never holds a secret value.

The operator renders it into the Job (as JSON in an environment variable); the CLI builds it from
manifests on disk. Secrets travel separately: each `SecretRef` names the environment variable that
carries the value in the engine's process (`valueFrom.secretKeyRef` in a Job), and each `CertRef`
names the file a Secret or ConfigMap key is mounted at (a PEM bundle, a Kerberos keytab or krb5.conf).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from pydantic import Field

from impala_copy.api.activities import CopySink, FormatSettings, ImpalaSource
from impala_copy.api.common import ApiModel, CertificateSource, SecretKeySelector
from impala_copy.api.datasets import (
    DelimitedTextDatasetSpec,
    JsonDatasetSpec,
    ParquetDatasetSpec,
    PostgreSqlTableDatasetSpec,
)
from impala_copy.api.impala import AuthenticationType, ThriftTransportProtocol
from impala_copy.api.incremental import IncrementalPlan
from impala_copy.api.partitions import PartitionOption
from impala_copy.api.schedule import RunContext
from impala_copy.api.stores import (
    AmazonS3LinkedServiceSpec,
    AzureBlobStorageLinkedServiceSpec,
    PostgreSqlLinkedServiceSpec,
)

PLAN_ENV = "IMPALA_COPY_PLAN"

# What `impala-copy engine --task TASK` runs; IMPALA_COPY_PLAN holds the matching plan.
TASK_COPY = "copy"  # CopyPlan -> RunSummary
TASK_LOOKUP = "lookup"  # LookupPlan -> LookupSummary (and frames on stdout for a large output)
TASK_CONNECTION_TEST = "connection-test"  # ConnectionTestPlan -> ConnectionTestSummary
# Partitioned copies (api/partitions.py): a CopyPlan with `partitioning` set.
TASK_PARTITION_PLAN = "partition-plan"  # CopyPlan -> PartitionPlanSummary (the partitions of the run)
# TASK_COPY with len(partitions) > 1: the pod reads partitions[$JOB_COMPLETION_INDEX] and stages it
# (nothing is published); its RunSummary has `partition` set.
TASK_COMMIT = "commit"  # CopyPlan with its partitions -> RunSummary of the whole run (publishes it)
TASKS = (TASK_COPY, TASK_LOOKUP, TASK_CONNECTION_TEST, TASK_PARTITION_PLAN, TASK_COMMIT)

# Values of a plan that belong to one run, not to what the object asks for (wire paths): a plan's
# digest leaves them out, so a new run id or watermark never looks like a change of the spec.
RUN_INPUTS: tuple[tuple[str, ...], ...] = (("runId",), ("runContext",), ("incremental", "low"))


def without_run_inputs(wire: dict[str, Any]) -> dict[str, Any]:
    """A copy of a plan's wire form without its per-run values (RUN_INPUTS)."""
    out = dict(wire)
    for path in RUN_INPUTS:
        holder = out
        for key in path[:-1]:
            inner = holder.get(key)
            if not isinstance(inner, dict):
                break
            copied = dict(inner)
            holder[key] = copied
            holder = copied
        else:
            holder.pop(path[-1], None)
    return out


def secret_env_name(ref: SecretKeySelector) -> str:
    """The environment variable that carries a Secret key's value: stable, valid, collision-safe."""
    base = re.sub(r"[^A-Z0-9]", "_", f"{ref.name}_{ref.key}".upper())
    digest = hashlib.sha256(f"{ref.name}/{ref.key}".encode()).hexdigest()[:8].upper()
    return f"ICP_SECRET_{base}_{digest}"


class SecretRef(ApiModel):
    """Where the engine finds a secret value: the Secret key it comes from, and the env var carrying it."""

    secret_key_ref: SecretKeySelector
    env: str


CA_CERTIFICATE = "a CA certificate"
KEYTAB = "a Kerberos keytab"
KRB5_CONF = "krb5.conf"


class CertRef(ApiModel):
    """A file from a Secret or ConfigMap key (a PEM bundle, a keytab, krb5.conf), mounted at `path`.

    A `secret` file (a keytab) is readable by the pod's user only, and never also referred to from an
    environment variable.
    """

    source: CertificateSource
    path: str
    # Left out of the wire form at their defaults, so the plans (and digests) of CA files stay as they were.
    secret: bool = Field(default=False, exclude_if=lambda v: not v)
    what: str = Field(
        default=CA_CERTIFICATE, exclude_if=lambda v: v == CA_CERTIFICATE, description="The file, in messages."
    )


class KerberosLogin(ApiModel):
    """A Kerberos (GSSAPI) login: who logs in, with which keytab, to which server principal."""

    principal: str = Field(description="The client principal.")
    keytab: CertRef
    krb5_conf: CertRef | None = None
    service_name: str = Field(description="The service part of the server's principal (service/host).")
    service_host: str = Field(description="The host part of the server's principal.")

    @property
    def service_principal(self) -> str:
        return f"{self.service_name}/{self.service_host}"


class ImpalaConnection(ApiModel):
    """Everything needed to connect to Impala (from the ImpalaLinkedService), secrets by reference."""

    host: str
    port: int = 21050
    authentication_type: AuthenticationType = AuthenticationType.ANONYMOUS
    username: str | None = None
    password: SecretRef | None = None
    enable_ssl: bool = False
    trusted_cert: CertRef | None = None
    use_system_trust_store: bool = False
    allow_host_name_cn_mismatch: bool = Field(default=False, alias="allowHostNameCNMismatch")
    allow_self_signed_server_cert: bool = False
    enable_server_certificate_validation: bool = True
    thrift_transport_protocol: ThriftTransportProtocol = ThriftTransportProtocol.BINARY
    http_path: str = "cliservice"
    connect_timeout_seconds: int = 30
    kerberos: KerberosLogin | None = None

    def secret_refs(self) -> list[SecretRef]:
        """The secrets a connection reads: the password, if any."""
        return [self.password] if self.password else []

    def cert_refs(self) -> list[CertRef]:
        """The files a connection reads: the CA bundle, the keytab and krb5.conf, if any."""
        files = [self.trusted_cert] if self.trusted_cert else []
        if self.kerberos is not None:
            files.append(self.kerberos.keytab)
            if self.kerberos.krb5_conf is not None:
                files.append(self.kerberos.krb5_conf)
        return files


class SourcePlan(ApiModel):
    """What to read: a table (schema, table, columns) or a query."""

    schema_: str | None = Field(default=None, alias="schema")
    table: str | None = None
    columns: list[str] | None = None
    query: str | None = None
    query_timeout_seconds: int = 7200
    additional_columns: list[tuple[str, str]] = Field(default_factory=list)


class StorePlan(ApiModel):
    """The sink's store: which kind, its spec (secrets as references) and where secrets arrive."""

    kind: str
    spec: dict[str, Any]
    secrets: dict[str, SecretRef] = Field(
        default_factory=dict, description="field name -> where its value is"
    )
    certs: dict[str, CertRef] = Field(default_factory=dict)

    def s3(self) -> AmazonS3LinkedServiceSpec:
        return AmazonS3LinkedServiceSpec.model_validate(self.spec)

    def azure(self) -> AzureBlobStorageLinkedServiceSpec:
        return AzureBlobStorageLinkedServiceSpec.model_validate(self.spec)

    def postgresql(self) -> PostgreSqlLinkedServiceSpec:
        return PostgreSqlLinkedServiceSpec.model_validate(self.spec)


class SinkPlan(ApiModel):
    """What to write: the sink dataset (kind and spec), the sink settings, the store, the volume path."""

    dataset_kind: str
    dataset: dict[str, Any]
    sink: CopySink
    store: StorePlan | None = None
    volume_path: str | None = Field(
        default=None, description="Where a PersistentVolumeClaim location is mounted."
    )

    def parquet(self) -> ParquetDatasetSpec:
        return ParquetDatasetSpec.model_validate(self.dataset)

    def delimited_text(self) -> DelimitedTextDatasetSpec:
        return DelimitedTextDatasetSpec.model_validate(self.dataset)

    def json_(self) -> JsonDatasetSpec:
        return JsonDatasetSpec.model_validate(self.dataset)

    def postgresql_table(self) -> PostgreSqlTableDatasetSpec:
        return PostgreSqlTableDatasetSpec.model_validate(self.dataset)

    @property
    def format_settings(self) -> FormatSettings:
        return self.sink.format_settings or FormatSettings()


class Partition(ApiModel):
    """One slice of a copy. An unpartitioned plan has exactly one, covering everything."""

    index: int = 0
    predicate: str | None = Field(
        default=None,
        description="SQL predicate of this slice (partitioned copies), built by the engine's planning from "
        "quoted identifiers and typed literals: ANDed to a table read, or put where the query's "
        "?AdfDynamicRangePartitionCondition stands.",
    )
    label: str | None = Field(
        default=None, description="The slice for people, e.g. id >= 1000 AND id < 2000 (messages, status)."
    )


class PartitioningPlan(ApiModel):
    """How a partitioned copy is split: what the planning step (TASK_PARTITION_PLAN) needs."""

    option: PartitionOption
    count: int = Field(ge=1, description="Most partitions to make (parallelCopies).")
    parallelism: int = Field(ge=1, description="Pods reading at once (parallelCopies).")
    column: str | None = Field(default=None, description="DynamicRange: the partition column.")
    lower_bound: str | None = Field(default=None, description="DynamicRange: the given low bound.")
    upper_bound: str | None = Field(default=None, description="DynamicRange: the given high bound.")


class CopyPlan(ApiModel):
    """A CopyActivity with every reference resolved; what the engine executes."""

    namespace: str = "default"
    activity: str
    run_id: str
    impala: ImpalaConnection
    source: SourcePlan
    sink: SinkPlan
    timeout_seconds: int = 43200
    validate_data_consistency: bool = False
    enable_skip_incompatible_row: bool = False
    secure_input: bool = False
    secure_output: bool = False
    partitions: list[Partition] = Field(default_factory=lambda: [Partition()])
    partitioning: PartitioningPlan | None = Field(
        default=None,
        description="A partitioned copy: how it is split. `partitions` holds the planned slices once "
        "planned (one entry, covering everything, before).",
    )
    incremental: IncrementalPlan | None = Field(
        default=None, description="An incremental copy: its column, this run's low watermark, the lookback."
    )
    run_context: RunContext | None = Field(
        default=None, description="When and for which window the run runs (query and path placeholders)."
    )

    def secret_refs(self) -> list[SecretRef]:
        """Every secret the engine will read, each once."""
        refs: dict[str, SecretRef] = {}
        if self.impala.password:
            refs[self.impala.password.env] = self.impala.password
        if self.sink.store:
            for ref in self.sink.store.secrets.values():
                refs[ref.env] = ref
        return list(refs.values())

    def cert_refs(self) -> list[CertRef]:
        certs: dict[str, CertRef] = {cert.path: cert for cert in self.impala.cert_refs()}
        if self.sink.store:
            for cert in self.sink.store.certs.values():
                certs[cert.path] = cert
        return list(certs.values())


class LookupPlan(ApiModel):
    """A LookupActivity with its references resolved."""

    namespace: str = "default"
    activity: str
    run_id: str
    impala: ImpalaConnection
    source: SourcePlan
    first_row_only: bool = True
    max_rows: int = 5000
    secure_input: bool = False
    timeout_seconds: int = 43200
    run_context: RunContext | None = Field(
        default=None, description="When the run runs (query placeholders)."
    )

    def secret_refs(self) -> list[SecretRef]:
        """Every secret the lookup reads: the Impala password, if any."""
        return [self.impala.password] if self.impala.password else []

    def cert_refs(self) -> list[CertRef]:
        return self.impala.cert_refs()


class ConnectionTestPlan(ApiModel):
    """The connection test of an ImpalaLinkedService: connect, log in, SELECT 1, close."""

    namespace: str = "default"
    linked_service: str = Field(description="Name of the ImpalaLinkedService tested.")
    run_id: str
    impala: ImpalaConnection

    def secret_refs(self) -> list[SecretRef]:
        return self.impala.secret_refs()

    def cert_refs(self) -> list[CertRef]:
        return self.impala.cert_refs()


__all__ = [
    "PLAN_ENV",
    "RUN_INPUTS",
    "TASKS",
    "TASK_COMMIT",
    "TASK_CONNECTION_TEST",
    "TASK_COPY",
    "TASK_LOOKUP",
    "TASK_PARTITION_PLAN",
    "CertRef",
    "ConnectionTestPlan",
    "CopyPlan",
    "ImpalaConnection",
    "ImpalaSource",
    "KerberosLogin",
    "LookupPlan",
    "Partition",
    "PartitioningPlan",
    "SecretRef",
    "SinkPlan",
    "SourcePlan",
    "StorePlan",
    "secret_env_name",
    "without_run_inputs",
]
