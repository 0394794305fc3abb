"""File system of the Azure Blob Storage location (ADLS Gen2 too).

Azure Blob Storage (AzureBlobStorageLinkedService):
- connectionString (AccountName, AccountKey or SharedAccessSignature, BlobEndpoint or
  DefaultEndpointsProtocol + EndpointSuffix, or UseDevelopmentStorage=true), or accountName with
  accountKey or sasToken, or accountName alone for the pod's Azure identity (workload identity,
  managed identity, AZURE_* environment: Azure's DefaultAzureCredential).
- serviceEndpoint: https://<account>.blob.<suffix> (the default is https://<account>.blob.core.windows.net),
  or an emulator-style http://<host>:<port>/<account>.
- ADLS Gen2 (hierarchicalNamespace: true): Arrow uses the Data Lake endpoint for directories and
  atomic renames; on flat-namespace accounts a rename is a server-side copy and a delete (`_AzureHandler`;
  single blobs are deleted with the Azure Storage SDK, `_BlobDeleter`).
- The container must exist (it is never created).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.fs as pafs

from impala_copy.api.datasets import FileLocation
from impala_copy.api.plan import SinkPlan, StorePlan
from impala_copy.engine.errors import (
    ConfigurationError,
)
from impala_copy.engine.sinks.object_store_common import (
    hide_url_queries,
    probe_root,
    require_https,
    required,
    store_of,
    store_secret,
)

T = TypeVar("T")

AZURE_DEFAULT_SUFFIX = "core.windows.net"
# Azurite's development account (UseDevelopmentStorage=true): published by Microsoft, not a secret.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZURITE_ENDPOINT = "http://127.0.0.1:10000/devstoreaccount1"


@dataclass(frozen=True)
class AzureAccount:
    """Where and how to reach a storage account (no value of it is ever printed but the names)."""

    account_name: str
    endpoint: str
    account_key: str | None = None
    sas_token: str | None = None


def parse_connection_string(text: str) -> AzureAccount:
    """An Azure Storage connection string, as far as the Blob service is concerned."""
    parts: dict[str, str] = {}
    for piece in text.strip().split(";"):
        if not piece.strip():
            continue
        key, sep, value = piece.partition("=")
        if not sep:
            raise ConfigurationError("connectionString: expected Key=Value pairs separated by ';'")
        parts[key.strip().lower()] = value.strip()
    if parts.get("usedevelopmentstorage", "").lower() == "true":
        return AzureAccount(AZURITE_ACCOUNT, AZURITE_ENDPOINT, account_key=AZURITE_KEY)
    account = parts.get("accountname")
    if not account:
        raise ConfigurationError("connectionString has no AccountName")
    endpoint = parts.get("blobendpoint")
    if not endpoint:
        protocol = parts.get("defaultendpointsprotocol", "https")
        endpoint = f"{protocol}://{account}.blob.{parts.get('endpointsuffix', AZURE_DEFAULT_SUFFIX)}"
    return AzureAccount(
        account,
        endpoint,
        account_key=parts.get("accountkey") or None,
        sas_token=parts.get("sharedaccesssignature") or None,
    )


def _authority(account: AzureAccount) -> tuple[str, str, str]:
    """(scheme, blob authority, dfs authority) for Arrow: the host without the account name."""
    url = urlsplit(account.endpoint)
    host = url.hostname or ""
    netloc = url.netloc.rsplit("@", 1)[-1]
    path = url.path.strip("/")
    if url.scheme not in ("http", "https") or not host:
        raise ConfigurationError(f"blob endpoint {account.endpoint!r}: expected http(s)://host")
    if path:
        if path != account.account_name:
            raise ConfigurationError(
                f"blob endpoint {account.endpoint!r}: its path must be the account {account.account_name!r}"
            )
        return url.scheme, netloc, netloc
    prefix = f"{account.account_name}."
    if not netloc.startswith(prefix):
        raise ConfigurationError(
            f"blob endpoint {account.endpoint!r}: expected https://{account.account_name}.blob.<suffix> "
            f"or http://<host>:<port>/{account.account_name}"
        )
    blob = netloc[len(prefix) :]
    dfs = "dfs." + blob[len("blob.") :] if blob.startswith("blob.") else blob
    return url.scheme, blob, dfs


def _scrubbed(call: Callable[[], T]) -> T:
    try:
        return call()
    except pa.ArrowNotImplementedError:
        raise
    except (OSError, pa.ArrowException) as exc:
        raise OSError(hide_url_queries(str(exc))) from None


class _ScrubbedStream:
    """A stream of Arrow's Azure file system whose errors never quote a SAS token."""

    def __init__(self, stream: pa.NativeFile) -> None:
        self._stream = stream

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._stream, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return _scrubbed(lambda: attr(*args, **kwargs))

        return call

    @property
    def closed(self) -> bool:
        return bool(self._stream.closed)


