"""A partitioned copy into PostgreSQL: per-index staging tables merged by one commit step (real server).

In:  manifests of a PostgreSqlTableDataset and CopyActivity resolved like `impala-copy run` does, the
     plan split into 2-3 partitions; each index fed by an in-memory table through
     `create_partition_sink` + `transfer` + `seal` (as engine.run does for one index), in any order,
     some killed after loading and before sealing, missing, or with a tampered marker; then the
     commit step `engine.commit_run.commit_run`, once or twice.
Out: the target's rows and the tables of its schema read back with psycopg, the run's RunSummary,
     the exact errors of a refused commit, how often the preCopyScript ran.
Faked: only the Impala side (an in-memory batch source).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from devservers.postgres import PostgresServer
from psycopg import sql as psql
from tests.integration.test_sink_postgres import pg_plan, rows_of, sql
from tests.unit.arrow_samples import MemorySource
from tests.unit.test_sinks_partitions import killed, stage

from impala_copy.api.plan import CopyPlan, Partition
from impala_copy.engine.commit_run import commit_run
from impala_copy.engine.errors import EXIT_CONFIGURATION, EXIT_OK
from impala_copy.engine.pipeline import Counters, transfer
from impala_copy.engine.sinks import create_partition_sink
from impala_copy.engine.sinks.postgresql_partitions import STAGE_PREFIX, stage_table

pytestmark = pytest.mark.integration


def partitioned(plan: CopyPlan, count: int, run_id: str = "run-1") -> CopyPlan:
    parts = [Partition(index=i, predicate=f'"id" >= {i * 100}') for i in range(count)]
    return plan.model_copy(update={"partitions": parts, "run_id": run_id})


def rows(ids: list[int], names: list[str] | None = None) -> pa.Table:
    return pa.table(
        {"id": pa.array(ids, pa.int32()), "name": pa.array(names or [f"n{i}" for i in ids], pa.string())}
    )


def staging_tables(pg: PostgresServer, db: str) -> list[str]:
    found = sql(
        pg,
        db,
        "SELECT relname FROM pg_class WHERE relkind = 'r' AND starts_with(relname, %s)",
        (STAGE_PREFIX,),
    )
    return sorted(r[0] for r in found)


def ids(pg: PostgresServer, db: str, table: str = "target") -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in rows_of(pg, db, table, "id")]


def test_indexes_staged_out_of_order_are_merged_once(
    tmp_path: Path, pg: PostgresServer, pg_database: str
) -> None:
    sql(pg, pg_database, "CREATE TABLE target (id integer, name varchar(10), note text DEFAULT 'kept')")
    plan, secrets = pg_plan(tmp_path, pg, pg_database, "target", validateDataConsistency=True)
    plan = partitioned(plan, 3)
    index = stage(plan, 2, rows([200, 201]), secrets=secrets)
    assert (index.partition, index.rows_copied, index.output_paths) == (2, 2, [])
    stage(plan, 0, rows([1, 2, 3]), secrets=secrets)
    stage(plan, 1, rows([100]), secrets=secrets)
    assert ids(pg, pg_database) == []  # the indexes published nothing
    assert len(staging_tables(pg, pg_database)) == 3
    outcome = commit_run(plan, secrets)
    assert outcome.exit_code == EXIT_OK, outcome.summary.errors
    assert ids(pg, pg_database) == [(i, f"n{i}", "kept") for i in (1, 2, 3, 100, 200, 201)]
    s = outcome.summary
    assert (s.rows_read, s.rows_copied, s.files_written, s.consistency_verified) == (6, 6, 0, True)
    assert s.output_paths == [f"postgresql://{pg.host}:{pg.port}/{pg_database}/public.target"]
    assert [(c.index, c.rows_copied) for c in s.partitions] == [(0, 3), (1, 1), (2, 2)]
    # the staging tables are gone; the receipt of the commit stays until the next run
    assert staging_tables(pg, pg_database) == [stage_table("public", "target", "run-1", 0)[:-5] + "commit"]


def test_autocreate_and_pre_copy_script_run_once_in_the_commit(
    tmp_path: Path, pg: PostgresServer, pg_database: str
) -> None:
    sql(pg, pg_database, "CREATE TABLE script_runs (at timestamptz DEFAULT now())")
    script = "INSERT INTO script_runs DEFAULT VALUES"
    plan, secrets = pg_plan(
        tmp_path, pg, pg_database, "made", {"tableOption": "autoCreate", "preCopyScript": script}
    )
    plan = partitioned(plan, 2)
    stage(plan, 1, rows([100]), secrets=secrets)
    stage(plan, 0, rows([1]), secrets=secrets)
    assert sql(pg, pg_database, "SELECT to_regclass('public.made') IS NULL") == [(True,)]
    assert commit_run(plan, secrets).exit_code == EXIT_OK
    assert ids(pg, pg_database, "made") == [(1, "n1"), (100, "n100")]
    assert sql(pg, pg_database, "SELECT count(*) FROM script_runs") == [(1,)]


@pytest.mark.parametrize("unique_index", [True, False])
def test_upsert_across_indexes_the_later_index_wins(
    tmp_path: Path, pg: PostgresServer, pg_database: str, unique_index: bool
) -> None:
    sql(pg, pg_database, "CREATE TABLE target (id integer, name text)")
    if unique_index:
        sql(pg, pg_database, "CREATE UNIQUE INDEX ON target (id)")
    sql(pg, pg_database, "INSERT INTO target VALUES (1, 'old'), (9, 'untouched')")
    sink = {"writeBehavior": "upsert", "upsertSettings": {"keys": ["id"]}}
    plan, secrets = pg_plan(tmp_path, pg, pg_database, "target", sink)
    plan = partitioned(plan, 2)
    stage(plan, 1, rows([2, 3], ["from-1", "from-1"]), secrets=secrets)
    stage(plan, 0, rows([1, 2, 2], ["from-0", "first", "second"]), secrets=secrets)
    assert commit_run(plan, secrets).exit_code == EXIT_OK
    assert ids(pg, pg_database) == [(1, "from-0"), (2, "from-1"), (3, "from-1"), (9, "untouched")]


def test_an_index_killed_before_its_seal_is_retried_and_counted_once(
    tmp_path: Path, pg: PostgresServer, pg_database: str
) -> None:
    sql(pg, pg_database, "CREATE TABLE target (id integer, name text)")
    plan, secrets = pg_plan(tmp_path, pg, pg_database, "target", validateDataConsistency=True)
    plan = partitioned(plan, 2)
    stage(plan, 0, rows([1]), secrets=secrets)
    killed(plan, 1, rows([100, 101, 102]), secrets)  # loading, then killed: its transaction never commits
    stage(plan, 1, rows([100, 101]), secrets=secrets)
    outcome = commit_run(plan, secrets)
    assert outcome.exit_code == EXIT_OK, outcome.summary.errors
    assert ids(pg, pg_database) == [(1, "n1"), (100, "n100"), (101, "n101")]
    assert outcome.summary.rows_copied == 3


def test_a_missing_index_leaves_the_target_untouched_and_the_next_run_cleans_up(
    tmp_path: Path, pg: PostgresServer, pg_database: str
) -> None:
    sql(pg, pg_database, "CREATE TABLE target (id integer, name text)")
    sql(pg, pg_database, "INSERT INTO target VALUES (7, 'before')")
    script = "TRUNCATE target"
    plan, secrets = pg_plan(tmp_path, pg, pg_database, "target", {"preCopyScript": script})
    failed = partitioned(plan, 3)
    stage(failed, 0, rows([1]), secrets=secrets)
    stage(failed, 2, rows([200]), secrets=secrets)
    outcome = commit_run(failed, secrets)
    assert outcome.exit_code == EXIT_CONFIGURATION
    assert outcome.summary.errors[0].code == "PartitionsIncomplete"
    assert outcome.summary.errors[0].message == (
        f'1 of 3 partitions have no staged output in the staging tables of "public"."target" on the '
        f"PostgreSQL server {pg.host}:{pg.port} (database {pg_database!r}, user {pg.user!r}) (index 1 did not "
        "finish, or failed for good): nothing was published, the previous output is unchanged"
    )
    assert ids(pg, pg_database) == [(7, "before")]
    assert len(staging_tables(pg, pg_database)) == 2
    following = partitioned(plan, 1, run_id="run-2")
    stage(following, 0, rows([5]), secrets=secrets)
    assert commit_run(following, secrets).exit_code == EXIT_OK
    assert ids(pg, pg_database) == [(5, "n5")]
    assert staging_tables(pg, pg_database) == [stage_table("public", "target", "run-2", 0)[:-5] + "commit"]


def test_the_commit_step_run_twice_merges_once_and_reports_the_same_summary(
    tmp_path: Path, pg: PostgresServer, pg_database: str
) -> None:
    sql(pg, pg_database, "CREATE TABLE target (id integer, name text)")
    plan, secrets = pg_plan(tmp_path, pg, pg_database, "target")
    plan = partitioned(plan, 2)
    stage(plan, 0, rows([1]), secrets=secrets)
    stage(plan, 1, rows([100]), secrets=secrets)
    first = commit_run(plan, secrets)
    second = commit_run(plan, secrets)
    assert second.exit_code == EXIT_OK
    assert second.summary == first.summary
    assert ids(pg, pg_database) == [(1, "n1"), (100, "n100")]


def test_a_tampered_marker_fails_validate_data_consistency_and_rolls_everything_back(
    tmp_path: Path, pg: PostgresServer, pg_database: str
) -> None:
    plan, secrets = pg_plan(
        tmp_path, pg, pg_database, "made", {"tableOption": "autoCreate"}, validateDataConsistency=True
    )
    plan = partitioned(plan, 2)
    stage(plan, 0, rows([1, 2]), secrets=secrets)
    stage(plan, 1, rows([100]), secrets=secrets)
    stage1 = stage_table("public", "made", "run-1", 1)
    [(comment,)] = sql(pg, pg_database, "SELECT obj_description(to_regclass(%s), 'pg_class')", (stage1,))
    marker = json.loads(comment)
    marker["summary"]["rowsCopied"] = 2
    statement = psql.SQL("COMMENT ON TABLE {} IS {}").format(
        psql.Identifier(stage1), psql.Literal(json.dumps(marker))
    )
    with psycopg.connect(pg.uri_for(pg_database), autocommit=True) as conn:
        conn.execute(statement)
    outcome = commit_run(plan, secrets)
    assert [e.code for e in outcome.summary.errors] == ["DataConsistencyCheckFailed"]
    assert outcome.summary.errors[0].message == (
        "validateDataConsistency: the 2 partitions copied 4 rows, but their staging tables hold 3: "
        "nothing was published"
    )
    assert sql(pg, pg_database, "SELECT to_regclass('public.made') IS NULL") == [(True,)]  # autoCreate undone


def test_rows_an_index_cannot_fit_are_skipped_by_the_index(
    tmp_path: Path, pg: PostgresServer, pg_database: str
) -> None:
    sql(pg, pg_database, "CREATE TABLE target (id integer, name varchar(3))")
    plan, secrets = pg_plan(tmp_path, pg, pg_database, "target", enableSkipIncompatibleRow=True)
    plan = partitioned(plan, 2)
    stage(plan, 0, rows([1, 2], ["ok", "far too long"]), secrets=secrets)
    stage(plan, 1, rows([100], ["ok"]), secrets=secrets)
    outcome = commit_run(plan, secrets)
    assert outcome.exit_code == EXIT_OK, outcome.summary.errors
    assert ids(pg, pg_database) == [(1, "ok"), (100, "ok")]
    assert (outcome.summary.rows_copied, outcome.summary.rows_skipped) == (2, 1)
    assert outcome.summary.skipped_rows_log[0].startswith(
        "row 1: value too long for type character varying(3)"
    )


def test_an_index_loaded_but_never_sealed_has_not_finished(
    tmp_path: Path, pg: PostgresServer, pg_database: str
) -> None:
    sql(pg, pg_database, "CREATE TABLE target (id integer, name text)")
    plan, secrets = pg_plan(tmp_path, pg, pg_database, "target")
    plan = partitioned(plan, 2)
    stage(plan, 0, rows([1]), secrets=secrets)
    sink = create_partition_sink(plan, secrets, 1)
    transfer(MemorySource(rows([100])), sink, [], deadline=time.monotonic() + 60, counters=Counters())
    sink.abort()  # the pod died between its load's COMMIT and its seal
    outcome = commit_run(plan, secrets)
    assert outcome.summary.errors[0].code == "PartitionsIncomplete"
    assert "(index 1 did not finish" in outcome.summary.errors[0].message
    assert ids(pg, pg_database) == []
