"""The container image: built from the Dockerfile with podman, then run like the cluster runs it.

In:  the work tree (Dockerfile, .dockerignore, pyproject.toml, operator/), built with `make image`
     on the local Debian base image; a real Spark Thrift Server (the `sts` fixture, HiveServer2 with
     password authentication and the sample tables) on the host network.
Out: hadolint finds nothing; the image runs as a numeric non-root user with `impala-copy` as its
     entrypoint and no compilers, pip or test-only packages (pyspark) inside; `--version` prints the
     package version; `impala-copy engine` in the image, given a CopyPlan in IMPALA_COPY_PLAN and the
     password in the environment variable the plan names (as the Job pod gets them), copies
     demo.orders into Parquet files in a mounted folder (the PVC's mount path of a Job pod), with a
     read-only root filesystem; the run summary on stdout and in the termination log says so, and
     the files hold every row.
Faked: Kubernetes (podman runs the container with the Job pod's mounts and environment).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml
from devservers.sts import ORDERS_ROWS, StsServer, orders_row

from impala_copy import __version__
from impala_copy.api.activities import CopyActivity
from impala_copy.api.resolve import POD_VOLUME_DIR, Layout, resolve_copy
from impala_copy.api.summary import RunSummary
from impala_copy.cli.manifests import FileCatalog, load
from tests.install.image import ROOT, build_image, podman

CLAIM = "copy-output"


@pytest.fixture(scope="module")
def image() -> str:
    return build_image()


def test_dockerfile_passes_hadolint() -> None:
    hadolint = ROOT / ".venv" / "bin" / "hadolint"
    result = subprocess.run(
        [str(hadolint), "--no-color", "Dockerfile"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_image_runs_as_non_root_with_the_cli_as_entrypoint(image: str) -> None:
    inspect = podman("image", "inspect", image)
    assert inspect.returncode == 0, inspect.stderr
    config = json.loads(inspect.stdout)[0]["Config"]
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] == ["impala-copy"]
    assert config["Labels"]["org.opencontainers.image.version"] == __version__
    version = podman("run", "--rm", image, "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"impala-copy {__version__}"
    helptext = podman("run", "--rm", "--read-only", image)
    assert helptext.returncode == 0, helptext.stderr
    for command in ("engine", "operator", "run", "validate"):
        assert command in helptext.stdout


def test_image_has_no_compilers_pip_or_test_packages(image: str) -> None:
    probe = (
        "import importlib.util, shutil, sys; "
        "print(sorted(c for c in ('gcc', 'cc', 'g++', 'clang', 'make') if shutil.which(c))); "
        "print(sorted(m for m in ('pyspark', 'pytest', 'pip', 'moto', 'kmock') if importlib.util.find_spec(m))); "
        "print(sys.prefix)"
    )
    result = podman("run", "--rm", "--entrypoint", "python", image, "-c", probe)
    assert result.returncode == 0, result.stderr
    compilers, modules, prefix = result.stdout.strip().splitlines()
    assert compilers == "[]"
    assert modules == "[]"
    assert prefix == "/opt/impala-copy"


def test_image_has_the_kerberos_binding_without_its_build_tools(image: str) -> None:
    """Built in the build stage; the runtime has MIT krb5's libraries but neither headers nor krb5-config."""
    probe = "import kerberos, shutil; print(kerberos.__name__, shutil.which('krb5-config'))"
    result = podman("run", "--rm", "--entrypoint", "python", image, "-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["kerberos", "None"]


def _manifests(folder: Path, sts: StsServer) -> None:
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "impala-login"},
            "stringData": {"password": "placeholder-the-environment-wins"},
        },
        {
            "apiVersion": "impalacopy.io/v1alpha1",
            "kind": "ImpalaLinkedService",
            "metadata": {"name": "impala"},
            "spec": {
                "host": sts.host,
                "port": sts.port,
                "authenticationType": "UsernameAndPassword",
                "username": "alice",
                "password": {"secretKeyRef": {"name": "impala-login", "key": "password"}},
            },
        },
        {
            "apiVersion": "impalacopy.io/v1alpha1",
            "kind": "ImpalaDataset",
            "metadata": {"name": "orders"},
            "spec": {"linkedServiceName": {"referenceName": "impala"}, "schema": "demo", "table": "orders"},
        },
        {
            "apiVersion": "impalacopy.io/v1alpha1",
            "kind": "ParquetDataset",
            "metadata": {"name": "orders-parquet"},
            "spec": {
                "location": {
                    "type": "PersistentVolumeClaimLocation",
                    "claimName": CLAIM,
                    "folderPath": "orders",
                },
            },
        },
        {
            "apiVersion": "impalacopy.io/v1alpha1",
            "kind": "CopyActivity",
            "metadata": {"name": "orders-to-parquet"},
            "spec": {
                "inputs": [{"referenceName": "orders"}],
                "outputs": [{"referenceName": "orders-parquet", "kind": "ParquetDataset"}],
                "sink": {
                    "type": "ParquetSink",
                    "formatSettings": {"maxRowsPerFile": 2000, "fileNamePrefix": "part"},
                },
                "validateDataConsistency": True,
            },
        },
    ]
    (folder / "copy.yaml").write_text(yaml.safe_dump_all(docs))


