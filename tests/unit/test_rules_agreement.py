"""Every validation rule judged twice, by pydantic and by the generated CRD's CEL, on the same manifests.

In: good and bad manifests of every kind, each bad one breaking one rule (or one field bound).
Out: pydantic's verdict (`parse_resource`, as the CLI judges a manifest and the operator the stored
object) and the API server's verdict (the CRD's openAPIV3Schema with jsonschema, its
`x-kubernetes-validations` evaluated with cel-python on the object the API server stores: nulls
pruned, the CRD's defaults applied) agree: same field path, same message; pydantic gives the same
verdict on the manifest as written and on the stored object; good manifests pass both; no rule asks
whether a field with a default was written.
Faked: only the API server, whose defaulting, schema and CEL checks are reproduced from the generated
CRDs (`api.defaulting`, tests/unit/crd_checks.py).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from tests.unit.crd_checks import cel_failures, cel_verdicts, schema_errors

from impala_copy.api.common import KEY_PATTERN, NAME_PATTERN
from impala_copy.api.defaulting import stored_object
from impala_copy.api.incremental import COLUMN_PATTERN, LOOKBACK_PATTERN, WATERMARK_VALUE_PATTERN
from impala_copy.api.kinds import KINDS, SpecError, parse_resource
from impala_copy.api.rules import RuledModel

GV = "impalacopy.io/v1alpha1"
SECRET = {"secretKeyRef": {"name": "impala", "key": "password"}}
CA_SECRET = {"secretKeyRef": {"name": "impala-ca", "key": "ca.pem"}}
CA_CONFIGMAP = {"configMapKeyRef": {"name": "impala-ca", "key": "ca.pem"}}


def manifest(kind: str, spec: dict[str, Any], name: str = "x") -> dict[str, Any]:
    return {"apiVersion": GV, "kind": kind, "metadata": {"name": name, "namespace": "ns"}, "spec": spec}


def impala_ls(**spec: Any) -> dict[str, Any]:
    return manifest("ImpalaLinkedService", {"host": "impala.example.com", **spec})


def impala_ds(**spec: Any) -> dict[str, Any]:
    return manifest("ImpalaDataset", {"linkedServiceName": {"referenceName": "impala"}, **spec})


PVC = {"type": "PersistentVolumeClaimLocation", "claimName": "out", "folderPath": "sales"}
S3 = {"type": "AmazonS3Location", "bucketName": "my-bucket", "folderPath": "sales"}
AZ = {"type": "AzureBlobStorageLocation", "container": "landing"}


def file_ds(kind: str, location: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return manifest(kind, {"location": location, **spec})


def copy_activity(
    sink: dict[str, Any] | None = None, kind: str = "ParquetDataset", **spec: Any
) -> dict[str, Any]:
    return manifest(
        "CopyActivity",
        {
            "inputs": [{"referenceName": "sales"}],
            "outputs": [{"referenceName": "sales-out", "kind": kind}],
            "sink": sink or {"type": "ParquetSink"},
            **spec,
        },
    )


def lookup_activity(**spec: Any) -> dict[str, Any]:
    return manifest("LookupActivity", {"dataset": {"referenceName": "sales"}, **spec})


USER_PASS = "authenticationType UsernameAndPassword requires username and password"
ANON = "authenticationType Anonymous takes no username or password"
SASL_NO_PASSWORD = "authenticationType SASLUsername takes no password (use UsernameAndPassword)"
TLS = (
    "TLS options (trustedCert, useSystemTrustStore, allowHostNameCNMismatch, allowSelfSignedServerCert) "
    "require enableSsl: true"
)
HTTP_PATH = "httpPath requires thriftTransportProtocol: HTTP"
KEYTAB = {"secretKeyRef": {"name": "etl-keytab", "key": "etl.keytab"}}
KRB5_CONF = {"configMapKeyRef": {"name": "krb5", "key": "krb5.conf"}}
KRB_NEEDS = "authenticationType Kerberos requires principal and keytab"
KRB_NO_PASSWORD = (
    "authenticationType Kerberos takes no username or password (the principal and its keytab log in)"
)
KRB_ONLY = (
    "principal, keytab, krb5Conf, realm, kerberosServicePrincipal, kerberosServiceName, kerberosHost "
    "require authenticationType Kerberos"
)
KRB_SERVICE = "kerberosServicePrincipal cannot be combined with kerberosServiceName or kerberosHost"


def kerberos_ls(**spec: Any) -> dict[str, Any]:
    return impala_ls(authenticationType="Kerberos", principal="etl@EXAMPLE.COM", keytab=KEYTAB, **spec)


ONE_CERT = "set exactly one of secretKeyRef and configMapKeyRef"
TABLE_NAME = "tableName (legacy) cannot be combined with schema or table"
SCHEMA_TABLE = "schema requires table"
S3_KEYS = "accessKeyId and secretAccessKey go together (leave both out to use the pod's identity)"
S3_TOKEN = "sessionToken requires accessKeyId and secretAccessKey"
AZ_CONN = "connectionString cannot be combined with accountName, accountKey or sasToken"
AZ_NEED = "set connectionString, or accountName (with accountKey, sasToken or neither for workload identity)"
AZ_KEY_SAS = "accountKey and sasToken are mutually exclusive"
PG_CERT = "trustedCert requires sslMode require, verify-ca or verify-full"
ZERO_TIMEOUT = "policy.timeout must be longer than 00:00:00 (e.g. 0.12:00:00, the default)"
REFRESH = "refreshInterval must be at least 60s"
PROBE = "probeIntervalSeconds must be 0 (no periodic tests) or at least 300"
INSECURE = (
    "set allowInsecureEndpoint: true to send credentials and data unencrypted, e.g. to a local test store"
)
S3_HTTPS = f"serviceUrl must be an https:// URL ({INSECURE})"
AZ_HTTPS = f"serviceEndpoint must be an https:// URL ({INSECURE})"
LOC_PVC = "PersistentVolumeClaimLocation requires claimName"
LOC_S3 = "AmazonS3Location requires bucketName"
LOC_AZ = "AzureBlobStorageLocation requires container"
LOC_FIELDS = (
    "claimName, bucketName and container belong to PersistentVolumeClaimLocation, AmazonS3Location and "
    "AzureBlobStorageLocation respectively"
)
FOLDER_ABSOLUTE = "folderPath must be relative: no leading '/'"
FOLDER_CHARACTERS = "folderPath must not contain '\\' or control characters"
FOLDER_DOTS = "folderPath must not have a '.' or '..' segment"
FOLDER_STAGING = "folderPath must not have a segment named _temporary (the staging folder)"
FILE_CHARACTERS = "fileName must not contain '/', '\\' or control characters"
FILE_DOTS = "fileName must not be '.' or '..'"
FILE_STAGING = "fileName must not be _temporary (the staging folder)"
PREFIX_DOTS = "fileNamePrefix must not be '.' or '..'"
PREFIX_STAGING = "fileNamePrefix must not be _temporary (the staging folder)"
DS_LS = "AmazonS3Location and AzureBlobStorageLocation need linkedServiceName; PersistentVolumeClaimLocation takes none"
QUOTE = "quoteChar and columnDelimiter must differ"
UNIQUE_COLUMNS = "additionalColumns names must be unique"
LOOKUP_COLUMNS = "source.additionalColumns apply to a CopyActivity only, not to a LookupActivity"
SINK_MATCH = (
    "sink.type must match the output dataset: ParquetDataset/ParquetSink, DelimitedTextDataset/DelimitedTextSink, "
    "JsonDataset/JsonSink, PostgreSqlTableDataset/PostgreSqlSink"
)
SINK_FILE_ONLY = "formatSettings apply to file sinks (ParquetSink, DelimitedTextSink, JsonSink) only"
SINK_PG_ONLY = "preCopyScript, writeBatchSize, writeBehavior, upsertSettings and tableOption apply to PostgreSqlSink only"
UPSERT = "writeBehavior upsert requires upsertSettings.keys"
SCHEDULE_ONE = "schedule needs exactly one of cron or window"
WINDOW_ORDER = "window.endTime must be after window.startTime"
LOOKUP_REFRESH_AND_SCHEDULE = (
    "refreshInterval and schedule cannot both be set (refreshInterval is a shorthand for a repeat after each "
    "run; schedule runs by the clock)"
)
LOOKUP_WINDOW = "schedule.window applies to a CopyActivity only; a LookupActivity takes schedule.cron"
HOURLY = {"startTime": "2026-12-01T00:00:00Z", "frequency": "Hour", "interval": 1}
INCREMENTAL_QUERY = (
    "source.query of an incremental copy must contain {incrementalRange} where the range predicate goes, "
    "e.g. SELECT * FROM sales.orders WHERE {incrementalRange}"
)
RANGE_WITHOUT_INCREMENTAL = "source.query contains {incrementalRange} but source.incremental is not set"
INCREMENTAL_AND_WINDOW = (
    "source.incremental and schedule.window cannot both be set: windows and watermarks are two ways to pick "
    "the rows of a run (use window placeholders in the query, or a watermark)"
)
LOOKUP_INCREMENTAL = "source.incremental applies to a CopyActivity only, not to a LookupActivity"
BY_ID = {"column": "order_id"}
HOOK = "?AdfDynamicRangePartitionCondition"
RANGE_BY_ID = {"partitionOption": "DynamicRange", "partitionSettings": {"partitionColumnName": "order_id"}}
SETTINGS_WITHOUT_RANGE = "source.partitionSettings apply to partitionOption DynamicRange only"
RANGE_WITHOUT_COLUMN = "partitionOption DynamicRange requires partitionSettings.partitionColumnName"
RANGE_QUERY_WITHOUT_HOOK = (
    f"source.query of a DynamicRange copy must contain {HOOK} where each partition's predicate goes, e.g. "
    f"SELECT * FROM sales.orders WHERE {HOOK}"
)
HOOK_WITHOUT_RANGE = f"source.query contains {HOOK} but source.partitionOption is not DynamicRange"
PHYSICAL_WITH_QUERY = (
    "partitionOption PhysicalPartitionsOfTable reads the dataset's table: it takes no source.query"
)
PARTITIONED_INCREMENTAL = (
    "source.incremental and a partitionOption cannot both be set: a partitioned copy reads the whole source "
    "(incremental partitioned copies are not built)"
)
BOUNDS_REVERSED = "partitionSettings.partitionLowerBound must not be above partitionUpperBound"
PARALLEL_WITHOUT_OPTION = (
    "parallelCopies applies to a partitioned copy only: set source.partitionOption (DynamicRange or "
    "PhysicalPartitionsOfTable); without one a copy reads with one pod"
)
PARTITIONED_WINDOW = (
    "schedule.window and a source.partitionOption cannot both be set (partitioned tumbling windows are not "
    "built)"
)
LOOKUP_PARTITIONED = "source.partitionOption applies to a CopyActivity only, not to a LookupActivity"


def ranged(low: str | None, high: str | None, column: str = "order_id") -> dict[str, Any]:
    settings = {"partitionColumnName": column, "partitionLowerBound": low, "partitionUpperBound": high}
    return {"partitionOption": "DynamicRange", "partitionSettings": {k: v for k, v in settings.items() if v}}


STORE = {"referenceName": "store"}
PG_LS = {"host": "pg", "database": "dw", "username": "loader", "password": SECRET}
PG_DS = manifest("PostgreSqlTableDataset", {"linkedServiceName": {"referenceName": "pg"}, "table": "sales"})

GOOD: dict[str, dict[str, Any]] = {
    "impala-minimal": impala_ls(),
    "impala-anonymous-explicit": impala_ls(authenticationType="Anonymous", port=21050),
    "impala-user-password": impala_ls(
        authenticationType="UsernameAndPassword", username="alice", password=SECRET
    ),
    "impala-sasl-user": impala_ls(authenticationType="SASLUsername", username="bob"),
    "impala-sasl-default-user": impala_ls(authenticationType="SASLUsername"),
    "impala-kerberos": kerberos_ls(),
    "impala-kerberos-everything": kerberos_ls(
        krb5Conf=KRB5_CONF, realm="EXAMPLE.COM", kerberosServiceName="hive", kerberosHost="impalad-1"
    ),
    "impala-kerberos-service-principal-http": kerberos_ls(
        kerberosServicePrincipal="impala/impalad-1.example.com@EXAMPLE.COM",
        thriftTransportProtocol="HTTP",
        enableSsl=True,
    ),
    "impala-tls-all-options": impala_ls(
        enableSsl=True,
        trustedCert=CA_SECRET,
        useSystemTrustStore=True,
        allowHostNameCNMismatch=True,
        allowSelfSignedServerCert=True,
        enableServerCertificateValidation=True,
    ),
    "impala-tls-configmap-ca": impala_ls(enableSsl=True, trustedCert=CA_CONFIGMAP),
    "impala-tls-off-options-false": impala_ls(
        enableSsl=False, allowSelfSignedServerCert=False, useSystemTrustStore=False
    ),
    "impala-no-tls-no-validation": impala_ls(enableServerCertificateValidation=False),
    # true is the default the API server stores on every object, so writing it is the same as not.
    "impala-no-tls-validation-default": impala_ls(enableServerCertificateValidation=True),
    "impala-null-port-takes-the-default": impala_ls(port=None, enableSsl=None),
    "impala-null-username-is-not-written": impala_ls(username=None, trustedCert=None),
    "impala-http": impala_ls(thriftTransportProtocol="HTTP", httpPath="cliservice", port=28000),
    "impala-http-default-path": impala_ls(thriftTransportProtocol="HTTP"),
    "impala-port-bounds-low": impala_ls(port=1),
    "impala-port-bounds-high": impala_ls(port=65535),
    "dataset-schema-table": impala_ds(schema="demo", table="sales"),
    "dataset-table-only": impala_ds(table="sales"),
    "dataset-legacy-table-name": impala_ds(tableName="demo.sales"),
    "dataset-query-only": impala_ds(),
    "s3-pod-identity": manifest("AmazonS3LinkedService", {"region": "us-east-1"}),
    "s3-https-endpoint": manifest("AmazonS3LinkedService", {"serviceUrl": "https://minio:9000"}),
    "s3-http-endpoint-allowed": manifest(
        "AmazonS3LinkedService", {"serviceUrl": "http://127.0.0.1:9000", "allowInsecureEndpoint": True}
    ),
    "azure-http-endpoint-allowed": manifest(
        "AzureBlobStorageLinkedService",
        {
            "accountName": "acct",
            "serviceEndpoint": "http://127.0.0.1:10000/acct",
            "allowInsecureEndpoint": True,
        },
    ),
    "s3-keys": manifest("AmazonS3LinkedService", {"accessKeyId": SECRET, "secretAccessKey": SECRET}),
    "s3-keys-token": manifest(
        "AmazonS3LinkedService", {"accessKeyId": SECRET, "secretAccessKey": SECRET, "sessionToken": SECRET}
    ),
    "azure-connection-string": manifest("AzureBlobStorageLinkedService", {"connectionString": SECRET}),
    "azure-workload-identity": manifest("AzureBlobStorageLinkedService", {"accountName": "acct"}),
    "azure-account-key": manifest(
        "AzureBlobStorageLinkedService", {"accountName": "acct", "accountKey": SECRET}
    ),
    "azure-sas": manifest("AzureBlobStorageLinkedService", {"accountName": "acct", "sasToken": SECRET}),
    "pg-basic": manifest("PostgreSqlLinkedService", PG_LS),
    "pg-verify-full": manifest(
        "PostgreSqlLinkedService", {**PG_LS, "sslMode": "verify-full", "trustedCert": CA_SECRET}
    ),
    # the default sslMode (verify-full) takes a trustedCert
    "pg-cert-default-sslmode": manifest("PostgreSqlLinkedService", {**PG_LS, "trustedCert": CA_SECRET}),
    "pg-table": PG_DS,
    "parquet-pvc": file_ds("ParquetDataset", PVC, compressionCodec="zstd"),
    "parquet-s3": file_ds("ParquetDataset", S3, linkedServiceName=STORE),
    "json-azure": file_ds("JsonDataset", AZ, linkedServiceName=STORE),
    "csv-pvc-options": file_ds(
        "DelimitedTextDataset",
        PVC,
        columnDelimiter=";",
        quoteChar="'",
        escapeChar="\\",
        firstRowAsHeader=True,
    ),
    "csv-quote-default-delimiter-tab": file_ds("DelimitedTextDataset", PVC, columnDelimiter="\t"),
    "dots-inside-names-stay-legal": file_ds(
        "ParquetDataset", {**PVC, "folderPath": "a...b/x..y/.hidden/_temporary2/", "fileName": "x..y.parquet"}
    ),
    "file-name-prefix-with-dots": copy_activity(
        {"type": "ParquetSink", "formatSettings": {"fileNamePrefix": "..sales"}}
    ),
    "copy-table": copy_activity(),
    "copy-query-rotation": copy_activity(
        {"type": "DelimitedTextSink", "formatSettings": {"maxRowsPerFile": 1, "fileNamePrefix": "sales"}},
        kind="DelimitedTextDataset",
        source={"type": "ImpalaSource", "query": "SELECT 1", "queryTimeout": "00:10:00"},
    ),
    "copy-additional-columns": copy_activity(
        source={"additionalColumns": [{"name": "origin", "value": "impala"}, {"name": "batch", "value": "7"}]}
    ),
    "copy-json": copy_activity({"type": "JsonSink"}, kind="JsonDataset"),
    "copy-postgres-upsert": copy_activity(
        {
            "type": "PostgreSqlSink",
            "writeBehavior": "upsert",
            "upsertSettings": {"keys": ["id"]},
            "writeBatchSize": 5000,
        },
        kind="PostgreSqlTableDataset",
    ),
    "copy-policy-job": copy_activity(
        policy={"timeout": "0.01:00:00", "retry": 2, "retryIntervalInSeconds": 60},
        validateDataConsistency=True,
        job={
            "resources": {"limits": {"memory": "512Mi"}},
            "tolerations": [{"key": "k", "operator": "Exists"}],
        },
    ),
    "lookup-first-row": lookup_activity(source={"query": "SELECT max(id) FROM demo.sales"}),
    "lookup-refresh": lookup_activity(firstRowOnly=False, refreshInterval="15m"),
    "lookup-refresh-shortest": lookup_activity(refreshInterval="1m", policy={"timeout": "00:00:01"}),
    "lookup-refresh-shortest-seconds": lookup_activity(refreshInterval="60s"),
    "copy-cron": copy_activity(schedule={"cron": "30 2 * * *", "timeZone": "Europe/Berlin"}),
    "copy-cron-macro": copy_activity(
        schedule={
            "cron": "@hourly",
            "suspend": True,
            "concurrencyPolicy": "Replace",
            "startingDeadlineSeconds": 60,
        }
    ),
    "copy-window": copy_activity(schedule={"window": {**HOURLY, "endTime": "2026-12-02T00:00:00+01:00"}}),
    "lookup-cron": lookup_activity(schedule={"cron": "*/5 * * * *"}),
    "impala-probe-never": impala_ls(probeIntervalSeconds=0),
    "impala-probe-shortest": impala_ls(probeIntervalSeconds=300),
    "copy-incremental-table": copy_activity(
        source={"incremental": {"column": "updated_at", "initialValue": "2026-12-01 08:30:00"}}
    ),
    "copy-incremental-query": copy_activity(
        source={
            "query": "SELECT * FROM sales.orders WHERE {incrementalRange} AND region = 'EU'",
            "incremental": {"column": "order_id", "initialValue": "1000", "lookback": "100"},
        },
        schedule={"cron": "@daily"},
    ),
    "copy-range-table": copy_activity(source=RANGE_BY_ID, parallelCopies=8),
    "copy-range-query-bounds": copy_activity(
        source={"query": f"SELECT * FROM sales.orders WHERE region = 'EU' AND {HOOK}", **ranged("1", "9000")}
    ),
    "copy-range-equal-bounds": copy_activity(source=ranged("12.50", "12.5")),
    "copy-range-timestamps": copy_activity(source=ranged("2026-12-01", "2026-12-01 08:30:00", "ts")),
    "copy-range-mixed-separators-left-to-the-engine": copy_activity(
        source=ranged("2026-12-02 00:00:00", "2026-12-01T08:30:00", "ts")
    ),
    "copy-range-mixed-kinds-left-to-the-engine": copy_activity(source=ranged("2026-12-02", "5", "ts")),
    "copy-physical-partitions": copy_activity(
        source={"partitionOption": "PhysicalPartitionsOfTable"}, parallelCopies=3
    ),
    "copy-partition-option-none": copy_activity(source={"partitionOption": "None"}),
    "copy-partitioned-cron": copy_activity(source=RANGE_BY_ID, schedule={"cron": "@daily"}),
}

# (manifest, field path of the error, message): each breaks exactly one rule.
BAD_RULES: dict[str, tuple[dict[str, Any], str, str]] = {
    "copy-zero-timeout": (copy_activity(policy={"timeout": "00:00:00"}), "spec", ZERO_TIMEOUT),
    "lookup-zero-timeout-with-days": (
        lookup_activity(policy={"timeout": "0.00:00:00"}),
        "spec",
        ZERO_TIMEOUT,
    ),
    "lookup-refresh-too-short": (lookup_activity(refreshInterval="59s"), "spec", REFRESH),
    "lookup-refresh-zero": (lookup_activity(refreshInterval="0s"), "spec", REFRESH),
    "impala-probe-too-often": (impala_ls(probeIntervalSeconds=299), "spec", PROBE),
    "user-password-without-password": (
        impala_ls(authenticationType="UsernameAndPassword", username="alice"),
        "spec",
        USER_PASS,
    ),
    "user-password-without-username": (
        impala_ls(authenticationType="UsernameAndPassword", password=SECRET),
        "spec",
        USER_PASS,
    ),
    "user-password-with-null-password": (
        impala_ls(authenticationType="UsernameAndPassword", username="alice", password=None),
        "spec",
        USER_PASS,
    ),
    "anonymous-with-password": (impala_ls(authenticationType="Anonymous", password=SECRET), "spec", ANON),
    "default-anonymous-with-username": (impala_ls(username="alice"), "spec", ANON),
    "sasl-with-password": (
        impala_ls(authenticationType="SASLUsername", username="bob", password=SECRET),
        "spec",
        SASL_NO_PASSWORD,
    ),
    "kerberos-without-keytab": (
        impala_ls(authenticationType="Kerberos", principal="etl@EXAMPLE.COM"),
        "spec",
        KRB_NEEDS,
    ),
    "kerberos-without-principal": (
        impala_ls(authenticationType="Kerberos", keytab=KEYTAB),
        "spec",
        KRB_NEEDS,
    ),
    "kerberos-with-password": (kerberos_ls(password=SECRET), "spec", KRB_NO_PASSWORD),
    "kerberos-with-username": (kerberos_ls(username="etl"), "spec", KRB_NO_PASSWORD),
    "keytab-without-kerberos": (impala_ls(keytab=KEYTAB), "spec", KRB_ONLY),
    "realm-with-password-login": (
        impala_ls(authenticationType="UsernameAndPassword", username="a", password=SECRET, realm="R"),
        "spec",
        KRB_ONLY,
    ),
    "service-principal-and-host": (
        kerberos_ls(kerberosServicePrincipal="impala/h@R", kerberosHost="h"),
        "spec",
        KRB_SERVICE,
    ),
    "trusted-cert-without-ssl": (impala_ls(trustedCert=CA_SECRET), "spec", TLS),
    "self-signed-with-ssl-false": (impala_ls(enableSsl=False, allowSelfSignedServerCert=True), "spec", TLS),
    "cn-mismatch-without-ssl": (impala_ls(allowHostNameCNMismatch=True), "spec", TLS),
    "system-trust-without-ssl": (impala_ls(useSystemTrustStore=True), "spec", TLS),
    "http-path-with-binary": (impala_ls(httpPath="cliservice"), "spec", HTTP_PATH),
    "http-path-explicit-binary": (
        impala_ls(thriftTransportProtocol="Binary", httpPath="cliservice"),
        "spec",
        HTTP_PATH,
    ),
    "cert-both-refs": (
        impala_ls(enableSsl=True, trustedCert={**CA_SECRET, **CA_CONFIGMAP}),
        "spec.trustedCert",
        ONE_CERT,
    ),
    "cert-no-ref": (impala_ls(enableSsl=True, trustedCert={}), "spec.trustedCert", ONE_CERT),
    "table-name-and-table": (impala_ds(tableName="demo.sales", table="sales"), "spec", TABLE_NAME),
    "table-name-and-schema": (impala_ds(tableName="sales", schema="demo", table="sales"), "spec", TABLE_NAME),
    "schema-without-table": (impala_ds(schema="demo"), "spec", SCHEMA_TABLE),
    "s3-key-id-only": (manifest("AmazonS3LinkedService", {"accessKeyId": SECRET}), "spec", S3_KEYS),
    "s3-secret-only": (manifest("AmazonS3LinkedService", {"secretAccessKey": SECRET}), "spec", S3_KEYS),
    "s3-token-only": (manifest("AmazonS3LinkedService", {"sessionToken": SECRET}), "spec", S3_TOKEN),
    "azure-conn-and-account": (
        manifest("AzureBlobStorageLinkedService", {"connectionString": SECRET, "accountName": "acct"}),
        "spec",
        AZ_CONN,
    ),
    "s3-http-endpoint": (
        manifest("AmazonS3LinkedService", {"serviceUrl": "http://minio:9000"}),
        "spec",
        S3_HTTPS,
    ),
    "s3-http-endpoint-not-allowed": (
        manifest(
            "AmazonS3LinkedService", {"serviceUrl": "http://minio:9000", "allowInsecureEndpoint": False}
        ),
        "spec",
        S3_HTTPS,
    ),
    "azure-http-endpoint": (
        manifest(
            "AzureBlobStorageLinkedService", {"accountName": "acct", "serviceEndpoint": "http://h/acct"}
        ),
        "spec",
        AZ_HTTPS,
    ),
    "azure-nothing": (
        manifest("AzureBlobStorageLinkedService", {"serviceEndpoint": "https://azurite:10000"}),
        "spec",
        AZ_NEED,
    ),
    "azure-key-and-sas": (
        manifest(
            "AzureBlobStorageLinkedService", {"accountName": "acct", "accountKey": SECRET, "sasToken": SECRET}
        ),
        "spec",
        AZ_KEY_SAS,
    ),
    "pg-cert-prefer": (
        manifest("PostgreSqlLinkedService", {**PG_LS, "sslMode": "prefer", "trustedCert": CA_SECRET}),
        "spec",
        PG_CERT,
    ),
    "pg-cert-both-refs": (
        manifest(
            "PostgreSqlLinkedService",
            {**PG_LS, "sslMode": "verify-ca", "trustedCert": {**CA_SECRET, **CA_CONFIGMAP}},
        ),
        "spec.trustedCert",
        ONE_CERT,
    ),
    "pvc-without-claim": (
        file_ds("ParquetDataset", {"type": "PersistentVolumeClaimLocation"}),
        "spec.location",
        LOC_PVC,
    ),
    "s3-without-bucket": (
        file_ds("ParquetDataset", {"type": "AmazonS3Location"}, linkedServiceName=STORE),
        "spec.location",
        LOC_S3,
    ),
    "azure-without-container": (
        file_ds("JsonDataset", {"type": "AzureBlobStorageLocation"}, linkedServiceName=STORE),
        "spec.location",
        LOC_AZ,
    ),
    "pvc-with-bucket": (
        file_ds("DelimitedTextDataset", {**PVC, "bucketName": "my-bucket"}),
        "spec.location",
        LOC_FIELDS,
    ),
    "folder-dot-dot-segment": (
        file_ds("ParquetDataset", {**PVC, "folderPath": "sales/../../etc"}),
        "spec.location",
        FOLDER_DOTS,
    ),
    "folder-dot-dot": (file_ds("ParquetDataset", {**PVC, "folderPath": ".."}), "spec.location", FOLDER_DOTS),
    "folder-dot": (file_ds("ParquetDataset", {**PVC, "folderPath": "."}), "spec.location", FOLDER_DOTS),
    "folder-trailing-dot-dot": (
        file_ds("ParquetDataset", {**PVC, "folderPath": "a/.."}),
        "spec.location",
        FOLDER_DOTS,
    ),
    "folder-absolute": (
        file_ds("ParquetDataset", {**PVC, "folderPath": "/etc"}),
        "spec.location",
        FOLDER_ABSOLUTE,
    ),
    "folder-backslash": (
        file_ds("ParquetDataset", {**PVC, "folderPath": "a\\..\\b"}),
        "spec.location",
        FOLDER_CHARACTERS,
    ),
    "folder-nul": (
        file_ds("ParquetDataset", {**PVC, "folderPath": "a\x00b"}),
        "spec.location",
        FOLDER_CHARACTERS,
    ),
    "folder-escape": (
        file_ds("ParquetDataset", {**PVC, "folderPath": "a\x1b[2Jb"}),
        "spec.location",
        FOLDER_CHARACTERS,
    ),
    "folder-staging": (
        file_ds("ParquetDataset", {**PVC, "folderPath": "out/_temporary"}),
        "spec.location",
        FOLDER_STAGING,
    ),
    "file-slash": (
        file_ds("ParquetDataset", {**PVC, "fileName": "out/x.parquet"}),
        "spec.location",
        FILE_CHARACTERS,
    ),
    "file-newline": (
        file_ds("ParquetDataset", {**PVC, "fileName": "x\n.parquet"}),
        "spec.location",
        FILE_CHARACTERS,
    ),
    "file-dot-dot": (file_ds("ParquetDataset", {**PVC, "fileName": ".."}), "spec.location", FILE_DOTS),
    "file-dot": (file_ds("ParquetDataset", {**PVC, "fileName": "."}), "spec.location", FILE_DOTS),
    "file-staging": (
        file_ds("ParquetDataset", {**PVC, "fileName": "_temporary"}),
        "spec.location",
        FILE_STAGING,
    ),
    "prefix-dot-dot": (
        copy_activity({"type": "ParquetSink", "formatSettings": {"fileNamePrefix": ".."}}),
        "spec.sink.formatSettings",
        PREFIX_DOTS,
    ),
    "prefix-staging": (
        copy_activity({"type": "ParquetSink", "formatSettings": {"fileNamePrefix": "_temporary"}}),
        "spec.sink.formatSettings",
        PREFIX_STAGING,
    ),
    "parquet-s3-without-store": (file_ds("ParquetDataset", S3), "spec", DS_LS),
    "json-pvc-with-store": (file_ds("JsonDataset", PVC, linkedServiceName=STORE), "spec", DS_LS),
    "csv-azure-without-store": (file_ds("DelimitedTextDataset", AZ), "spec", DS_LS),
    "csv-quote-is-default-delimiter": (file_ds("DelimitedTextDataset", PVC, quoteChar=","), "spec", QUOTE),
    "csv-delimiter-is-default-quote": (
        file_ds("DelimitedTextDataset", PVC, columnDelimiter='"'),
        "spec",
        QUOTE,
    ),
    "csv-same-explicit": (
        file_ds("DelimitedTextDataset", PVC, columnDelimiter="|", quoteChar="|"),
        "spec",
        QUOTE,
    ),
    "copy-duplicate-additional-columns": (
        copy_activity(
            source={"additionalColumns": [{"name": "a", "value": "1"}, {"name": "a", "value": "2"}]}
        ),
        "spec.source",
        UNIQUE_COLUMNS,
    ),
    "lookup-additional-columns": (
        lookup_activity(source={"additionalColumns": [{"name": "a", "value": "1"}]}),
        "spec",
        LOOKUP_COLUMNS,
    ),
    "lookup-empty-additional-columns": (
        lookup_activity(source={"additionalColumns": []}),
        "spec",
        LOOKUP_COLUMNS,
    ),
    "copy-sink-mismatch": (copy_activity({"type": "JsonSink"}), "spec", SINK_MATCH),
    "copy-postgres-format-settings": (
        copy_activity(
            {"type": "PostgreSqlSink", "formatSettings": {"maxRowsPerFile": 10}},
            kind="PostgreSqlTableDataset",
        ),
        "spec.sink",
        SINK_FILE_ONLY,
    ),
    "copy-parquet-write-batch-size": (
        copy_activity({"type": "ParquetSink", "writeBatchSize": 10}),
        "spec.sink",
        SINK_PG_ONLY,
    ),
    "copy-schedule-empty": (copy_activity(schedule={}), "spec.schedule", SCHEDULE_ONE),
    "copy-schedule-both": (
        copy_activity(schedule={"cron": "@daily", "window": HOURLY}),
        "spec.schedule",
        SCHEDULE_ONE,
    ),
    "copy-window-reversed": (
        copy_activity(schedule={"window": {**HOURLY, "endTime": "2026-11-30T00:00:00Z"}}),
        "spec.schedule.window",
        WINDOW_ORDER,
    ),
    "lookup-refresh-and-schedule": (
        lookup_activity(refreshInterval="15m", schedule={"cron": "@daily"}),
        "spec",
        LOOKUP_REFRESH_AND_SCHEDULE,
    ),
    "lookup-window": (lookup_activity(schedule={"window": HOURLY}), "spec", LOOKUP_WINDOW),
    "copy-upsert-without-keys": (
        copy_activity({"type": "PostgreSqlSink", "writeBehavior": "upsert"}, kind="PostgreSqlTableDataset"),
        "spec.sink",
        UPSERT,
    ),
    "copy-incremental-query-without-range": (
        copy_activity(source={"query": "SELECT * FROM sales.orders", "incremental": BY_ID}),
        "spec.source",
        INCREMENTAL_QUERY,
    ),
    "copy-range-without-incremental": (
        copy_activity(source={"query": "SELECT * FROM sales.orders WHERE {incrementalRange}"}),
        "spec.source",
        RANGE_WITHOUT_INCREMENTAL,
    ),
    "copy-incremental-and-window": (
        copy_activity(source={"incremental": BY_ID}, schedule={"window": HOURLY}),
        "spec",
        INCREMENTAL_AND_WINDOW,
    ),
    "lookup-incremental": (lookup_activity(source={"incremental": BY_ID}), "spec", LOOKUP_INCREMENTAL),
    "copy-settings-without-range": (
        copy_activity(source={"partitionSettings": {"partitionColumnName": "order_id"}}),
        "spec.source",
        SETTINGS_WITHOUT_RANGE,
    ),
    "copy-settings-with-physical": (
        copy_activity(
            source={"partitionOption": "PhysicalPartitionsOfTable", "partitionSettings": {}},
        ),
        "spec.source",
        SETTINGS_WITHOUT_RANGE,
    ),
    "copy-range-without-column": (
        copy_activity(source={"partitionOption": "DynamicRange", "partitionSettings": {}}),
        "spec.source",
        RANGE_WITHOUT_COLUMN,
    ),
    "copy-range-without-settings": (
        copy_activity(source={"partitionOption": "DynamicRange"}),
        "spec.source",
        RANGE_WITHOUT_COLUMN,
    ),
    "copy-range-query-without-hook": (
        copy_activity(source={"query": "SELECT * FROM sales.orders", **RANGE_BY_ID}),
        "spec.source",
        RANGE_QUERY_WITHOUT_HOOK,
    ),
    "copy-hook-without-range": (
        copy_activity(source={"query": f"SELECT * FROM sales.orders WHERE {HOOK}"}),
        "spec.source",
        HOOK_WITHOUT_RANGE,
    ),
    "copy-physical-with-query": (
        copy_activity(source={"query": "SELECT * FROM t", "partitionOption": "PhysicalPartitionsOfTable"}),
        "spec.source",
        PHYSICAL_WITH_QUERY,
    ),
    "copy-partitioned-incremental": (
        copy_activity(source={"incremental": BY_ID, **RANGE_BY_ID}),
        "spec.source",
        PARTITIONED_INCREMENTAL,
    ),
    "copy-range-integers-reversed": (
        copy_activity(source=ranged("9000", "-1")),
        "spec.source.partitionSettings",
        BOUNDS_REVERSED,
    ),
    "copy-range-decimals-reversed": (
        copy_activity(source=ranged("12.51", "12.5")),
        "spec.source.partitionSettings",
        BOUNDS_REVERSED,
    ),
    "copy-range-timestamps-reversed": (
        copy_activity(source=ranged("2026-12-01 08:30:01", "2026-12-01 08:30:00", "ts")),
        "spec.source.partitionSettings",
        BOUNDS_REVERSED,
    ),
    "copy-range-dates-reversed": (
        copy_activity(source=ranged("2026-12-02", "2026-12-01 23:59:59", "ts")),
        "spec.source.partitionSettings",
        BOUNDS_REVERSED,
    ),
    "copy-parallel-copies-without-option": (
        copy_activity(parallelCopies=4),
        "spec",
        PARALLEL_WITHOUT_OPTION,
    ),
    "copy-parallel-copies-with-option-none": (
        copy_activity(source={"partitionOption": "None"}, parallelCopies=4),
        "spec",
        PARALLEL_WITHOUT_OPTION,
    ),
    "copy-partitioned-window": (
        copy_activity(source=RANGE_BY_ID, schedule={"window": HOURLY}),
        "spec",
        PARTITIONED_WINDOW,
    ),
    "lookup-partitioned": (
        lookup_activity(source={"partitionOption": "PhysicalPartitionsOfTable"}),
        "spec",
        LOOKUP_PARTITIONED,
    ),
}

# Bounds on single fields: the schema (openAPIV3Schema) and pydantic refuse them, no CEL rule involved.
BAD_FIELDS: dict[str, tuple[dict[str, Any], str, str]] = {
    "incremental-initial-value-words": (
        copy_activity(source={"incremental": {"column": "id", "initialValue": "yesterday"}}),
        "spec.source.incremental.initialValue",
        f"String should match pattern '{WATERMARK_VALUE_PATTERN}'",
    ),
    "incremental-column-backtick": (
        copy_activity(source={"incremental": {"column": "id` OR 1=1 --"}}),
        "spec.source.incremental.column",
        f"String should match pattern '{COLUMN_PATTERN}'",
    ),
    "parallel-copies-above-the-cap": (
        copy_activity(source=RANGE_BY_ID, parallelCopies=257),
        "spec.parallelCopies",
        "Input should be less than or equal to 256",
    ),
    "partition-column-backtick": (
        copy_activity(source=ranged(None, None, "id` OR 1=1 --")),
        "spec.source.partitionSettings.partitionColumnName",
        f"String should match pattern '{COLUMN_PATTERN}'",
    ),
    "partition-bound-words": (
        copy_activity(source=ranged("0 OR 1=1", None)),
        "spec.source.partitionSettings.partitionLowerBound",
        f"String should match pattern '{WATERMARK_VALUE_PATTERN}'",
    ),
    "incremental-lookback-go-duration": (
        copy_activity(source={"incremental": {"column": "ts", "lookback": "2h"}}),
        "spec.source.incremental.lookback",
        f"String should match pattern '{LOOKBACK_PATTERN}'",
    ),
    "port-zero": (impala_ls(port=0), "spec.port", "Input should be greater than or equal to 1"),
    "port-too-high": (impala_ls(port=65536), "spec.port", "Input should be less than or equal to 65535"),
    "max-rows-per-file-zero": (
        copy_activity({"type": "ParquetSink", "formatSettings": {"maxRowsPerFile": 0}}),
        "spec.sink.formatSettings.maxRowsPerFile",
        "Input should be greater than or equal to 1",
    ),
    "unknown-auth": (
        impala_ls(authenticationType="Ldap"),
        "spec.authenticationType",
        "Input should be 'Anonymous', 'SASLUsername', 'UsernameAndPassword' or 'Kerberos'",
    ),
    "bad-table-name": (
        impala_ds(tableName="demo.sales; DROP TABLE x"),
        "spec.tableName",
        "String should match pattern '^([A-Za-z0-9_]+\\.)?[A-Za-z0-9_]+$'",
    ),
    "bad-query-timeout": (
        copy_activity(source={"queryTimeout": "2h"}),
        "spec.source.queryTimeout",
        "String should match pattern '^([0-9]{1,3}\\.)?[0-9]{1,2}:[0-5][0-9]:[0-5][0-9]$'",
    ),
    "retry-interval-too-short": (
        copy_activity(policy={"retryIntervalInSeconds": 5}),
        "spec.policy.retryIntervalInSeconds",
        "Input should be greater than or equal to 30",
    ),
    "two-inputs": (
        manifest(
            "CopyActivity",
            {
                "inputs": [{"referenceName": "a"}, {"referenceName": "b"}],
                "outputs": [{"referenceName": "o", "kind": "ParquetDataset"}],
                "sink": {"type": "ParquetSink"},
            },
        ),
        "spec.inputs",
        "List should have at most 1 item after validation, not 2",
    ),
    "unknown-field": (impala_ls(hostname="typo"), "spec.hostname", "Extra inputs are not permitted"),
    # Strict types, as the API server: no text for a number, no number for a flag, no flag for a number.
    "port-as-text": (impala_ls(port="21050"), "spec.port", "Input should be a valid integer"),
    "port-as-bool": (impala_ls(port=True), "spec.port", "Input should be a valid integer"),
    "port-as-float": (impala_ls(port=21050.5), "spec.port", "Input should be a valid integer"),
    "ssl-as-text": (impala_ls(enableSsl="yes"), "spec.enableSsl", "Input should be a valid boolean"),
    "ssl-as-int": (impala_ls(enableSsl=1), "spec.enableSsl", "Input should be a valid boolean"),
    "host-as-number": (impala_ls(host=10), "spec.host", "Input should be a valid string"),
    "max-rows-as-bool": (
        copy_activity({"type": "ParquetSink", "formatSettings": {"maxRowsPerFile": True}}),
        "spec.sink.formatSettings.maxRowsPerFile",
        "Input should be a valid integer",
    ),
    "first-row-only-as-text": (
        lookup_activity(firstRowOnly="false"),
        "spec.firstRowOnly",
        "Input should be a valid boolean",
    ),
    # Object names in references: DNS-1123 subdomains, never paths.
    "claim-absolute-path": (
        file_ds("ParquetDataset", {**PVC, "claimName": "/abs/path"}),
        "spec.location.claimName",
        f"String should match pattern '{NAME_PATTERN}'",
    ),
    "claim-parent-path": (
        file_ds("ParquetDataset", {**PVC, "claimName": "../../x"}),
        "spec.location.claimName",
        f"String should match pattern '{NAME_PATTERN}'",
    ),
    "secret-name-double-dot": (
        impala_ls(
            authenticationType="UsernameAndPassword",
            username="u",
            password={"secretKeyRef": {"name": "a..b", "key": "password"}},
        ),
        "spec.password.secretKeyRef.name",
        f"String should match pattern '{NAME_PATTERN}'",
    ),
    "secret-key-dot-dot": (
        impala_ls(
            authenticationType="UsernameAndPassword",
            username="u",
            password={"secretKeyRef": {"name": "login", "key": ".."}},
        ),
        "spec.password.secretKeyRef.key",
        f"String should match pattern '{KEY_PATTERN}'",
    ),
    "dataset-reference-uppercase": (
        impala_ds(linkedServiceName={"referenceName": "Impala"}),
        "spec.linkedServiceName.referenceName",
        f"String should match pattern '{NAME_PATTERN}'",
    ),
    "unknown-job-field": (
        copy_activity(job={"nodeName": "n1"}),
        "spec.job.nodeName",
        "Extra inputs are not permitted",
    ),
}


def pydantic_errors(obj: dict[str, Any]) -> list[tuple[str, str]]:
    try:
        parse_resource(copy.deepcopy(obj))
    except SpecError as exc:
        return sorted(exc.errors)
    return []


@pytest.mark.parametrize("name", sorted(GOOD))
def test_good_manifest_passes_pydantic_schema_and_cel(name: str) -> None:
    obj = GOOD[name]
    assert pydantic_errors(obj) == []
    assert pydantic_errors(stored_object(obj)) == []
    assert schema_errors(obj) == []
    verdicts = cel_verdicts(obj)
    assert [v for v in verdicts if not v.passed] == []


@pytest.mark.parametrize("name", sorted(BAD_RULES))
def test_rule_breach_is_refused_by_pydantic_and_cel_alike(name: str) -> None:
    obj, path, message = BAD_RULES[name]
    assert pydantic_errors(obj) == [(path, message)]
    assert pydantic_errors(stored_object(obj)) == [(path, message)]
    assert cel_failures(obj) == [(path, message)]
    assert [v.error for v in cel_verdicts(obj) if v.error] == []
    # A rule breach is not a schema error: only CEL catches it at `kubectl apply`.
    assert schema_errors(obj) == []


@pytest.mark.parametrize("name", sorted(BAD_FIELDS))
def test_field_bound_is_refused_by_pydantic_and_schema_alike(name: str) -> None:
    obj, path, message = BAD_FIELDS[name]
    assert pydantic_errors(obj) == [(path, message)]
    assert pydantic_errors(stored_object(obj)) == [(path, message)]
    assert [p for p, _ in schema_errors(obj)] == [path] or (
        # jsonschema reports an unknown property at the object that holds it
        message == "Extra inputs are not permitted"
        and [p for p, _ in schema_errors(obj)] == [path.rsplit(".", 1)[0]]
    )


def _ruled_models() -> Iterator[type[RuledModel]]:
    seen: set[type] = set()

    def walk(cls: type) -> Iterator[type[RuledModel]]:
        if cls in seen or not isinstance(cls, type) or not hasattr(cls, "model_fields"):
            return
        seen.add(cls)
        if issubclass(cls, RuledModel) and cls.RULES:
            yield cls
        for field in cls.model_fields.values():
            for arg in _types_in(field.annotation):
                yield from walk(arg)

    for kind_cls in KINDS.values():
        yield from walk(kind_cls)


def _types_in(annotation: Any) -> Iterator[type]:
    args = getattr(annotation, "__args__", None)
    if args:
        for arg in args:
            yield from _types_in(arg)
    elif isinstance(annotation, type):
        yield annotation


def test_every_rule_of_every_model_has_a_failing_and_a_passing_case() -> None:
    messages = {(cls.__name__, rule.message) for cls in _ruled_models() for rule in cls.RULES}
    assert len(messages) >= 25
    failing = {message for _, _, message in BAD_RULES.values()}
    passing = {v.message for obj in GOOD.values() for v in cel_verdicts(obj) if v.passed}
    assert sorted(m for _, m in messages if m not in failing) == []
    assert sorted(m for _, m in messages if m not in passing) == []


def test_messages_are_unique_within_each_model() -> None:
    for cls in _ruled_models():
        messages = [rule.message for rule in cls.RULES]
        assert len(messages) == len(set(messages)), cls.__name__


def test_sasl_without_username_logs_in_as_anonymous_like_adf() -> None:
    ls = parse_resource(GOOD["impala-sasl-default-user"])
    assert ls.spec.username is None  # type: ignore[attr-defined]
    assert ls.spec.effective_username == "anonymous"  # type: ignore[attr-defined]


# Combinations of written / not written / values for the fields the rules read. Checked once with no
# disagreement: every combination of the smaller kinds, 5000 of ImpalaLinkedService's 93312. The suite
# checks a fixed sample of each kind (every combination where there are fewer than SAMPLE).
REF = {"referenceName": "store"}
AXES: dict[str, tuple[str, dict[str, list[Any]]]] = {
    "ImpalaLinkedService": (
        "spec",
        {
            "host": ["impala.example.com"],
            "authenticationType": [None, "Anonymous", "SASLUsername", "UsernameAndPassword", "Kerberos"],
            "username": [None, "alice"],
            "password": [None, SECRET],
            "principal": [None, "etl"],
            "keytab": [None, KEYTAB],
            "enableSsl": [None, True, False],
            "trustedCert": [None, CA_SECRET, CA_CONFIGMAP, {**CA_SECRET, **CA_CONFIGMAP}],
            "useSystemTrustStore": [None, True, False],
            "allowHostNameCNMismatch": [None, True, False],
            "allowSelfSignedServerCert": [None, True, False],
            "enableServerCertificateValidation": [None, True, False],
            "thriftTransportProtocol": [None, "Binary", "HTTP"],
            "httpPath": [None, "cliservice"],
        },
    ),
    "ImpalaDataset": (
        "spec",
        {
            "linkedServiceName": [{"referenceName": "impala"}],
            "schema": [None, "demo"],
            "table": [None, "sales"],
            "tableName": [None, "demo.sales", "sales"],
        },
    ),
    "DelimitedTextDataset": (
        "spec",
        {
            "linkedServiceName": [None, REF],
            "location": [
                {"type": t, **extra}
                for t in ("PersistentVolumeClaimLocation", "AmazonS3Location", "AzureBlobStorageLocation")
                for extra in (
                    {},
                    {"claimName": "out"},
                    {"bucketName": "my-bucket"},
                    {"container": "landing"},
                    {"claimName": "out", "folderPath": "a/../b"},
                    {"claimName": "out", "folderPath": "a..b/_temporary", "fileName": ".."},
                    {"bucketName": "my-bucket", "folderPath": "a/b"},
                )
            ],
            "columnDelimiter": [None, ",", '"', ";"],
            "quoteChar": [None, '"', ",", ";"],
        },
    ),
    "AzureBlobStorageLinkedService": (
        "spec",
        {
            "connectionString": [None, SECRET],
            "accountName": [None, "acct"],
            "accountKey": [None, SECRET],
            "sasToken": [None, SECRET],
            "serviceEndpoint": [None, "https://acct.blob.core.windows.net", "http://127.0.0.1:10000/acct"],
            "allowInsecureEndpoint": [None, False, True],
        },
    ),
    "AmazonS3LinkedService": (
        "spec",
        {
            "accessKeyId": [None, SECRET],
            "secretAccessKey": [None, SECRET],
            "sessionToken": [None, SECRET],
            "serviceUrl": [None, "https://minio:9000", "http://minio:9000"],
            "allowInsecureEndpoint": [None, False, True],
        },
    ),
    "CopyActivity": (
        "spec",
        {
            "inputs": [[{"referenceName": "sales"}]],
            "outputs": [
                [{"referenceName": "out", "kind": k}] for k in ("ParquetDataset", "PostgreSqlTableDataset")
            ],
            "sink": [
                {"type": t, **extra}
                for t in ("ParquetSink", "PostgreSqlSink", "JsonSink")
                for extra in (
                    {},
                    {"formatSettings": {"maxRowsPerFile": 10}},
                    {"writeBehavior": "upsert"},
                    {"writeBehavior": "upsert", "upsertSettings": {"keys": ["id"]}},
                    {"writeBehavior": "insert", "writeBatchSize": 100},
                )
            ],
            "source": [
                None,
                {"query": "SELECT 1"},
                {"additionalColumns": [{"name": "a", "value": "1"}, {"name": "a", "value": "2"}]},
                {"query": f"SELECT 1 WHERE {HOOK}"},
                {"partitionOption": "None"},
                {"partitionOption": "PhysicalPartitionsOfTable"},
                {"partitionOption": "PhysicalPartitionsOfTable", "query": "SELECT 1"},
                {"partitionOption": "DynamicRange"},
                {"partitionOption": "DynamicRange", "query": f"SELECT 1 WHERE {HOOK}", **ranged("1", "9")},
                {**ranged("9", "1")},
                {"partitionSettings": {"partitionColumnName": "id"}},
                {"partitionOption": "DynamicRange", "incremental": {"column": "id"}, **ranged(None, None)},
            ],
            "parallelCopies": [None, 3],
            "schedule": [None, {"window": HOURLY}],
        },
    ),
}
SAMPLE = 300


def _combinations(kind: str) -> list[dict[str, Any]]:
    import itertools
    import random

    _, axes = AXES[kind]
    combos = list(itertools.product(*axes.values()))
    random.Random(f"rules-{kind}").shuffle(combos)
    return [
        manifest(kind, {k: v for k, v in zip(axes, combo, strict=True) if v is not None})
        for combo in combos[:SAMPLE]
    ]


@pytest.mark.parametrize("kind", sorted(AXES))
def test_pydantic_and_cel_agree_on_combinations_of_written_fields(kind: str) -> None:
    disagreements = []
    verdicts = {"pass": 0, "fail": 0}
    for obj in _combinations(kind):
        pyd = pydantic_errors(obj)
        assert pydantic_errors(stored_object(obj)) == pyd
        cel = cel_verdicts(obj)
        assert [v.error for v in cel if v.error] == []
        cel_failed = [(v.path, v.message) for v in cel if not v.passed]
        # pydantic stops at the first broken rule of a model, CEL reports them all.
        agree = (not pyd and not cel_failed) or (bool(pyd) and all(e in cel_failed for e in pyd))
        verdicts["fail" if pyd else "pass"] += 1
        if not agree:
            disagreements.append((obj["spec"], pyd, cel_failed))
    assert disagreements == []
    # The sample holds both verdicts, so agreement is not vacuous.
    assert verdicts["pass"] > 0
    assert verdicts["fail"] > 0


def test_an_empty_list_gets_only_its_own_error_never_an_index_error() -> None:
    """A rule that reads `x[0]` is guarded by `size(x)`: `outputs: []` is refused by minItems alone."""
    obj = copy_activity()
    obj["spec"]["outputs"] = []
    obj["spec"]["inputs"] = []
    assert [(v.path, v.message) for v in cel_verdicts(obj) if not v.passed] == []
    assert {p for p, _ in schema_errors(obj)} == {"spec.outputs", "spec.inputs"}
    for kind in KINDS:
        for _, node, _ in _crd_rules(kind):
            for rule in node.get("x-kubernetes-validations", []):
                if "[0]" in rule["rule"]:
                    assert "size(" in rule["rule"], (kind, rule["rule"])


def _crd_rules(kind: str) -> Iterator[tuple[str, dict[str, Any], Any]]:
    from tests.unit.crd_checks import openapi

    def walk(node: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any], Any]]:
        yield path, node, None
        for name, child in node.get("properties", {}).items():
            yield from walk(child, f"{path}.{name}")
        if isinstance(node.get("items"), dict):
            yield from walk(node["items"], f"{path}[*]")
        if isinstance(node.get("additionalProperties"), dict):
            yield from walk(node["additionalProperties"], f"{path}.*")

    yield from walk(openapi(kind), "")
