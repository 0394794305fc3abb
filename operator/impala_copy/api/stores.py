"""Sink linked services: AmazonS3 (any S3-compatible endpoint), AzureBlobStorage (ADLS Gen2 too), PostgreSql.

Every credential is a reference to a Secret key in the same namespace. Leaving all credentials out
means "use the pod's identity" (IRSA / instance role for S3, workload identity for Azure).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field

from impala_copy.api.common import CertificateSource, KindInfo, Resource, SecretValue
from impala_copy.api.impala import LinkedServiceStatus
from impala_copy.api.references import Reference, key_references
from impala_copy.api.rules import Rule, RuledModel, written

INSECURE_ENDPOINT_HELP = (
    "set allowInsecureEndpoint: true to send credentials and data unencrypted, e.g. to a local test store"
)
_ALLOW_INSECURE_DESCRIPTION = (
    "Allow an http:// endpoint: request signatures, keys or tokens and the data then cross the network "
    "unencrypted. For local test stores only. Default false."
)


def _https_rule(field: str, attribute: str) -> Rule:
    """`field` must be an https:// URL unless allowInsecureEndpoint is true."""
    return Rule(
        cel=f"!has(self.{field}) || self.{field}.startsWith('https://') || self.allowInsecureEndpoint",
        message=f"{field} must be an https:// URL ({INSECURE_ENDPOINT_HELP})",
        check=lambda m: (
            not getattr(m, attribute)
            or getattr(m, attribute).startswith("https://")
            or m.allow_insecure_endpoint
        ),
    )


_READY_COLUMNS = [
    {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


class AmazonS3LinkedServiceSpec(RuledModel):
    """An S3 or S3-compatible object store (ADF: AmazonS3 linked service)."""

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            cel="has(self.accessKeyId) == has(self.secretAccessKey)",
            message="accessKeyId and secretAccessKey go together (leave both out to use the pod's identity)",
            check=lambda m: written(m, "access_key_id") == written(m, "secret_access_key"),
        ),
        Rule(
            cel="!has(self.sessionToken) || has(self.accessKeyId)",
            message="sessionToken requires accessKeyId and secretAccessKey",
            check=lambda m: not written(m, "session_token") or written(m, "access_key_id"),
        ),
        _https_rule("serviceUrl", "service_url"),
    )

    access_key_id: SecretValue | None = Field(default=None, description="Access key ID (ADF: accessKeyId).")
    secret_access_key: SecretValue | None = Field(
        default=None, description="Secret access key (ADF: secretAccessKey)."
    )
    session_token: SecretValue | None = Field(
        default=None, description="Session token for temporary credentials (ADF: sessionToken)."
    )
    service_url: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^https?://[^\s]+$",
        description="Endpoint of an S3-compatible store such as MinIO or Ceph (ADF: serviceUrl).",
    )
    allow_insecure_endpoint: bool = Field(default=False, description=_ALLOW_INSECURE_DESCRIPTION)
    force_path_style: bool = Field(
        default=False, description="Address buckets as path segments, not host names (ADF: forcePathStyle)."
    )
    region: str | None = Field(
        default=None, max_length=64, description="Region of the bucket, e.g. us-east-1."
    )

    def references(self) -> list[Reference]:
        """The Secret and ConfigMap keys this spec refers to."""
        return list(key_references(self))


class AmazonS3LinkedService(Resource):
    KIND_INFO: ClassVar[KindInfo] = KindInfo(
        kind="AmazonS3LinkedService",
        plural="amazons3linkedservices",
        singular="amazons3linkedservice",
        short_names=["s3ls"],
        printer_columns=[
            {"name": "ServiceURL", "type": "string", "jsonPath": ".spec.serviceUrl"},
            *_READY_COLUMNS,
        ],
    )
    kind: Literal["AmazonS3LinkedService"] = "AmazonS3LinkedService"
    spec: AmazonS3LinkedServiceSpec
    status: LinkedServiceStatus | None = None


