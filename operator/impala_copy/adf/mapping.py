"""The mapping, as data: one table per kind, from ADF property paths to impala-copy fields.

The importer (adf/convert.py) reads ADF objects through these tables, and docs/migrating-from-adf.md
is generated from them (adf/docs.py), so the page says exactly what the import does. Paths on the
left are under the ADF object read: a resource's `properties`, or one activity of a pipeline.
"""

from __future__ import annotations

from impala_copy.adf import converters as c
from impala_copy.adf.fields import (
    Dropped,
    FieldMap,
    KindMap,
    boolean,
    certificate,
    choice,
    integer,
    keyed,
    plain,
    reference,
    secret,
    text,
)

RUNTIME = Dropped(
    "connectVia",
    "integration runtimes have no counterpart: the Job pod runs in the namespace of the activity; put it "
    "where the store is reachable (spec.job.nodeSelector, network policies)",
)
ENCRYPTED = Dropped(
    "encryptedCredential", "credentials live in Kubernetes Secrets: see the README's commands"
)
LS_PARAMETERS = Dropped("parameters", "parameterised linked services and datasets are not supported")
# Organisation in ADF Studio only; the generated page lists them as not imported.
QUIET = ("type", "annotations", "description", "folder", "typeProperties.version")

IMPALA_LINKED_SERVICE = KindMap(
    title="Impala linked service",
    types=("Impala",),
    kind="ImpalaLinkedService",
    fields=(
        FieldMap("typeProperties.host", "spec.host", plain),
        FieldMap("typeProperties.port", "spec.port", integer),
        FieldMap(
            "typeProperties.authenticationType",
            "spec.authenticationType",
            choice(
                {
                    "Anonymous": "Anonymous",
                    "SASLUsername": "SASLUsername",
                    "UsernameAndPassword": "UsernameAndPassword",
                }
            ),
        ),
        FieldMap("typeProperties.username", "spec.username", plain),
        FieldMap(
            "typeProperties.password",
            "spec.password",
            secret("password"),
            "a SecureString or Key Vault secret becomes a key of the Secret `<name>-credentials`",
        ),
        FieldMap("typeProperties.enableSsl", "spec.enableSsl", boolean),
        FieldMap(
            "typeProperties.trustedCertPath",
            "spec.trustedCert",
            certificate,
            "a ConfigMap `<name>-ca` with the key `ca.crt`: put the PEM file found at that path on the "
            "integration runtime into it",
        ),
        FieldMap("typeProperties.useSystemTrustStore", "spec.useSystemTrustStore", boolean),
        FieldMap("typeProperties.allowHostNameCNMismatch", "spec.allowHostNameCNMismatch", boolean),
        FieldMap("typeProperties.allowSelfSignedServerCert", "spec.allowSelfSignedServerCert", boolean),
        FieldMap(
            "typeProperties.enableServerCertificateValidation",
            "spec.enableServerCertificateValidation",
            boolean,
        ),
        FieldMap(
            "typeProperties.thriftTransportProtocol",
            "spec.thriftTransportProtocol",
            choice({"Binary": "Binary", "HTTP": "HTTP"}),
        ),
    ),
    dropped=(RUNTIME, ENCRYPTED, LS_PARAMETERS),
    quiet=QUIET,
)

AMAZON_S3_LINKED_SERVICE = KindMap(
    title="Amazon S3 linked service",
    types=("AmazonS3", "AmazonS3Compatible"),
    kind="AmazonS3LinkedService",
    fields=(
        FieldMap("typeProperties.accessKeyId", "spec.accessKeyId", secret("accessKeyId")),
        FieldMap("typeProperties.secretAccessKey", "spec.secretAccessKey", secret("secretAccessKey")),
        FieldMap("typeProperties.sessionToken", "spec.sessionToken", secret("sessionToken")),
        FieldMap("typeProperties.serviceUrl", "spec.serviceUrl", plain),
        FieldMap("typeProperties.forcePathStyle", "spec.forcePathStyle", boolean),
        FieldMap(
            "typeProperties.authenticationType",
            "",
            choice({"AccessKey": None, "TemporarySecurityCredentials": None}),
            "AccessKey or TemporarySecurityCredentials: follows from the keys given",
        ),
    ),
    dropped=(RUNTIME, ENCRYPTED, LS_PARAMETERS),
    quiet=QUIET,
)

