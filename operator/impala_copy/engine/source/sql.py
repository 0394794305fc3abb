"""The SQL the engine sends: identifiers quoted with backticks, never spliced from raw text.

A table read is `SELECT <columns or *> FROM `schema`.`table``. A name that cannot be quoted safely
(a backtick, a control character, empty, too long) is rejected with ConfigurationError before any
SQL is built. A source query is the user's own SQL and is sent as written (a trailing `;` removed),
its placeholders of the run ({windowStart}, @{trigger().outputs.windowStartTime}, ...) written as SQL
literals (api/placeholder_rendering.py); one the run has no value for is a ConfigurationError naming it.

A partition of a partitioned copy adds its predicate (SQL the engine built from quoted identifiers and
typed literals, engine/partition_plan.py): a table read's `WHERE predicate`, or written in
parentheses where the query's `?AdfDynamicRangePartitionCondition` stands. That hook in a query read
without a predicate (not a DynamicRange copy) is a ConfigurationError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from impala_copy.api.placeholder_rendering import render_sql
from impala_copy.api.placeholders import PARTITION_CONDITION_NAME, PlaceholderError, SqlFragment, Value
from impala_copy.api.plan import SourcePlan
from impala_copy.engine.errors import ConfigurationError

MAX_IDENTIFIER_LENGTH = 128
# The predicate of a partition that reads every row. Not TRUE: in `FROM t WHERE (TRUE)` Spark reads
# WHERE as the table's alias and (TRUE) as its column list.
ALL_ROWS = "1 = 1"
# Control characters (C0, DEL, C1), line/paragraph separators, and the backtick itself: none can be
# written inside an Impala/Hive backtick-quoted identifier (there is no escape that both accept).
_UNQUOTABLE = re.compile(r"[`\x00-\x1f\x7f-\x9f\u2028\u2029]")


def quote_identifier(name: str, *, what: str = "identifier") -> str:
    """`name` in backticks, or ConfigurationError when it cannot be quoted safely."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(f"{what} must not be empty")
    if len(name) > MAX_IDENTIFIER_LENGTH:
        raise ConfigurationError(f"{what} {name[:40]!r}... is longer than {MAX_IDENTIFIER_LENGTH} characters")
    bad = _UNQUOTABLE.search(name)
    if bad is not None:
        char = "a backtick" if bad.group() == "`" else f"the control character U+{ord(bad.group()):04X}"
        raise ConfigurationError(f"{what} {name!r} contains {char}, which cannot be quoted safely in SQL")
    if name != name.strip():
        raise ConfigurationError(f"{what} {name!r} starts or ends with white space")
    return f"`{name}`"


def qualified_table(schema: str | None, table: str) -> str:
    """`schema`.`table` (or `table` alone), each part quoted."""
    quoted = quote_identifier(table, what="table")
    return f"{quote_identifier(schema, what='schema')}.{quoted}" if schema else quoted


def strip_query(query: str) -> str:
    """The user's query without surrounding white space and trailing semicolons."""
    text = query.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    if not text:
        raise ConfigurationError("source query is empty")
    return text


def build_select(
    source: SourcePlan, values: Mapping[str, Value] | None = None, *, predicate: str | None = None
) -> str:
    """The statement that reads `source`: its query when given (placeholders rendered from `values`,
    the partition hook as `(predicate)`), else a SELECT of its table (`WHERE predicate` when given)."""
    if source.query is not None and source.query.strip():
        given = dict(values or {})
        if predicate is not None:
            given[PARTITION_CONDITION_NAME] = SqlFragment(f"({predicate})")
        try:
            return strip_query(render_sql(source.query, given))
        except PlaceholderError as exc:
            raise ConfigurationError(str(exc)) from None
    if not source.table:
        raise ConfigurationError("the source names neither a query nor a table")
    columns = ", ".join(quote_identifier(c, what="column") for c in source.columns) if source.columns else "*"
    # Not in parentheses: Spark may read `t WHERE (...)` as the alias WHERE with a column list.
    where = f" WHERE {predicate}" if predicate is not None else ""
    return f"SELECT {columns} FROM {qualified_table(source.schema_, source.table)}{where}"


__all__ = [
    "ALL_ROWS",
    "MAX_IDENTIFIER_LENGTH",
    "build_select",
    "qualified_table",
    "quote_identifier",
    "strip_query",
]
