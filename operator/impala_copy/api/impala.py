"""ImpalaLinkedService and ImpalaDataset: where Impala is, how to log in, which table.

ADF's property names and defaults are kept. Where ADF points at a file on its integration runtime
(trustedCertPath) or a SecureString (password), the Kubernetes way is a Secret/ConfigMap key reference
in the same namespace. ADF's `connectVia` (integration runtime) has no meaning here: the copy runs in
a Job pod in the namespace of the activity.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import Field

from impala_copy.api.common import (
    NAME_MAX,
    NAME_PATTERN,
    ApiModel,
    CertificateSource,
    Condition,
    KindInfo,
    LinkedServiceReference,
    Resource,
    SecretValue,
)
from impala_copy.api.kerberos import (
    KERBEROS_FIELDS_DOC,
    KERBEROS_RULES,
    KERBEROS_SERVICE_NAME_DEFAULT,
    PRINCIPAL_PATTERN,
    REALM_PATTERN,
    SERVICE_NAME_PATTERN,
    SERVICE_PRINCIPAL_PATTERN,
    KeytabSource,
    Krb5ConfSource,
    qualified,
    service_of,
)
from impala_copy.api.references import Reference, key_references
from impala_copy.api.rules import Rule, RuledModel, written
from impala_copy.api.runs import AttemptRecord


class AuthenticationType(StrEnum):
    ANONYMOUS = "Anonymous"
    SASL_USERNAME = "SASLUsername"
    USERNAME_AND_PASSWORD = "UsernameAndPassword"  # noqa: S105 - a mechanism name
    KERBEROS = "Kerberos"  # not in ADF: ADF's Impala connector has no Kerberos login


class ThriftTransportProtocol(StrEnum):
    BINARY = "Binary"
    HTTP = "HTTP"


# ADF: "The default value is anonymous when you use SASLUsername."
SASL_DEFAULT_USERNAME = "anonymous"
DEFAULT_HTTP_PATH = "cliservice"


def _tls_options_only_with_ssl(m: Any) -> bool:
    """enableServerCertificateValidation is not among the options: its default (true) is stored on every
    object, and false without TLS changes nothing either."""
    return bool(m.enable_ssl) or not (
        written(m, "trusted_cert")
        or m.use_system_trust_store
        or m.allow_host_name_cn_mismatch
        or m.allow_self_signed_server_cert
    )


# The shortest probeIntervalSeconds other than 0 (never). A module constant read when a spec is
# checked, so the operator's tests can lower it.
MIN_PROBE_INTERVAL_SECONDS = 300


def _probe_interval_allowed(seconds: int) -> bool:
    return seconds == 0 or seconds >= MIN_PROBE_INTERVAL_SECONDS


class ImpalaLinkedServiceSpec(RuledModel):
    """How to reach and authenticate to Impala (ADF: Impala linked service)."""

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            cel="self.probeIntervalSeconds == 0 || "
            f"self.probeIntervalSeconds >= {MIN_PROBE_INTERVAL_SECONDS}",
            message="probeIntervalSeconds must be 0 (no periodic tests) or at least "
            f"{MIN_PROBE_INTERVAL_SECONDS}",
            check=lambda m: _probe_interval_allowed(m.probe_interval_seconds),
        ),
        Rule(
            cel="self.authenticationType != 'UsernameAndPassword' || "
            "(has(self.username) && has(self.password))",
            message="authenticationType UsernameAndPassword requires username and password",
            check=lambda m: (
                m.authentication_type != "UsernameAndPassword"
                or (written(m, "username") and written(m, "password"))
            ),
        ),
        Rule(
            cel="self.authenticationType != 'Anonymous' || (!has(self.password) && !has(self.username))",
            message="authenticationType Anonymous takes no username or password",
            check=lambda m: (
                m.authentication_type != "Anonymous"
                or (not written(m, "password") and not written(m, "username"))
            ),
        ),
        Rule(
            cel="self.authenticationType != 'SASLUsername' || !has(self.password)",
            message="authenticationType SASLUsername takes no password (use UsernameAndPassword)",
            check=lambda m: m.authentication_type != "SASLUsername" or not written(m, "password"),
        ),
        Rule(
            cel="self.enableSsl || !(has(self.trustedCert) || self.useSystemTrustStore || "
            "self.allowHostNameCNMismatch || self.allowSelfSignedServerCert)",
            message="TLS options (trustedCert, useSystemTrustStore, allowHostNameCNMismatch, "
            "allowSelfSignedServerCert) require enableSsl: true",
            check=_tls_options_only_with_ssl,
        ),
        Rule(
            cel="!has(self.httpPath) || self.thriftTransportProtocol == 'HTTP'",
            message="httpPath requires thriftTransportProtocol: HTTP",
            check=lambda m: not written(m, "http_path") or m.thrift_transport_protocol == "HTTP",
        ),
        *KERBEROS_RULES,
    )

    host: str = Field(
        min_length=1,
        max_length=253,
        pattern=r"^[A-Za-z0-9]([A-Za-z0-9.\-]*[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:.]+\]?$",
        description="IP address or host name of the Impala server (ADF: host).",
    )
    port: int = Field(
        default=21050,
        ge=1,
        le=65535,
        description="TCP port the Impala server listens on (ADF: port). Default 21050.",
    )
    authentication_type: AuthenticationType = Field(
        default=AuthenticationType.ANONYMOUS,
        description="Anonymous, SASLUsername, UsernameAndPassword (ADF: authenticationType) or Kerberos "
        "(GSSAPI; ADF has none). Default Anonymous.",
    )
    username: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="User name to log in with (ADF: username). Required with UsernameAndPassword; "
        f"with SASLUsername it defaults to {SASL_DEFAULT_USERNAME}, as in ADF.",
    )
    password: SecretValue | None = Field(
        default=None,
        description="Password, as a reference to a Secret key in the same namespace (ADF: password). "
        "Required with UsernameAndPassword.",
    )
    enable_ssl: bool = Field(
        default=False, description="Encrypt the connection with TLS (ADF: enableSsl). Default false."
    )
    trusted_cert: CertificateSource | None = Field(
        default=None,
        description="PEM CA certificates that verify the server (ADF: trustedCertPath), from a Secret or "
        "ConfigMap key.",
    )
    use_system_trust_store: bool = Field(
        default=False,
        description="Also trust the system CA store of the copy image (ADF: useSystemTrustStore). Default "
        "false.",
    )
    allow_host_name_cn_mismatch: bool = Field(
        default=False,
        alias="allowHostNameCNMismatch",
        description="Accept a certificate whose name does not match host (ADF: allowHostNameCNMismatch). "
        "Default false.",
    )
    allow_self_signed_server_cert: bool = Field(
        default=False,
        description="Accept a self-signed server certificate (ADF: allowSelfSignedServerCert). Default "
        "false.",
    )
    enable_server_certificate_validation: bool = Field(
        default=True,
        description="Verify the server certificate at all (ADF v2: enableServerCertificateValidation). "
        "Default true.",
    )
    thrift_transport_protocol: ThriftTransportProtocol = Field(
        default=ThriftTransportProtocol.BINARY,
        description="Binary or HTTP Thrift transport (ADF v2: thriftTransportProtocol). Default Binary.",
    )
    http_path: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="URL path of the HTTP transport endpoint. Default cliservice when "
        "thriftTransportProtocol is HTTP.",
    )
    principal: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        pattern=PRINCIPAL_PATTERN,
        description="Kerberos: the client principal to log in as (`name[/instance][@REALM]`); the keytab "
        f"must hold its key. Required with Kerberos. {KERBEROS_FIELDS_DOC}",
    )
    keytab: KeytabSource | None = Field(
        default=None,
        description="Kerberos: the client keytab, a Secret key mounted into the Job pod as a read-only file "
        "(never an environment variable). Required with Kerberos.",
    )
    krb5_conf: Krb5ConfSource | None = Field(
        default=None,
        description="Kerberos: krb5.conf (realms, KDCs) from a ConfigMap key. Default: the image's "
        "(none: no default realm, KDCs found through DNS).",
    )
    realm: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        pattern=REALM_PATTERN,
        description="Kerberos: the realm of a principal written without `@REALM`.",
    )
    kerberos_service_principal: str | None = Field(
        default=None,
        min_length=3,
        max_length=512,
        pattern=SERVICE_PRINCIPAL_PATTERN,
        description="Kerberos: the server's principal, `service/host[@REALM]` (e.g. "
        "`impala/impalad-1.example.com@EXAMPLE.COM`). Instead of kerberosServiceName and kerberosHost.",
    )
    kerberos_service_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=SERVICE_NAME_PATTERN,
        description="Kerberos: the service part of the server's principal. Default "
        f"{KERBEROS_SERVICE_NAME_DEFAULT} (Impala's).",
    )
    kerberos_host: str | None = Field(
        default=None,
        min_length=1,
        max_length=253,
        pattern=r"^[A-Za-z0-9]([A-Za-z0-9.\-]*[A-Za-z0-9])?$",
        description="Kerberos: the host part of the server's principal. Default: host (a load balancer's "
        "or an IP address's principal usually needs it written).",
    )
    connect_timeout_seconds: int = Field(
        default=30, ge=1, le=3600, description="Seconds to wait for a connection and login. Default 30."
    )
    probe_interval_seconds: int = Field(
        default=3600,
        ge=0,
        le=86400,
        description="Seconds from the end of one connection test to the next (each test is a short Job pod), "
        "at least 300; 0 disables periodic tests. Default 3600.",
    )

    @property
    def effective_http_path(self) -> str:
        return self.http_path or DEFAULT_HTTP_PATH

    @property
    def effective_username(self) -> str | None:
        """The user name to log in with: ADF's default `anonymous` for SASLUsername without a username."""
        if self.username is None and self.authentication_type == AuthenticationType.SASL_USERNAME:
            return SASL_DEFAULT_USERNAME
        return self.username

    @property
    def client_principal(self) -> str | None:
        """Kerberos: the client principal, with `realm` added when it names none."""
        return qualified(self.principal, self.realm) if self.principal else None

    @property
    def kerberos_service(self) -> tuple[str, str]:
        """Kerberos: (service, host) of the server's principal."""
        host = self.kerberos_host or self.host.strip("[]")
        return service_of(self.kerberos_service_principal, self.kerberos_service_name, host)

    def references(self) -> list[Reference]:
        """The Secret and ConfigMap keys this spec refers to."""
        return list(key_references(self))