_AZURE_DROPPED = (
    RUNTIME,
    ENCRYPTED,
    LS_PARAMETERS,
    Dropped("typeProperties.sasUri", "a SAS URI: set spec.accountName and a sasToken key in the Secret"),
    Dropped("typeProperties.servicePrincipalId", "service principals: use workload identity (no keys)"),
    Dropped("typeProperties.servicePrincipalKey", "service principals: use workload identity (no keys)"),
    Dropped("typeProperties.servicePrincipalCredential", "service principals: use workload identity"),
    Dropped("typeProperties.servicePrincipalCredentialType", "service principals: use workload identity"),
    Dropped("typeProperties.tenant", "service principals: use workload identity (no keys)"),
    Dropped("typeProperties.azureCloudType", "the endpoint names the cloud: set spec.serviceEndpoint"),
    Dropped("typeProperties.credential", "user-assigned identities: use workload identity of the Job pod"),
)
_AZURE_AUTH = FieldMap(
    "typeProperties.authenticationType",
    "",
    choice({"AccountKey": None, "SasUri": None, "Anonymous": None, "Msi": None, "ManagedIdentity": None}),
    "follows from the credentials given; a managed identity becomes the Job pod's workload identity",
)

AZURE_BLOB_STORAGE_LINKED_SERVICE = KindMap(
    title="Azure Blob Storage linked service",
    types=("AzureBlobStorage",),
    kind="AzureBlobStorageLinkedService",
    fields=(
        FieldMap("typeProperties.connectionString", "spec.connectionString", secret("connectionString")),
        FieldMap("typeProperties.serviceEndpoint", "spec.accountName", c.account_name),
        FieldMap("typeProperties.accountKey", "spec.accountKey", secret("accountKey")),
        FieldMap("typeProperties.sasToken", "spec.sasToken", secret("sasToken")),
        FieldMap("typeProperties.accountKind", "", keyed, "not needed"),
        _AZURE_AUTH,
    ),
    dropped=_AZURE_DROPPED,
    quiet=QUIET,
)

AZURE_BLOB_FS_LINKED_SERVICE = KindMap(
    title="Azure Data Lake Storage Gen2 linked service",
    types=("AzureBlobFS",),
    kind="AzureBlobStorageLinkedService",
    fields=(
        FieldMap("typeProperties.url", "spec.accountName", c.account_name),
        FieldMap("typeProperties.accountKey", "spec.accountKey", secret("accountKey")),
        FieldMap("typeProperties.sasToken", "spec.sasToken", secret("sasToken")),
        _AZURE_AUTH,
    ),
    dropped=_AZURE_DROPPED,
    quiet=QUIET,
    constants={"spec.hierarchicalNamespace": True},
)

POSTGRESQL_LINKED_SERVICE = KindMap(
    title="PostgreSQL linked service",
    types=("PostgreSqlV2", "AzurePostgreSql", "PostgreSql"),
    kind="PostgreSqlLinkedService",
    fields=(
        FieldMap("typeProperties.server", "spec.host", plain),
        FieldMap("typeProperties.port", "spec.port", integer),
        FieldMap("typeProperties.database", "spec.database", plain),
        FieldMap("typeProperties.username", "spec.username", plain),
        FieldMap("typeProperties.password", "spec.password", secret("password")),
        FieldMap("typeProperties.sslMode", "spec.sslMode", c.ssl_mode, "0-5: disable ... verify-full"),
        FieldMap(
            "typeProperties.authenticationType", "", choice({"Basic": None}), "Basic: username and password"
        ),
    ),
    dropped=(
        RUNTIME,
        ENCRYPTED,
        LS_PARAMETERS,
        Dropped(
            "typeProperties.connectionString",
            "the connection-string form is not read (it holds the password): write server, port, "
            "database, username and password (the PostgreSqlV2 form)",
        ),
        Dropped("typeProperties.commandTimeout", "no counterpart: the activity's policy.timeout applies"),
        Dropped("typeProperties.timeout", "spec.connectTimeoutSeconds (default 30) takes its place"),
        Dropped("typeProperties.schema", "the dataset names the schema"),
        Dropped("typeProperties.encoding", "PostgreSQL client encoding is UTF-8"),
        Dropped("typeProperties.trustServerCertificate", "use sslMode and spec.trustedCert"),
    ),
    quiet=QUIET,
)

LINKED_SERVICES = (
    IMPALA_LINKED_SERVICE,
    AMAZON_S3_LINKED_SERVICE,
    AZURE_BLOB_STORAGE_LINKED_SERVICE,
    AZURE_BLOB_FS_LINKED_SERVICE,
    POSTGRESQL_LINKED_SERVICE,
)

