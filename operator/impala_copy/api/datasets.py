"""Sink datasets: Parquet, DelimitedText and Json files on a store or a volume; a PostgreSQL table.

A file dataset's `location.type` says where the files go:
- PersistentVolumeClaimLocation: a PVC in the same namespace (`claimName`), mounted into the Job pod.
  From the CLI, a claim maps to a local folder (`impala-copy run --volume CLAIM=DIR`).
- AmazonS3Location: a bucket of an AmazonS3LinkedService.
- AzureBlobStorageLocation: a container (file system) of an AzureBlobStorageLinkedService.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from impala_copy.api.common import (
    NAME_MAX,
    NAME_PATTERN,
    ApiModel,
    KindInfo,
    LinkedServiceReference,
    Resource,
)
from impala_copy.api.impala import DatasetStatus
from impala_copy.api.path_templates import FILE_NAME, FOLDER_PATH, check_template
from impala_copy.api.paths import file_name_rules, folder_rules
from impala_copy.api.references import PVC, Reference
from impala_copy.api.rules import Rule, RuledModel, written


class LocationType(StrEnum):
    PERSISTENT_VOLUME_CLAIM = "PersistentVolumeClaimLocation"
    AMAZON_S3 = "AmazonS3Location"
    AZURE_BLOB_STORAGE = "AzureBlobStorageLocation"


# The linked-service kind each store location needs.
LOCATION_LINKED_SERVICE_KIND: dict[str, str] = {
    LocationType.AMAZON_S3: "AmazonS3LinkedService",
    LocationType.AZURE_BLOB_STORAGE: "AzureBlobStorageLinkedService",
}


class FileLocation(RuledModel):
    """Where a file dataset's files go (ADF: location)."""

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            cel="self.type != 'PersistentVolumeClaimLocation' || has(self.claimName)",
            message="PersistentVolumeClaimLocation requires claimName",
            check=lambda m: m.type != "PersistentVolumeClaimLocation" or written(m, "claim_name"),
        ),
        Rule(
            cel="self.type != 'AmazonS3Location' || has(self.bucketName)",
            message="AmazonS3Location requires bucketName",
            check=lambda m: m.type != "AmazonS3Location" or written(m, "bucket_name"),
        ),
        Rule(
            cel="self.type != 'AzureBlobStorageLocation' || has(self.container)",
            message="AzureBlobStorageLocation requires container",
            check=lambda m: m.type != "AzureBlobStorageLocation" or written(m, "container"),
        ),
        Rule(
            cel="(self.type == 'PersistentVolumeClaimLocation' || !has(self.claimName)) && "
            "(self.type == 'AmazonS3Location' || !has(self.bucketName)) && "
            "(self.type == 'AzureBlobStorageLocation' || !has(self.container))",
            message="claimName, bucketName and container belong to PersistentVolumeClaimLocation, "
            "AmazonS3Location and AzureBlobStorageLocation respectively",
            check=lambda m: (
                (m.type == "PersistentVolumeClaimLocation" or not written(m, "claim_name"))
                and (m.type == "AmazonS3Location" or not written(m, "bucket_name"))
                and (m.type == "AzureBlobStorageLocation" or not written(m, "container"))
            ),
        ),
        # Paths stay inside the location (api/paths.py).
        *folder_rules("folder_path", "folderPath"),
        *file_name_rules("file_name", "fileName"),
    )

    type: LocationType = Field(
        description="PersistentVolumeClaimLocation, AmazonS3Location or AzureBlobStorageLocation."
    )
    claim_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=NAME_MAX,
        pattern=NAME_PATTERN,
        description="PersistentVolumeClaim in the same namespace (its name, not a path).",
    )
    bucket_name: str | None = Field(
        default=None,
        min_length=3,
        max_length=63,
        pattern=r"^[a-z0-9][a-z0-9.\-]*[a-z0-9]$",
        description="S3 bucket (ADF: bucketName).",
    )
    container: str | None = Field(
        default=None,
        min_length=3,
        max_length=63,
        pattern=r"^[a-z0-9][a-z0-9\-]*[a-z0-9]$",
        description="Blob container or ADLS Gen2 file system (ADF: container / fileSystem).",
    )
    folder_path: str | None = Field(
        default=None,
        max_length=1024,
        description="Folder under the volume, bucket or container (ADF: folderPath): a relative path "
        "without '.' or '..' segments. May hold placeholders of the run, e.g. "
        "orders/dt={windowStart:yyyy-MM-dd} (docs/schedules.md).",
    )
    file_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="Name of the single output file, without '/' (ADF: fileName). Without it, or with "
        "maxRowsPerFile, files are named <fileNamePrefix>_<NNNNN>.<ext>. May hold placeholders of the "
        "run, e.g. orders_{windowStart:yyyyMMdd}.parquet.",
    )

    @field_validator("folder_path")
    @classmethod
    def _folder_template(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value, FOLDER_PATH)

    @field_validator("file_name")
    @classmethod
    def _file_name_template(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value, FILE_NAME)


