"""Converters of the mapping tables (adf/mapping.py) that know one ADF shape each."""

from __future__ import annotations

import re
from typing import Any

from impala_copy.adf.expressions import Unmappable, unwrap
from impala_copy.adf.fields import Context, get_path, integer, plain, text
from impala_copy.api.durations import TIMESPAN_PATTERN
from impala_copy.api.partitions import PartitionOption

_TIMESPAN = re.compile(TIMESPAN_PATTERN)
_STORAGE_HOST = re.compile(r"^https://([a-z0-9]{3,24})\.(blob|dfs)\.core\.windows\.net/?$")
# ADF's PostgreSQL sslMode numbers (Npgsql's SslMode).
SSL_MODES = {0: "disable", 1: "allow", 2: "prefer", 3: "require", 4: "verify-ca", 5: "verify-full"}


def timespan(value: Any, ctx: Context) -> str:
    """[D.]HH:MM:SS as written."""
    written = str(plain(value, ctx))
    if not _TIMESPAN.match(written):
        raise Unmappable(f"{written!r} is not a timespan [D.]HH:MM:SS")
    return written


def columns(value: Any, ctx: Context) -> list[dict[str, str]] | None:
    """The dataset's column list (ADF: schema or structure) -> structure [{name, type}]; [] is none."""
    value = unwrap(value)
    if value == []:
        return None
    if not isinstance(value, list) or not all(isinstance(c, dict) and c.get("name") for c in value):
        raise Unmappable("expected a list of columns with a name each")
    out: list[dict[str, str]] = []
    for column in value:
        entry = {"name": str(column["name"])}
        if column.get("type"):
            entry["type"] = str(column["type"])
        out.append(entry)
    return out


def additional_columns(value: Any, ctx: Context) -> list[dict[str, str]]:
    """[{name, value}] with constant (or trigger-time) values; $$COLUMN / $$FILEPATH are refused."""
    value = unwrap(value)
    if not isinstance(value, list):
        raise Unmappable("expected a list of {name, value}")
    out: list[dict[str, str]] = []
    for column in value:
        if not isinstance(column, dict) or not isinstance(column.get("name"), str):
            raise Unmappable("expected a list of {name, value}")
        raw = unwrap(column.get("value", ""))
        if isinstance(raw, str) and raw.startswith("$$"):
            raise Unmappable(
                f"additional column {column['name']!r}: {raw.split(':')[0]} applies to file sources only"
            )
        out.append({"name": column["name"], "value": text(raw, ctx) if isinstance(raw, str) else str(raw)})
    return out


def impala_dataset(value: Any, ctx: Context) -> dict[str, Any]:
    """A DatasetReference to an Impala dataset."""
    found = ctx.importer.reference("dataset", value)
    if "kind" in found:
        raise Unmappable(
            f"dataset {found['referenceName']!r} is a {found['kind']}: impala-copy reads from Impala"
        )
    return found


def impala_input(value: Any, ctx: Context) -> list[dict[str, Any]]:
    """inputs: exactly one DatasetReference to an Impala dataset."""
    value = unwrap(value)
    if not isinstance(value, list) or len(value) != 1:
        raise Unmappable("impala-copy reads exactly one dataset")
    return [impala_dataset(value[0], ctx)]


def sink_output(value: Any, ctx: Context) -> list[dict[str, Any]]:
    """outputs: exactly one DatasetReference to a sink dataset; its kind is added."""
    value = unwrap(value)
    if not isinstance(value, list) or len(value) != 1:
        raise Unmappable("impala-copy writes exactly one dataset")
    found = ctx.importer.reference("dataset", value[0])
    if "kind" not in found:
        raise Unmappable(
            f"dataset {found['referenceName']!r} is not a sink dataset (Parquet, DelimitedText, Json, "
            "PostgreSQL table)"
        )
    return [found]


def account_name(value: Any, ctx: Context) -> str:
    """serviceEndpoint / url of an Azure Storage account -> its account name."""
    endpoint = str(plain(value, ctx)).lower()
    match = _STORAGE_HOST.match(endpoint)
    if match is None:
        raise Unmappable(
            f"{endpoint[:80]!r} is not https://<account>.blob|dfs.core.windows.net: set spec.accountName "
            "and spec.serviceEndpoint by hand"
        )
    return match.group(1)


def ssl_mode(value: Any, ctx: Context) -> str:
    """0-5 (or the name) -> disable, allow, prefer, require, verify-ca, verify-full."""
    written = plain(value, ctx)
    if isinstance(written, str) and written.lower() in SSL_MODES.values():
        return written.lower()
    number = integer(written, ctx)
    if number not in SSL_MODES:
        raise Unmappable(f"sslMode {number} is not one of 0-5")
    return SSL_MODES[number]


def schema_table(value: Any, ctx: Context) -> dict[str, str]:
    """Legacy tableName "schema.table" (or "table") of a PostgreSQL dataset -> schema and table."""
    written = str(plain(value, ctx))
    schema, _, table = written.replace('"', "").rpartition(".")
    return {"schema": schema, "table": table} if schema else {"table": table}


def write_behavior(value: Any, ctx: Context) -> str:
    """writeMethod: CopyCommand and BulkInsert insert, Upsert upserts."""
    written = str(plain(value, ctx)).lower()
    if written in ("copycommand", "bulkinsert"):
        return "insert"
    if written == "upsert":
        return "upsert"
    raise Unmappable(f"writeMethod {written!r} has no counterpart (CopyCommand, BulkInsert or Upsert)")


def upsert_keys(value: Any, ctx: Context) -> list[str]:
    """The key column names."""
    value = unwrap(value)
    if not isinstance(value, list) or not value or not all(isinstance(k, str) for k in value):
        raise Unmappable("expected a list of key column names")
    return list(value)


def set_of_objects(value: Any, ctx: Context) -> None:
    """Json filePattern: impala-copy writes setOfObjects (one object per line)."""
    if str(plain(value, ctx)).lower() != "setofobjects":
        raise Unmappable("impala-copy writes JSON Lines (setOfObjects) only; the files are written so")


# ------------------------------------------------------------------------------ partitioned copies

_PARTITIONED = (PartitionOption.DYNAMIC_RANGE.value, PartitionOption.PHYSICAL_PARTITIONS_OF_TABLE.value)


def partition_option(value: Any, ctx: Context) -> str | None:
    """None, DynamicRange or PhysicalPartitionsOfTable, as written (None is left out: the default)."""
    written = plain(value, ctx)
    if written == PartitionOption.NONE.value:
        return None
    if written not in _PARTITIONED:
        raise Unmappable(f"{written!r} is not None, DynamicRange or PhysicalPartitionsOfTable")
    return str(written)


def partition_bound(value: Any, ctx: Context) -> str:
    """As text (1000, 12.50, 2026-12-01, 2026-12-01 08:30:00)."""
    return str(plain(value, ctx))


def parallel_copies(value: Any, ctx: Context) -> int | None:
    """With a source.partitionOption: as written; without one it is left out (ADF reads an Impala
    source with one query whatever it says)."""
    _, option = get_path(ctx.data, "typeProperties.source.partitionOption")
    if unwrap(option) not in _PARTITIONED:
        return None
    return integer(value, ctx)