IMPALA_DATASET = KindMap(
    title="Impala dataset",
    types=("ImpalaObject",),
    kind="ImpalaDataset",
    fields=(
        FieldMap("linkedServiceName", "spec.linkedServiceName", reference("linkedService")),
        FieldMap("typeProperties.schema", "spec.schema", plain),
        FieldMap("typeProperties.table", "spec.table", plain),
        FieldMap("typeProperties.tableName", "spec.tableName", plain),
        FieldMap("schema", "spec.structure", c.columns, "the column list; only these columns are read"),
        FieldMap("structure", "spec.structure", c.columns, "the legacy column list"),
    ),
    dropped=(LS_PARAMETERS,),
    quiet=QUIET,
)

_LOCATION = (
    FieldMap("linkedServiceName", "spec.linkedServiceName", reference("linkedService")),
    FieldMap(
        "typeProperties.location.type",
        "spec.location.type",
        choice(
            {
                "AzureBlobStorageLocation": "AzureBlobStorageLocation",
                "AzureBlobFSLocation": "AzureBlobStorageLocation",
                "AmazonS3Location": "AmazonS3Location",
                "AmazonS3CompatibleLocation": "AmazonS3Location",
            }
        ),
    ),
    FieldMap("typeProperties.location.container", "spec.location.container", plain),
    FieldMap("typeProperties.location.fileSystem", "spec.location.container", plain),
    FieldMap("typeProperties.location.bucketName", "spec.location.bucketName", plain),
    FieldMap("typeProperties.location.folderPath", "spec.location.folderPath", text),
    FieldMap("typeProperties.location.fileName", "spec.location.fileName", text),
)
_FILE_DROPPED = (
    LS_PARAMETERS,
    Dropped("schema", "the written columns are the query's"),
    Dropped("typeProperties.location.version", "object versions are not read"),
)
_TEXT_CODECS = {"none": "none", "gzip": "gzip"}

PARQUET_DATASET = KindMap(
    title="Parquet dataset",
    types=("Parquet",),
    kind="ParquetDataset",
    fields=(
        *_LOCATION,
        FieldMap(
            "typeProperties.compressionCodec",
            "spec.compressionCodec",
            choice({"none": "none", "snappy": "snappy", "gzip": "gzip", "zstd": "zstd"}),
        ),
    ),
    dropped=_FILE_DROPPED,
    quiet=QUIET,
)

DELIMITED_TEXT_DATASET = KindMap(
    title="Delimited text dataset",
    types=("DelimitedText",),
    kind="DelimitedTextDataset",
    fields=(
        *_LOCATION,
        FieldMap("typeProperties.columnDelimiter", "spec.columnDelimiter", plain),
        FieldMap("typeProperties.rowDelimiter", "spec.rowDelimiter", plain),
        FieldMap("typeProperties.quoteChar", "spec.quoteChar", plain),
        FieldMap("typeProperties.escapeChar", "spec.escapeChar", plain),
        FieldMap("typeProperties.firstRowAsHeader", "spec.firstRowAsHeader", boolean),
        FieldMap("typeProperties.nullValue", "spec.nullValue", plain),
        FieldMap("typeProperties.encodingName", "spec.encodingName", plain),
        FieldMap("typeProperties.compressionCodec", "spec.compressionCodec", choice(_TEXT_CODECS)),
    ),
    dropped=(*_FILE_DROPPED, Dropped("typeProperties.compressionLevel", "gzip is written at its default")),
    quiet=QUIET,
)

JSON_DATASET = KindMap(
    title="JSON dataset",
    types=("Json",),
    kind="JsonDataset",
    fields=(
        *_LOCATION,
        FieldMap("typeProperties.encodingName", "spec.encodingName", plain),
        FieldMap("typeProperties.compression.type", "spec.compressionCodec", choice(_TEXT_CODECS)),
    ),
    dropped=(*_FILE_DROPPED, Dropped("typeProperties.compression.level", "gzip is written at its default")),
    quiet=QUIET,
)