class FileDatasetBase(RuledModel):
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            cel="self.location.type == 'PersistentVolumeClaimLocation' ? !has(self.linkedServiceName) "
            ": has(self.linkedServiceName)",
            message="AmazonS3Location and AzureBlobStorageLocation need linkedServiceName; "
            "PersistentVolumeClaimLocation takes none",
            check=lambda m: (
                (not written(m, "linked_service_name"))
                if m.location.type == "PersistentVolumeClaimLocation"
                else written(m, "linked_service_name")
            ),
        ),
    )

    linked_service_name: LinkedServiceReference | None = Field(
        default=None,
        description="The store's linked service (AmazonS3LinkedService or AzureBlobStorageLinkedService).",
    )
    location: FileLocation = Field(description="Where the files go.")

    def references(self) -> list[Reference]:
        """The claim of a PersistentVolumeClaimLocation, else the linked service of the location."""
        kind = LOCATION_LINKED_SERVICE_KIND.get(self.location.type)
        if kind is None:
            return [Reference(PVC, self.location.claim_name or "", "spec.location.claimName")]
        name = self.linked_service_name.reference_name if self.linked_service_name else ""
        return [Reference(kind, name, "spec.linkedServiceName.referenceName")]


class ParquetCompressionCodec(StrEnum):
    NONE = "none"
    SNAPPY = "snappy"
    GZIP = "gzip"
    ZSTD = "zstd"


class ParquetDatasetSpec(FileDatasetBase):
    """Parquet files (ADF: Parquet dataset)."""

    compression_codec: ParquetCompressionCodec = Field(
        default=ParquetCompressionCodec.SNAPPY,
        description="none, snappy, gzip or zstd (ADF: compressionCodec). Default snappy.",
    )


class TextCompressionCodec(StrEnum):
    NONE = "none"
    GZIP = "gzip"


class DelimitedTextDatasetSpec(FileDatasetBase):
    """Delimited text (CSV) files (ADF: DelimitedText dataset)."""

    RULES: ClassVar[tuple[Rule, ...]] = (
        *FileDatasetBase.RULES,
        Rule(
            cel="self.quoteChar != self.columnDelimiter",
            message="quoteChar and columnDelimiter must differ",
            check=lambda m: m.quote_char != m.column_delimiter,
        ),
    )

    column_delimiter: str = Field(
        default=",",
        min_length=1,
        max_length=1,
        description="Column delimiter (ADF: columnDelimiter). Default ','.",
    )
    row_delimiter: Literal["\n", "\r\n"] = Field(
        default="\r\n",
        description="Row delimiter, \\n or \\r\\n (ADF: rowDelimiter). Default \\r\\n, what ADF's Copy "
        "activity writes.",
    )
    quote_char: str = Field(
        default='"', min_length=1, max_length=1, description="Quote character (ADF: quoteChar). Default '\"'."
    )
    escape_char: str = Field(
        default="\\",
        min_length=1,
        max_length=1,
        description="Escape character (ADF: escapeChar). Default '\\'.",
    )
    first_row_as_header: bool = Field(
        default=False,
        description="Write the column names as the first row (ADF: firstRowAsHeader). Default false.",
    )
    null_value: str = Field(
        default="", max_length=64, description="Text written for NULL (ADF: nullValue). Default ''."
    )
    encoding_name: Literal["UTF-8", "UTF-16", "UTF-16LE", "UTF-16BE", "ISO-8859-1", "US-ASCII"] = Field(
        default="UTF-8", description="Text encoding (ADF: encodingName). Default UTF-8."
    )
    compression_codec: TextCompressionCodec = Field(
        default=TextCompressionCodec.NONE, description="none or gzip (ADF: compressionCodec). Default none."
    )


