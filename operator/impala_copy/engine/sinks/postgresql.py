"""The PostgreSQL sink: Arrow batches bulk-loaded with ADBC (binary COPY), in one transaction.

Lifecycle (`SinkWriter`): open(schema) -> write(batch)* -> commit() | abort().

- One connection, one transaction (`BEGIN` at open, `COMMIT` at commit, `ROLLBACK` at abort): an
  autoCreated table, the preCopyScript (run after autoCreate, so it may truncate a table created
  in the same run, or create the table itself) and every row are visible together or not at all.
  A run that fails at any point leaves the table exactly as it was.
- Rows are never inserted one by one. Each load unit (writeBatchSize rows, default: the batches as
  they arrive) is sent by ADBC's ingest, which is PostgreSQL's binary COPY of the Arrow columns:
  * straight into the target table, when the behaviour is insert, rows are not skipped and every
    column's type is the one the binary COPY sends (always so for autoCreated tables);
  * otherwise into a temporary staging table (ON COMMIT DROP), then one INSERT ... SELECT (insert),
    INSERT ... ON CONFLICT DO UPDATE (upsert on keys with a unique index) or MERGE (upsert without
    one, PostgreSQL 15+) moves the unit into the target, casting each column to the target's type.
- writeBehavior upsert: within a unit the last row of a key wins; later units update earlier ones.
- enableSkipIncompatibleRow: a unit the table rejects (data exceptions, constraint violations:
  SQLSTATE classes 22 and 23) is retried in halves under savepoints until the rejected rows are
  isolated; those are skipped, counted and logged (row number and reason; the first
  `SKIPPED_LOG_LIMIT` in the run summary and the log), everything else is loaded.
- preCopyScript cannot end or escape the transaction (api/pre_copy_script.py checks it before
  anything runs; PostgreSQL refuses COMMIT inside a DO block or procedure in a transaction block).
- Identifiers are always double-quoted; SQL text is never built from values.
- Errors name the server, database and user; every secret value of the run is masked in them
  (engine/secrets.py `Scrubber`), in all the forms the driver may quote it (plain, URL-encoded).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import pyarrow as pa

from impala_copy.api.activities import WriteBehavior
from impala_copy.api.plan import CopyPlan, Partition
from impala_copy.api.pre_copy_script import ScriptError, check_pre_copy_script
from impala_copy.api.stores import PostgreSqlSslMode
from impala_copy.api.summary import RunSummary
from impala_copy.engine.errors import (
    ConfigurationError,
    ConsistencyCheckFailed,
    CopyError,
    SinkAuthenticationFailed,
    SinkError,
    TableNotFound,
    TLSVerificationFailed,
    Unreachable,
)
from impala_copy.engine.interfaces import SinkResult
from impala_copy.engine.secrets import Scrubber, read_secret
from impala_copy.engine.sinks.postgresql_types import (
    ColumnMapping,
    column_ddl,
    load_schema,
    map_schema,
    normalize_batch,
    qualified,
    quote_ident,
)

if TYPE_CHECKING:
    from impala_copy.engine.sinks.postgresql_partitions import PartitionStageSink

log = logging.getLogger(__name__)

SKIPPED_LOG_LIMIT = 20
# libpq's sslrootcert value for "the system's trusted CAs" (libpq 16+; the ADBC driver's libpq has it):
# OpenSSL's default paths, /etc/ssl/certs on Debian, or SSL_CERT_FILE / SSL_CERT_DIR when set.
SYSTEM_TRUST_STORE = "system"
SKIPPED_ROW_TEXT_LIMIT = 300
# Target types a text column is loaded into directly (their binary input is text's).
TEXT_TYPES = frozenset({"text", "varchar", "bpchar"})
# SQLSTATE classes of errors caused by a row's values: data exceptions and constraint violations.
ROW_ERROR_CLASSES = ("22", "23")
# Program limit exceeded (row or index entry too big, too many columns...), and the server's message
# for a value over its 1 GB allocation limit: the same data fails the same way, so never retried.
LIMIT_CLASS = "54"
_OVER_ALLOCATION = "invalid memory alloc request size"
PG_LIMITS = (
    "at most 1 GB per field value, about 2.7 kB per btree index entry, 1600 columns per table; "
    "retrying cannot help"
)


class SinkDataRejected(SinkError):
    """The table rejected rows (type, length, constraint): retrying the same data cannot help."""

    code = "SinkDataRejected"
    retryable = False


@dataclass(frozen=True)
class TargetColumn:
    name: str
    type_ddl: str  # format_type with modifiers, e.g. character varying(10)
    typname: str  # pg_type.typname, e.g. varchar
    cast_type: str  # the type without modifiers, schema-qualified and quoted, e.g. "pg_catalog"."varchar"


@dataclass
class SkippedRow:
    row: int
    reason: str
    values: str | None = None

    def text(self) -> str:
        base = f"row {self.row}: {self.reason}"
        return f"{base}; values {self.values}" if self.values else base


@dataclass
class _Counters:
    rows: int = 0
    bytes: int = 0
    server_rows: int = 0
    skipped: list[SkippedRow] = field(default_factory=list)
    skipped_count: int = 0


def _sqlstate(exc: BaseException) -> str:
    state = getattr(exc, "sqlstate", None)
    if isinstance(state, str) and state:
        return state
    match = re.search(r"SQLSTATE: ([0-9A-Z]{5})", str(exc))
    return match.group(1) if match else ""


def _pg_message(exc: BaseException) -> str:
    """The server's own message, without the driver's prefixes and the echoed query."""
    text = str(exc)
    match = re.search(r"ERROR:\s+(.*)", text)
    msg = match.group(1) if match else text
    return msg.split("\nQuery was:")[0].split(". SQLSTATE")[0].strip()


class PostgreSqlSink:
    """SinkWriter for a PostgreSqlTableDataset (see the module docstring)."""

    def __init__(self, plan: CopyPlan, secrets: Mapping[str, str]) -> None:
        store = plan.sink.store
        if store is None or store.kind != "PostgreSqlLinkedService":
            raise ConfigurationError("a PostgreSqlTableDataset needs a PostgreSqlLinkedService")
        self._spec = store.postgresql()
        password_ref = store.secrets.get("password")
        if password_ref is None:
            raise ConfigurationError("PostgreSqlLinkedService has no password reference")
        self._password = read_secret(password_ref, secrets)
        self._clean = Scrubber.of(secrets)
        cert = store.certs.get("trusted_cert")
        self._ca_path = cert.path if cert else None
        table = plan.sink.postgresql_table()
        self._schema_name, self._table_name = table.schema_, table.table
        self._target = qualified(self._schema_name, self._table_name)
        sink = plan.sink.sink
        self._pre_copy_script = sink.pre_copy_script
        if self._pre_copy_script is not None:
            # The plan's model checked it already; a plan built around validation is checked again here.
            try:
                check_pre_copy_script(self._pre_copy_script)
            except ScriptError as exc:
                raise ConfigurationError(str(exc)) from None
        self._batch_rows = sink.write_batch_size
        self._behavior = WriteBehavior(sink.write_behavior or WriteBehavior.INSERT)
        self._keys = list(sink.upsert_settings.keys) if sink.upsert_settings else []
        self._auto_create = sink.table_option == "autoCreate"
        self._skip = plan.enable_skip_incompatible_row
        self._count_back = plan.validate_data_consistency and self._behavior == WriteBehavior.INSERT
        self._hide_values = plan.secure_output
        self._conn: Any = None
        self._cur: Any = None
        self._in_tx = False
        self._mappings: list[ColumnMapping] = []
        self._load_schema: pa.Schema | None = None
        self._columns: list[TargetColumn] = []  # target column of each source column
        self._direct = False
        self._stage = ""
        # Where the load units are staged (the session's temporary table), and its row-number column.
        self._stage_relation = ""
        self._row_column = "rn"
        # The target keeps each row's number (an index's staging table of a partitioned copy, upsert).
        self._keep_row_numbers = False
        self._apply_sql = ""
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._rows_seen = 0
        self._count_before = 0
        self._n = _Counters()

    # ------------------------------------------------------------------------------- naming

    @property
    def store_name(self) -> str:
        s = self._spec
        return f"PostgreSQL server {s.host}:{s.port} (database {s.database!r}, user {s.username!r})"

    def uri(self) -> str:
        s = self._spec
        host = f"[{s.host}]" if ":" in s.host else s.host
        params = {
            "sslmode": str(s.ssl_mode),
            "connect_timeout": str(s.connect_timeout_seconds),
            "application_name": "impala-copy",
        }
        if self._ca_path:
            params["sslrootcert"] = self._ca_path
        elif s.ssl_mode == PostgreSqlSslMode.VERIFY_FULL:
            params["sslrootcert"] = SYSTEM_TRUST_STORE
        user, password, db = (quote(v, safe="") for v in (s.username, self._password, s.database))
        return f"postgresql://{user}:{password}@{host}:{s.port}/{db}?{urlencode(params)}"

    # ------------------------------------------------------------------------------- lifecycle

    def open(self, schema: pa.Schema) -> None:
        try:
            self._open(schema)
        except BaseException:
            self.abort()  # the pipeline aborts a sink only once it is open: roll back and disconnect here
            raise

    def _open(self, schema: pa.Schema) -> None:
        self._mappings = map_schema(schema)
        self._load_schema = load_schema(self._mappings)
        self._connect()
        self._prepare_target()
        self._columns = self._target_columns()
        self._direct = (
            self._behavior == WriteBehavior.INSERT
            and not self._skip
            and not self._keep_row_numbers
            and all(self._binary_compatible(m, c) for m, c in zip(self._mappings, self._columns, strict=True))
        )
        if self._count_back:
            with self._errors(f"counting the rows of {self._target}"):
                self._count_before = self._scalar(f"SELECT count(*) FROM {self._target}")
        if self._direct:
            # Arrow names the target's own spelling of each column.
            self._load_schema = pa.schema(
                [pa.field(c.name, f.type) for c, f in zip(self._columns, self._load_schema, strict=True)]
            )
        else:
            self._prepare_stage()

    def _target_columns(self) -> list[TargetColumn]:
        """The target table's columns matched to the load's: TableNotFound when it does not exist."""
        with self._errors(f"reading the columns of {self._target}"):
            columns = self._describe()
        if columns is None:
            raise TableNotFound(
                f"table {self._target} does not exist on the {self.store_name} "
                "(set sink.tableOption: autoCreate to create it)"
            )
        return self._match_columns(columns)

    def _prepare_target(self) -> None:
        """BEGIN the load transaction, autoCreate the table, run the preCopyScript."""
        with self._errors("starting the load transaction"):
            self._exec("BEGIN")
            self._in_tx = True
        if self._auto_create:
            with self._errors(f"looking up {self._target}"):
                exists = self._describe() is not None
            if not exists:
                with self._errors(f"creating {self._target}"):
                    self._exec(f"CREATE TABLE {self._target} ({column_ddl(self._mappings)})")
        if self._pre_copy_script:
            with self._errors("running preCopyScript"):
                self._cur.executescript(self._pre_copy_script)

    def write(self, batch: pa.RecordBatch) -> None:
        assert self._load_schema is not None, "write() before open()"
        batch = normalize_batch(batch, self._mappings, self._load_schema)
        if not self._batch_rows:
            self._load(batch)
            return
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        while self._pending_rows >= self._batch_rows:
            table = pa.Table.from_batches(self._pending, schema=self._load_schema)
            unit = table.slice(0, self._batch_rows).combine_chunks().to_batches()
            rest = table.slice(self._batch_rows)
            self._pending = rest.combine_chunks().to_batches() if rest.num_rows else []
            self._pending_rows = rest.num_rows
            self._load(unit[0] if unit else pa.RecordBatch.from_pylist([], schema=self._load_schema))

    def commit(self, verify: bool = False) -> SinkResult:
        if self._pending_rows:
            table = pa.Table.from_batches(self._pending, schema=self._load_schema).combine_chunks()
            self._pending, self._pending_rows = [], 0
            for batch in table.to_batches():
                self._load(batch)
        verified: int | None = None
        if self._count_back:
            with self._errors(f"counting the rows of {self._target}"):
                verified = self._scalar(f"SELECT count(*) FROM {self._target}") - self._count_before
        elif verify and self._behavior == WriteBehavior.INSERT:
            verified = self._n.server_rows
        if verified is not None and verified != self._n.rows:
            raise ConsistencyCheckFailed(
                f"validateDataConsistency: {self._n.rows} rows loaded but {self._target} gained {verified}"
            )
        with self._errors("committing the load transaction"):
            self._exec("COMMIT")
            self._in_tx = False
        self._after_commit()
        if self._n.skipped_count > len(self._n.skipped):
            log.warning("%d incompatible rows skipped in all", self._n.skipped_count)
        return SinkResult(
            rows_written=self._n.rows,
            rows_skipped=self._n.skipped_count,
            bytes_written=self._n.bytes,
            files_written=0,
            output_paths=[self.output_path],
            rows_verified=verified,
            skipped_rows=[s.text() for s in self._n.skipped],
        )

    def _after_commit(self) -> None:
        self._close()

    def abort(self) -> None:
        if self._cur is not None and self._in_tx:
            with contextlib.suppress(Exception):
                self._exec("ROLLBACK")
        self._in_tx = False
        self._close()

    @property
    def output_path(self) -> str:
        s = self._spec
        return f"postgresql://{s.host}:{s.port}/{s.database}/{self._schema_name}.{self._table_name}"

    # ------------------------------------------------------------------------------- connection

    def _connect(self) -> None:
        import adbc_driver_postgresql.dbapi as pg_dbapi

        try:
            self._conn = pg_dbapi.connect(self.uri(), autocommit=True)
            self._cur = self._conn.cursor()
        except Exception as exc:  # noqa: BLE001 - every driver error is mapped to ours
            raise self._connect_error(exc) from None

    def _connect_error(self, exc: BaseException) -> CopyError:
        text = self._clean(str(exc))
        detail = text.split("failed:", 1)[-1].strip() if "failed:" in text else text
        detail = " ".join(detail.split())
        where = self.store_name
        lowered = text.lower()
        if any(
            s in lowered
            for s in ("password authentication failed", "no password supplied", 'role "', "pg_hba.conf")
        ):
            return SinkAuthenticationFailed(f"cannot log in to the {where}: {detail}")
        if "certificate" in lowered or ("ssl" in lowered and "verify" in lowered):
            return TLSVerificationFailed(f"TLS verification of the {where} failed: {detail}")
        if "does not support ssl" in lowered or "ssl" in lowered:
            return ConfigurationError(
                f"TLS with the {where} failed (sslMode {self._spec.ssl_mode}): {detail}"
            )
        if "database" in lowered and "does not exist" in lowered:
            return ConfigurationError(f"cannot connect to the {where}: {detail}")
        return Unreachable(f"cannot connect to the {where}: {detail}")

    def _close(self) -> None:
        cur, conn, self._cur, self._conn = self._cur, self._conn, None, None
        for obj in (cur, conn):
            if obj is not None:
                with contextlib.suppress(Exception):
                    obj.close()

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except CopyError:
            raise
        except Exception as exc:  # noqa: BLE001 - driver errors become ours, with the server's message
            raise self._statement_error(action, exc) from None

    def _statement_error(self, action: str, exc: BaseException) -> CopyError:
        state = _sqlstate(exc)
        msg = self._clean(_pg_message(exc))
        text = f"{action} on the {self.store_name} failed: {msg}" + (f" (SQLSTATE {state})" if state else "")
        if state.startswith(ROW_ERROR_CLASSES):
            return SinkDataRejected(text)
        if state.startswith(LIMIT_CLASS) or _OVER_ALLOCATION in msg:
            return ConfigurationError(f"{text}; the data is over a limit of PostgreSQL ({PG_LIMITS})")
        if state.startswith(("42", "0A", "3F", "P0", "25", "2D")):
            return ConfigurationError(text)
        if state.startswith("28"):
            return SinkAuthenticationFailed(text)
        if state.startswith("08") or not state:
            return Unreachable(text) if state.startswith("08") else SinkError(text)
        return SinkError(text)

    def _exec(self, sql: str, params: tuple[Any, ...] | None = None) -> int:
        self._cur.execute(sql, params)
        return int(self._cur.rowcount)

    def _scalar(self, sql: str, params: tuple[Any, ...] | None = None) -> int:
        self._cur.execute(sql, params)
        row = self._cur.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    # ------------------------------------------------------------------------------- target table

    def _describe(self) -> list[TargetColumn] | None:
        self._cur.execute("SELECT to_regclass($1) IS NOT NULL", (self._target,))
        row = self._cur.fetchone()
        if not row or not row[0]:
            return None
        self._cur.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typname, "
            "quote_ident(tn.nspname) || '.' || quote_ident(t.typname) "
            "FROM pg_catalog.pg_attribute a "
            "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
            "JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace "
            "WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum",
            (self._target,),
        )
        return [TargetColumn(str(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in self._cur.fetchall()]

    def _match_columns(self, columns: list[TargetColumn]) -> list[TargetColumn]:
        """The target column of each source column: same name, else the only case-insensitive match."""
        exact = {c.name: c for c in columns}
        folded: dict[str, list[TargetColumn]] = {}
        for c in columns:
            folded.setdefault(c.name.lower(), []).append(c)
        found: list[TargetColumn] = []
        missing: list[str] = []
        for m in self._mappings:
            col = exact.get(m.name)
            if col is None and len(folded.get(m.name.lower(), [])) == 1:
                col = folded[m.name.lower()][0]
            if col is None:
                missing.append(m.name)
            else:
                found.append(col)
        if missing:
            raise ConfigurationError(
                f"table {self._target} on the {self.store_name} has no column "
                f"{', '.join(map(repr, missing))}; "
                f"its columns: {', '.join(c.name for c in columns)}"
            )
        if self._keys:
            names = {m.name for m in self._mappings} | {m.name.lower() for m in self._mappings}
            absent = [k for k in self._keys if k not in names and k.lower() not in names]
            if absent:
                raise ConfigurationError(f"upsertSettings.keys {absent} are not columns of the source")
        return found

    @staticmethod
    def _binary_compatible(m: ColumnMapping, c: TargetColumn) -> bool:
        if m.pg_typname == "text":
            return c.typname in TEXT_TYPES
        return c.typname == m.pg_typname

    def _key_columns(self) -> list[TargetColumn]:
        by_name = {m.name: c for m, c in zip(self._mappings, self._columns, strict=True)}
        by_lower = {m.name.lower(): c for m, c in zip(self._mappings, self._columns, strict=True)}
        return [by_name.get(k) or by_lower[k.lower()] for k in self._keys]

    def _has_unique_index(self, keys: list[TargetColumn]) -> bool:
        self._cur.execute(
            "SELECT i.indexrelid::int8, a.attname FROM pg_catalog.pg_index i "
            "JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = $1::text::regclass AND i.indisunique AND i.indpred IS NULL "
            "AND i.indexprs IS NULL",
            (self._target,),
        )
        indexes: dict[int, set[str]] = {}
        for oid, name in self._cur.fetchall():
            indexes.setdefault(int(oid), set()).add(str(name))
        wanted = {k.name for k in keys}
        return any(cols == wanted for cols in indexes.values())

    def _prepare_stage(self) -> None:
        """The session's staging table, and the statement that moves its rows into the target."""
        assert self._load_schema is not None
        self._stage = f"icp_stage_{uuid.uuid4().hex[:12]}"
        self._stage_relation = f"pg_temp.{quote_ident(self._stage)}"
        stage_cols = [f"c{i}" for i in range(len(self._mappings))]
        ddl = ", ".join(
            f"{quote_ident(n)} {m.pg_type}" for n, m in zip(stage_cols, self._mappings, strict=True)
        )
        with self._errors("creating the staging table"):
            self._exec(f"CREATE TEMPORARY TABLE {quote_ident(self._stage)} ({ddl}, rn bigint) ON COMMIT DROP")
        self._load_schema = pa.schema(
            [pa.field(n, f.type) for n, f in zip(stage_cols, self._load_schema, strict=True)]
        )
        if self._behavior == WriteBehavior.INSERT:
            values = self._stage_values(stage_cols, aliased=False)
            columns = self._target_cols()
            if self._keep_row_numbers:
                columns, values = f"{columns}, {quote_ident(self._row_column)}", f"{values}, s.rn"
            self._apply_sql = (
                f"INSERT INTO {self._target} ({columns}) SELECT {values} FROM {self._stage_ref()}"
            )
        else:
            self._apply_sql = self._upsert_sql(stage_cols)

    def _target_cols(self) -> str:
        return ", ".join(quote_ident(c.name) for c in self._columns)

    def _stage_ref(self) -> str:
        return f"{self._stage_relation} s"

    def _stage_values(self, stage_cols: list[str], *, aliased: bool) -> str:
        """The stage's columns cast to the target's types (named like the stage's columns when aliased)."""
        return ", ".join(
            self._cast(f"s.{quote_ident(n)}", m, c) + (f" AS {quote_ident(n)}" if aliased else "")
            for n, m, c in zip(stage_cols, self._mappings, self._columns, strict=True)
        )

    def _latest_per_key(self, distinct: str, values: str) -> str:
        """The staged rows, the last one of each key only (a later row of the same key wins)."""
        stage = self._stage_ref()
        order = f"s.{quote_ident(self._row_column)}"
        return f"SELECT DISTINCT ON ({distinct}) {values} FROM {stage} ORDER BY {distinct}, {order} DESC"

    def _upsert_sql(self, stage_cols: list[str]) -> str:
        """INSERT ... ON CONFLICT where a unique index covers the keys, else MERGE (PostgreSQL 15+)."""
        keys = self._key_columns()
        stage_of = {c.name: n for n, c in zip(stage_cols, self._columns, strict=True)}
        distinct = ", ".join(f"s.{quote_ident(stage_of[k.name])}" for k in keys)
        others = [c for c in self._columns if c.name not in {k.name for k in keys}]
        with self._errors(f"reading the indexes of {self._target}"):
            unique = self._has_unique_index(keys)
        if unique:
            values = self._stage_values(stage_cols, aliased=False)
            source = self._latest_per_key(distinct, values)
            conflict = ", ".join(quote_ident(k.name) for k in keys)
            sets = ", ".join(f"{quote_ident(c.name)} = EXCLUDED.{quote_ident(c.name)}" for c in others)
            update = f"DO UPDATE SET {sets}" if others else "DO NOTHING"
            target = f"{self._target} ({self._target_cols()})"
            return f"INSERT INTO {target} {source} ON CONFLICT ({conflict}) {update}"
        with self._errors("reading the server version"):
            version = self._scalar("SELECT current_setting('server_version_num')::int")
        if version < 150000:
            raise ConfigurationError(
                f"upsert into {self._target}: PostgreSQL {version // 10000} has no MERGE; add a unique index "
                f"on the key columns {[k.name for k in keys]} so that INSERT ... ON CONFLICT can be used"
            )
        aliases = self._stage_values(stage_cols, aliased=True)
        source = self._latest_per_key(distinct, aliases)
        on = " AND ".join(f"t.{quote_ident(k.name)} = src.{quote_ident(stage_of[k.name])}" for k in keys)
        sets = ", ".join(f"{quote_ident(c.name)} = src.{quote_ident(stage_of[c.name])}" for c in others)
        matched = f"UPDATE SET {sets}" if others else "DO NOTHING"
        inserted = ", ".join(f"src.{quote_ident(n)}" for n in stage_cols)
        return (
            f"MERGE INTO {self._target} t USING ({source}) src ON {on} "
            f"WHEN MATCHED THEN {matched} "
            f"WHEN NOT MATCHED THEN INSERT ({self._target_cols()}) VALUES ({inserted})"
        )

    @staticmethod
    def _cast(expr: str, m: ColumnMapping, c: TargetColumn) -> str:
        """The stage column as the target's type, without modifiers (assignment checks length, precision)."""
        if c.typname == m.pg_typname or (m.pg_typname == "text" and c.typname == "text"):
            return expr
        return f"CAST({expr} AS {c.cast_type})"

    # ------------------------------------------------------------------------------- loading

    def _load(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        first_row = self._rows_seen
        self._rows_seen += batch.num_rows
        if self._direct:
            with self._errors(
                f"loading rows {first_row}..{first_row + batch.num_rows - 1} into {self._target}"
            ):
                written = self._cur.adbc_ingest(
                    self._table_name, batch, mode="append", db_schema_name=self._schema_name
                )
            self._n.server_rows += int(written)
            self._account(batch)
            return
        staged = batch.append_column("rn", pa.array(range(first_row, first_row + batch.num_rows), pa.int64()))
        if not self._skip:
            with self._errors(
                f"loading rows {first_row}..{first_row + batch.num_rows - 1} into {self._target}"
            ):
                self._n.server_rows += self._unit(staged)
            self._account(batch)
            return
        self._load_skipping(staged, batch, first_row)

    def _account(self, batch: pa.RecordBatch) -> None:
        self._n.rows += batch.num_rows
        self._n.bytes += batch.nbytes

    def _unit(self, staged: pa.RecordBatch) -> int:
        """Stage the rows, move them into the target, empty the stage; the rows the server reported."""
        self._cur.adbc_ingest(self._stage, staged, mode="append", temporary=True)
        count = self._exec(self._apply_sql)
        self._exec(f"TRUNCATE {self._stage_relation}")
        return max(count, 0)

    def _load_skipping(self, staged: pa.RecordBatch, batch: pa.RecordBatch, first_row: int) -> None:
        """Load what the table accepts; isolate rejected rows by halving under savepoints."""
        todo: list[tuple[int, int]] = [(0, staged.num_rows)]
        while todo:
            lo, hi = todo.pop()
            try:
                self._exec("SAVEPOINT icp_unit")
                self._n.server_rows += self._unit(staged.slice(lo, hi - lo))
                self._exec("RELEASE SAVEPOINT icp_unit")
                part = batch.slice(lo, hi - lo)
                self._account(part)
            except Exception as exc:  # noqa: BLE001 - row errors are sorted from the rest below
                state = _sqlstate(exc)
                if not state.startswith(ROW_ERROR_CLASSES):
                    raise self._statement_error(f"loading rows into {self._target}", exc) from None
                with self._errors("rolling back to the savepoint"):
                    self._exec("ROLLBACK TO SAVEPOINT icp_unit")
                if hi - lo == 1:
                    self._skipped(batch.slice(lo, 1), first_row + lo, exc)
                else:
                    mid = (lo + hi) // 2
                    todo.append((mid, hi))
                    todo.append((lo, mid))

    def _skipped(self, row: pa.RecordBatch, number: int, exc: BaseException) -> None:
        self._n.skipped_count += 1
        if len(self._n.skipped) >= SKIPPED_LOG_LIMIT:
            return
        reason = f"{self._clean(_pg_message(exc))} (SQLSTATE {_sqlstate(exc)})"
        values = None
        if not self._hide_values:
            as_dict = dict(zip([m.name for m in self._mappings], row.to_pylist()[0].values(), strict=False))
            values = json.dumps(as_dict, default=str, ensure_ascii=False)[:SKIPPED_ROW_TEXT_LIMIT]
        entry = SkippedRow(number, reason, values)
        self._n.skipped.append(entry)
        log.warning("skipped incompatible row: %s", entry.text())


def create_sink(plan: CopyPlan, secrets: Mapping[str, str]) -> PostgreSqlSink:
    """The registry's entry point (engine.sinks.OTHER_SINKS)."""
    return PostgreSqlSink(plan, secrets)


def create_partition_sink(
    plan: CopyPlan, secrets: Mapping[str, str], partition: Partition
) -> PartitionStageSink:
    """One index of a partitioned copy (sinks/postgresql_partitions.py)."""
    from impala_copy.engine.sinks.postgresql_partitions import PartitionStageSink

    return PartitionStageSink(plan, secrets, partition)


def commit_partitions(plan: CopyPlan, secrets: Mapping[str, str]) -> RunSummary:
    """The commit step of a partitioned copy (sinks/postgresql_partitions.py)."""
    from impala_copy.engine.sinks.postgresql_partitions import PartitionMerge

    return PartitionMerge(plan, secrets).run()


__all__ = [
    "SKIPPED_LOG_LIMIT",
    "PostgreSqlSink",
    "SinkDataRejected",
    "commit_partitions",
    "create_partition_sink",
    "create_sink",
]
