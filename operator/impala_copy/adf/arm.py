"""The ARM template expressions an ADF export writes: `[parameters('x')]`, `[variables('x')]`,
`[concat(...)]`, string and number literals, member access (`.name`) and indexes (`[0]`).

A string value that starts with `[` and ends with `]` is an expression; `[[` starts a literal `[`.
Anything else (other template functions) is refused with a message naming the function: an import
never guesses a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 32
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+)|(?P<id>[A-Za-z_][A-Za-z0-9_]*)|(?P<sym>[(),.\[\]]))"
)


class ArmError(ValueError):
    """An expression that cannot be evaluated here; the message says why (never a parameter's value)."""


@dataclass(frozen=True)
class Unresolved:
    """A value an expression could not give; `message` says why. Reading it is a finding."""

    message: str


def is_expression(value: object) -> bool:
    return (
        isinstance(value, str)
        and value.startswith("[")
        and not value.startswith("[[")
        and value.endswith("]")
    )


class ArmContext:
    """Parameters (default values, overridden by a parameters file) and variables of one template."""

    def __init__(
        self,
        parameters: Mapping[str, Any],
        values: Mapping[str, Any] | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> None:
        self.parameters = {k.lower(): v for k, v in parameters.items()}
        self.values = {k.lower(): v for k, v in (values or {}).items()}
        self.variables = {k.lower(): v for k, v in (variables or {}).items()}

    def parameter(self, name: str) -> Any:
        key = name.lower()
        if key in self.values:
            return self.values[key]
        declared = self.parameters.get(key)
        if not isinstance(declared, Mapping):
            raise ArmError(f"parameter {name!r} is not declared in the template")
        if "defaultValue" not in declared:
            raise ArmError(f"parameter {name!r} has no value (no defaultValue; pass a parameters file)")
        return declared["defaultValue"]

    def variable(self, name: str, depth: int) -> Any:
        key = name.lower()
        if key not in self.variables:
            raise ArmError(f"variable {name!r} is not declared in the template")
        return self.evaluate(self.variables[key], depth + 1)

    def evaluate(self, value: Any, depth: int = 0) -> Any:
        """`value` with its expression evaluated (a string that is one), or as it is."""
        if depth > MAX_DEPTH:
            raise ArmError("expressions nest too deeply")
        if isinstance(value, str) and value.startswith("[["):
            return value[1:]
        if not is_expression(value):
            return value
        parser = _Parser(value[1:-1], self, depth)
        result = parser.expression()
        parser.end()
        return result

    def resolve(self, value: Any) -> Any:
        """A copy of a JSON value with every expression in it evaluated; one that cannot be becomes
        `Unresolved`."""
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        try:
            return self.evaluate(value)
        except ArmError as exc:
            return Unresolved(f"ARM expression not evaluated: {exc}")


class _Parser:
    def __init__(self, text: str, context: ArmContext, depth: int) -> None:
        self.tokens = self._tokenize(text)
        self.position = 0
        self.context = context
        self.depth = depth

    @staticmethod
    def _tokenize(text: str) -> list[tuple[str, str]]:
        tokens: list[tuple[str, str]] = []
        index = 0
        while index < len(text.rstrip()):
            match = _TOKEN.match(text, index)
            if match is None:
                raise ArmError(f"cannot read the expression at {text[index : index + 20]!r}")
            kind = match.lastgroup or ""
            tokens.append((kind, match.group(kind)))
            index = match.end()
        return tokens

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.position] if self.position < len(self.tokens) else ("end", "")

    def take(self, symbol: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if symbol is not None and token != ("sym", symbol):
            raise ArmError(f"expected {symbol!r}, found {token[1] or 'the end'!r}")
        self.position += 1
        return token

    def end(self) -> None:
        if self.peek()[0] != "end":
            raise ArmError(f"unexpected {self.peek()[1]!r}")

    def expression(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            value: Any = text[1:-1].replace("''", "'")
        elif kind == "num":
            value = int(text)
        elif kind == "id":
            value = self.call(text)
        else:
            raise ArmError(f"unexpected {text!r}")
        return self.accessors(value)

    def call(self, name: str) -> Any:
        self.take("(")
        args: list[Any] = []
        while self.peek() != ("sym", ")"):
            args.append(self.expression())
            if self.peek() == ("sym", ","):
                self.take(",")
        self.take(")")
        return self.apply(name.lower(), args)

    def apply(self, name: str, args: list[Any]) -> Any:
        if name == "parameters" and len(args) == 1:
            return self.context.parameter(str(args[0]))
        if name == "variables" and len(args) == 1:
            return self.context.variable(str(args[0]), self.depth)
        if name == "concat":
            if args and all(isinstance(a, list) for a in args):
                return [item for a in args for item in a]
            return "".join(str(a) for a in args)
        if name in ("true", "false") and not args:
            return name == "true"
        raise ArmError(f"the template function {name}() is not supported by the import")

    def accessors(self, value: Any) -> Any:
        while self.peek() in (("sym", "."), ("sym", "[")):
            if self.take()[1] == ".":
                value = self._member(value, self.take()[1])
            else:
                value = self._member(value, self.expression())
                self.take("]")
        return value

    @staticmethod
    def _member(value: Any, key: Any) -> Any:
        try:
            return value[key]
        except (KeyError, IndexError, TypeError):
            raise ArmError(f"no member {key!r}") from None
