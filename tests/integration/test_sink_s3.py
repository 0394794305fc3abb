"""File sinks on Amazon S3: a real S3 endpoint (moto_server, checking SigV4 signatures) on loopback.

In:  AmazonS3LinkedService (keys from a Secret, serviceUrl, forcePathStyle, region) and Parquet /
     DelimitedText / Json datasets on an AmazonS3Location, resolved like `impala-copy run` does; Arrow
     tables with every source type streamed through the real sink.
Out: the objects in the bucket, listed and read back with boto3 and compared with the source; the
     multipart ETag of a large part; the errors for wrong keys and a missing bucket.
Faked: only the Impala side (an in-memory batch source).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from devservers.moto import MotoServer
from devservers.postgres import free_port
from tests.integration import object_store_cases as cases
from tests.integration.sink_cases import s3_docs

from impala_copy.engine.errors import ConfigurationError, SinkAuthenticationFailed, Unreachable

pytestmark = pytest.mark.integration


class S3Bucket:
    def __init__(self, s3: MotoServer, bucket: str, **overrides: Any) -> None:
        self.s3 = s3
        self.name = bucket
        self.overrides = overrides
        self.client = s3.boto3_client()

    def docs(self, kind: str, **options: Any) -> list[dict[str, Any]]:
        return s3_docs(self.s3, self.name, kind, **{**self.overrides, **options})

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def read(self, key: str) -> bytes:
        data: bytes = self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        return data


@pytest.fixture
def bucket(s3: MotoServer, s3_bucket: str) -> S3Bucket:
    return S3Bucket(s3, s3_bucket)


@pytest.mark.parametrize("kind", ["ParquetDataset", "DelimitedTextDataset", "JsonDataset"])
def test_every_format_round_trips(tmp_path: Path, bucket: S3Bucket, kind: str) -> None:
    cases.check_every_format_round_trips(tmp_path, bucket, kind)


def test_rotation_and_rerun_replaces(tmp_path: Path, bucket: S3Bucket) -> None:
    cases.check_rotation_and_rerun_replaces(tmp_path, bucket)


def test_failed_run_publishes_nothing(tmp_path: Path, bucket: S3Bucket) -> None:
    cases.check_failed_run_publishes_nothing(tmp_path, bucket)


def test_killed_run_is_cleaned_by_the_next(tmp_path: Path, bucket: S3Bucket) -> None:
    cases.check_killed_run_is_cleaned_by_the_next(tmp_path, bucket)


def test_retry_of_the_same_run_replaces_a_killed_attempt(tmp_path: Path, bucket: S3Bucket) -> None:
    cases.check_retry_of_the_same_run_replaces_a_killed_attempt(tmp_path, bucket)


def test_partitioned_run_is_published_once(tmp_path: Path, bucket: S3Bucket) -> None:
    cases.check_partitioned_run_is_published_once(tmp_path, bucket)


def test_partitioned_run_missing_an_index_publishes_nothing(tmp_path: Path, bucket: S3Bucket) -> None:
    cases.check_partitioned_run_missing_an_index_publishes_nothing(tmp_path, bucket)


def test_large_part_round_trips(tmp_path: Path, bucket: S3Bucket) -> None:
    cases.check_large_part_is_uploaded_in_parts(tmp_path, bucket)


def test_output_streams_are_multipart_uploads(tmp_path: Path, bucket: S3Bucket) -> None:
    """The engine's S3 file system streams a 24 MiB file up in parts (the ETag of a multipart upload)."""
    payload = cases.stream_through_store_fs(tmp_path, bucket, "probe.bin")
    assert bucket.read("out/probe.bin") == payload
    etag = bucket.client.head_object(Bucket=bucket.name, Key="out/probe.bin")["ETag"].strip('"')
    assert etag.count("-") == 1, etag  # <md5 of the part md5s>-<number of parts>
    assert int(etag.rsplit("-", 1)[1]) >= 2


def test_wrong_secret_key_names_the_bucket_never_the_secret(
    tmp_path: Path, s3: MotoServer, s3_bucket: str
) -> None:
    wrong = "wrong-secret-" + "x" * 20
    store = S3Bucket(s3, s3_bucket, secret_key=wrong)
    p, secrets = cases.plan(tmp_path, store, "ParquetDataset")
    with pytest.raises(SinkAuthenticationFailed) as caught:
        cases.run_sink(p, secrets, cases.numbered_table(1))
    message = caught.value.message
    assert f"Amazon S3 bucket '{s3_bucket}' at {s3.endpoint}" in message
    assert "ACCESS_DENIED" in message
    assert "check accessKeyId, secretAccessKey and sessionToken" in message
    assert wrong not in message
    assert s3.secret_key not in message
    assert not store.keys()


def test_missing_bucket_is_a_configuration_error(tmp_path: Path, s3: MotoServer) -> None:
    store = S3Bucket(s3, "no-such-bucket")
    p, secrets = cases.plan(tmp_path, store, "JsonDataset")
    with pytest.raises(ConfigurationError, match=r"bucket 'no-such-bucket' .* the bucket does not exist"):
        cases.run_sink(p, secrets, cases.numbered_table(1))


def test_unreachable_endpoint(tmp_path: Path, s3: MotoServer, s3_bucket: str) -> None:
    down = dataclasses.replace(s3, port=free_port(), process=None)  # nothing listens there
    store = S3Bucket(s3, s3_bucket)
    docs = [
        *cases.impala_docs(),
        *s3_docs(down, s3_bucket, "JsonDataset"),
        cases.activity("JsonDataset", {"type": "JsonSink"}),
    ]
    p, secrets = cases.plan_from(tmp_path / "down", docs)
    with pytest.raises(
        Unreachable, match=f"cannot reach Amazon S3 bucket '{s3_bucket}' at http://127.0.0.1:{down.port}"
    ):
        cases.run_sink(p, secrets, cases.numbered_table(1))
    assert not store.keys()


def test_no_keys_uses_the_pod_identity_chain(
    tmp_path: Path, s3: MotoServer, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without accessKeyId/secretAccessKey the AWS default chain is used (here: its environment variables)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret_key)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = S3Bucket(s3, s3_bucket)
    docs = store.docs("JsonDataset")
    docs[1]["spec"].pop("accessKeyId")
    docs[1]["spec"].pop("secretAccessKey")
    docs = [*cases.impala_docs(), *docs, cases.activity("JsonDataset", {"type": "JsonSink"})]
    p, secrets = cases.plan_from(tmp_path / "identity", docs)
    assert not p.sink.store.secrets  # nothing secret is referenced by the plan
    result = cases.run_sink(p, secrets, cases.numbered_table(3))
    assert result.rows_written == 3
    assert cases.data_keys(store) == ["out/part_00000.jsonl"]
