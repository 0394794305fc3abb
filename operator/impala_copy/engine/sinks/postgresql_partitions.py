"""A partitioned copy into PostgreSQL: one staging table per index, merged by the commit step at once.

Index pods (`PartitionStageSink`, one per index of the Indexed Job):
- each loads its rows, exactly as the PostgreSQL sink loads a table (bulk COPY, casts, skipped
  incompatible rows), into its own staging table beside the target, in the target's schema:
  `icp_part_<output key>_<run key>_<index>` (the keys: hashes of the target's name and of the run id,
  so every name is plain and at most 40 characters). The staging table has the target's column types
  when the target exists (so rows that do not fit its types are found, or skipped, by the index),
  else the types autoCreate gives; with upsert it also keeps each row's number (`_icp_row`);
- an attempt first drops its index's staging table (a retried index replaces, never adds), then
  creates and loads the new one in one transaction; once committed, its marker (the
  sinks/partition_staging.py marker, as JSON) becomes the table's comment. A table without comment
  is an index that did not finish;
- preCopyScript, autoCreate of the target and the upsert happen only in the commit step.

The commit step (`PartitionMerge`, `impala-copy engine --task commit`):
1. a receipt of this run (`icp_part_<output key>_<run key>_commit`, an empty table whose comment is the
   run's summary) means it committed before: its summary is reported again, nothing is merged twice;
2. staging tables and receipts of other runs of the same target are dropped (dead runs);
3. every index must have its commented staging table (else PartitionsIncomplete naming the indexes,
   the target untouched);
4. in ONE transaction: autoCreate (the staging tables' columns), preCopyScript once, then each
   index's rows in index order are inserted or upserted into the target (the PostgreSQL sink's own
   statements, so a later index's row of a key updates an earlier one's), validateDataConsistency
   (rows staged == the markers' rowsCopied; insert: the target gained them), the staging tables
   dropped and the receipt created, COMMIT. A failure rolls all of it back: the target is as it was,
   and the staging tables stay until the next run drops them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import pyarrow as pa

from impala_copy.api.activities import WriteBehavior
from impala_copy.api.plan import CopyPlan, Partition
from impala_copy.api.summary import RunSummary
from impala_copy.engine.errors import (
    ConfigurationError,
    ConsistencyCheckFailed,
    PartitionsIncomplete,
    TableNotFound,
)
from impala_copy.engine.interfaces import SinkResult
from impala_copy.engine.sinks.partition_staging import (
    PartitionMarker,
    missing_error,
    parse_marker,
    receipt_summary,
    run_summary,
)
from impala_copy.engine.sinks.postgresql import PostgreSqlSink
from impala_copy.engine.sinks.postgresql_types import ColumnMapping, column_ddl, qualified, quote_ident

STAGE_PREFIX = "icp_part_"
ROW_COLUMN = "_icp_row"
RECEIPT = "commit"


def _key(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def output_prefix(schema: str, table: str) -> str:
    """The start of every staging table name of this target."""
    return f"{STAGE_PREFIX}{_key(f'{schema}.{table}', 10)}_"


def run_prefix(schema: str, table: str, run_id: str) -> str:
    return f"{output_prefix(schema, table)}{_key(run_id, 12)}_"


def stage_table(schema: str, table: str, run_id: str, index: int) -> str:
    return f"{run_prefix(schema, table, run_id)}{index:05d}"


def receipt_table(schema: str, table: str, run_id: str) -> str:
    return f"{run_prefix(schema, table, run_id)}{RECEIPT}"


class _Comments(PostgreSqlSink):
    """Reading and writing a table's comment (the markers and the receipt)."""

    def _comment(self, relation: str) -> str | None:
        self._cur.execute("SELECT pg_catalog.obj_description(to_regclass($1), 'pg_class')", (relation,))
        row = self._cur.fetchone()
        return str(row[0]) if row and row[0] is not None else None

    def _set_comment(self, relation: str, text: str) -> None:
        """COMMENT ON TABLE with the text quoted by the server (format's %L), never spliced."""
        self._cur.execute("SELECT format('COMMENT ON TABLE %s IS %L', $1::text, $2::text)", (relation, text))
        row = self._cur.fetchone()
        self._exec(str(row[0]))


