"""The file sink stays inside its volume even when the plan or the volume is hostile.

In:  sink plans for a PersistentVolumeClaim folder whose dataset breaks the path rules (a plan not made
     by the resolver), volumes holding symbolic links that lead out (`out -> home`,
     `.bashrc -> home/.bashrc`), a volume root that is itself a symbolic link, unsafe file names.
Out: a ConfigurationError with its exact message before anything is written outside, the file
     outside left byte for byte as it was; the normal output where nothing leaves the volume.
Faked: nothing; the local file system under a temporary folder, an Arrow table in memory as the source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from impala_copy.api.activities import CopySink
from impala_copy.api.plan import SinkPlan
from impala_copy.engine.errors import ConfigurationError
from impala_copy.engine.sinks import file_format, naming
from impala_copy.engine.sinks.confined import confined_local
from impala_copy.engine.sinks.files import FileSink, Naming
from impala_copy.engine.sinks.filesystems import open_filesystem
from impala_copy.engine.sinks.parquet import ParquetFormat

TABLE = pa.table({"id": [1, 2, 3]})
ORIGINAL = b"export PATH=/usr/bin\n"


def sink_plan(volume: Path, **location: Any) -> SinkPlan:
    return SinkPlan(
        dataset_kind="ParquetDataset",
        dataset={"location": {"type": "PersistentVolumeClaimLocation", "claimName": "out", **location}},
        sink=CopySink(type="ParquetSink"),
        volume_path=str(volume),
    )


def write(plan: SinkPlan) -> list[str]:
    fmt = file_format(plan)
    fs, base = open_filesystem(plan, {})
    sink = FileSink(fs, base, fmt, naming(plan, fmt), "run-1")
    sink.open(TABLE.schema)
    for batch in TABLE.to_batches():
        sink.write(batch)
    return sink.commit().output_paths


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / ".bashrc").write_bytes(ORIGINAL)
    return folder


def test_dot_dot_and_bashrc_cannot_replace_a_file_outside_the_output_folder(
    tmp_path: Path, home: Path
) -> None:
    volume = home / "volume"
    volume.mkdir()
    plan = sink_plan(volume, folderPath="..", fileName=".bashrc")
    with pytest.raises(ConfigurationError) as caught:
        write(plan)
    assert caught.value.message == "ParquetDataset: location: folderPath must not have a '.' or '..' segment"
    # The second line, below the models: the volume's file system refuses the path itself.
    fs = confined_local(str(volume))
    for action in (
        lambda: fs.open_output_stream(f"{volume}/../.bashrc"),
        lambda: fs.move(f"{volume}/part", f"{volume}/../.bashrc"),
        lambda: fs.delete_file(f"{volume}/../.bashrc"),
    ):
        with pytest.raises(ConfigurationError) as caught:
            action()
        assert caught.value.message == (
            f"{volume}/../.bashrc resolves to {home}/.bashrc, outside the output folder {volume}: refused"
        )
    assert (home / ".bashrc").read_bytes() == ORIGINAL
    assert list(volume.iterdir()) == []


def test_a_folder_that_links_out_of_the_volume_is_refused(tmp_path: Path, home: Path) -> None:
    volume = tmp_path / "volume"
    volume.mkdir()
    (volume / "out").symlink_to(home)
    with pytest.raises(ConfigurationError) as caught:
        write(sink_plan(volume, folderPath="out", fileName=".bashrc"))
    assert caught.value.message == (
        f"{volume}/out resolves to {home}, outside the output folder {volume}: refused"
    )
    assert sorted(p.name for p in home.iterdir()) == [".bashrc"]
    assert (home / ".bashrc").read_bytes() == ORIGINAL


def test_an_output_file_that_links_out_of_the_volume_is_not_written_through(
    tmp_path: Path, home: Path
) -> None:
    volume = tmp_path / "volume"
    (volume / "data").mkdir(parents=True)
    (volume / "data" / ".bashrc").symlink_to(home / ".bashrc")
    with pytest.raises(ConfigurationError) as caught:
        write(sink_plan(volume, folderPath="data", fileName=".bashrc"))
    assert caught.value.message == (
        f"{volume}/data/.bashrc resolves to {home}/.bashrc, outside the output folder {volume}: refused"
    )
    assert (home / ".bashrc").read_bytes() == ORIGINAL


def test_a_volume_root_that_is_a_symbolic_link_works(tmp_path: Path) -> None:
    real = tmp_path / "mnt" / "real"
    real.mkdir(parents=True)
    (tmp_path / "volume").symlink_to(real)
    paths = write(sink_plan(tmp_path / "volume", folderPath="a...b/x..y", fileName="orders.parquet"))
    assert paths == [f"{tmp_path}/volume/a...b/x..y/orders.parquet"]
    assert sorted(str(p.relative_to(real)) for p in real.rglob("*") if p.is_file()) == [
        "a...b/x..y/orders.parquet"
    ]


@pytest.mark.parametrize(
    ("file_name", "message"),
    [
        (
            "../x.parquet",
            "output file name '../x.parquet' contains '/', '\\' or a control character: refused",
        ),
        ("..", "output file name '..' is '.' or '..': refused"),
        ("_temporary", "output file name '_temporary' is the staging folder's name: refused"),
        ("a\x00b", "output file name 'a\\x00b' contains '/', '\\' or a control character: refused"),
    ],
)
def test_the_file_sink_refuses_names_that_are_not_one_plain_segment(
    tmp_path: Path, file_name: str, message: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        FileSink(pafs.LocalFileSystem(), str(tmp_path), ParquetFormat(), Naming(".parquet", file_name), "r")
    assert caught.value.message == message
    assert list(tmp_path.iterdir()) == []
