"""Crafted manifests against the `impala-copy` commands: clear errors, escaped output.

In:  folders of YAML written to a temporary folder: an alias bomb, 600 levels of nesting, a file over
     the size limit, duplicate keys, an object defined twice, an empty folder, symbolic links leaving
     the folder, a Secret key '..', names with NUL, ESC and rich markup, numbers written as text.
     Run summaries whose paths and messages hold markup and terminal control sequences.
Out: the exit code and the exact lines validate, run, lookup and test-connection print on stdout
     and stderr (never a traceback, never a raw control character, markup printed as written); the
     summary table and JSON as printed (JSON still parses to the same values).
Faked: nothing; the commands run in-process with consoles writing into strings. No server is needed:
     every case fails before a connection would be made.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from impala_copy.api.common import KEY_MESSAGE, NAME_MESSAGE, NAMESPACE_MESSAGE
from impala_copy.api.summary import RunError, RunSummary
from impala_copy.cli import copy_commands, lookup_commands, report
from impala_copy.cli.manifest_yaml import MAX_FILE_BYTES

API = "impalacopy.io/v1alpha1"


def consoles() -> tuple[Console, Console, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return (
        Console(file=out, width=1000, highlight=False, soft_wrap=True),
        Console(file=err, width=1000, highlight=False, soft_wrap=True),
        out,
        err,
    )


def validate(path: Path, namespace: str = "default") -> tuple[int, list[str], list[str]]:
    out_console, err_console, out, err = consoles()
    code = copy_commands.validate(path, namespace, out=out_console, err=err_console)
    return code, out.getvalue().splitlines(), err.getvalue().splitlines()


def run(path: Path, namespace: str = "default") -> tuple[int, str, list[str]]:
    out_console, err_console, out, err = consoles()
    code = copy_commands.run(
        path,
        "copy",
        namespace=namespace,
        volumes=[],
        volume_root=str(path.parent / "volumes"),
        output="json",
        out=out_console,
        err=err_console,
    )
    return code, out.getvalue(), err.getvalue().splitlines()


def linked_service(name: str = "impala", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "ImpalaLinkedService",
        "metadata": {"name": name},
        "spec": {"host": "impala.example.com", **spec},
    }


def write(path: Path, *docs: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def alias_bomb() -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------- YAML limits


def test_an_alias_bomb_fails_fast_naming_the_file_and_line(tmp_path: Path) -> None:
    bomb = tmp_path / "m" / "bomb.yaml"
    bomb.parent.mkdir()
    bomb.write_text(alias_bomb())
    started = time.monotonic()
    code, out, err = validate(tmp_path / "m")
    assert time.monotonic() - started < 2
    assert code == 1
    assert out == [
        f"{bomb}: (document): line 6: the document expands to more than 100000 nodes with its aliases "
        "(an alias bomb?)"
    ]
    assert err == ["1 error(s) in 1 file(s)"]


def test_deep_nesting_is_refused_without_recursion_error(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("[" * 600 + "]" * 600 + "\n")
    block = tmp_path / "block.yaml"
    block.write_text("".join("  " * i + "k:\n" for i in range(600)))
    code, out, _ = validate(tmp_path)
    assert code == 1
    assert out == [
        f"{block}: (document): line 100: nested deeper than 100 levels",
        f"{deep}: (document): line 1: nested deeper than 100 levels",
    ]


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("kind: x\nloop: &a [1, *a]\n")
    assert validate(tmp_path)[1] == [
        f"{tmp_path / 'r.yaml'}: (document): line 2: alias *a is inside its own anchor (a recursive structure)"
    ]


def test_a_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * MAX_FILE_BYTES + "\n")
    assert validate(tmp_path)[1] == [f"{big}: (document): line 1: the file is larger than 4 MiB"]


def test_a_duplicate_key_names_the_key_and_both_lines(tmp_path: Path) -> None:
    file = tmp_path / "dup.yaml"
    file.write_text(
        "apiVersion: impalacopy.io/v1alpha1\nkind: ImpalaLinkedService\nmetadata:\n  name: impala\n"
        "spec:\n  host: h\n  port: 21050\n  port: 21051\n---\n"
        "apiVersion: impalacopy.io/v1alpha1\nkind: ImpalaLinkedService\nmetadata:\n  name: a\n  name: b\n"
        "spec: {host: h}\n"
    )
    code, out, _ = validate(tmp_path)
    assert code == 1
    assert out == [f"{file}: (document): line 8: duplicate key 'port' (first on line 7)"]


def test_yaml_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(
        "apiVersion: impalacopy.io/v1alpha1\nkind: ImpalaLinkedService\nmetadata: {name: impala}\n"
        "spec:\n  <<: {host: h, port: 21050}\n  port: 21051\n"
    )
    assert validate(tmp_path) == (0, ["1 object(s) in 1 file(s): valid"], [])


# ------------------------------------------------------------------------------- files and objects


def test_an_object_defined_twice_stops_validate_and_run_alike(tmp_path: Path) -> None:
    first = write(tmp_path / "m" / "a.yaml", linked_service())
    second = write(tmp_path / "m" / "b.yaml", linked_service(port=21051))
    line = f"{second}: ImpalaLinkedService/impala: metadata.name: defined twice (also in {first})"
    assert validate(tmp_path / "m") == (1, [line], ["1 error(s) in 2 file(s)"])
    code, out, err = run(tmp_path / "m")
    assert (code, out) == (2, "")
    assert err == [f"error: InvalidManifests: {line}; see impala-copy validate"]


def test_a_secret_defined_twice_names_both_files(tmp_path: Path) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "login"}, "stringData": {"p": "x"}}
    first = write(tmp_path / "a.yaml", secret)
    second = write(tmp_path / "b.yaml", secret)
    assert validate(tmp_path)[1] == [
        f"{second}: Secret/login: metadata.name: defined twice (also in {first})"
    ]


def test_a_folder_without_manifests_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no manifests here")
    line = f"error: NoManifests: {tmp_path}: no *.yaml or *.yml file in this folder"
    assert validate(tmp_path) == (2, [], [line])
    assert run(tmp_path) == (2, "", [line])


def test_symbolic_links_leaving_the_folder_are_refused(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside.yaml", linked_service("outside"))
    write(tmp_path / "m" / "a.yaml", linked_service())
    (tmp_path / "m" / "inside.yaml").symlink_to(tmp_path / "m" / "a.yaml")
    (tmp_path / "m" / "z-escape.yaml").symlink_to(outside)
    code, out, _ = validate(tmp_path / "m")
    escape = tmp_path / "m" / "z-escape.yaml"
    line = f"{escape}: (document): a symbolic link to a file outside {tmp_path / 'm'}: refused"
    # The link inside the folder is read (and so defines the object a second time).
    assert out == [
        f"{tmp_path / 'm' / 'inside.yaml'}: ImpalaLinkedService/impala: metadata.name: defined twice "
        f"(also in {tmp_path / 'm' / 'a.yaml'})",
        line,
    ]
    assert code == 1
    assert run(tmp_path / "m")[2] == [
        f"error: InvalidManifests: {out[0]} (and 1 more); see impala-copy validate"
    ]


def test_secret_keys_and_names_follow_kubernetes_rules(tmp_path: Path) -> None:
    file = write(
        tmp_path / "s.yaml",
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "login"}, "stringData": {"..": "x"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ca"}, "data": {".": "x", "ok": "y"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "n"}, "stringData": {"port": 21050}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a\x00b"}, "stringData": {"k": "x"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "../etc"}},
        linked_service("impala\x1b]0;owned\x07"),
        linked_service(123),
    )
    code, out, _ = validate(tmp_path)
    assert code == 1
    assert out == [
        f"{file}: Secret/login: stringData['..']: {KEY_MESSAGE}",
        f"{file}: ConfigMap/ca: data['.']: {KEY_MESSAGE}",
        f"{file}: Secret/n: stringData['port']: must be a string",
        f"{file}: Secret/a\\u0000b: metadata.name: {NAME_MESSAGE}",
        f"{file}: Secret/s: metadata.namespace: {NAMESPACE_MESSAGE}",
        f"{file}: ImpalaLinkedService/impala\\u001b]0;owned\\u0007: metadata.name: {NAME_MESSAGE}",
        f"{file}: ImpalaLinkedService/: metadata.name: must be a string",
    ]


def test_a_bad_namespace_option_is_an_argument_error(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", linked_service())
    line = f"error: InvalidArgument: --namespace '../x': {NAMESPACE_MESSAGE}"
    assert validate(tmp_path, "../x") == (2, [], [line])
    assert run(tmp_path, "../x") == (2, "", [line])


# ---------------------------------------------------------------------------------- strict types


@pytest.mark.parametrize(
    ("spec", "line"),
    [
        ({"port": "21050"}, "spec.port: Input should be a valid integer"),
        ({"port": True}, "spec.port: Input should be a valid integer"),
        ({"enableSsl": "yes"}, "spec.enableSsl: Input should be a valid boolean"),
        ({"enableSsl": 1}, "spec.enableSsl: Input should be a valid boolean"),
        ({"host": 10}, "spec.host: Input should be a valid string"),
    ],
)
def test_validate_is_as_strict_as_the_api_server(tmp_path: Path, spec: dict[str, Any], line: str) -> None:
    file = write(tmp_path / "a.yaml", linked_service(**spec))
    assert validate(tmp_path)[:2] == (1, [f"{file}: ImpalaLinkedService/impala: {line}"])


def test_yaml_spellings_of_booleans_are_booleans_and_quoted_ones_are_text(tmp_path: Path) -> None:
    file = tmp_path / "a.yaml"
    file.write_text(
        "apiVersion: impalacopy.io/v1alpha1\nkind: ImpalaLinkedService\nmetadata: {name: impala}\n"
        'spec: {host: h, enableSsl: "true", port: "21050"}\n'
    )
    assert validate(tmp_path)[1] == [
        f"{file}: ImpalaLinkedService/impala: spec.port: Input should be a valid integer",
        f"{file}: ImpalaLinkedService/impala: spec.enableSsl: Input should be a valid boolean",
    ]


# ----------------------------------------------------------------------------------------- output


def test_markup_and_control_characters_from_manifests_print_as_written(tmp_path: Path) -> None:
    file = write(
        tmp_path / "a.yaml",
        {"apiVersion": API, "kind": "[bold]x[/]", "metadata": {"name": "x"}},
        {"apiVersion": API, "kind": "Evil\x1b[2J\rX\x08", "metadata": {"name": "y"}},
    )
    code, out, err = validate(tmp_path)
    assert code == 1
    assert out[0].startswith(f"{file}: [bold]x[/]/x: kind: unknown kind '[bold]x[/]'; expected one of")
    assert out[1].startswith(
        f"{file}: Evil\\u001b[2J\\u000dX\\u0008/y: kind: unknown kind 'Evil\\x1b[2J\\rX\\x08'; expected"
    )
    for text in (*out, *err):
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text), text


def render(renderable: Any) -> str:
    out = io.StringIO()
    Console(file=out, width=300, highlight=False, force_terminal=False).print(renderable)
    return out.getvalue()


def test_the_summary_prints_markup_and_control_characters_as_written() -> None:
    summary = RunSummary(
        rows_read=3,
        rows_copied=3,
        files_written=2,
        output_paths=["/v/[bold]x[/]/part_00000.parquet", "/v/a\x1b]8;;http://evil\x07b/x[/].parquet"],
    )
    text = render(report.summary_table(summary, title="CopyActivity x[/]"))
    assert "CopyActivity x[/]" in text
    assert "/v/[bold]x[/]/part_00000.parquet" in text
    assert "/v/a\\u001b]8;;http://evil\\u0007b/x[/].parquet" in text
    failed = RunSummary(
        status="Failed", errors=[RunError(code="QueryFailed", message="\x1b[2J[red]boom[/]\rok")]
    )
    assert "QueryFailed: \\u001b[2J[red]boom[/]\\u000dok" in render(report.summary_table(failed))
    overview = render(report.overview_table([("[/]\x1b[31m", summary)], title="[bold]"))
    assert "[bold]" in overview
    assert "[/]\\u001b[31m" in overview


def test_json_output_stays_json_with_every_control_character_escaped() -> None:
    value = {"name": "a\x1b[31m\x9b\u202eb\x7f", "path": "[bold]"}
    summary = RunSummary(output_paths=[value["name"]])
    for text in (report.summary_json(summary), report.escape(json.dumps(value, ensure_ascii=False))):
        assert not any((ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F or c == "\u202e" for c in text)
    assert json.loads(report.summary_json(summary))["outputPaths"] == [value["name"]]
    assert json.loads(report.escape(json.dumps(value, ensure_ascii=False))) == value
    assert report.error_line("X", "a\x1b[2J\nb") == "error: X: a\\u001b[2J b"


def test_lookup_and_test_connection_fail_the_same_way_on_the_same_manifests(tmp_path: Path) -> None:
    first = write(tmp_path / "m" / "a.yaml", linked_service())
    second = write(tmp_path / "m" / "b.yaml", linked_service(port=21051))
    twice = (
        f"error: InvalidManifests: {second}: ImpalaLinkedService/impala: metadata.name: defined twice "
        f"(also in {first}); see impala-copy validate"
    )
    (tmp_path / "empty").mkdir()
    empty = f"error: NoManifests: {tmp_path / 'empty'}: no *.yaml or *.yml file in this folder"
    for folder, line in ((tmp_path / "m", twice), (tmp_path / "empty", empty)):
        out_console, err_console, out, err = consoles()
        code = lookup_commands.connection_test(
            folder, "impala", namespace="default", out=out_console, err=err_console
        )
        assert (code, out.getvalue(), err.getvalue().splitlines()) == (2, "", [line])
        text_out = io.StringIO()
        _, err_console, _, err = consoles()
        code = lookup_commands.lookup(folder, "find", namespace="default", out=text_out, err=err_console)
        assert (code, text_out.getvalue(), err.getvalue().splitlines()) == (2, "", [line])