class PartitionStageSink(_Comments):
    """The writer of one index: loads into the index's staging table, then seals it with its marker."""

    def __init__(self, plan: CopyPlan, secrets: Mapping[str, str], partition: Partition) -> None:
        super().__init__(plan, secrets)
        self._run_id = plan.run_id
        self._partition = partition
        self._upsert = self._behavior == WriteBehavior.UPSERT
        self._creates_target = self._auto_create or self._pre_copy_script is not None
        self._final = self._target
        self._stage_name = stage_table(self._schema_name, self._table_name, plan.run_id, partition.index)
        # The index loads plain rows into its staging table; the commit step does the rest.
        self._behavior, self._keys, self._pre_copy_script, self._auto_create = (
            WriteBehavior.INSERT,
            [],
            None,
            False,
        )
        self._keep_row_numbers = self._upsert
        self._row_column = ROW_COLUMN
        self._count_back = plan.validate_data_consistency

    def _prepare_target(self) -> None:
        stage = qualified(self._schema_name, self._stage_name)
        with self._errors(f"dropping the earlier staging table {stage}"):
            self._exec(f"DROP TABLE IF EXISTS {stage}")
        with self._errors("starting the load transaction"):
            self._exec("BEGIN")
            self._in_tx = True
        with self._errors(f"looking up {self._final}"):
            columns = self._describe()
        if columns is None and not self._creates_target:
            raise TableNotFound(
                f"table {self._final} does not exist on the {self.store_name} "
                "(set sink.tableOption: autoCreate to create it)"
            )
        if columns is not None:
            ddl = ", ".join(f"{quote_ident(c.name)} {c.type_ddl}" for c in self._match_columns(columns))
        else:
            ddl = column_ddl(self._mappings)
        if self._keep_row_numbers:
            if any(m.name == ROW_COLUMN for m in self._mappings):
                raise ConfigurationError(
                    f"a source column is named {ROW_COLUMN!r}, the staging row number's name"
                )
            ddl += f", {quote_ident(ROW_COLUMN)} bigint"
        with self._errors(f"creating the staging table {stage}"):
            self._exec(f"CREATE TABLE {stage} ({ddl})")
        self._target, self._table_name = stage, self._stage_name

    def _after_commit(self) -> None:
        """The connection stays open for seal()."""

    def commit(self, verify: bool = False) -> SinkResult:
        """Commit the staging table's load: nothing is published (no output path)."""
        result = super().commit(verify)
        result.output_paths = []
        return result

    def seal(self, summary: RunSummary) -> None:
        marker = PartitionMarker(
            run_id=self._run_id,
            index=self._partition.index,
            predicate=self._partition.predicate,
            columns=[c.name for c in self._columns],
            summary=summary,
        )
        try:
            with self._errors(f"writing the marker of partition {self._partition.index} on {self._target}"):
                self._set_comment(self._target, marker.model_dump_json(by_alias=True, exclude_none=True))
        finally:
            self._close()