class JsonDatasetSpec(FileDatasetBase):
    """JSON Lines files, one object per row (ADF: Json dataset, setOfObjects)."""

    encoding_name: Literal["UTF-8", "UTF-16", "UTF-16LE", "UTF-16BE"] = Field(
        default="UTF-8", description="Text encoding (ADF: encodingName). Default UTF-8."
    )
    compression_codec: TextCompressionCodec = Field(
        default=TextCompressionCodec.NONE, description="none or gzip (ADF: compression.type). Default none."
    )


_FILE_COLUMNS = [
    {"name": "Location", "type": "string", "jsonPath": ".spec.location.type"},
    {"name": "Folder", "type": "string", "jsonPath": ".spec.location.folderPath"},
    {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
    {
        "name": "Claim Bound",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="ClaimBound")].status',
        "priority": 1,
    },
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


class ParquetDataset(Resource):
    KIND_INFO: ClassVar[KindInfo] = KindInfo(
        kind="ParquetDataset",
        plural="parquetdatasets",
        singular="parquetdataset",
        short_names=["parquetds"],
        printer_columns=_FILE_COLUMNS,
    )
    kind: Literal["ParquetDataset"] = "ParquetDataset"
    spec: ParquetDatasetSpec
    status: DatasetStatus | None = None


class DelimitedTextDataset(Resource):
    KIND_INFO: ClassVar[KindInfo] = KindInfo(
        kind="DelimitedTextDataset",
        plural="delimitedtextdatasets",
        singular="delimitedtextdataset",
        short_names=["csvds"],
        printer_columns=_FILE_COLUMNS,
    )
    kind: Literal["DelimitedTextDataset"] = "DelimitedTextDataset"
    spec: DelimitedTextDatasetSpec
    status: DatasetStatus | None = None


class JsonDataset(Resource):
    KIND_INFO: ClassVar[KindInfo] = KindInfo(
        kind="JsonDataset",
        plural="jsondatasets",
        singular="jsondataset",
        short_names=["jsonds"],
        printer_columns=_FILE_COLUMNS,
    )
    kind: Literal["JsonDataset"] = "JsonDataset"
    spec: JsonDatasetSpec
    status: DatasetStatus | None = None


class PostgreSqlTableDatasetSpec(ApiModel):
    """A PostgreSQL table (ADF: PostgreSqlV2Table dataset)."""

    linked_service_name: LinkedServiceReference = Field(description="The PostgreSqlLinkedService.")
    schema_: str = Field(
        default="public", alias="schema", min_length=1, max_length=63, description="Schema. Default public."
    )
    table: str = Field(min_length=1, max_length=63, description="Table name.")

    def references(self) -> list[Reference]:
        name = self.linked_service_name.reference_name
        return [Reference("PostgreSqlLinkedService", name, "spec.linkedServiceName.referenceName")]


class PostgreSqlTableDataset(Resource):
    KIND_INFO: ClassVar[KindInfo] = KindInfo(
        kind="PostgreSqlTableDataset",
        plural="postgresqltabledatasets",
        singular="postgresqltabledataset",
        short_names=["pgds"],
        printer_columns=[
            {"name": "LinkedService", "type": "string", "jsonPath": ".spec.linkedServiceName.referenceName"},
            {"name": "Table", "type": "string", "jsonPath": ".spec.table"},
            {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    )
    kind: Literal["PostgreSqlTableDataset"] = "PostgreSqlTableDataset"
    spec: PostgreSqlTableDatasetSpec
    status: DatasetStatus | None = None
