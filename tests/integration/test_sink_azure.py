"""File sinks on Azure Blob Storage: a real Blob endpoint (Azurite, checking Shared Key signatures) on loopback.

In:  AzureBlobStorageLinkedService with a connection string, an account key or a SAS token (each from
     a Secret), and Parquet / DelimitedText / Json datasets on an AzureBlobStorageLocation, resolved
     like `impala-copy run` does; Arrow tables with every source type streamed through the real sink.
Out: the blobs in the container, listed and read back with azure-storage-blob and compared with the
     source; the committed blocks of a large blob; the errors for a wrong key and a missing container.
Faked: only the Impala side (an in-memory batch source). Azurite has no hierarchical namespace, so
     ADLS Gen2 renames are not exercised here (flat namespace: a rename is a copy and a delete).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas
from devservers.azurite import AzuriteServer
from tests.integration import object_store_cases as cases
from tests.integration.sink_cases import azure_docs

from impala_copy.engine.errors import ConfigurationError, CopyError, SinkAuthenticationFailed
from impala_copy.engine.sinks.azure import AzureAccount, parse_connection_string

pytestmark = pytest.mark.integration


class AzureContainer:
    def __init__(self, azurite: AzuriteServer, container: str, **overrides: Any) -> None:
        self.azurite = azurite
        self.name = container
        self.overrides = overrides
        self.client = azurite.blob_service().get_container_client(container)

    def docs(self, kind: str, **options: Any) -> list[dict[str, Any]]:
        return azure_docs(self.azurite, self.name, kind, **{**self.overrides, **options})

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(b.name for b in self.client.list_blobs(name_starts_with=prefix))

    def read(self, key: str) -> bytes:
        data: bytes = self.client.download_blob(key).readall()
        return data


@pytest.fixture
def container(azurite: AzuriteServer, azure_container: str) -> AzureContainer:
    return AzureContainer(azurite, azure_container)


def account_key_options(azurite: AzuriteServer, key: str | None = None) -> dict[str, Any]:
    return {
        "linked_service": {
            "accountName": azurite.account_name,
            "accountKey": {"secretKeyRef": {"name": "azure", "key": "accountKey"}},
            "serviceEndpoint": azurite.blob_endpoint,
        },
        "secret_data": {"accountKey": azurite.account_key if key is None else key},
    }


@pytest.mark.parametrize("kind", ["ParquetDataset", "DelimitedTextDataset", "JsonDataset"])
def test_every_format_round_trips(tmp_path: Path, container: AzureContainer, kind: str) -> None:
    cases.check_every_format_round_trips(tmp_path, container, kind)


def test_rotation_and_rerun_replaces(tmp_path: Path, container: AzureContainer) -> None:
    cases.check_rotation_and_rerun_replaces(tmp_path, container)


def test_failed_run_publishes_nothing(tmp_path: Path, container: AzureContainer) -> None:
    cases.check_failed_run_publishes_nothing(tmp_path, container)


def test_killed_run_is_cleaned_by_the_next(tmp_path: Path, container: AzureContainer) -> None:
    cases.check_killed_run_is_cleaned_by_the_next(tmp_path, container)


def test_retry_of_the_same_run_replaces_a_killed_attempt(tmp_path: Path, container: AzureContainer) -> None:
    cases.check_retry_of_the_same_run_replaces_a_killed_attempt(tmp_path, container)


def test_partitioned_run_is_published_once(tmp_path: Path, container: AzureContainer) -> None:
    cases.check_partitioned_run_is_published_once(tmp_path, container)


def test_partitioned_run_missing_an_index_publishes_nothing(
    tmp_path: Path, container: AzureContainer
) -> None:
    cases.check_partitioned_run_missing_an_index_publishes_nothing(tmp_path, container)


def test_large_part_round_trips(tmp_path: Path, container: AzureContainer) -> None:
    cases.check_large_part_is_uploaded_in_parts(tmp_path, container)


def test_output_streams_upload_blocks(tmp_path: Path, container: AzureContainer) -> None:
    """The engine's Azure file system streams a 24 MiB blob up as several committed blocks."""
    payload = cases.stream_through_store_fs(tmp_path, container, "probe.bin")
    assert container.read("out/probe.bin") == payload
    committed, _ = container.client.get_blob_client("out/probe.bin").get_block_list("committed")
    assert len(committed) >= 2


