"""What an index pod of a partitioned copy leaves for the commit step: staged parts and a marker.

Each index of a partitioned run (an Indexed Job's pod, `engine.run.execute(plan, partition=i)`)
stages its output and publishes nothing. On file sinks, below the run folder of the commit protocol
(sinks/commit.py):

    <folder>/_temporary/<slot>/<runId>/p00003-<attempt>/<part files>   one pod attempt of index 3
    <folder>/_temporary/<slot>/<runId>/_PARTITION-00003.json           index 3's marker, written last

- Every pod attempt writes into a folder of its own (`p<index>-<random attempt id>`), so a retried
  index (new pod, same index) never writes into the parts of a killed attempt.
- The marker is written last, in one piece (written beside the parts, then moved to its name): it
  names the attempt folder, the parts with their rows and bytes, the columns and the index's
  RunSummary. An index without a marker did not finish. A new attempt first removes its index's
  marker, so only the attempt that finished last counts; a killed attempt's parts are never named.
- An index pod touches nothing but its own attempt folder and its own marker: dead runs of the same
  output, other indexes and the attempts' leftovers are the commit step's to clean
  (engine/commit_run.py), so index pods running at once never race.

On PostgreSQL the same marker is the comment of the index's staging table
(sinks/postgresql_partitions.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pyarrow.fs as pafs
from pydantic import Field, ValidationError, field_validator

from impala_copy.api.model import ApiModel
from impala_copy.api.paths import STAGING_DIR, unsafe_segment
from impala_copy.api.plan import CopyPlan
from impala_copy.api.summary import PARTITION_COUNTS_LISTED, PartitionCount, RunSummary, aggregate
from impala_copy.engine.errors import PartitionsIncomplete, SinkError
from impala_copy.engine.sinks.commit import join, safe_run_id

MARKER_TEMPORARY = "_PARTITION.json.tmp"
# How many missing indexes an error names one by one.
MISSING_LISTED = 10


def marker_name(index: int) -> str:
    return f"_PARTITION-{index:05d}.json"


class StagedPart(ApiModel):
    """One staged part file of an index."""

    name: str
    rows: int = Field(ge=0)
    bytes: int = Field(ge=0)

    @field_validator("name")
    @classmethod
    def _plain(cls, value: str) -> str:
        why = unsafe_segment(value)
        if why:
            raise ValueError(f"part name {value!r} {why}")
        return value


class PartitionMarker(ApiModel):
    """An index's record that its output is staged: read by the commit step, never trusted blindly."""

    run_id: str
    index: int = Field(ge=0)
    predicate: str | None = None
    attempt: str | None = Field(default=None, description="Files: the attempt folder below the run folder.")
    columns: list[str] = Field(default_factory=list, description="The staged columns, in order.")
    parts: list[StagedPart] = Field(default_factory=list, description="Files: the staged parts, in order.")
    summary: RunSummary

    @field_validator("attempt")
    @classmethod
    def _attempt(cls, value: str | None) -> str | None:
        if value is not None and (unsafe_segment(value) or value.startswith("_")):
            raise ValueError(f"attempt folder {value!r} is not one plain name")
        return value


def check_marker(marker: PartitionMarker, plan: CopyPlan, index: int, where: str) -> PartitionMarker:
    """The marker of `index`, when it belongs to this run and this partition (else PartitionsIncomplete)."""
    expected = plan.partitions[index]
    if marker.run_id != plan.run_id or marker.index != expected.index:
        raise PartitionsIncomplete(
            f"{where} belongs to run {marker.run_id!r} index {marker.index}, not to run {plan.run_id!r} "
            f"index {expected.index}: nothing was published"
        )
    if marker.predicate != expected.predicate:
        raise PartitionsIncomplete(
            f"{where} was staged for another partition of index {expected.index} (planned again since?): "
            "nothing was published"
        )
    if not marker.summary.succeeded:
        raise PartitionsIncomplete(f"{where} records a failed index {expected.index}: nothing was published")
    return marker


def parse_marker(raw: bytes | str, plan: CopyPlan, index: int, where: str) -> PartitionMarker:
    try:
        marker = PartitionMarker.model_validate_json(raw)
    except ValidationError as exc:
        raise PartitionsIncomplete(
            f"{where} is not a valid partition marker ({_first_problem(exc)}): nothing was published"
        ) from None
    return check_marker(marker, plan, index, where)