def test_engine_in_the_image_copies_from_hiveserver2_into_a_mounted_volume(
    image: str, sts: StsServer, tmp_path: Path
) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    _manifests(manifests, sts)
    loaded = load(manifests)
    assert not loaded.errors
    activity = FileCatalog(loaded, "default").get("CopyActivity", "orders-to-parquet")
    assert isinstance(activity, CopyActivity)
    plan = resolve_copy(FileCatalog(loaded, "default"), activity, run_id="1", layout=Layout())
    (secret,) = plan.secret_refs()

    volume = tmp_path / "volume"
    termination = tmp_path / "termination"
    for folder in (volume, termination):
        folder.mkdir()
        folder.chmod(0o777)  # the image's user (65532) writes here, as fsGroup allows in a pod
    password = sts.users["alice"]
    result = podman(
        "run", "--rm", "--network", "host", "--read-only", "--tmpfs", "/tmp",
        "-v", f"{volume}:{POD_VOLUME_DIR}/{CLAIM}",
        "-v", f"{termination}:/termination",
        "-e", "IMPALA_COPY_PLAN",
        "-e", "IMPALA_COPY_TERMINATION_LOG=/termination/log",
        "-e", secret.env,  # the value comes from podman's environment, never the command line
        image, "engine",
        env={"IMPALA_COPY_PLAN": plan.model_dump_json(by_alias=True), secret.env: password},
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, f"stdout: {result.stdout}\nstderr: {result.stderr}"
    assert password not in result.stdout + result.stderr

    summary = RunSummary.model_validate_json(result.stdout.strip().splitlines()[-1])
    assert summary.succeeded, summary.errors
    assert summary.rows_read == summary.rows_copied == ORDERS_ROWS
    assert summary.files_written == 3
    assert summary.consistency_verified is True
    assert summary.data_written > 0
    logged = json.loads((termination / "log").read_text())
    assert logged["rowsCopied"] == ORDERS_ROWS
    assert logged["status"] == "Succeeded"

    files = sorted((volume / "orders").glob("*.parquet"))
    assert [f.name for f in files] == ["part_00000.parquet", "part_00001.parquet", "part_00002.parquet"]
    assert sum(f.stat().st_size for f in files) == summary.data_written
    table = pq.read_table(volume / "orders").sort_by("order_id")
    assert table.num_rows == ORDERS_ROWS
    rows = table.to_pylist()
    for order_id in (1, 2, 1234, ORDERS_ROWS):
        expected = orders_row(order_id)
        got = rows[order_id - 1]
        for column in ("order_id", "customer", "amount", "quantity", "status", "express", "note"):
            assert got[column] == expected[column], (order_id, column)
    # Nothing else was left behind (no temporary parts, no markers).
    assert sorted(p.relative_to(volume).as_posix() for p in volume.rglob("*") if p.is_file()) == [
        f"orders/{f.name}" for f in files
    ]
    assert os.stat(files[0]).st_uid == 65532


def test_readme_reports_the_image_size(image: str) -> None:
    inspect = podman("image", "inspect", "--format", "{{.Size}}", image)
    assert inspect.returncode == 0, inspect.stderr
    size_mb = int(inspect.stdout.strip()) / 1_000_000
    match = re.search(r"(\d+) MB\s+built on a Debian bookworm base", (ROOT / "README.md").read_text())
    assert match, "README.md should report the image size"
    reported = int(match.group(1))
    assert abs(size_mb - reported) / reported < 0.15, (
        f"the image is {size_mb:.0f} MB, README.md says {reported} MB"
    )
