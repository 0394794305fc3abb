"""DelimitedText (CSV) files: columnDelimiter, rowDelimiter, quoteChar, escapeChar, firstRowAsHeader,
nullValue, encodingName, gzip.

Quoting (ADF's): a value is put in quoteChar when it holds the column delimiter, the quote or escape
character, a carriage return or a line feed, when it is empty (so `""` is an empty string and an
unquoted nullValue is NULL), or when it equals nullValue. Inside quotes, escapeChar precedes every
quoteChar and escapeChar; when escapeChar equals quoteChar, quotes are doubled (RFC 4180).
Values are rendered as described in `render.py`. Rows are counted back with Arrow's CSV reader using
the same settings, so a value with a line break counts as one row.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.fs as pafs

from impala_copy.api.datasets import DelimitedTextDatasetSpec, TextCompressionCodec
from impala_copy.engine.sinks import render
from impala_copy.engine.sinks.files import PartWriter
from impala_copy.engine.sinks.text import TextPartWriter, append_eol, compression, python_codec


@dataclass(frozen=True)
class DelimitedTextFormat:
    column_delimiter: str = ","
    row_delimiter: str = "\n"
    quote_char: str = '"'
    escape_char: str = "\\"
    first_row_as_header: bool = False
    null_value: str = ""
    encoding_name: str = "UTF-8"
    gzip: bool = False

    @classmethod
    def from_spec(cls, spec: DelimitedTextDatasetSpec) -> DelimitedTextFormat:
        return cls(
            column_delimiter=spec.column_delimiter,
            row_delimiter=spec.row_delimiter,
            quote_char=spec.quote_char,
            escape_char=spec.escape_char,
            first_row_as_header=spec.first_row_as_header,
            null_value=spec.null_value,
            encoding_name=spec.encoding_name,
            gzip=spec.compression_codec == TextCompressionCodec.GZIP,
        )

    @property
    def extension(self) -> str:
        return ".csv.gz" if self.gzip else ".csv"

    @property
    def _specials(self) -> set[str]:
        return {self.column_delimiter, self.quote_char, self.escape_char, "\r", "\n"}

    def open_part(self, stream: pa.NativeFile, schema: pa.Schema) -> PartWriter:
        header = None
        if self.first_row_as_header:
            names = pa.array(schema.names, pa.string())
            header = (
                self.column_delimiter.join(self._quote(names, string_like=True).to_pylist())
                + self.row_delimiter
            )
        return TextPartWriter(
            stream, encoding_name=self.encoding_name, gzip=self.gzip, encode=self.encode, header=header
        )

    def encode(self, batch: pa.RecordBatch) -> pa.Array:
        """One string per row: the fields, quoted where needed, joined, with the row delimiter."""
        fields = [
            pc.fill_null(
                self._quote(render.text(col), string_like=render.is_string_like(col.type)), self.null_value
            )
            for col in batch.columns
        ]
        if not fields:
            return pa.array([self.row_delimiter] * batch.num_rows, pa.string())
        row = fields[0] if len(fields) == 1 else pc.binary_join_element_wise(*fields, self.column_delimiter)
        return append_eol(row, self.row_delimiter)

    def _quote(self, values: pa.Array, *, string_like: bool) -> pa.Array:
        specials = self._specials
        if not string_like and not (specials | set(self.null_value)) & render.NON_STRING_ALPHABET:
            return values  # numbers, dates, booleans cannot hold a special character here
        needs = None
        for ch in specials:
            hit = pc.match_substring(values, ch)
            needs = hit if needs is None else pc.or_(needs, hit)
        assert needs is not None
        if string_like:
            needs = pc.or_(needs, pc.equal(values, ""))
        if self.null_value:
            needs = pc.or_(needs, pc.equal(values, self.null_value))
        needs = pc.fill_null(needs, False)
        if not pc.any(needs).as_py():
            return values
        escaped = values
        if self.escape_char == self.quote_char:
            escaped = pc.replace_substring(escaped, self.quote_char, self.quote_char * 2)
        else:
            escaped = pc.replace_substring(escaped, self.escape_char, self.escape_char * 2)
            escaped = pc.replace_substring(escaped, self.quote_char, self.escape_char + self.quote_char)
        quoted = pc.binary_join_element_wise(self.quote_char, escaped, self.quote_char, "")
        return pc.if_else(needs, quoted, values)

    # ---------------------------------------------------------------------------- reading back

    def read_options(
        self, column_count: int
    ) -> tuple[pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions]:
        """Arrow CSV reader options that read these files back (all columns as strings)."""
        names = [f"c{i}" for i in range(column_count)]
        read = pacsv.ReadOptions(
            column_names=names,
            skip_rows=1 if self.first_row_as_header else 0,
            encoding=python_codec(self.encoding_name),
        )
        same = self.escape_char == self.quote_char
        parse = pacsv.ParseOptions(
            delimiter=self.column_delimiter,
            quote_char=self.quote_char,
            double_quote=same,
            escape_char=False if same else self.escape_char,
            newlines_in_values=True,
        )
        convert = pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            null_values=[self.null_value],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        )
        return read, parse, convert

    def count_rows(self, fs: pafs.FileSystem, path: str, schema: pa.Schema) -> int:
        read, parse, convert = self.read_options(len(schema))
        rows = 0
        with fs.open_input_stream(path, compression=compression(self.gzip)) as f:
            try:
                reader = pacsv.open_csv(f, read_options=read, parse_options=parse, convert_options=convert)
            except pa.ArrowInvalid as exc:
                if "Empty CSV file" in str(exc):
                    return 0
                raise
            for batch in reader:
                rows += batch.num_rows
        return rows
