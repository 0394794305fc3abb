"""The commit protocol of the file sinks: nothing looks complete until the run succeeds.

Layout under the dataset's folder (`<folder>`):

    <folder>/_temporary/<slot>/<runId>/<part files>      parts of a run in progress
    <folder>/_temporary/<slot>/<runId>/_COMMIT.json      written once the run has succeeded
    <folder>/<final names>                               published output

A partitioned run stages one folder per index pod attempt and one marker per index below its run
folder, and its commit step publishes them all through one `_COMMIT.json` (sinks/partition_staging.py).

`slot` names the output's naming pattern (`part_NNNNN.parquet`, or the dataset's fileName), so two
datasets writing different patterns into one folder never touch each other's runs. Names starting
with `_` are ignored by Spark, Hive, Impala and pyarrow datasets, so staged parts are never read as
data.

1. prepare: runs of the same slot that are not ours are dead (one run per output at a time):
   a run with a `_COMMIT.json` had succeeded and is rolled forward; any other is deleted.
2. parts are written under the run's staging folder.
3. publish: the manifest `_COMMIT.json` lists the parts to move (staged path below the run folder ->
   final name) and the previous run's files of the same pattern that the new output does not
   overwrite. From that moment the run is committed: the moves and deletes are replayed by the next
   run if this process dies half-way. A partitioned run's manifest also holds the run's summary and
   stays, alone in its run folder, as the receipt of the commit (a restarted commit step reports it
   again); the next run of the output removes it.
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
from typing import Any

import pyarrow.fs as pafs

from impala_copy.api.paths import STAGING_DIR, unsafe_segment
from impala_copy.engine.errors import SinkError

COMMIT_MANIFEST = "_COMMIT.json"

# One move of a manifest: the staged part (a path below the run folder) -> its final name.
Move = tuple[str, str]


@dataclass(frozen=True)
class Manifest:
    """What `_COMMIT.json` holds (files of the user's store: checked like any input)."""

    moves: list[Move]
    deletes: list[str]
    summary: dict[str, Any] | None = None

    def to_json(self) -> bytes:
        data: dict[str, Any] = {"moves": [list(m) for m in self.moves], "deletes": self.deletes}
        if self.summary is not None:
            data["summary"] = self.summary
        return json.dumps(data).encode()

    @classmethod
    def parse(cls, raw: bytes, where: str) -> Manifest:
        """A manifest read back; SinkError naming the file when it is not one this engine writes."""
        try:
            data = json.loads(raw)
            moves = [_move(m) for m in data["moves"]]
            deletes = [_plain(d) for d in data["deletes"]]
            summary = data.get("summary")
            if summary is not None and not isinstance(summary, dict):
                raise ValueError("summary is not an object")
        except (ValueError, KeyError, TypeError) as exc:
            raise SinkError(f"{where} is not a valid commit manifest ({exc}): remove it to go on") from None
        return cls(moves, deletes, summary)


def _plain(name: object) -> str:
    """One final file name (a plain segment)."""
    if not isinstance(name, str) or unsafe_segment(name) or name == STAGING_DIR:
        raise ValueError(f"{name!r} is not a plain file name")
    return name


def _move(move: object) -> Move:
    """A move as written (`name`: the same name staged and final; `[staged, final]`)."""
    if isinstance(move, str):
        return _plain(move), move
    if not isinstance(move, list) or len(move) != 2 or not isinstance(move[0], str):
        raise ValueError(f"{move!r} is not a move")
    staged = move[0].split("/")
    for segment in staged:
        _plain(segment)
    return "/".join(staged), _plain(move[1])


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
        self.recover_others()
        self.fs.create_dir(self.run_dir, recursive=True)

    def publish(self, names: list[str], is_output: Callable[[str], bool]) -> list[str]:
        """Move the staged parts to their final names; remove the previous output they do not replace."""
        return self.publish_moves([(n, n) for n in names], is_output)

    def publish_moves(
        self,
        moves: list[Move],
        is_output: Callable[[str], bool],
        summary: dict[str, Any] | None = None,
    ) -> list[str]:
        """Publish staged paths under final names (see publish). With a summary, the manifest keeps it
        and stays as the run's receipt (a partitioned run's commit step, `receipt()`)."""
        keep = {final for _, final in moves}
        stale = sorted(
            info.base_name
            for info in self._list(self.base)
            if info.type == pafs.FileType.File and is_output(info.base_name) and info.base_name not in keep
        )
        manifest = Manifest(moves, stale, summary)
        with self.fs.open_output_stream(join(self.run_dir, COMMIT_MANIFEST), compression=None) as out:
            out.write(manifest.to_json())
        self.committed = True
        self._apply(self.run_dir, manifest, keep_receipt=summary is not None)
        return [self.final_path(final) for _, final in moves]

    def recover_others(self) -> None:
        """Finish or remove the dead runs of this slot (every run folder but this run's)."""
        for info in self._list(self.slot_dir):
            if info.type == pafs.FileType.Directory and info.base_name != safe_run_id(self.run_id):
                self._recover(info.path)

    def receipt(self) -> Manifest | None:
        """This run's manifest, when it was committed before (its moves finished first); else None."""
        path = join(self.run_dir, COMMIT_MANIFEST)
        if not self._exists(path):
            return None
        manifest = self._read_manifest(path)
        self.committed = True
        self._apply(self.run_dir, manifest, keep_receipt=manifest.summary is not None)
        return manifest

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
            self._apply(run_dir, self._read_manifest(manifest_path))
        else:
            self.fs.delete_dir(run_dir)

    def _read_manifest(self, path: str) -> Manifest:
        with self.fs.open_input_stream(path, compression=None) as f:
            return Manifest.parse(f.read(), path)

    def _apply(self, run_dir: str, manifest: Manifest, keep_receipt: bool = False) -> None:
        """Idempotent: a part already moved is skipped, a file already deleted is skipped. The run
        folder is removed, or emptied but for the manifest when it is kept as the receipt."""
        for staged_name, final_name in manifest.moves:
            staged = join(run_dir, staged_name)
            if self._exists(staged):
                self.fs.move(staged, self.final_path(final_name))
        for name in manifest.deletes:
            final = self.final_path(name)
            if self._exists(final):
                self.fs.delete_file(final)
        if not keep_receipt:
            self.fs.delete_dir(run_dir)
            self._remove_empty_parents()
            return
        for info in self._list(run_dir):
            if info.type == pafs.FileType.Directory:
                self.fs.delete_dir(info.path)
            elif info.base_name != COMMIT_MANIFEST:
                self.fs.delete_file(info.path)

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
