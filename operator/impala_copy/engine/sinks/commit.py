"""The commit protocol of the file sinks: nothing looks complete until the run succeeds.

Layout under the dataset's folder (`<folder>`):

    <folder>/_temporary/<slot>/<runId>/<part files>      parts of a run in progress
    <folder>/_temporary/<slot>/<runId>/_COMMIT.json      written once the run has succeeded
    <folder>/<final names>                               published output

`slot` names the output's naming pattern (`part_NNNNN.parquet`, or the dataset's fileName), so two
datasets writing different patterns into one folder never touch each other's runs. Names starting
with `_` are ignored by Spark, Hive, Impala and pyarrow datasets, so staged parts are never read as
data.

1. prepare: runs of the same slot that are not ours are dead (one run per output at a time):
   a run with a `_COMMIT.json` had succeeded and is rolled forward; any other is deleted.
2. parts are written under the run's staging folder.
3. publish: the manifest `_COMMIT.json` lists the parts to move and the previous run's files of the
   same pattern that the new output does not overwrite. From that moment the run is committed: the
   moves and deletes are replayed by the next run if this process dies half-way.
4. discard (a failed run): the staging folder is deleted; the published output stays as it was.

Only `FileSystem` operations that every store has are used (create_dir, open_output_stream, move,
delete_file, delete_dir, get_file_info): on object stores, where a move is a copy and a delete, the
protocol is the same and the manifest makes it restartable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow.fs as pafs

from impala_copy.api.paths import STAGING_DIR

COMMIT_MANIFEST = "_COMMIT.json"


def safe_run_id(run_id: str) -> str:
    """A run id usable as one path segment."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "-", run_id).strip(".") or "run"


def join(*parts: str) -> str:
    return "/".join(p.strip("/") if i else p.rstrip("/") for i, p in enumerate(parts) if p)


@dataclass
class Staging:
    """The staging folder of one run of one output (see the module docstring)."""

    fs: pafs.FileSystem
    base: str
    slot: str
    run_id: str
    # Set once the commit manifest is written: from then on the run is committed, never discarded.
    committed: bool = False

    @property
    def slot_dir(self) -> str:
        return join(self.base, STAGING_DIR, self.slot)

    @property
    def run_dir(self) -> str:
        return join(self.slot_dir, safe_run_id(self.run_id))

    def part_path(self, name: str) -> str:
        return join(self.run_dir, name)

    def final_path(self, name: str) -> str:
        return join(self.base, name)

    def prepare(self) -> None:
        """Finish or remove dead runs of this slot, then create this run's staging folder."""
        for info in self._list(self.slot_dir):
            if info.type == pafs.FileType.Directory and info.base_name != safe_run_id(self.run_id):
                self._recover(info.path)
        self.fs.create_dir(self.run_dir, recursive=True)

    def publish(self, names: list[str], is_output: Callable[[str], bool]) -> list[str]:
        """Move the staged parts to their final names; remove the previous output they do not replace."""
        keep = set(names)
        stale = sorted(
            info.base_name
            for info in self._list(self.base)
            if info.type == pafs.FileType.File and is_output(info.base_name) and info.base_name not in keep
        )
        manifest = json.dumps({"moves": names, "deletes": stale}).encode()
        with self.fs.open_output_stream(join(self.run_dir, COMMIT_MANIFEST), compression=None) as out:
            out.write(manifest)
        self.committed = True
        self._apply(self.run_dir, names, stale)
        return [self.final_path(n) for n in names]

    def discard(self) -> None:
        """Remove this run's staging folder (a failed run). A committed run is left for the next run
        to finish (its publishing failed half-way: the manifest says what remains to be done)."""
        if self.committed:
            return
        if self._exists(self.run_dir):
            self.fs.delete_dir(self.run_dir)
        self._remove_empty_parents()

    # ------------------------------------------------------------------------------- internals

    def _recover(self, run_dir: str) -> None:
        manifest_path = join(run_dir, COMMIT_MANIFEST)
        if self._exists(manifest_path):
            with self.fs.open_input_stream(manifest_path, compression=None) as f:
                manifest = json.loads(f.read())
            self._apply(run_dir, list(manifest["moves"]), list(manifest["deletes"]))
        else:
            self.fs.delete_dir(run_dir)

    def _apply(self, run_dir: str, moves: list[str], deletes: list[str]) -> None:
        """Idempotent: a part already moved is skipped, a file already deleted is skipped."""
        for name in moves:
            staged = join(run_dir, name)
            if self._exists(staged):
                self.fs.move(staged, self.final_path(name))
        for name in deletes:
            final = self.final_path(name)
            if self._exists(final):
                self.fs.delete_file(final)
        self.fs.delete_dir(run_dir)
        self._remove_empty_parents()

    def _remove_empty_parents(self) -> None:
        for folder in (self.slot_dir, join(self.base, STAGING_DIR)):
            if self._exists(folder) and not self._list(folder):
                self.fs.delete_dir(folder)

    def _list(self, folder: str) -> list[pafs.FileInfo]:
        infos: list[pafs.FileInfo] = self.fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
        return infos

    def _exists(self, path: str) -> bool:
        info: pafs.FileInfo = self.fs.get_file_info(path)
        return bool(info.type != pafs.FileType.NotFound)
