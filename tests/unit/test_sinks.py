"""File sink formats: Parquet, DelimitedText and JSON Lines written from Arrow batches and read back.

In:  an Arrow table with every type the source produces (NULLs, unicode, extreme integers, decimals
     with 4 and 10 fraction digits, timestamps with microseconds, binary, NaN/Infinity, a string with
     every special character), fed batch by batch to `FileSink` over the local file system.
Out: the files under a temporary folder, read back with independent readers (pyarrow.parquet,
     Arrow's CSV reader, json.loads) and compared value by value with the input; the text rendering
     rules (render.py) asserted on the raw bytes; names, rotation, compression and encodings.
Faked: nothing but the source, which is an in-memory table.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from tests.unit.arrow_samples import (
    ROWS,
    SCHEMA,
    assert_rows_equal,
    from_json,
    from_text,
    json_rows,
    numbered_table,
    sample_table,
)

from impala_copy.engine.errors import ConfigurationError
from impala_copy.engine.sinks.delimited_text import DelimitedTextFormat
from impala_copy.engine.sinks.files import FileFormat, FileSink, Naming
from impala_copy.engine.sinks.json_lines import JsonLinesFormat
from impala_copy.engine.sinks.parquet import ParquetFormat


def write(
    folder: Path,
    fmt: FileFormat,
    table: pa.Table,
    *,
    batch_rows: int = 2,
    run_id: str = "run-1",
    file_name: str | None = None,
    prefix: str | None = None,
    max_rows: int | None = None,
    verify: bool = True,
) -> list[Path]:
    naming = Naming(fmt.extension, file_name=file_name, prefix=prefix, max_rows_per_file=max_rows)
    sink = FileSink(pafs.LocalFileSystem(), str(folder), fmt, naming, run_id)
    sink.open(table.schema)
    for batch in table.to_batches(max_chunksize=batch_rows):
        sink.write(batch)
    result = sink.commit(verify=verify)
    assert result.rows_written == table.num_rows
    if verify:
        assert result.rows_verified == table.num_rows
    assert result.files_written == len(result.output_paths)
    assert result.bytes_written == sum(Path(p).stat().st_size for p in result.output_paths)
    return [Path(p) for p in result.output_paths]


def csv_rows(fmt: DelimitedTextFormat, paths: list[Path], schema: pa.Schema) -> list[dict[str, Any]]:
    read, parse, convert = fmt.read_options(len(schema))
    rows: list[dict[str, Any]] = []
    for path in paths:
        data = gzip.decompress(path.read_bytes()) if fmt.gzip else path.read_bytes()
        table = pacsv.read_csv(
            pa.BufferReader(data), read_options=read, parse_options=parse, convert_options=convert
        )
        for raw in table.to_pylist():
            rows.append({f.name: from_text(f.type, raw[f"c{i}"]) for i, f in enumerate(schema)})
    return rows


def jsonl_rows(
    paths: list[Path], schema: pa.Schema, *, compressed: bool = False, encoding: str = "utf-8"
) -> list[dict[str, Any]]:
    rows = []
    for path in paths:
        data = gzip.decompress(path.read_bytes()) if compressed else path.read_bytes()
        for raw in json_rows(data.decode(encoding)):
            rows.append({f.name: from_json(f.type, raw[f.name]) for f in schema})
    return rows


# ------------------------------------------------------------------------------------------ Parquet


@pytest.mark.parametrize("codec", ["none", "snappy", "gzip", "zstd"])
def test_parquet_round_trip_keeps_types_and_values(tmp_path: Path, codec: str) -> None:
    paths = write(tmp_path, ParquetFormat(codec), sample_table())
    assert [p.name for p in paths] == ["part_00000.parquet"]
    back = pq.read_table(paths[0])
    assert back.schema.equals(SCHEMA)
    assert_rows_equal(ROWS, back.to_pylist())
    meta = pq.ParquetFile(paths[0]).metadata
    assert meta.row_group(0).column(0).compression == ("UNCOMPRESSED" if codec == "none" else codec.upper())


def test_parquet_gathers_small_batches_into_row_groups(tmp_path: Path) -> None:
    paths = write(tmp_path, ParquetFormat(), numbered_table(10_000), batch_rows=100)
    meta = pq.ParquetFile(paths[0]).metadata
    assert (meta.num_rows, meta.num_row_groups) == (10_000, 1)


def test_parquet_keeps_dictionaries_of_few_values_and_drops_those_of_unique_ones(tmp_path: Path) -> None:
    rows = 100_000  # unique 8-byte keys: 800 KB, past the dictionary limit, under Arrow's default
    table = pa.table(
        {
            "key": pa.array(range(rows), pa.int64()),
            "status": pa.array(["new", "paid", "shipped", None] * (rows // 4), pa.string()),
        }
    )
    paths = write(tmp_path, ParquetFormat(), table, batch_rows=25_000)
    column = pq.ParquetFile(paths[0]).metadata.row_group(0).column
    assert "RLE_DICTIONARY" in column(1).encodings  # status: one small dictionary
    key = column(0)
    assert "PLAIN" in key.encodings  # key: fell back to plain pages...
    assert key.data_page_offset - key.dictionary_page_offset < 300_000  # ...after a 256 KiB dictionary
    assert pq.read_table(paths[0]).equals(table)


# ------------------------------------------------------------------------------------ DelimitedText


def test_csv_default_settings_round_trip(tmp_path: Path) -> None:
    fmt = DelimitedTextFormat(first_row_as_header=True)
    paths = write(tmp_path, fmt, sample_table())
    assert [p.name for p in paths] == ["part_00000.csv"]
    assert_rows_equal(ROWS, csv_rows(fmt, paths, SCHEMA))
    lines = paths[0].read_bytes().decode().split("\n")
    assert lines[0] == ",".join(SCHEMA.names)
    # The rendering rules, on the raw text.
    assert lines[1] == (
        "1,true,-128,9223372036854775807,1.5,0.1,12345678901234.5678,1234567890123456789012345678.0123456789,"
        'héllo wörld ✓ 日本語 🎉,2024-02-29T12:34:56.123456,2024-02-29,AP8Q,"{""x"":1,""y"":""z""}"'.replace(
            '""', '\\"'
        )
    )
    assert lines[2].startswith('2,false,127,-9223372036854775808,-2.25,-1e+300,-0.0001,-0.0000000001,"",')
    assert lines[3] == "3" + "," * (len(SCHEMA) - 1)  # NULL is the empty nullValue, unquoted
    assert ",Infinity,NaN,0.0000," in lines[4]
    # The special characters are quoted and escaped with the backslash escapeChar.
    assert (
        '"line1\nline2\r\t\\"quoted\\" \'single\' \\\\ back,comma;semi|pipe \x01 NULL"'
        in paths[0].read_bytes().decode()
    )


def test_csv_rfc4180_quotes_null_value_and_crlf(tmp_path: Path) -> None:
    fmt = DelimitedTextFormat(
        column_delimiter=";", row_delimiter="\r\n", quote_char='"', escape_char='"', null_value="NULL"
    )
    paths = write(tmp_path, fmt, sample_table())
    assert_rows_equal(ROWS, csv_rows(fmt, paths, SCHEMA))
    text = paths[0].read_bytes().decode()
    rows = text.split("\r\n")
    assert rows[2] == "3" + ";NULL" * (len(SCHEMA) - 1)
    assert ';"NULL";' in rows[4]  # the string "NULL" is quoted, so it is not read as NULL
    assert '""quoted""' in text
    assert "semi" in text
    assert ';"line1' in text


def test_csv_other_delimiter_and_quote(tmp_path: Path) -> None:
    fmt = DelimitedTextFormat(
        column_delimiter="|", quote_char="'", escape_char="\\", first_row_as_header=True
    )
    paths = write(tmp_path, fmt, sample_table())
    assert_rows_equal(ROWS, csv_rows(fmt, paths, SCHEMA))
    assert '|\'{"x":1,"y":"z"}\'' not in paths[0].read_text()  # no quote needed: no | ' \\ CR LF inside
    assert '|{"x":1,"y":"z"}' in paths[0].read_bytes().decode()


@pytest.mark.parametrize("encoding", ["UTF-16", "UTF-16LE", "UTF-16BE"])
def test_csv_utf16(tmp_path: Path, encoding: str) -> None:
    fmt = DelimitedTextFormat(first_row_as_header=True, encoding_name=encoding)
    paths = write(tmp_path, fmt, sample_table())
    assert_rows_equal(ROWS, csv_rows(fmt, paths, SCHEMA))
    codec = {"UTF-16": "utf-16", "UTF-16LE": "utf-16-le", "UTF-16BE": "utf-16-be"}[encoding]
    assert paths[0].read_bytes().decode(codec).startswith("id,c_bool,")


def test_csv_latin1_writes_single_bytes_and_rejects_what_it_cannot_encode(tmp_path: Path) -> None:
    fmt = DelimitedTextFormat(encoding_name="ISO-8859-1")
    table = pa.table({"s": ["héllo", "ÅÄÖ"]})
    paths = write(tmp_path / "ok", fmt, table)
    assert paths[0].read_bytes() == "héllo\nÅÄÖ\n".encode("latin-1")

    sink = FileSink(pafs.LocalFileSystem(), str(tmp_path / "bad"), fmt, Naming(".csv"), "r")
    sink.open(SCHEMA)
    with pytest.raises(ConfigurationError, match=r"U\+2713, which ISO-8859-1 cannot encode"):
        sink.write(sample_table().to_batches()[0])
    sink.abort()
    assert list((tmp_path / "bad").iterdir()) == []


def test_csv_gzip(tmp_path: Path) -> None:
    fmt = DelimitedTextFormat(first_row_as_header=True, gzip=True)
    paths = write(tmp_path, fmt, sample_table())
    assert [p.name for p in paths] == ["part_00000.csv.gz"]
    assert paths[0].read_bytes()[:2] == b"\x1f\x8b"
    assert_rows_equal(ROWS, csv_rows(fmt, paths, SCHEMA))


# ------------------------------------------------------------------------------------------- JSON


def test_jsonl_round_trip_and_rendering(tmp_path: Path) -> None:
    paths = write(tmp_path, JsonLinesFormat(), sample_table())
    assert [p.name for p in paths] == ["part_00000.jsonl"]
    assert_rows_equal(ROWS, jsonl_rows(paths, SCHEMA))
    lines = paths[0].read_bytes().decode().split("\n")[:-1]
    first = lines[0]
    assert first.startswith('{"id":1,"c_bool":true,"c_tiny":-128,"c_big":9223372036854775807,"c_float":1.5,')
    assert '"c_dec":12345678901234.5678,"c_dec38":1234567890123456789012345678.0123456789,' in first
    assert (
        '"c_str":"héllo wörld ✓ 日本語 🎉","c_ts":"2024-02-29T12:34:56.123456","c_date":"2024-02-29"' in first
    )
    assert '"c_bin":"AP8Q","c_json":"{\\"x\\":1,\\"y\\":\\"z\\"}"}' in first
    assert json.loads(lines[2]) == {"id": 3, **dict.fromkeys(SCHEMA.names[1:])}
    assert '"c_float":"Infinity","c_double":"NaN"' in lines[3]
    assert "\\u0001" in lines[3]
    assert "\\n" in lines[3]


def test_jsonl_gzip_and_utf16(tmp_path: Path) -> None:
    paths = write(tmp_path / "gz", JsonLinesFormat(gzip=True), sample_table())
    assert [p.name for p in paths] == ["part_00000.jsonl.gz"]
    assert_rows_equal(ROWS, jsonl_rows(paths, SCHEMA, compressed=True))
    paths = write(tmp_path / "u16", JsonLinesFormat(encoding_name="UTF-16BE"), sample_table())
    assert_rows_equal(ROWS, jsonl_rows(paths, SCHEMA, encoding="utf-16-be"))


# ----------------------------------------------------------------------------- naming and rotation


@pytest.mark.parametrize(
    ("fmt", "ext"),
    [(ParquetFormat(), ".parquet"), (DelimitedTextFormat(), ".csv"), (JsonLinesFormat(), ".jsonl")],
)
def test_rotation_splits_rows_across_numbered_parts(tmp_path: Path, fmt: FileFormat, ext: str) -> None:
    table = numbered_table(10)
    paths = write(tmp_path, fmt, table, batch_rows=4, max_rows=3, prefix="orders")
    assert [p.name for p in paths] == [f"orders_0000{i}{ext}" for i in range(4)]
    counts = [fmt.count_rows(pafs.LocalFileSystem(), str(p), table.schema) for p in paths]
    assert counts == [3, 3, 3, 1]
    if isinstance(fmt, ParquetFormat):
        back = pa.concat_tables([pq.read_table(p) for p in paths])
        assert back.column("n").to_pylist() == list(range(10))


def test_exact_multiple_of_max_rows_makes_no_empty_part(tmp_path: Path) -> None:
    paths = write(tmp_path, JsonLinesFormat(), numbered_table(6), batch_rows=6, max_rows=3)
    assert [p.name for p in paths] == ["part_00000.jsonl", "part_00001.jsonl"]


def test_file_name_is_one_file_and_its_stem_prefixes_rotated_parts(tmp_path: Path) -> None:
    paths = write(tmp_path / "one", ParquetFormat(), numbered_table(10), file_name="orders.parquet")
    assert [p.name for p in paths] == ["orders.parquet"]
    paths = write(
        tmp_path / "many", DelimitedTextFormat(), numbered_table(5), file_name="orders.csv", max_rows=2
    )
    assert [p.name for p in paths] == ["orders_00000.csv", "orders_00001.csv", "orders_00002.csv"]


@pytest.mark.parametrize(
    ("fmt", "content"),
    [
        (DelimitedTextFormat(first_row_as_header=True), b"n,s\n"),
        (DelimitedTextFormat(), b""),
        (JsonLinesFormat(), b""),
    ],
)
def test_empty_result_writes_one_file(tmp_path: Path, fmt: FileFormat, content: bytes) -> None:
    paths = write(tmp_path, fmt, numbered_table(0), max_rows=10)
    assert len(paths) == 1
    assert paths[0].read_bytes() == content


def test_empty_result_parquet_keeps_the_schema(tmp_path: Path) -> None:
    paths = write(tmp_path, ParquetFormat(), sample_table().slice(0, 0))
    back = pq.read_table(paths[0])
    assert back.num_rows == 0
    assert back.schema.equals(SCHEMA)
