"""Where file sinks write: a `pyarrow.fs.FileSystem` and the base folder of a file dataset's location.

`open_filesystem(sink, secrets)` is the one place that turns a location (and, for cloud stores, the
linked service and its secrets) into a file system. The file sinks only use that file system and
the commit protocol in `sinks/commit.py`, so every store gets the same atomic output.

- PersistentVolumeClaimLocation: the claim is mounted at `sink.volume_path` (in the Job pod
  `/mnt/impala-copy/volumes/<claim>`; from the CLI the folder given with `--volume`). The mount
  must exist: writing into a missing mount point would put the data on the container's own disk
  and lose it. `folderPath` below it is created. The file system is confined to the mount
  (sinks/confined.py): a path that resolves outside it, through a symbolic link, is refused.
- AmazonS3Location / AzureBlobStorageLocation: Arrow's S3 and Azure file systems, built from the
  linked service and its secrets in `s3.py` and `azure.py` beside this module (credentials,
  endpoints, errors).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping

import pyarrow.fs as pafs
from pydantic import ValidationError

from impala_copy.api.datasets import FileLocation, LocationType
from impala_copy.api.kinds import validation_errors
from impala_copy.api.plan import SinkPlan
from impala_copy.engine.errors import ConfigurationError, SinkError
from impala_copy.engine.sinks.azure import open_azure
from impala_copy.engine.sinks.confined import confined_local
from impala_copy.engine.sinks.s3 import open_s3


def file_location(sink: SinkPlan) -> FileLocation:
    """The dataset's location (file datasets only)."""
    raw = sink.dataset.get("location")
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{sink.dataset_kind} has no location: it is not a file dataset")
    try:
        return FileLocation.model_validate(raw)
    except ValidationError as exc:
        raise invalid_dataset(sink, exc) from None


def invalid_dataset(sink: SinkPlan, exc: ValidationError) -> ConfigurationError:
    """The plan's dataset breaks a rule of its model (a plan not made by the resolver): which, and why."""
    problems = "; ".join(
        f"{path}: {message}" if path else message for path, message in validation_errors(exc)
    )
    return ConfigurationError(f"{sink.dataset_kind}: {problems}")


def open_filesystem(sink: SinkPlan, secrets: Mapping[str, str]) -> tuple[pafs.FileSystem, str]:
    """The file system and the base folder (location + folderPath) a file sink writes under."""
    location = file_location(sink)
    folder = (location.folder_path or "").strip("/")
    if location.type == LocationType.PERSISTENT_VOLUME_CLAIM:
        return _volume(sink, location, folder)
    elif location.type == LocationType.AMAZON_S3:  # noqa: RET505 - one branch per store, added independently
        return open_s3(sink, location, folder, secrets)
    elif location.type == LocationType.AZURE_BLOB_STORAGE:
        return open_azure(sink, location, folder, secrets)
    raise ConfigurationError(f"unknown location type {location.type!r}")


def _volume(sink: SinkPlan, location: FileLocation, folder: str) -> tuple[pafs.FileSystem, str]:
    if not sink.volume_path:
        raise ConfigurationError(f"no volume path for PersistentVolumeClaim {location.claim_name!r}")
    root = os.path.abspath(sink.volume_path)
    if not os.path.isdir(root):
        raise ConfigurationError(
            f"PersistentVolumeClaim {location.claim_name!r} is not mounted: {root} is not a directory"
        )
    base = posixpath.join(root, folder) if folder else root
    fs = confined_local(root)
    try:
        fs.create_dir(base, recursive=True)
    except OSError as exc:
        raise SinkError(f"cannot create folder {base}: {exc}") from exc
    return fs, base