class _BlobDeleter:
    """Deletes blobs with the Azure Storage SDK on flat-namespace accounts.

    Arrow's delete_file there leases the blob, writes a marker for its folder, deletes the blob and
    then releases the lease of the deleted blob, which fails and can stall the call for seconds; one
    Delete Blob request does what the commit protocol needs. Folders (the commit's staging folders,
    a few parts each) are deleted blob by blob rather than with a blob batch request.
    """

    def __init__(self, account: AzureAccount) -> None:
        self.account = account
        self._service: Any = None

    def _client(self) -> Any:
        if self._service is None:
            from azure.storage.blob import BlobServiceClient

            credential: Any
            if self.account.account_key:
                credential = {
                    "account_name": self.account.account_name,
                    "account_key": self.account.account_key,
                }
            elif self.account.sas_token:
                credential = self.account.sas_token.lstrip("?")
            else:
                from azure.identity import DefaultAzureCredential

                credential = DefaultAzureCredential()
            self._service = BlobServiceClient(self.account.endpoint, credential=credential)
        return self._service

    def delete(self, path: str) -> None:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        container, _, blob = path.partition("/")
        try:
            self._client().get_blob_client(container, blob).delete_blob()
        except ResourceNotFoundError:
            raise FileNotFoundError(f"{path}: no such blob") from None
        except AzureError as exc:
            raise OSError(hide_url_queries(" ".join(str(exc).split()))) from None

    def delete_tree(self, path: str) -> None:
        """Every blob under the folder (its folder marker blobs too), one Delete Blob request each."""
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        container, _, folder = path.rstrip("/").partition("/")
        client = self._client().get_container_client(container)
        try:
            names = [b.name for b in client.list_blobs(name_starts_with=f"{folder}/")]
            for name in sorted(names, key=len, reverse=True):  # contents before their folder markers
                with contextlib.suppress(ResourceNotFoundError):
                    client.delete_blob(name)
        except AzureError as exc:
            raise OSError(hide_url_queries(" ".join(str(exc).split()))) from None


class _AzureHandler(pafs.FileSystemHandler):  # type: ignore[misc]
    """Arrow's Azure file system with move() as copy + delete where the account has no namespace
    (ADLS Gen2 renames natively), and errors that never quote a SAS token."""

    def __init__(self, fs: pafs.FileSystem, hierarchical_namespace: bool, deleter: _BlobDeleter) -> None:
        self.fs = fs
        self.native_move = hierarchical_namespace
        self.deleter = deleter

    def get_type_name(self) -> str:
        return "abfs"

    def equals(self, other: Any) -> bool:
        return isinstance(other, _AzureHandler) and bool(self.fs.equals(other.fs))

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        infos: list[pafs.FileInfo] = _scrubbed(lambda: self.fs.get_file_info(paths))
        return infos

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        infos: list[pafs.FileInfo] = _scrubbed(lambda: self.fs.get_file_info(selector))
        return infos

    def create_dir(self, path: str, recursive: bool) -> None:
        _scrubbed(lambda: self.fs.create_dir(path, recursive=recursive))

    def delete_dir(self, path: str) -> None:
        if self.native_move:
            _scrubbed(lambda: self.fs.delete_dir(path))
        else:  # Arrow would use a blob batch request, which some SAS tokens and emulators refuse
            self.deleter.delete_tree(path)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        _scrubbed(lambda: self.fs.delete_dir_contents(path, missing_dir_ok=missing_dir_ok))

    def delete_root_dir_contents(self) -> None:
        raise pa.ArrowNotImplementedError("refusing to delete the contents of the whole storage account")

    def delete_file(self, path: str) -> None:
        if self.native_move:
            _scrubbed(lambda: self.fs.delete_file(path))
        else:
            self.deleter.delete(path)

    def move(self, src: str, dest: str) -> None:
        if self.native_move:  # ADLS Gen2: an atomic rename
            try:
                _scrubbed(lambda: self.fs.move(src, dest))
                return
            except pa.ArrowNotImplementedError:  # the account has no namespace after all
                self.native_move = False
        _scrubbed(lambda: self.fs.copy_file(src, dest))
        self.delete_file(src)

    def copy_file(self, src: str, dest: str) -> None:
        _scrubbed(lambda: self.fs.copy_file(src, dest))

    def open_input_stream(self, path: str) -> pa.NativeFile:
        stream = _scrubbed(lambda: self.fs.open_input_stream(path, compression=None))
        return pa.PythonFile(_ScrubbedStream(stream), mode="r")

    def open_input_file(self, path: str) -> pa.NativeFile:
        stream = _scrubbed(lambda: self.fs.open_input_file(path))
        return pa.PythonFile(_ScrubbedStream(stream), mode="r")

    def open_output_stream(self, path: str, metadata: dict[str, str] | None) -> pa.NativeFile:
        stream = _scrubbed(lambda: self.fs.open_output_stream(path, compression=None, metadata=metadata))
        return pa.PythonFile(_ScrubbedStream(stream), mode="w")

    def open_append_stream(self, path: str, metadata: dict[str, str] | None) -> pa.NativeFile:
        stream = _scrubbed(lambda: self.fs.open_append_stream(path, compression=None, metadata=metadata))
        return pa.PythonFile(_ScrubbedStream(stream), mode="w")

    def normalize_path(self, path: str) -> str:
        normalized: str = self.fs.normalize_path(path)
        return normalized


