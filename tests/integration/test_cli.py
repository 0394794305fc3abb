"""`impala-copy validate` and `impala-copy run`, run as a user runs them (a subprocess, real exit codes).

In:  folders of manifests written as a user writes them: good ones, and bad ones breaking a schema
     bound, a rule, a reference, a Secret reference, YAML syntax; for `run`, a CopyActivity against
     the Spark Thrift Server with a right or wrong password, a missing Secret, the password in an
     environment variable, a server that is down, an output folder and file named with rich markup.
Out: stdout (errors naming file, kind/name and field path; the run summary as text or JSON), stderr
     (exactly one `error: <code>: <message>` line on failure, never a traceback, never the password)
     and the exit code (0, 1 = a retry may help, 2 = configuration).
Faked: nothing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from devservers.sts import ORDERS_ROWS, StsServer, free_port
from tests import session_password
from tests.integration.copy_docs import copy, files, impala, impala_on, obj, single_copy, table, write

from impala_copy.api.common import SecretKeySelector
from impala_copy.api.plan import secret_env_name

PASSWORD_ENV = secret_env_name(SecretKeySelector(name="impala-login", key="password"))


WRONG = session_password.variant("wrong")  # a wrong password: begins with the right one


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ICP_SECRET_")}
    return subprocess.run(
        [sys.executable, "-m", "impala_copy.cli", *args],
        env=base | (env or {}),
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


# ------------------------------------------------------------------------------------------ validate


def test_validate_accepts_the_examples() -> None:
    result = cli("validate", "-f", "examples")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("file(s): valid")


def test_validate_names_file_kind_name_and_field_of_every_error(tmp_path: Path) -> None:
    good = [*impala("impala.example.com", 21050), table("orders", "sales", "orders")]
    write(tmp_path / "good", good)
    bad_port = obj("ImpalaLinkedService", "bad-port", {"host": "h", "port": 70000})
    no_password = obj(
        "ImpalaLinkedService",
        "no-password",
        {"host": "h", "authenticationType": "UsernameAndPassword", "username": "u"},
    )
    write(tmp_path / "schema", [bad_port, no_password])
    needs_secret = obj(
        "ImpalaLinkedService",
        "needs-secret",
        {
            "host": "h",
            "authenticationType": "UsernameAndPassword",
            "username": "u",
            "password": {"secretKeyRef": {"name": "absent", "key": "pw"}},
        },
    )
    orphan = obj("ImpalaDataset", "orphan", {"linkedServiceName": {"referenceName": "nowhere"}})
    no_table = table("no-table", None, None)
    csv = files("DelimitedTextDataset", "csv", "out")
    no_source = copy("no-source", "no-table", "DelimitedTextDataset", "csv")
    wrong_output = copy("wrong-output", "orders", "ParquetDataset", "csv")
    write(tmp_path / "refs", [needs_secret, orphan, no_table, csv, no_source, wrong_output])
    (tmp_path / "broken.yaml").write_text("kind: [unclosed\n")

    result = cli("validate", "-f", str(tmp_path))
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    schema, refs, broken = (
        tmp_path / "schema/manifests.yaml",
        tmp_path / "refs/manifests.yaml",
        tmp_path / "broken.yaml",
    )
    assert lines[0].startswith(f"{broken}: (document): not valid YAML: while parsing a flow sequence")
    assert lines[1:] == [
        f"{schema}: ImpalaLinkedService/bad-port: spec.port: Input should be less than or equal to 65535",
        f"{schema}: ImpalaLinkedService/no-password: spec: authenticationType UsernameAndPassword requires username and password",
        f"{refs}: ImpalaLinkedService/needs-secret: spec.password.secretKeyRef: "
        "Secret 'absent' referenced by ImpalaLinkedService 'needs-secret' was not found",
        f"{refs}: ImpalaDataset/orphan: spec.linkedServiceName.referenceName: "
        "ImpalaLinkedService 'nowhere' not found in namespace 'default'",
        f"{refs}: CopyActivity/no-source: spec.source.query: CopyActivity 'no-source' has no source.query and its "
        "ImpalaDataset 'no-table' names no table: set source.query, or schema and table on the dataset",
        f"{refs}: CopyActivity/wrong-output: spec.outputs[0].referenceName: ParquetDataset 'csv' not found in namespace 'default'",
    ]
    assert result.stderr.strip() == f"{len(lines)} error(s) in 4 file(s)"


def test_validate_a_missing_path(tmp_path: Path) -> None:
    result = cli("validate", "-f", str(tmp_path / "nothing"))
    assert result.returncode == 2
    assert one_error_line(result) == f"error: FileNotFound: {tmp_path / 'nothing'}: no such file or folder"


# ------------------------------------------------------------------------------------------------ run


def run_args(folder: Path, *extra: str) -> list[str]:
    return [
        "run",
        "-f",
        str(folder / "manifests"),
        "--activity",
        "copy",
        "--volume",
        f"out={folder / 'out'}",
        *extra,
    ]


def setup(tmp: Path, server_docs: list[dict[str, Any]]) -> Path:
    write(tmp / "manifests", single_copy(server_docs, "ParquetDataset"))
    return tmp


def test_run_prints_the_summary_as_json(sts: StsServer, tmp_path: Path) -> None:
    result = cli(*run_args(setup(tmp_path, impala_on(sts)), "--output", "json"))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "Succeeded"
    assert (summary["rowsRead"], summary["rowsCopied"], summary["filesWritten"]) == (
        ORDERS_ROWS,
        ORDERS_ROWS,
        1,
    )
    assert summary["outputPaths"] == [str(tmp_path / "out" / "data" / "part_00000.parquet")]
    assert result.stderr == ""


def test_run_prints_a_table_by_default(sts: StsServer, tmp_path: Path) -> None:
    result = cli(*run_args(setup(tmp_path, impala_on(sts))))
    assert result.returncode == 0, result.stderr
    assert "CopyActivity copy" in result.stdout
    assert re.search(r"^rowsCopied +5,000 *$", result.stdout, re.MULTILINE)
    assert "part_00000.parquet" in result.stdout.replace("\n", "")


def test_the_environment_wins_over_the_secret_manifest(sts: StsServer, tmp_path: Path) -> None:
    setup(tmp_path, impala_on(sts, password=session_password.variant("stale")))
    result = cli(*run_args(tmp_path, "-o", "json"), env={PASSWORD_ENV: session_password.PASSWORD})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rowsCopied"] == ORDERS_ROWS


def test_a_secret_only_in_the_environment(sts: StsServer, tmp_path: Path) -> None:
    setup(tmp_path, impala_on(sts, password=None))
    missing = cli(*run_args(tmp_path))
    assert missing.returncode == 2
    assert one_error_line(missing) == (
        "error: SecretNotFound: Secret 'impala-login' key 'password' not found: add a Secret manifest with that "
        f"key under the path, or set the environment variable {PASSWORD_ENV}"
    )
    assert missing.stdout == ""
    result = cli(*run_args(tmp_path, "-o", "json"), env={PASSWORD_ENV: session_password.PASSWORD})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("case", "line", "exit_code"),
    [
        ("wrong password", "error: AuthenticationFailed: ", 2),
        ("server down", "error: Unreachable: ", 1),
    ],
)
def test_run_failures_give_one_line_and_an_exit_code(
    sts: StsServer, tmp_path: Path, case: str, line: str, exit_code: int
) -> None:
    server = impala_on(sts, password=WRONG) if case == "wrong password" else impala("127.0.0.1", free_port())
    result = cli(*run_args(setup(tmp_path, server), "-o", "json"))
    assert result.returncode == exit_code
    error = one_error_line(result)
    assert error.startswith(line)
    assert json.loads(result.stdout)["status"] == "Failed"
    assert WRONG not in result.stdout + result.stderr
    assert not (tmp_path / "out" / "data").exists() or list((tmp_path / "out" / "data").iterdir()) == []


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--activity", "nope"], "error: ReferenceNotFound: CopyActivity 'nope' not found in namespace 'default'; "
         "CopyActivities there: copy"),
        (["--volume", "no-equals-sign"], "error: InvalidArgument: --volume 'no-equals-sign': expected CLAIM=DIR"),
    ],
)  # fmt: skip
def test_run_setup_errors(tmp_path: Path, args: list[str], line: str) -> None:
    write(tmp_path / "manifests", single_copy(impala("127.0.0.1", 21050), "ParquetDataset"))
    result = cli("run", "-f", str(tmp_path / "manifests"), "--activity", "copy", *args)
    assert result.returncode == 2
    assert one_error_line(result) == line


def test_a_summary_with_markup_in_its_paths_prints_as_written(sts: StsServer, tmp_path: Path) -> None:
    docs = single_copy(impala_on(sts), "ParquetDataset", dataset={"fileName": "o[red].parquet"})
    docs[-2]["spec"]["location"]["folderPath"] = "[bold]x[/]"
    write(tmp_path / "manifests", docs)
    result = cli(*run_args(tmp_path), env={"COLUMNS": "500"})
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    output = tmp_path / "out" / "[bold]x[/]" / "o[red].parquet"
    assert output.is_file()
    assert re.search(rf"^outputPaths +{re.escape(str(output))} *$", result.stdout, re.MULTILINE), (
        result.stdout
    )