class LinkedServiceStatus(ApiModel):
    """Status of a linked service: references checked, connection tested."""

    observed_generation: int | None = Field(default=None, description="metadata.generation last reconciled.")
    conditions: list[Condition] = Field(default_factory=list, description="Ready and Connected conditions.")
    last_probe_time: str | None = Field(
        default=None, description="RFC 3339 time of the last connection test."
    )
    round_trip_milliseconds: float | None = Field(
        default=None, description="Server round trip of SELECT 1 in the last successful connection test, ms."
    )
    connection_test: AttemptRecord | None = Field(
        default=None,
        description="The newest connection test: its Job, trigger, state and times (kept once the Job is "
        "gone).",
    )
    handled_run_now: str | None = Field(
        default=None, description="Value of the run-now annotation last acted upon (a test on demand)."
    )
    probe_duration_milliseconds: float | None = Field(
        default=None, description="Duration of the last connection test: connect, login, SELECT 1, close, ms."
    )


class ImpalaLinkedService(Resource):
    KIND_INFO: ClassVar[KindInfo] = KindInfo(
        kind="ImpalaLinkedService",
        plural="impalalinkedservices",
        singular="impalalinkedservice",
        short_names=["impalals"],
        printer_columns=[
            {"name": "Host", "type": "string", "jsonPath": ".spec.host"},
            {"name": "Port", "type": "integer", "jsonPath": ".spec.port"},
            {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
            {
                "name": "Connected",
                "type": "string",
                "jsonPath": '.status.conditions[?(@.type=="Connected")].status',
            },
            {
                "name": "Probe",
                "type": "string",
                "jsonPath": '.status.conditions[?(@.type=="Connected")].reason',
                "priority": 1,
            },
            {"name": "RTT(ms)", "type": "number", "jsonPath": ".status.roundTripMilliseconds", "priority": 1},
            {"name": "Last Probe", "type": "date", "jsonPath": ".status.lastProbeTime", "priority": 1},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    )
    kind: Literal["ImpalaLinkedService"] = "ImpalaLinkedService"
    spec: ImpalaLinkedServiceSpec
    status: LinkedServiceStatus | None = None


IDENTIFIER_DOC = "Letters, digits and underscores; quoted with backticks in SQL."


class ColumnDefinition(ApiModel):
    """One column of the dataset's structure (ADF: structure / schema)."""

    name: str = Field(min_length=1, max_length=128, description="Column name.")
    type: str | None = Field(default=None, max_length=64, description="Impala type name, for documentation.")


class ImpalaDatasetSpec(RuledModel):
    """Which Impala table to read (ADF: ImpalaObject dataset)."""

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            cel="!has(self.tableName) || (!has(self.schema) && !has(self.table))",
            message="tableName (legacy) cannot be combined with schema or table",
            check=lambda m: (
                not written(m, "table_name") or (not written(m, "schema_") and not written(m, "table"))
            ),
        ),
        Rule(
            cel="!has(self.schema) || has(self.table)",
            message="schema requires table",
            check=lambda m: not written(m, "schema_") or written(m, "table"),
        ),
    )

    linked_service_name: LinkedServiceReference = Field(
        description="The ImpalaLinkedService to read through."
    )
    schema_: str | None = Field(
        default=None,
        alias="schema",
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9_]+$",
        description=f"Database (schema) of the table (ADF: schema). {IDENTIFIER_DOC}",
    )
    table: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9_]+$",
        description=f"Table name (ADF: table). {IDENTIFIER_DOC}",
    )
    table_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=257,
        pattern=r"^([A-Za-z0-9_]+\.)?[A-Za-z0-9_]+$",
        description="Legacy `schema.table` or `table` (ADF: tableName). Use schema and table instead.",
    )
    structure: list[ColumnDefinition] | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="Columns to read, in order. When set, only these columns are selected from the table.",
    )

    def qualified_table(self) -> tuple[str | None, str] | None:
        """(schema, table) from schema/table or the legacy tableName; None when no table is named."""
        if self.table:
            return self.schema_, self.table
        if self.table_name:
            schema, _, table = self.table_name.rpartition(".")
            return (schema or None), table
        return None

    def references(self) -> list[Reference]:
        name = self.linked_service_name.reference_name
        return [Reference("ImpalaLinkedService", name, "spec.linkedServiceName.referenceName")]