def test_account_key(tmp_path: Path, azurite: AzuriteServer, azure_container: str) -> None:
    store = AzureContainer(azurite, azure_container, **account_key_options(azurite))
    p, secrets = cases.plan(tmp_path, store, "JsonDataset")
    assert cases.run_sink(p, secrets, cases.numbered_table(4)).rows_written == 4
    assert store.read("out/part_00000.jsonl").count(b"\n") == 4


def sas_store(azurite: AzuriteServer, container: str, permissions: AccountSasPermissions) -> AzureContainer:
    sas = generate_account_sas(
        azurite.account_name,
        azurite.account_key,
        ResourceTypes(service=True, container=True, object=True),
        permissions,
        expiry=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
    )
    return AzureContainer(
        azurite,
        container,
        linked_service={
            "accountName": azurite.account_name,
            "sasToken": {"secretKeyRef": {"name": "azure", "key": "sas"}},
            "serviceEndpoint": azurite.blob_endpoint,
        },
        secret_data={"sas": sas},
    )


def test_sas_token(tmp_path: Path, azurite: AzuriteServer, azure_container: str) -> None:
    permissions = AccountSasPermissions(read=True, write=True, delete=True, list=True, add=True, create=True)
    store = sas_store(azurite, azure_container, permissions)
    p, secrets = cases.plan(tmp_path, store, "ParquetDataset", {"formatSettings": {"maxRowsPerFile": 3}})
    assert cases.run_sink(p, secrets, cases.numbered_table(5)).files_written == 2
    assert cases.data_keys(store) == ["out/part_00000.parquet", "out/part_00001.parquet"]
    assert not [k for k in store.keys("out/") if "_temporary" in k]


def test_sas_errors_never_quote_the_token(
    tmp_path: Path, azurite: AzuriteServer, azure_container: str
) -> None:
    store = sas_store(azurite, azure_container, AccountSasPermissions(read=True, list=True))
    sas = store.overrides["secret_data"]["sas"]
    p, secrets = cases.plan(tmp_path, store, "JsonDataset")
    with pytest.raises(CopyError) as caught:
        cases.run_sink(p, secrets, cases.numbered_table(1))
    message = caught.value.message
    assert "AuthorizationPermissionMismatch" in message or "AuthorizationFailure" in message, message
    assert "?<query hidden>" in message
    assert "sig=" not in message
    assert sas not in message
    assert not cases.data_keys(store)


def test_wrong_account_key_names_the_container_never_the_key(
    tmp_path: Path, azurite: AzuriteServer, azure_container: str
) -> None:
    wrong = "AAAA" + azurite.account_key[4:]
    store = AzureContainer(azurite, azure_container, **account_key_options(azurite, wrong))
    p, secrets = cases.plan(tmp_path, store, "ParquetDataset")
    with pytest.raises(SinkAuthenticationFailed) as caught:
        cases.run_sink(p, secrets, cases.numbered_table(1))
    message = caught.value.message
    assert (
        f"Azure Blob container '{azure_container}' of account 'devstoreaccount1' at {azurite.blob_endpoint}"
        in message
    )
    assert "AuthorizationFailure" in message
    assert "check the account key" in message
    assert wrong not in message
    assert azurite.account_key not in message
    assert not store.keys()


def test_missing_container_is_never_created(tmp_path: Path, azurite: AzuriteServer) -> None:
    store = AzureContainer(azurite, "no-such-container")
    p, secrets = cases.plan(tmp_path, store, "DelimitedTextDataset")
    with pytest.raises(ConfigurationError, match=r"'no-such-container' .* the container does not exist"):
        cases.run_sink(p, secrets, cases.numbered_table(1))
    assert "no-such-container" not in [c.name for c in azurite.blob_service().list_containers()]


def test_connection_string_forms() -> None:
    key = "a2V5"
    assert parse_connection_string(
        f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={key};EndpointSuffix=core.chinacloudapi.cn"
    ) == AzureAccount("acct", "https://acct.blob.core.chinacloudapi.cn", account_key=key)
    assert parse_connection_string(
        "BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature=sv=2022&sig=abc%3D;AccountName=acct"
    ) == AzureAccount("acct", "https://acct.blob.core.windows.net/", sas_token="sv=2022&sig=abc%3D")
    assert parse_connection_string("UseDevelopmentStorage=true").account_name == "devstoreaccount1"
    with pytest.raises(ConfigurationError, match="no AccountName"):
        parse_connection_string("DefaultEndpointsProtocol=https;AccountKey=x")
