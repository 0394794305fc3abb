"""Object-store endpoints must be https unless allowInsecureEndpoint is set (api/stores.py, engine sinks).

In:  AmazonS3 and AzureBlobStorage linked services with http and https endpoints (serviceUrl,
     serviceEndpoint, a connection string's BlobEndpoint, DefaultEndpointsProtocol, and
     UseDevelopmentStorage=true), with and without allowInsecureEndpoint.
Out: the exact ConfigurationError the engine raises before any request (the connection string is
     a secret, so only the engine can judge its endpoint), or the endpoint it would use.
Faked: nothing; no request is sent (the check comes first; https cases stop at account parsing).
"""

from __future__ import annotations

from typing import Any

import pytest

from impala_copy.api.common import SecretKeySelector
from impala_copy.api.plan import SecretRef, StorePlan
from impala_copy.engine.errors import ConfigurationError
from impala_copy.engine.sinks.azure import azure_account
from impala_copy.engine.sinks.s3 import s3_filesystem

HELP = "set allowInsecureEndpoint: true to send credentials and data unencrypted, e.g. to a local test store"
ENV = "ICP_SECRET_AZURE"


def azure_store(connection_string: str, **spec: Any) -> tuple[StorePlan, dict[str, str]]:
    ref = SecretRef(secret_key_ref=SecretKeySelector(name="azure", key="cs"), env=ENV)
    store = StorePlan(
        kind="AzureBlobStorageLinkedService",
        spec={"connectionString": {"secretKeyRef": {"name": "azure", "key": "cs"}}, **spec},
        secrets={"connection_string": ref},
    )
    return store, {ENV: connection_string}


@pytest.mark.parametrize(
    ("connection_string", "endpoint"),
    [
        (
            "AccountName=acct;AccountKey=a2V5;BlobEndpoint=http://10.0.0.5:10000/acct",
            "http://10.0.0.5:10000/acct",
        ),
        (
            "DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=a2V5",
            "http://acct.blob.core.windows.net",
        ),
        ("UseDevelopmentStorage=true", "http://127.0.0.1:10000/devstoreaccount1"),
    ],
)
def test_an_http_connection_string_needs_the_opt_in(connection_string: str, endpoint: str) -> None:
    store, secrets = azure_store(connection_string)
    with pytest.raises(ConfigurationError) as caught:
        azure_account(store, secrets)
    assert caught.value.message == (
        f"the blob endpoint {endpoint!r} is not https: the store's credentials and the data would cross "
        f"the network unencrypted ({HELP})"
    )
    assert "a2V5" not in caught.value.message
    store, secrets = azure_store(connection_string, allowInsecureEndpoint=True)
    assert azure_account(store, secrets).endpoint == endpoint


def test_an_https_connection_string_passes() -> None:
    store, secrets = azure_store("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5")
    assert azure_account(store, secrets).endpoint == "https://acct.blob.core.windows.net"


def test_the_s3_engine_path_refuses_an_http_service_url() -> None:
    store = StorePlan(kind="AmazonS3LinkedService", spec={"serviceUrl": "https://minio:9000"})
    store.spec["serviceUrl"] = "http://minio:9000"
    # StorePlan.s3() validates the spec: the model refuses it first, with the same advice.
    with pytest.raises(ValueError, match="serviceUrl must be an https:// URL"):
        s3_filesystem(store, "bucket", {})
    store.spec["allowInsecureEndpoint"] = True
    assert s3_filesystem(store, "bucket", {}).endpoint == "http://minio:9000"
