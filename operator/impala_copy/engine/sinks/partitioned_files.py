"""The commit step of a partitioned copy into files: every index's staged parts published at once.

In:  the run folder of the commit protocol (sinks/commit.py) holding one marker per index and the
     attempt folders of the index pods (sinks/partition_staging.py).
Out: the run's output under its final names and the run's RunSummary.

1. This run committed before (a restarted commit step): its manifest is rolled forward again and
   its summary reported; nothing is published twice.
2. Dead runs of the same output are rolled forward or removed (as `Staging.prepare` does).
3. Every index must have its marker, naming parts that exist; else PartitionsIncomplete, naming
   the indexes, and nothing is published (the staging stays until the next run of the output).
4. The parts are numbered across the run in index order (`part_00000...`; the dataset's fileName
   when the run has one partition). Empty parts are left out, unless every part is empty: then the
   first is published, so an empty run still replaces the previous output with one empty file.
5. validateDataConsistency: the rows counted back from the staged files must equal the sum of the
   markers' rowsCopied.
6. One `_COMMIT.json` with every move, the previous output's stale files and the run's summary is
   written, then applied; it stays as the run's receipt until the next run of the output.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
import pyarrow.fs as pafs

from impala_copy.api.plan import CopyPlan
from impala_copy.api.summary import RunSummary
from impala_copy.engine.errors import ConsistencyCheckFailed, PartitionsIncomplete, SinkError
from impala_copy.engine.sinks.commit import COMMIT_MANIFEST, Move, Staging, join
from impala_copy.engine.sinks.files import (
    FileFormat,
    Naming,
    check_names,
    check_partitioned_names,
    sink_errors,
)
from impala_copy.engine.sinks.filesystems import open_filesystem
from impala_copy.engine.sinks.partition_staging import (
    PartitionMarker,
    StagedPart,
    read_markers,
    receipt_summary,
    run_summary,
)


def commit_file_partitions(
    plan: CopyPlan, secrets: Mapping[str, str], fmt: FileFormat, naming: Naming
) -> RunSummary:
    """Publish the staged output of every index of the plan (see the module docstring)."""
    check_names(naming)
    check_partitioned_names(naming, len(plan.partitions))
    fs, base = open_filesystem(plan.sink, secrets)
    staging = Staging(fs, base, naming.slot, plan.run_id)
    with sink_errors(f"finishing an earlier commit of run {plan.run_id!r} in {staging.run_dir}"):
        receipt = staging.receipt()
    if receipt is not None:
        if receipt.summary is None:
            raise SinkError(
                f"{staging.run_dir} holds the commit of an unpartitioned run with the same run id"
            )
        return receipt_summary(receipt.summary, f"{staging.run_dir}/{COMMIT_MANIFEST}")
    with sink_errors(f"reading the staged partitions in {staging.run_dir}"):
        staging.recover_others()
        markers = read_markers(fs, staging.run_dir, plan)
        kept = _published_parts(fs, staging.run_dir, markers)
        sizes = [
            int(info.size or 0) for info in fs.get_file_info([join(staging.run_dir, s) for s, _ in kept])
        ]
    moves: list[Move] = [(staged, naming.name(number)) for number, (staged, _) in enumerate(kept)]
    verified = None
    if plan.validate_data_consistency:
        _verify(fs, staging.run_dir, fmt, markers, kept)
        verified = True
    summary = run_summary(
        markers,
        data_written=sum(sizes),
        files=[staging.final_path(final) for _, final in moves],
        verified=verified,
    )
    with sink_errors(f"publishing into {base}"):
        staging.publish_moves(moves, naming.matches, summary=summary.to_wire())
    return summary


def _published_parts(
    fs: pafs.FileSystem, run_dir: str, markers: list[PartitionMarker]
) -> list[tuple[str, StagedPart]]:
    """The staged parts to publish, in index order (paths below the run folder); each must exist."""
    parts: list[tuple[str, StagedPart]] = []
    for marker in markers:
        if marker.attempt is None:
            raise PartitionsIncomplete(f"the marker of partition {marker.index} names no attempt folder")
        parts.extend((f"{marker.attempt}/{part.name}", part) for part in marker.parts)
    kept = [(staged, part) for staged, part in parts if part.rows > 0] or parts[:1]
    infos = fs.get_file_info([join(run_dir, staged) for staged, _ in kept])
    absent = [
        staged for (staged, _), info in zip(kept, infos, strict=True) if info.type != pafs.FileType.File
    ]
    if absent:
        raise PartitionsIncomplete(
            f"staged parts named by the partition markers are missing in {run_dir}: {', '.join(absent[:5])}: "
            "nothing was published"
        )
    return kept


def _verify(
    fs: pafs.FileSystem,
    run_dir: str,
    fmt: FileFormat,
    markers: list[PartitionMarker],
    kept: list[tuple[str, StagedPart]],
) -> None:
    """validateDataConsistency: rows in the staged files == the markers' rowsCopied, added up."""
    columns = markers[0].columns if markers else []
    schema = pa.schema([pa.field(name, pa.string()) for name in columns])
    expected = sum(m.summary.rows_copied for m in markers)
    with sink_errors(f"counting the rows of the staged files in {run_dir}"):
        counted = sum(fmt.count_rows(fs, join(run_dir, staged), schema) for staged, _ in kept)
    if counted != expected:
        raise ConsistencyCheckFailed(
            f"validateDataConsistency: the {len(markers)} partitions copied {expected} rows, but their "
            f"staged files hold {counted}: nothing was published"
        )
