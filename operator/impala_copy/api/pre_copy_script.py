"""preCopyScript may not end or escape the PostgreSQL sink's load transaction.

The script runs inside the transaction that also creates the table (autoCreate) and loads every
row; the copy commits it, or rolls it all back. A statement that ends that transaction early
(COMMIT, END, ROLLBACK, ABORT, PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED), opens a nested one
(BEGIN, START TRANSACTION), moves its boundaries (SAVEPOINT, RELEASE, ROLLBACK TO) or changes its
characteristics (SET TRANSACTION, SET SESSION CHARACTERISTICS AS TRANSACTION, SET transaction_*)
is rejected before anything runs.

The script is parsed with PostgreSQL's own parser (pglast, libpg_query), so comments, string
literals, dollar-quoted bodies and identifiers that contain such words pass. DO blocks and CALL are
not looked into: PostgreSQL itself refuses COMMIT and ROLLBACK in a DO block or a procedure called
inside a transaction block ("invalid transaction termination"), which fails the copy and rolls the
whole transaction back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pglast import ast

# VariableSetStmt names that act on the current transaction rather than on a setting.
_TRANSACTION_SETTINGS = frozenset(
    {"transaction", "session characteristics", "transaction_isolation", "transaction_read_only",
     "transaction_deferrable"}
)  # fmt: skip
_QUOTED_STATEMENT = 80


class ScriptError(ValueError):
    """The script cannot run inside the load transaction; the text says which statement and why."""


def _is_transaction_control(stmt: ast.Node) -> bool:
    from pglast import ast

    if isinstance(stmt, ast.TransactionStmt):
        return True
    return isinstance(stmt, ast.VariableSetStmt) and (stmt.name or "").lower() in _TRANSACTION_SETTINGS


def _quote(script: str, location: int, length: int) -> str:
    # pglast reports locations in characters of the script; length 0 means "to the end".
    text = " ".join((script[location : location + length] if length else script[location:]).split())
    return text if len(text) <= _QUOTED_STATEMENT else text[: _QUOTED_STATEMENT - 3] + "..."


def check_pre_copy_script(script: str) -> None:
    """Raise ScriptError when the script does not parse or holds a transaction-control statement."""
    # Imported here: the parser is needed only where a preCopyScript is written, and every process
    # (each copy pod) would otherwise load it at start.
    from pglast import parse_sql
    from pglast.parser import ParseError

    statements: Any
    try:
        statements = parse_sql(script)
    except ParseError as exc:
        raise ScriptError(f"preCopyScript is not valid PostgreSQL SQL: {exc}") from None
    for number, raw in enumerate(statements, start=1):
        if raw.stmt is not None and _is_transaction_control(raw.stmt):
            statement = _quote(script, raw.stmt_location or 0, raw.stmt_len or 0)
            raise ScriptError(
                f"preCopyScript statement {number} ({statement}) controls the transaction: the script runs "
                "inside the copy's load transaction, which only the copy may commit or roll back "
                "(COMMIT, ROLLBACK, BEGIN, END, ABORT, SAVEPOINT, RELEASE, PREPARE TRANSACTION and "
                "SET TRANSACTION are not allowed)"
            )


__all__ = ["ScriptError", "check_pre_copy_script"]
