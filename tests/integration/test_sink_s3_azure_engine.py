"""The whole engine into object stores: the Spark Thrift Server (`sts`) to S3 (moto) and Azure Blob (Azurite).

In:  manifests a user would write (ImpalaLinkedService + Secret, ImpalaDataset on demo.all_types or
     demo.orders, AmazonS3LinkedService / AzureBlobStorageLinkedService + Secret, a Parquet or Json
     dataset on the store, CopyActivity), run by `engine.run.execute` as `impala-copy run` does.
Out: the RunSummary and the objects, read back with boto3 / azure-storage-blob and compared value by
     value with what the server holds.
Faked: nothing.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from devservers.azurite import AzuriteServer
from devservers.moto import MotoServer
from devservers.sts import ALL_TYPES_EXPECTED, ORDERS_ROWS, StsServer
from tests.integration.object_store_cases import data_keys
from tests.integration.sink_cases import activity, impala_docs, plan_from
from tests.integration.test_sink_azure import AzureContainer
from tests.integration.test_sink_s3 import S3Bucket
from tests.unit.arrow_samples import assert_rows_equal, json_rows

from impala_copy.engine.errors import EXIT_CONFIGURATION, EXIT_OK
from impala_copy.engine.run import execute

pytestmark = pytest.mark.integration


def run(tmp_path: Path, sts: StsServer, docs: list[dict[str, Any]]) -> Any:
    plan, secrets = plan_from(tmp_path / uuid.uuid4().hex[:8], [*impala_docs(sts.host, sts.port), *docs])
    return execute(plan, secrets)


def test_all_types_to_s3_parquet(tmp_path: Path, sts: StsServer, s3: MotoServer, s3_bucket: str) -> None:
    store = S3Bucket(s3, s3_bucket)
    docs = [
        *store.docs("ParquetDataset"),
        activity("ParquetDataset", {"type": "ParquetSink"}, validateDataConsistency=True),
    ]
    outcome = run(tmp_path, sts, docs)
    assert outcome.exit_code == EXIT_OK, outcome.summary.errors
    s = outcome.summary
    assert (s.rows_read, s.rows_copied, s.files_written, s.consistency_verified) == (4, 4, 1, True)
    assert s.output_paths == [f"{s3_bucket}/out/part_00000.parquet"]
    table = pq.read_table(io.BytesIO(store.read("out/part_00000.parquet")))
    assert_rows_equal(list(ALL_TYPES_EXPECTED), sorted(table.to_pylist(), key=lambda r: r["id"]))


def test_orders_rotated_into_azure_json(
    tmp_path: Path, sts: StsServer, azurite: AzuriteServer, azure_container: str
) -> None:
    store = AzureContainer(azurite, azure_container)
    docs = [
        *store.docs("JsonDataset"),
        activity(
            "JsonDataset",
            {"type": "JsonSink", "formatSettings": {"maxRowsPerFile": 2000}},
            source={"query": "SELECT * FROM demo.orders"},
        ),
    ]
    outcome = run(tmp_path, sts, docs)
    assert outcome.exit_code == EXIT_OK, outcome.summary.errors
    assert data_keys(store) == ["out/part_00000.jsonl", "out/part_00001.jsonl", "out/part_00002.jsonl"]
    rows = [r for k in data_keys(store) for r in json_rows(store.read(k).decode())]
    assert len(rows) == ORDERS_ROWS == outcome.summary.rows_copied
    assert sorted(r["order_id"] for r in rows) == list(range(1, ORDERS_ROWS + 1))


def test_all_types_to_azure_parquet_with_account_key(
    tmp_path: Path, sts: StsServer, azurite: AzuriteServer, azure_container: str
) -> None:
    store = AzureContainer(
        azurite,
        azure_container,
        linked_service={
            "accountName": azurite.account_name,
            "accountKey": {"secretKeyRef": {"name": "azure", "key": "accountKey"}},
            "serviceEndpoint": azurite.blob_endpoint,
        },
        secret_data={"accountKey": azurite.account_key},
    )
    docs = [*store.docs("ParquetDataset"), activity("ParquetDataset", {"type": "ParquetSink"})]
    outcome = run(tmp_path, sts, docs)
    assert outcome.exit_code == EXIT_OK, outcome.summary.errors
    table = pq.read_table(io.BytesIO(store.read("out/part_00000.parquet")))
    assert table.schema.field("c_decimal38").type == pa.decimal128(38, 10)
    assert_rows_equal(list(ALL_TYPES_EXPECTED), sorted(table.to_pylist(), key=lambda r: r["id"]))


def test_wrong_s3_key_fails_before_reading(
    tmp_path: Path, sts: StsServer, s3: MotoServer, s3_bucket: str
) -> None:
    wrong = "nope-" + uuid.uuid4().hex
    store = S3Bucket(s3, s3_bucket, secret_key=wrong)
    docs = [*store.docs("JsonDataset"), activity("JsonDataset", {"type": "JsonSink"})]
    outcome = run(tmp_path, sts, docs)
    assert outcome.exit_code == EXIT_CONFIGURATION
    [error] = outcome.summary.errors
    assert error.code == "SinkAuthenticationFailed"
    assert f"Amazon S3 bucket '{s3_bucket}'" in error.message
    assert wrong not in outcome.summary.to_termination_message()
    assert outcome.summary.rows_read == 0
    assert not store.keys()
