"""preCopyScript may not end or escape the load transaction (api/pre_copy_script.py, CopySink).

In:  scripts with each transaction-control statement (any case, with comments and options), scripts
     where such words sit in comments, string and dollar-quoted literals, identifiers, a SQL-standard
     function body (BEGIN ATOMIC ... END) and DO blocks; a CopyActivity manifest carrying one.
Out: the exact error text naming the statement and its number, or acceptance; the manifest error as
     `impala-copy validate` and the operator report it (field path and message).
Faked: nothing (the script is parsed by PostgreSQL's parser, pglast).
"""

from __future__ import annotations

import pytest

from impala_copy.api.kinds import SpecError, parse_resource
from impala_copy.api.pre_copy_script import ScriptError, check_pre_copy_script

RULE = (
    "controls the transaction: the script runs inside the copy's load transaction, which only the copy "
    "may commit or roll back (COMMIT, ROLLBACK, BEGIN, END, ABORT, SAVEPOINT, RELEASE, PREPARE "
    "TRANSACTION and SET TRANSACTION are not allowed)"
)


@pytest.mark.parametrize(
    ("script", "number", "statement"),
    [
        ("COMMIT", 1, "COMMIT"),
        ("TRUNCATE t;\ncommit work;", 2, "commit work"),
        ("DELETE FROM t; ROLLBACK", 2, "ROLLBACK"),
        ("BEGIN; DELETE FROM t;", 1, "BEGIN"),
        ("START TRANSACTION ISOLATION LEVEL SERIALIZABLE", 1, "START TRANSACTION ISOLATION LEVEL SERIALIZABLE"),
        ("SELECT 1; END", 2, "END"),
        ("ABORT", 1, "ABORT"),
        ("SAVEPOINT s1", 1, "SAVEPOINT s1"),
        ("RELEASE SAVEPOINT s1", 1, "RELEASE SAVEPOINT s1"),
        ("ROLLBACK TO SAVEPOINT s1", 1, "ROLLBACK TO SAVEPOINT s1"),
        ("PREPARE TRANSACTION 'x'", 1, "PREPARE TRANSACTION 'x'"),
        ("COMMIT PREPARED 'x'", 1, "COMMIT PREPARED 'x'"),
        ("ROLLBACK PREPARED 'x'", 1, "ROLLBACK PREPARED 'x'"),
        ("SET TRANSACTION READ ONLY", 1, "SET TRANSACTION READ ONLY"),
        ("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", 1,
         "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"),
        ("SET transaction_read_only = on", 1, "SET transaction_read_only = on"),
        ("SELECT 'ünïcode'; /* c */ COMMIT", 2, "COMMIT"),
    ],
)  # fmt: skip
def test_transaction_control_is_rejected_naming_the_statement(
    script: str, number: int, statement: str
) -> None:
    with pytest.raises(ScriptError) as caught:
        check_pre_copy_script(script)
    assert str(caught.value) == f"preCopyScript statement {number} ({statement}) {RULE}"


@pytest.mark.parametrize(
    "script",
    [
        "TRUNCATE TABLE public.t; -- COMMIT afterwards\nDELETE FROM t /* ROLLBACK */ WHERE note = 'COMMIT';",
        'CREATE TABLE IF NOT EXISTS "commit" ("begin" int, "end" text)',
        "SELECT $$COMMIT$$, $tag$ROLLBACK; BEGIN$tag$",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END",
        "DO $$ BEGIN COMMIT; END $$",  # PostgreSQL itself refuses this inside the load transaction
        "SET LOCAL work_mem = '64MB'; PREPARE q AS SELECT 1",
    ],
)
def test_the_words_elsewhere_pass(script: str) -> None:
    check_pre_copy_script(script)


def test_a_script_postgresql_cannot_parse_is_rejected() -> None:
    with pytest.raises(ScriptError) as caught:
        check_pre_copy_script("TRUNCATE t; DELET FROM t")
    assert (
        str(caught.value)
        == 'preCopyScript is not valid PostgreSQL SQL: syntax error at or near "DELET", at index 12'
    )


def test_validate_reports_the_field() -> None:
    manifest = {
        "apiVersion": "impalacopy.io/v1alpha1",
        "kind": "CopyActivity",
        "metadata": {"name": "load"},
        "spec": {
            "inputs": [{"referenceName": "orders"}],
            "outputs": [{"referenceName": "table", "kind": "PostgreSqlTableDataset"}],
            "sink": {"type": "PostgreSqlSink", "preCopyScript": "TRUNCATE t; COMMIT; DROP TABLE t"},
        },
    }
    with pytest.raises(SpecError) as caught:
        parse_resource(manifest)
    assert caught.value.errors == [("spec.sink.preCopyScript", f"preCopyScript statement 2 (COMMIT) {RULE}")]
    manifest["spec"]["sink"]["preCopyScript"] = "TRUNCATE t"  # type: ignore[index]
    assert parse_resource(manifest).metadata.name == "load"