POSTGRESQL_TABLE_DATASET = KindMap(
    title="PostgreSQL table dataset",
    types=("PostgreSqlV2Table", "AzurePostgreSqlTable", "PostgreSqlTable"),
    kind="PostgreSqlTableDataset",
    fields=(
        FieldMap("linkedServiceName", "spec.linkedServiceName", reference("linkedService")),
        FieldMap("typeProperties.schema", "spec.schema", plain),
        FieldMap("typeProperties.table", "spec.table", plain),
        FieldMap("typeProperties.tableName", "spec", c.schema_table, "legacy `schema.table`: both fields"),
    ),
    dropped=(LS_PARAMETERS, Dropped("schema", "the table's columns are the database's")),
    quiet=QUIET,
)

DATASETS = (IMPALA_DATASET, PARQUET_DATASET, DELIMITED_TEXT_DATASET, JSON_DATASET, POSTGRESQL_TABLE_DATASET)

_POLICY = (
    FieldMap("policy.timeout", "spec.policy.timeout", c.timespan),
    FieldMap("policy.retry", "spec.policy.retry", integer),
    FieldMap("policy.retryIntervalInSeconds", "spec.policy.retryIntervalInSeconds", integer),
    FieldMap("policy.secureInput", "spec.policy.secureInput", boolean),
    FieldMap("policy.secureOutput", "spec.policy.secureOutput", boolean),
)
DEPENDS_ON = Dropped(
    "dependsOn",
    "each activity stands alone: order dependent activities with Argo CD sync waves "
    "(the argocd.argoproj.io/sync-wave annotation)",
)
_ACTIVITY_DROPPED = (
    DEPENDS_ON,
    Dropped("userProperties", "no counterpart: use labels or annotations"),
    Dropped("state", "an inactive activity is not imported"),
    Dropped("onInactiveMarkAs", "an inactive activity is not imported"),
    Dropped("linkedServiceName", "no counterpart"),
)
_ACTIVITY_QUIET = ("name", "type", "description")
LOOKUP_PARTITIONS = "a lookup reads with one query; partitioned reads are for a CopyActivity"

