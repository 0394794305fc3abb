"""The package keeps small functions: none is longer than 60 lines.

In:  every module under operator/impala_copy, parsed with `ast`.
Out: the functions (and methods) longer than 60 lines, by file and name: none. Complexity and the
     number of statements and branches are checked by ruff (`make lint`: C90, PLR0912, PLR0915).
Faked: nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "operator" / "impala_copy"
MAX_LINES = 60


def test_no_function_is_longer_than_60_lines() -> None:
    long: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_LINES:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []
