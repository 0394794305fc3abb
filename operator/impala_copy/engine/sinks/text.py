"""Text output shared by DelimitedText and Json: encoding, gzip, and lines of a string array as bytes.

A batch is encoded in slices of `SLICE_ROWS` rows into one string array of whole lines; its data
buffer is written as is (UTF-8) or transcoded once per slice (other encodings): no Python string
per value.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

from impala_copy.engine.errors import ConfigurationError

SLICE_ROWS = 16384
READ_CHUNK = 1 << 20

# ADF encodingName -> Python codec.
CODECS = {
    "UTF-8": "utf-8",
    "UTF-16": "utf-16",
    "UTF-16LE": "utf-16-le",
    "UTF-16BE": "utf-16-be",
    "ISO-8859-1": "latin-1",
    "US-ASCII": "ascii",
}


def python_codec(encoding_name: str) -> str:
    try:
        return CODECS[encoding_name]
    except KeyError:
        raise ConfigurationError(
            f"unsupported encodingName {encoding_name!r}; expected one of {sorted(CODECS)}"
        ) from None


def compression(gzip: bool) -> str | None:
    return "gzip" if gzip else None


def slices(batch: pa.RecordBatch, rows: int = SLICE_ROWS) -> Iterator[pa.RecordBatch]:
    for offset in range(0, batch.num_rows, rows):
        yield batch.slice(offset, rows)


def lines_buffer(lines: pa.Array) -> pa.Buffer:
    """The bytes of a NULL-free string array back to back: its data buffer, first to last offset."""
    if lines.null_count:
        raise ValueError("lines_buffer needs an array without NULLs")
    if len(lines) == 0:
        return pa.py_buffer(b"")
    if not pa.types.is_large_string(lines.type):
        lines = lines.cast(pa.large_string())
    _, offsets, data = lines.buffers()
    view = memoryview(offsets).cast("q")
    start, end = view[lines.offset], view[lines.offset + len(lines)]
    return data.slice(start, end - start)


def append_eol(lines: pa.Array, eol: str) -> pa.Array:
    return pc.binary_join_element_wise(lines, eol, "")


class TextPartWriter:
    """A text part: optional header, lines from `encode(batch)`, in an encoding, optionally gzip."""

    def __init__(
        self,
        stream: pa.NativeFile,
        *,
        encoding_name: str,
        gzip: bool,
        encode: Callable[[pa.RecordBatch], pa.Array],
        header: str | None = None,
    ) -> None:
        codec = python_codec(encoding_name)
        self._encoding_name = encoding_name
        self._out = pa.CompressedOutputStream(stream, "gzip") if gzip else stream
        self._encoder = None if codec == "utf-8" else codecs.getincrementalencoder(codec)(errors="strict")
        self._encode = encode
        if header is not None:
            self._emit(pa.py_buffer(header.encode("utf-8")))

    def write(self, batch: pa.RecordBatch) -> None:
        for piece in slices(batch):
            self._emit(lines_buffer(self._encode(piece)))

    def close(self) -> None:
        if self._encoder is not None:
            self._out.write(self._encoder.encode("", final=True))
        self._out.close()

    def _emit(self, data: pa.Buffer) -> None:
        if self._encoder is None:
            self._out.write(data)
            return
        chunk = data.to_pybytes().decode("utf-8")
        try:
            self._out.write(self._encoder.encode(chunk))
        except UnicodeEncodeError as exc:
            bad = exc.object[exc.start]
            raise ConfigurationError(
                f"a value holds the character U+{ord(bad):04X}, which {self._encoding_name} cannot encode: "
                "choose encodingName UTF-8"
            ) from None


def count_lines(fs: pafs.FileSystem, path: str, *, encoding_name: str, gzip: bool) -> int:
    """Line feeds in a text file (after decompression, in its encoding)."""
    codec = python_codec(encoding_name)
    single_byte = codec in ("utf-8", "latin-1", "ascii")
    decoder = None if single_byte else codecs.getincrementaldecoder(codec)()
    count = 0
    with fs.open_input_stream(path, compression=compression(gzip)) as f:
        while chunk := f.read(READ_CHUNK):
            count += chunk.count(b"\n") if decoder is None else decoder.decode(chunk).count("\n")
    return count
