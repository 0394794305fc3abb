"""What the object-store file systems share: error classification, root checks, secret lookup, https.

S3 (`s3.py`) and Azure Blob / ADLS Gen2 (`azure.py`) are Arrow's own C++ file systems
(`pyarrow.fs.S3FileSystem`, `pyarrow.fs.AzureFileSystem`): output streams upload in parts (S3
multipart upload, Azure block blobs) while the writer keeps writing, so a part file is never held
whole in memory, and no Python runs per uploaded byte. Every failure to reach or authenticate to the
store names the store (bucket/container, endpoint), never a credential. An endpoint that is not
https is refused unless the linked service sets allowInsecureEndpoint.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from typing import TypeVar
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.fs as pafs

from impala_copy.api.plan import SinkPlan, StorePlan
from impala_copy.api.stores import INSECURE_ENDPOINT_HELP
from impala_copy.engine.errors import (
    ConfigurationError,
    CopyError,
    SinkAuthenticationFailed,
    SinkError,
    Unreachable,
)
from impala_copy.engine.secrets import read_secret

T = TypeVar("T")
CONNECT_TIMEOUT_SECONDS = 30.0
REQUEST_TIMEOUT_SECONDS = 120.0

_AUTH_MARKERS = (
    "access_denied", "accessdenied", "invalidaccesskeyid", "signaturedoesnotmatch", "forbidden", " 403",
    "authorizationfailure", "authenticationfailed", "authorizationpermissionmismatch", "no credentials",
    "credentials", "invalidauthenticationinfo", "expiredtoken", "invalidtoken",
)  # fmt: skip
_NETWORK_MARKERS = ("network_connection", "could not connect", "couldn't connect", "timed out", "timeout",
                    "name or service not known", "could not resolve", "connection refused")  # fmt: skip


def store_secret(store: StorePlan, field: str, secrets: Mapping[str, str]) -> str | None:
    ref = store.secrets.get(field)
    return read_secret(ref, secrets) if ref is not None else None


def require_https(endpoint: str, what: str, allow_insecure: bool) -> None:
    """Credentials and data go to `endpoint` encrypted, unless the linked service allows otherwise."""
    if not allow_insecure and urlsplit(endpoint).scheme.lower() != "https":
        raise ConfigurationError(
            f"{what} {endpoint!r} is not https: the store's credentials and the data would cross the "
            f"network unencrypted ({INSECURE_ENDPOINT_HELP})"
        )


def classify(exc: BaseException, where: str, hint: str) -> CopyError:
    """A store error as ours: authentication, unreachable, or a plain sink error."""
    detail = hide_url_queries(" ".join(str(exc).split()))
    lowered = detail.lower()
    if any(m in lowered for m in _AUTH_MARKERS):
        return SinkAuthenticationFailed(f"access to {where} was denied: {detail} ({hint})")
    if any(m in lowered for m in _NETWORK_MARKERS):
        return Unreachable(f"cannot reach {where}: {detail}")
    return SinkError(f"{where}: {detail}")


@contextlib.contextmanager
def store_errors(where: str, hint: str) -> Iterator[None]:
    try:
        yield
    except CopyError:
        raise
    except (OSError, pa.ArrowException) as exc:
        raise classify(exc, where, hint) from None


def probe_root(fs: pafs.FileSystem, root: str, where: str, what: str, hint: str) -> None:
    """Check the bucket/container exists and the credentials work, before any data is fetched."""
    with store_errors(where, hint):
        info = fs.get_file_info(root)
    if info.type == pafs.FileType.NotFound:
        raise ConfigurationError(f"{where}: the {what} does not exist (it is never created by a copy)")


_URL_QUERY = re.compile(r"(https?://[^\s?]*)\?[^\s]*")


def hide_url_queries(text: str) -> str:
    """Text without URL query strings: Azure errors quote request URLs, and a SAS token is a query.

    Known secret values are masked later by engine/secrets.py; this also hides a token the run
    never held as a value (one embedded in a connection string, or added by the SDK)."""
    return _URL_QUERY.sub(r"\1?<query hidden>", text)


def store_of(sink: SinkPlan, kind: str, location: str) -> StorePlan:
    """The sink's store, which a location of this type needs (ConfigurationError naming both if not)."""
    if sink.store is None or sink.store.kind != kind:
        raise ConfigurationError(f"{location} needs an {kind}")
    return sink.store


def required(value: str | None, location: str, field: str) -> str:
    if not value:
        raise ConfigurationError(f"{location} requires {field}")
    return value
