"""Json files as JSON Lines: one object per row, keys in column order, `\\n` after each row.

Values are rendered as described in `render.py` (numbers stay numbers, decimals keep their exact
digits, NULL is `null`). A line feed inside a value is always escaped, so rows are counted back
by counting line feeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

from impala_copy.api.datasets import JsonDatasetSpec, TextCompressionCodec
from impala_copy.engine.sinks import render
from impala_copy.engine.sinks.files import PartWriter
from impala_copy.engine.sinks.text import TextPartWriter, count_lines


@dataclass(frozen=True)
class JsonLinesFormat:
    encoding_name: str = "UTF-8"
    gzip: bool = False

    @classmethod
    def from_spec(cls, spec: JsonDatasetSpec) -> JsonLinesFormat:
        return cls(encoding_name=spec.encoding_name, gzip=spec.compression_codec == TextCompressionCodec.GZIP)

    @property
    def extension(self) -> str:
        return ".jsonl.gz" if self.gzip else ".jsonl"

    def open_part(self, stream: pa.NativeFile, schema: pa.Schema) -> PartWriter:
        return TextPartWriter(stream, encoding_name=self.encoding_name, gzip=self.gzip, encode=self.encode)

    def encode(self, batch: pa.RecordBatch) -> pa.Array:
        """One `{"name":value,...}\\n` string per row."""
        pieces: list[pa.Array | str] = []
        for i, (name, col) in enumerate(zip(batch.schema.names, batch.columns, strict=True)):
            pieces.append(("{" if i == 0 else ",") + render.json_key(name) + ":")
            pieces.append(render.json_value(col))
        if not pieces:
            return pa.array(["{}\n"] * batch.num_rows, pa.string())
        pieces.append("}\n")
        return pc.binary_join_element_wise(*pieces, "")

    def count_rows(self, fs: pafs.FileSystem, path: str, schema: pa.Schema) -> int:
        return count_lines(fs, path, encoding_name=self.encoding_name, gzip=self.gzip)