COPY_ACTIVITY = KindMap(
    title="Copy activity (ImpalaSource)",
    types=("Copy",),
    kind="CopyActivity",
    fields=(
        FieldMap("inputs", "spec.inputs", c.impala_input, "exactly one ImpalaDataset"),
        FieldMap("outputs", "spec.outputs", c.sink_output, "exactly one sink dataset; its kind is added"),
        FieldMap("typeProperties.source.type", "spec.source.type", choice({"ImpalaSource": "ImpalaSource"})),
        FieldMap("typeProperties.source.query", "spec.source.query", text),
        FieldMap("typeProperties.source.queryTimeout", "spec.source.queryTimeout", c.timespan),
        FieldMap(
            "typeProperties.source.additionalColumns", "spec.source.additionalColumns", c.additional_columns
        ),
        FieldMap("typeProperties.source.partitionOption", "spec.source.partitionOption", c.partition_option),
        FieldMap(
            "typeProperties.source.partitionSettings.partitionColumnName",
            "spec.source.partitionSettings.partitionColumnName",
            plain,
        ),
        FieldMap(
            "typeProperties.source.partitionSettings.partitionLowerBound",
            "spec.source.partitionSettings.partitionLowerBound",
            c.partition_bound,
        ),
        FieldMap(
            "typeProperties.source.partitionSettings.partitionUpperBound",
            "spec.source.partitionSettings.partitionUpperBound",
            c.partition_bound,
        ),
        FieldMap("typeProperties.parallelCopies", "spec.parallelCopies", c.parallel_copies),
        FieldMap(
            "typeProperties.sink.type",
            "spec.sink.type",
            choice(
                {
                    "ParquetSink": "ParquetSink",
                    "DelimitedTextSink": "DelimitedTextSink",
                    "JsonSink": "JsonSink",
                    "AzurePostgreSqlSink": "PostgreSqlSink",
                    "PostgreSqlV2Sink": "PostgreSqlSink",
                    "PostgreSqlSink": "PostgreSqlSink",
                }
            ),
        ),
        FieldMap(
            "typeProperties.sink.formatSettings.maxRowsPerFile",
            "spec.sink.formatSettings.maxRowsPerFile",
            integer,
        ),
        FieldMap(
            "typeProperties.sink.formatSettings.fileNamePrefix",
            "spec.sink.formatSettings.fileNamePrefix",
            plain,
        ),
        FieldMap("typeProperties.sink.formatSettings.filePattern", "", c.set_of_objects, "setOfObjects only"),
        FieldMap("typeProperties.sink.preCopyScript", "spec.sink.preCopyScript", text),
        FieldMap("typeProperties.sink.writeBatchSize", "spec.sink.writeBatchSize", integer),
        FieldMap("typeProperties.sink.writeMethod", "spec.sink.writeBehavior", c.write_behavior),
        FieldMap("typeProperties.sink.upsertSettings.keys", "spec.sink.upsertSettings.keys", c.upsert_keys),
        FieldMap(
            "typeProperties.sink.tableOption", "spec.sink.tableOption", choice({"autoCreate": "autoCreate"})
        ),
        FieldMap("typeProperties.validateDataConsistency", "spec.validateDataConsistency", boolean),
        FieldMap("typeProperties.enableSkipIncompatibleRow", "spec.enableSkipIncompatibleRow", boolean),
        *_POLICY,
    ),
    dropped=(
        *_ACTIVITY_DROPPED,
        Dropped(
            "typeProperties.dataIntegrationUnits", "one Job pod per run: size it with spec.job.resources"
        ),
        Dropped("typeProperties.enableStaging", "no staging: the engine streams from Impala to the sink"),
        Dropped("typeProperties.stagingSettings", "no staging: the engine streams from Impala to the sink"),
        Dropped("typeProperties.translator", "select and rename columns in source.query"),
        Dropped("typeProperties.logSettings", "the run summary is in status and the pod log"),
        Dropped("typeProperties.redirectIncompatibleRowSettings", "skipped rows are counted, not redirected"),
        Dropped("typeProperties.source.maxConcurrentConnections", "one connection per run"),
        Dropped("typeProperties.source.sourceRetryCount", "use policy.retry"),
        Dropped("typeProperties.source.sourceRetryWait", "use policy.retryIntervalInSeconds"),
        Dropped("typeProperties.sink.writeBatchTimeout", "no counterpart: policy.timeout bounds the run"),
        Dropped("typeProperties.sink.sinkRetryCount", "use policy.retry"),
        Dropped("typeProperties.sink.sinkRetryWait", "use policy.retryIntervalInSeconds"),
        Dropped("typeProperties.sink.maxConcurrentConnections", "one connection per run"),
        Dropped(
            "typeProperties.sink.upsertSettings.useTempDB", "the upsert stages rows in a temporary table"
        ),
        Dropped("typeProperties.sink.upsertSettings.interimSchemaName", "the upsert uses a temporary table"),
        Dropped("typeProperties.sink.storeSettings.copyBehavior", "files are named by the sink's settings"),
        Dropped("typeProperties.sink.storeSettings.maxConcurrentConnections", "one connection per run"),
        Dropped("typeProperties.sink.storeSettings.blockSizeInMB", "the writer picks block sizes"),
        Dropped("typeProperties.sink.storeSettings.metadata", "no object metadata is written"),
        Dropped("typeProperties.sink.formatSettings.fileExtension", "files take the format's extension"),
        Dropped("typeProperties.sink.formatSettings.quoteAllText", "values are quoted when needed"),
    ),
    quiet=(
        *_ACTIVITY_QUIET,
        "typeProperties.sink.storeSettings.type",
        "typeProperties.sink.formatSettings.type",
        "typeProperties.sink.disableMetricsCollection",
        "typeProperties.source.disableMetricsCollection",
    ),
)

LOOKUP_ACTIVITY = KindMap(
    title="Lookup activity (ImpalaSource)",
    types=("Lookup",),
    kind="LookupActivity",
    fields=(
        FieldMap("typeProperties.dataset", "spec.dataset", c.impala_dataset, "an ImpalaDataset"),
        FieldMap("typeProperties.source.type", "spec.source.type", choice({"ImpalaSource": "ImpalaSource"})),
        FieldMap("typeProperties.source.query", "spec.source.query", text),
        FieldMap("typeProperties.source.queryTimeout", "spec.source.queryTimeout", c.timespan),
        FieldMap("typeProperties.firstRowOnly", "spec.firstRowOnly", boolean),
        *_POLICY,
    ),
    dropped=(
        *_ACTIVITY_DROPPED,
        Dropped("typeProperties.source.partitionOption", LOOKUP_PARTITIONS),
        Dropped("typeProperties.source.partitionSettings", LOOKUP_PARTITIONS),
    ),
    quiet=_ACTIVITY_QUIET,
)

ACTIVITIES = (COPY_ACTIVITY, LOOKUP_ACTIVITY)
ALL = (*LINKED_SERVICES, *DATASETS, *ACTIVITIES)