class DatasetStatus(ApiModel):
    observed_generation: int | None = Field(default=None, description="metadata.generation last reconciled.")
    conditions: list[Condition] = Field(default_factory=list, description="The Ready condition.")


class ImpalaDataset(Resource):
    KIND_INFO: ClassVar[KindInfo] = KindInfo(
        kind="ImpalaDataset",
        plural="impaladatasets",
        singular="impaladataset",
        short_names=["impalads"],
        printer_columns=[
            {"name": "LinkedService", "type": "string", "jsonPath": ".spec.linkedServiceName.referenceName"},
            {"name": "Schema", "type": "string", "jsonPath": ".spec.schema"},
            {"name": "Table", "type": "string", "jsonPath": ".spec.table"},
            {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    )
    kind: Literal["ImpalaDataset"] = "ImpalaDataset"
    spec: ImpalaDatasetSpec
    status: DatasetStatus | None = None


__all__ = [
    "NAME_MAX",
    "NAME_PATTERN",
    "AuthenticationType",
    "ColumnDefinition",
    "DatasetStatus",
    "ImpalaDataset",
    "ImpalaDatasetSpec",
    "ImpalaLinkedService",
    "ImpalaLinkedServiceSpec",
    "LinkedServiceStatus",
    "ThriftTransportProtocol",
]
