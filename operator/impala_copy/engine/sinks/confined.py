"""The local file system confined to one folder: the file sinks' second line of defence on a volume.

The models already keep folderPath and fileName inside their location (api/paths.py). Below that,
a volume may hold symbolic links (`out -> /home/user`, `part_00000.parquet -> ~/.bashrc`): every path
the sink touches goes through `ConfinedLocal`, which resolves it (symbolic links included, with
`os.path.realpath`) and refuses it with a ConfigurationError unless it stays inside the root folder,
itself resolved, so a root that is a symbolic link (a mounted volume often is) works as expected.
"""

from __future__ import annotations

import os
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from impala_copy.engine.errors import ConfigurationError


def confined_local(root: str) -> pafs.FileSystem:
    """A pyarrow FileSystem over the local one, refusing every path outside `root`."""
    return pafs.PyFileSystem(ConfinedLocal(root))


class ConfinedLocal(pafs.FileSystemHandler):  # type: ignore[misc]
    """pyarrow FileSystemHandler: LocalFileSystem, every path checked against the resolved root."""

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)
        self._fs = pafs.LocalFileSystem()

    def inside(self, path: str) -> str:
        """`path` when it resolves inside the root, else ConfigurationError."""
        real = os.path.realpath(path)
        if real != self.root and not real.startswith(self.root.rstrip(os.sep) + os.sep):
            raise ConfigurationError(
                f"{path} resolves to {real}, outside the output folder {self.root}: refused"
            )
        return path

    def get_type_name(self) -> str:
        return "confined-local"

    def normalize_path(self, path: str) -> str:
        return str(self._fs.normalize_path(path))

    def equals(self, other: Any) -> bool:
        return isinstance(other, ConfinedLocal) and other.root == self.root

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return list(self._fs.get_file_info([self.inside(p) for p in paths]))

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        self.inside(selector.base_dir)
        return list(self._fs.get_file_info(selector))

    def create_dir(self, path: str, recursive: bool) -> None:
        self._fs.create_dir(self.inside(path), recursive=recursive)

    def delete_dir(self, path: str) -> None:
        self._fs.delete_dir(self.inside(path))

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        self._fs.delete_dir_contents(self.inside(path), missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self) -> None:
        raise ConfigurationError("deleting the contents of the root folder is not allowed")

    def delete_file(self, path: str) -> None:
        self._fs.delete_file(self.inside(path))

    def move(self, src: str, dest: str) -> None:
        self._fs.move(self.inside(src), self.inside(dest))

    def copy_file(self, src: str, dest: str) -> None:
        self._fs.copy_file(self.inside(src), self.inside(dest))

    def open_input_stream(self, path: str) -> pa.NativeFile:
        return self._fs.open_input_stream(self.inside(path), compression=None)

    def open_input_file(self, path: str) -> pa.NativeFile:
        return self._fs.open_input_file(self.inside(path))

    def open_output_stream(self, path: str, metadata: Any) -> pa.NativeFile:
        return self._fs.open_output_stream(self.inside(path), compression=None, metadata=metadata)

    def open_append_stream(self, path: str, metadata: Any) -> pa.NativeFile:
        return self._fs.open_append_stream(self.inside(path), compression=None, metadata=metadata)