def azure_account(store: StorePlan, secrets: Mapping[str, str]) -> AzureAccount:
    """The account and its endpoint, which must be https unless allowInsecureEndpoint is set."""
    account = _account(store, secrets)
    require_https(account.endpoint, "the blob endpoint", store.azure().allow_insecure_endpoint)
    return account


def _account(store: StorePlan, secrets: Mapping[str, str]) -> AzureAccount:
    spec = store.azure()
    connection_string = store_secret(store, "connection_string", secrets)
    if connection_string is not None:
        account = parse_connection_string(connection_string)
        if spec.service_endpoint:
            account = AzureAccount(
                account.account_name, spec.service_endpoint, account.account_key, account.sas_token
            )
        return account
    if not spec.account_name:
        raise ConfigurationError("AzureBlobStorageLinkedService needs connectionString or accountName")
    endpoint = spec.service_endpoint or f"https://{spec.account_name}.blob.{AZURE_DEFAULT_SUFFIX}"
    return AzureAccount(
        spec.account_name,
        endpoint,
        account_key=store_secret(store, "account_key", secrets),
        sas_token=store_secret(store, "sas_token", secrets),
    )


def azure_filesystem(account: AzureAccount, hierarchical_namespace: bool = False) -> pafs.FileSystem:
    """Arrow's Azure file system for the account, wrapped (see `_AzureHandler`)."""
    scheme, blob, dfs = _authority(account)
    kwargs: dict[str, Any] = {
        "blob_storage_authority": blob,
        "dfs_storage_authority": dfs,
        "blob_storage_scheme": scheme,
        "dfs_storage_scheme": scheme,
    }
    if account.account_key:
        kwargs["account_key"] = account.account_key
    elif account.sas_token:
        kwargs["sas_token"] = (
            account.sas_token if account.sas_token.startswith("?") else "?" + account.sas_token
        )
    try:
        native = pafs.AzureFileSystem(account.account_name, **kwargs)
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise ConfigurationError(f"Azure storage account {account.account_name!r}: {exc}") from None
    return pafs.PyFileSystem(_AzureHandler(native, hierarchical_namespace, _BlobDeleter(account)))


def open_azure(
    sink: SinkPlan, location: FileLocation, folder: str, secrets: Mapping[str, str]
) -> tuple[pafs.FileSystem, str]:
    store = store_of(sink, "AzureBlobStorageLinkedService", "AzureBlobStorageLocation")
    container = required(location.container, "AzureBlobStorageLocation", "container")
    account = azure_account(store, secrets)
    fs = azure_filesystem(account, store.azure().hierarchical_namespace)
    if account.account_key:
        hint = "check the account key"
    elif account.sas_token:
        hint = "check the SAS token: its permissions (read, write, delete, list, create) and expiry"
    else:
        hint = "no key or SAS token is set, so the pod's Azure identity was used"
    where = f"Azure Blob container {container!r} of account {account.account_name!r} at {account.endpoint}"
    probe_root(fs, container, where, "container", hint)
    return fs, f"{container}/{folder}" if folder else container
