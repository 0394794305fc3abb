"""Reading YAML manifest files with limits: a crafted file fails fast with a line number, never a crash.

`ManifestLoader` is PyYAML's SafeLoader (no Python objects) with these limits:
- a file holds at most MAX_FILE_BYTES;
- nesting is at most MAX_DEPTH levels (deeper input would end in RecursionError);
- a document, with every alias expanded, holds at most MAX_NODES nodes (an "alias bomb" of nested
  aliases is refused while it is read, before anything is built from it); an alias inside its own
  anchor (a recursive structure) is refused;
- a mapping key written twice is an error naming the key and both lines (YAML would keep the last
  one silently, so a second metadata.name would rename the object).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 100
MAX_NODES = 100_000
MERGE_TAG = "tag:yaml.org,2002:merge"


class ManifestYamlError(yaml.YAMLError):
    """A limit or rule of ManifestLoader: the message and the line (1-based) where it was found."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ManifestLoader(yaml.SafeLoader):
    """SafeLoader with the limits of the module docstring."""

    def __init__(self, text: str, name: str) -> None:
        super().__init__(text)
        self.name = name  # marks (and PyYAML's own errors) name the file
        self._depth = 0
        self._nodes = 0
        self._sizes: dict[str, int] = {}  # anchor -> nodes under it, aliases expanded

    def compose_document(self) -> Node | None:
        self._nodes = 0
        self._sizes = {}
        node: Node | None = super().compose_document()
        return node

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1
        if isinstance(event, AliasEvent):
            size = self._sizes.get(str(event.anchor))
            if size is None and event.anchor in self.anchors:
                raise ManifestYamlError(
                    f"alias *{event.anchor} is inside its own anchor (a recursive structure)", line
                )
            self._count(size or 0, line)
            alias: Node | None = super().compose_node(parent, index)
            return alias
        if self._depth >= MAX_DEPTH:
            raise ManifestYamlError(f"nested deeper than {MAX_DEPTH} levels", line)
        before = self._nodes
        self._count(1, line)
        self._depth += 1
        try:
            node: Node | None = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._sizes[anchor] = self._nodes - before
        return node

    def _count(self, nodes: int, line: int) -> None:
        self._nodes += nodes
        if self._nodes > MAX_NODES:
            raise ManifestYamlError(
                f"the document expands to more than {MAX_NODES} nodes with its aliases (an alias bomb?)", line
            )

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == MERGE_TAG:
                continue
            key = self.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ManifestYamlError(f"duplicate key {key!r} (first on line {seen[key]})", line)
            seen[key] = line
        mapping: dict[Any, Any] = super().construct_mapping(node, deep)
        return mapping


def read_documents(file: Path) -> list[Any]:
    """Every document of a manifest file. Raises yaml.YAMLError (ManifestYamlError for our limits),
    UnicodeDecodeError, or ManifestYamlError for a file over MAX_FILE_BYTES."""
    with file.open("rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ManifestYamlError(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB", 1)
    return list(_documents(ManifestLoader(data.decode("utf-8"), str(file))))


def _documents(loader: ManifestLoader) -> Iterator[Any]:
    try:
        while loader.check_data():  # type: ignore[no-untyped-call]
            yield loader.get_data()
    finally:
        loader.dispose()
