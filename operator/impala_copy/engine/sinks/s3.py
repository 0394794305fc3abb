"""File system of the Amazon S3 location (and S3-compatible stores).

Amazon S3 (AmazonS3LinkedService):
- accessKeyId + secretAccessKey (+ sessionToken) from Secrets; with none of them, the AWS default
  credential chain of the pod (IRSA web identity, ECS/EC2 instance role, AWS_* environment).
- serviceUrl: an S3-compatible endpoint (MinIO, Ceph, ...); buckets are addressed as host names
  (virtual-hosted style) unless forcePathStyle is true. region defaults to us-east-1 with a
  serviceUrl, else it is looked up from the bucket.
- The bucket must exist (it is never created).
"""

from __future__ import annotations

from collections.abc import Mapping
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
    CONNECT_TIMEOUT_SECONDS,
    REQUEST_TIMEOUT_SECONDS,
    probe_root,
    require_https,
    required,
    store_of,
    store_secret,
)

T = TypeVar("T")

DEFAULT_S3_REGION = "us-east-1"


@dataclass(frozen=True)
class S3Target:
    fs: pafs.FileSystem
    endpoint: str
    description: str


def s3_filesystem(store: StorePlan, bucket: str, secrets: Mapping[str, str]) -> S3Target:
    spec = store.s3()
    kwargs: dict[str, Any] = {
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "request_timeout": REQUEST_TIMEOUT_SECONDS,
        "allow_bucket_creation": False,
        "allow_bucket_deletion": False,
    }
    access_key = store_secret(store, "access_key_id", secrets)
    if access_key is not None:
        kwargs["access_key"] = access_key
        kwargs["secret_key"] = store_secret(store, "secret_access_key", secrets) or ""
        token = store_secret(store, "session_token", secrets)
        if token:
            kwargs["session_token"] = token
    if spec.service_url:
        require_https(spec.service_url, "serviceUrl", spec.allow_insecure_endpoint)
        url = urlsplit(spec.service_url)
        if not url.netloc or url.path.strip("/"):
            raise ConfigurationError(
                f"serviceUrl {spec.service_url!r}: expected scheme://host[:port] with no path"
            )
        kwargs["scheme"] = url.scheme
        kwargs["endpoint_override"] = url.netloc
        kwargs["force_virtual_addressing"] = not spec.force_path_style
        region = spec.region or DEFAULT_S3_REGION
        endpoint = f"{url.scheme}://{url.netloc}"
    else:
        region = spec.region or _bucket_region(bucket)
        if spec.force_path_style:
            kwargs["endpoint_override"] = f"s3.{region}.amazonaws.com"
        endpoint = f"https://s3.{region}.amazonaws.com"
    kwargs["region"] = region
    try:
        fs = pafs.S3FileSystem(**kwargs)
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise ConfigurationError(f"Amazon S3 settings for bucket {bucket!r}: {exc}") from None
    return S3Target(fs, endpoint, f"Amazon S3 bucket {bucket!r} at {endpoint}")


def _bucket_region(bucket: str) -> str:
    try:
        region: str = pafs.resolve_s3_region(bucket)
    except (OSError, pa.ArrowException):
        return DEFAULT_S3_REGION
    return region


def open_s3(
    sink: SinkPlan, location: FileLocation, folder: str, secrets: Mapping[str, str]
) -> tuple[pafs.FileSystem, str]:
    store = store_of(sink, "AmazonS3LinkedService", "AmazonS3Location")
    bucket = required(location.bucket_name, "AmazonS3Location", "bucketName")
    target = s3_filesystem(store, bucket, secrets)
    hint = (
        "check accessKeyId, secretAccessKey and sessionToken"
        if "access_key_id" in store.secrets
        else "no keys are set, so the pod's AWS identity was used"
    )
    probe_root(target.fs, bucket, target.description, "bucket", hint)
    return target.fs, f"{bucket}/{folder}" if folder else bucket