class AzureBlobStorageLinkedServiceSpec(RuledModel):
    """Azure Blob Storage or ADLS Gen2 (ADF: AzureBlobStorage / AzureBlobFS linked service)."""

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            cel="!has(self.connectionString) || (!has(self.accountName) && !has(self.accountKey) && "
            "!has(self.sasToken))",
            message="connectionString cannot be combined with accountName, accountKey or sasToken",
            check=lambda m: (
                not written(m, "connection_string")
                or not any(written(m, f) for f in ("account_name", "account_key", "sas_token"))
            ),
        ),
        Rule(
            cel="has(self.connectionString) || has(self.accountName)",
            message="set connectionString, or accountName (with accountKey, sasToken or neither for "
            "workload identity)",
            check=lambda m: written(m, "connection_string") or written(m, "account_name"),
        ),
        Rule(
            cel="!(has(self.accountKey) && has(self.sasToken))",
            message="accountKey and sasToken are mutually exclusive",
            check=lambda m: not (written(m, "account_key") and written(m, "sas_token")),
        ),
        _https_rule("serviceEndpoint", "service_endpoint"),
    )

    connection_string: SecretValue | None = Field(
        default=None, description="Storage connection string (ADF: connectionString)."
    )
    account_name: str | None = Field(
        default=None, min_length=3, max_length=24, pattern=r"^[a-z0-9]+$", description="Storage account name."
    )
    account_key: SecretValue | None = Field(
        default=None, description="Storage account key (ADF: accountKey)."
    )
    sas_token: SecretValue | None = Field(
        default=None, description="Shared access signature token (ADF: sasToken)."
    )
    service_endpoint: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^https?://[^\s]+$",
        description="Blob service endpoint (ADF: serviceEndpoint). Default https://<accountName>.blob.core.windows.net.",
    )
    allow_insecure_endpoint: bool = Field(
        default=False,
        description=_ALLOW_INSECURE_DESCRIPTION + " Also needed for a connectionString whose BlobEndpoint "
        "or DefaultEndpointsProtocol is http, or UseDevelopmentStorage=true (checked when the copy runs).",
    )
    hierarchical_namespace: bool = Field(
        default=False,
        description="The account has ADLS Gen2 hierarchical namespace enabled (ADF: AzureBlobFS).",
    )

    def references(self) -> list[Reference]:
        """The Secret and ConfigMap keys this spec refers to."""
        return list(key_references(self))


class AzureBlobStorageLinkedService(Resource):
    KIND_INFO: ClassVar[KindInfo] = KindInfo(
        kind="AzureBlobStorageLinkedService",
        plural="azureblobstoragelinkedservices",
        singular="azureblobstoragelinkedservice",
        short_names=["azblobls"],
        printer_columns=[
            {"name": "Account", "type": "string", "jsonPath": ".spec.accountName"},
            *_READY_COLUMNS,
        ],
    )
    kind: Literal["AzureBlobStorageLinkedService"] = "AzureBlobStorageLinkedService"
    spec: AzureBlobStorageLinkedServiceSpec
    status: LinkedServiceStatus | None = None


class PostgreSqlSslMode(StrEnum):
    DISABLE = "disable"
    ALLOW = "allow"
    PREFER = "prefer"
    REQUIRE = "require"
    VERIFY_CA = "verify-ca"
    VERIFY_FULL = "verify-full"


class PostgreSqlLinkedServiceSpec(RuledModel):
    """A PostgreSQL server (ADF: PostgreSqlV2 linked service)."""

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            cel="!has(self.trustedCert) || self.sslMode == 'require' || self.sslMode == 'verify-ca' || "
            "self.sslMode == 'verify-full'",
            message="trustedCert requires sslMode require, verify-ca or verify-full",
            check=lambda m: (
                not written(m, "trusted_cert") or m.ssl_mode in ("require", "verify-ca", "verify-full")
            ),
        ),
    )

    host: str = Field(
        min_length=1, max_length=253, description="Server host name or IP address (ADF: server)."
    )
    port: int = Field(default=5432, ge=1, le=65535, description="Server port (ADF: port). Default 5432.")
    database: str = Field(min_length=1, max_length=63, description="Database name (ADF: database).")
    username: str = Field(min_length=1, max_length=63, description="User name (ADF: username).")
    password: SecretValue = Field(description="Password, a Secret key reference (ADF: password).")
    ssl_mode: PostgreSqlSslMode = Field(
        default=PostgreSqlSslMode.VERIFY_FULL,
        description="libpq sslmode (ADF: sslMode). Default verify-full: TLS, and the server's certificate "
        "must chain to trustedCert (else to the system's trusted CAs) and name the host. prefer or disable "
        "opt out.",
    )
    trusted_cert: CertificateSource | None = Field(
        default=None,
        description="PEM CA certificates to verify the server with (libpq sslrootcert). Without it, "
        "verify-full uses the system's trusted CAs.",
    )
    connect_timeout_seconds: int = Field(
        default=30, ge=1, le=3600, description="Connection timeout. Default 30."
    )

    def references(self) -> list[Reference]:
        """The Secret and ConfigMap keys this spec refers to."""
        return list(key_references(self))


class PostgreSqlLinkedService(Resource):
    KIND_INFO: ClassVar[KindInfo] = KindInfo(
        kind="PostgreSqlLinkedService",
        plural="postgresqllinkedservices",
        singular="postgresqllinkedservice",
        short_names=["pgls"],
        printer_columns=[
            {"name": "Host", "type": "string", "jsonPath": ".spec.host"},
            {"name": "Database", "type": "string", "jsonPath": ".spec.database"},
            *_READY_COLUMNS,
        ],
    )
    kind: Literal["PostgreSqlLinkedService"] = "PostgreSqlLinkedService"
    spec: PostgreSqlLinkedServiceSpec
    status: LinkedServiceStatus | None = None