class PartitionMerge(_Comments):
    """The commit step: every index's staging table into the target, in one transaction."""

    def __init__(self, plan: CopyPlan, secrets: Mapping[str, str]) -> None:
        super().__init__(plan, secrets)
        self._plan = plan
        schema, table = self._schema_name, self._table_name
        self._output_prefix = output_prefix(schema, table)
        self._run_prefix = run_prefix(schema, table, plan.run_id)
        self._receipt = qualified(schema, receipt_table(schema, table, plan.run_id))
        self._stages = [
            qualified(schema, stage_table(schema, table, plan.run_id, p.index)) for p in plan.partitions
        ]

    def run(self) -> RunSummary:
        self._connect()
        try:
            with self._errors(f"reading the receipt {self._receipt}"):
                receipt = self._comment(self._receipt)
            if receipt is not None:
                return receipt_summary(receipt, f"the comment of {self._receipt}")
            self._drop_dead_runs()
            markers = self._read_markers()
            return self._merge(markers)
        except BaseException:
            self.abort()
            raise
        finally:
            self._close()

    def _drop_dead_runs(self) -> None:
        with self._errors(f"listing the staging tables of {self._target}"):
            self._cur.execute(
                "SELECT c.relname FROM pg_catalog.pg_class c "
                "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = $1 AND c.relkind = 'r' AND starts_with(c.relname, $2)",
                (self._schema_name, self._output_prefix),
            )
            names = [str(r[0]) for r in self._cur.fetchall()]
        for name in sorted(n for n in names if not n.startswith(self._run_prefix)):
            with self._errors(f"dropping the staging table {name!r} of a dead run"):
                self._exec(f"DROP TABLE IF EXISTS {qualified(self._schema_name, name)}")

    def _read_markers(self) -> list[PartitionMarker]:
        comments: list[str | None] = []
        for stage in self._stages:
            with self._errors(f"reading the marker of {stage}"):
                comments.append(self._comment(stage))
        missing = [p.index for p, c in zip(self._plan.partitions, comments, strict=True) if c is None]
        if missing:
            where = f"the staging tables of {self._target} on the {self.store_name}"
            raise missing_error(missing, len(self._stages), where)
        markers = []
        for position, (stage, comment) in enumerate(zip(self._stages, comments, strict=True)):
            assert comment is not None
            markers.append(parse_marker(comment, self._plan, position, f"the marker of {stage}"))
        first = markers[0].columns
        for marker in markers[1:]:
            if marker.columns != first:
                raise PartitionsIncomplete(
                    f"partition {marker.index} staged the columns {marker.columns}, partition 0 {first} "
                    f"(was {self._target} changed during the run?): nothing was published"
                )
        return markers

    def _merge(self, markers: list[PartitionMarker]) -> RunSummary:
        stage_columns = markers[0].columns
        self._mappings = self._stage_mappings(self._stages[0], stage_columns)
        self._load_schema = pa.schema([])
        self._prepare_target()  # BEGIN, autoCreate, preCopyScript
        self._columns = self._target_columns()
        before = self._count(self._target) if self._count_back else 0
        staged = 0
        for stage, marker in zip(self._stages, markers, strict=True):
            self._stage_relation, self._row_column = stage, ROW_COLUMN
            with self._errors(f"merging partition {marker.index} ({stage}) into {self._target}"):
                staged += self._count(stage)
                self._exec(self._merge_sql(stage_columns))
        copied = sum(m.summary.rows_copied for m in markers)
        self._check(staged, copied, (self._count(self._target) - before) if self._count_back else None)
        summary = run_summary(
            markers,
            data_written=sum(m.summary.data_written for m in markers),
            files=[self.output_path],
            verified=True if self._plan.validate_data_consistency else None,
        )
        summary.files_written = 0
        with self._errors(f"dropping the staging tables of {self._target} and committing"):
            for stage in self._stages:
                self._exec(f"DROP TABLE {stage}")
            self._exec(f"CREATE TABLE {self._receipt} ()")
            self._set_comment(self._receipt, summary.model_dump_json(by_alias=True, exclude_none=True))
            self._exec("COMMIT")
            self._in_tx = False
        return summary

    def _merge_sql(self, stage_columns: list[str]) -> str:
        if self._behavior == WriteBehavior.UPSERT:
            return self._upsert_sql(stage_columns)
        values = self._stage_values(stage_columns, aliased=False)
        return f"INSERT INTO {self._target} ({self._target_cols()}) SELECT {values} FROM {self._stage_ref()}"

    def _check(self, staged: int, copied: int, gained: int | None) -> None:
        """validateDataConsistency over the whole run (inside the transaction, before COMMIT)."""
        if not self._plan.validate_data_consistency:
            return
        if staged != copied:
            raise ConsistencyCheckFailed(
                f"validateDataConsistency: the {len(self._stages)} partitions copied {copied} rows, "
                f"but their staging tables hold {staged}: nothing was published"
            )
        if gained is not None and gained != staged:
            raise ConsistencyCheckFailed(
                f"validateDataConsistency: {staged} rows merged but {self._target} gained {gained}: "
                "nothing was published"
            )

    def _count(self, relation: str) -> int:
        with self._errors(f"counting the rows of {relation}"):
            return self._scalar(f"SELECT count(*) FROM {relation}")

    def _stage_mappings(self, stage: str, names: list[str]) -> list[ColumnMapping]:
        """The staging table's columns as the sink's column mappings (their types as staged)."""
        saved, self._target = self._target, stage
        try:
            with self._errors(f"reading the columns of {stage}"):
                columns = {c.name: c for c in self._describe() or []}
        finally:
            self._target = saved
        absent = [n for n in names if n not in columns]
        if absent:
            raise PartitionsIncomplete(f"{stage} has no column {absent}: nothing was published")
        return [ColumnMapping(n, pa.null(), columns[n].type_ddl, columns[n].typname) for n in names]
