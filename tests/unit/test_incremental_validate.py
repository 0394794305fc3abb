"""`impala-copy validate` and `impala-copy run` on incremental copies written wrong.

In:  folders of manifests (a linked service, an Impala dataset, a Parquet dataset on a claim, a
     CopyActivity or LookupActivity with source.incremental) with one mistake each; --watermark and
     --state-file on an activity that is not incremental, and a bad --watermark value.
Out: the exact lines validate prints and its exit code; run's exit code and one error line, before
     any connection is made.
Faked: nothing; the commands run in-process with consoles writing into strings (no server needed).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from impala_copy.cli import copy_commands
from impala_copy.cli.watermark_state import WatermarkOptions

API = "impalacopy.io/v1alpha1"


def obj(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API, "kind": kind, "metadata": {"name": name}, "spec": spec}


def folder(tmp: Path, source: dict[str, Any], kind: str = "CopyActivity") -> Path:
    activity = (
        obj(
            "CopyActivity",
            "copy",
            {
                "inputs": [{"referenceName": "orders"}],
                "outputs": [{"referenceName": "out", "kind": "ParquetDataset"}],
                "source": source,
                "sink": {"type": "ParquetSink"},
            },
        )
        if kind == "CopyActivity"
        else obj("LookupActivity", "copy", {"dataset": {"referenceName": "orders"}, "source": source})
    )
    docs = [
        obj("ImpalaLinkedService", "impala", {"host": "127.0.0.1", "port": 9}),
        obj(
            "ImpalaDataset",
            "orders",
            {"linkedServiceName": {"referenceName": "impala"}, "schema": "s", "table": "t"},
        ),
        obj(
            "ParquetDataset", "out", {"location": {"type": "PersistentVolumeClaimLocation", "claimName": "c"}}
        ),
        activity,
    ]
    (tmp / "m.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return tmp


def consoles() -> tuple[Console, Console, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return (
        Console(file=out, width=1000, highlight=False, soft_wrap=True),
        Console(file=err, width=1000, highlight=False, soft_wrap=True),
        out,
        err,
    )


def validate(path: Path) -> tuple[int, list[str]]:
    out_console, err_console, out, _ = consoles()
    code = copy_commands.validate(path, "default", out=out_console, err=err_console)
    return code, out.getvalue().splitlines()


@pytest.mark.parametrize(
    ("source", "kind", "line"),
    [
        (
            {"query": "SELECT * FROM s.t", "incremental": {"column": "id"}},
            "CopyActivity",
            "CopyActivity/copy: spec.source: source.query of an incremental copy must contain "
            "{incrementalRange} where the range predicate goes, e.g. SELECT * FROM sales.orders WHERE "
            "{incrementalRange}",
        ),
        (
            {"query": "SELECT * FROM s.t WHERE {incrementalRange}"},
            "CopyActivity",
            "CopyActivity/copy: spec.source: source.query contains {incrementalRange} but "
            "source.incremental is not set",
        ),
        (
            {"incremental": {"column": "id"}},
            "LookupActivity",
            "LookupActivity/copy: spec: source.incremental applies to a CopyActivity only, not to a "
            "LookupActivity",
        ),
    ],
)
def test_validate_names_the_mistake(tmp_path: Path, source: dict[str, Any], kind: str, line: str) -> None:
    path = folder(tmp_path, source, kind)
    assert validate(path) == (1, [f"{path / 'm.yaml'}: {line}"])


@pytest.mark.parametrize(
    ("source", "options", "line"),
    [
        (
            {"type": "ImpalaSource"},
            WatermarkOptions(watermark="5"),
            "error: InvalidArgument: --watermark and --state-file apply to an incremental copy; CopyActivity "
            "'copy' has no source.incremental",
        ),
        (
            {"incremental": {"column": "id"}},
            WatermarkOptions(watermark="5 OR 1=1"),
            "error: InvalidArgument: --watermark: watermark value '5 OR 1=1' must be an integer (1000), a "
            "decimal (12.50), a date (2026-12-01) or a timestamp without a zone (2026-12-01 08:30:00)",
        ),
    ],
)
def test_run_refuses_watermark_options_before_connecting(
    tmp_path: Path, source: dict[str, Any], options: WatermarkOptions, line: str
) -> None:
    out_console, err_console, out, err = consoles()
    code = copy_commands.run(
        folder(tmp_path, source),
        "copy",
        namespace="default",
        volumes=[],
        volume_root=str(tmp_path / "volumes"),
        output="json",
        watermark=options,
        out=out_console,
        err=err_console,
    )
    assert (code, out.getvalue(), err.getvalue().splitlines()) == (2, "", [line])