def receipt_summary(raw: str | bytes | dict[str, object], where: str) -> RunSummary:
    """The run's summary kept by an earlier commit of the run (its receipt); SinkError when not one."""
    try:
        if isinstance(raw, dict):
            return RunSummary.model_validate(raw)
        return RunSummary.model_validate_json(raw)
    except ValidationError as exc:
        raise SinkError(
            f"{where} holds no valid run summary ({_first_problem(exc)}): remove it to commit the run again"
        ) from None


def _first_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return ".".join(str(p) for p in first["loc"]) + f": {first['msg']}"


def missing_error(missing: list[int], total: int, where: str) -> PartitionsIncomplete:
    """The error of a commit step that found indexes without staged output."""
    listed = ", ".join(str(i) for i in missing[:MISSING_LISTED])
    more = f" and {len(missing) - MISSING_LISTED} more" if len(missing) > MISSING_LISTED else ""
    return PartitionsIncomplete(
        f"{len(missing)} of {total} partitions have no staged output in {where} "
        f"(index {listed}{more} did not finish, or failed for good): nothing was published, "
        "the previous output is unchanged"
    )


def read_markers(fs: pafs.FileSystem, run_dir: str, plan: CopyPlan) -> list[PartitionMarker]:
    """Every index's marker, in index order; PartitionsIncomplete naming the indexes without one."""
    paths = [join(run_dir, marker_name(p.index)) for p in plan.partitions]
    infos = fs.get_file_info(paths)
    missing = [
        p.index for p, info in zip(plan.partitions, infos, strict=True) if info.type != pafs.FileType.File
    ]
    if missing:
        raise missing_error(missing, len(plan.partitions), run_dir)
    markers = []
    for position, path in enumerate(paths):
        with fs.open_input_stream(path, compression=None) as f:
            markers.append(parse_marker(f.read(), plan, position, path))
    return markers


@dataclass
class IndexStaging:
    """The staging of one pod attempt of one index (see the module docstring)."""

    fs: pafs.FileSystem
    base: str
    slot: str
    run_id: str
    index: int
    attempt_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def run_dir(self) -> str:
        return join(self.base, STAGING_DIR, self.slot, safe_run_id(self.run_id))

    @property
    def attempt(self) -> str:
        return f"p{self.index:05d}-{self.attempt_id}"

    @property
    def attempt_dir(self) -> str:
        return join(self.run_dir, self.attempt)

    @property
    def marker_path(self) -> str:
        return join(self.run_dir, marker_name(self.index))

    def part_path(self, name: str) -> str:
        return join(self.attempt_dir, name)

    def prepare(self) -> None:
        """Withdraw this index's earlier marker (this attempt replaces it), create the attempt folder."""
        if self._exists(self.marker_path):
            self.fs.delete_file(self.marker_path)
        self.fs.create_dir(self.attempt_dir, recursive=True)

    def seal(self, marker: PartitionMarker) -> None:
        """Write the marker: beside the parts first, then moved to its name, so it appears whole."""
        temporary = join(self.attempt_dir, MARKER_TEMPORARY)
        with self.fs.open_output_stream(temporary, compression=None) as out:
            out.write(marker.model_dump_json(by_alias=True, exclude_none=True).encode())
        self.fs.move(temporary, self.marker_path)

    def discard(self) -> None:
        """Remove this attempt's folder (a failed attempt); nothing else."""
        if self._exists(self.attempt_dir):
            self.fs.delete_dir(self.attempt_dir)

    def _exists(self, path: str) -> bool:
        info: pafs.FileInfo = self.fs.get_file_info(path)
        return bool(info.type != pafs.FileType.NotFound)


def run_summary(
    markers: list[PartitionMarker], *, data_written: int, files: list[str], verified: bool | None
) -> RunSummary:
    """The summary of the whole run from its indexes' markers and what the commit published.

    rowsRead, rowsCopied, rowsSkipped and dataRead add up the indexes; dataWritten, filesWritten and
    outputPaths are the published output's; copyDuration is the slowest index's; `partitions` lists
    each index's counts (the first PARTITION_COUNTS_LISTED).
    """
    total = aggregate([m.summary.model_copy(deep=True) for m in markers])
    total.partition = None
    total.throughput = round(total.throughput, 1)
    total.data_written = data_written
    total.files_written = len(files)
    total.output_paths = files
    total.consistency_verified = verified
    total.partitions = [
        PartitionCount(
            index=m.index,
            rows_read=m.summary.rows_read,
            rows_copied=m.summary.rows_copied,
            data_read=m.summary.data_read,
            data_written=m.summary.data_written,
            files_written=m.summary.files_written,
            copy_duration=m.summary.copy_duration,
        )
        for m in markers[:PARTITION_COUNTS_LISTED]
    ]
    return total
