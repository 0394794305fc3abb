"""The pod-log channel of a lookup output too large for the termination message.

A termination message holds 4 KiB; ADF allows a Lookup output of 4 MiB. A larger output leaves the
lookup pod as gzip-compressed, base64-encoded text on stdout, in numbered lines

    impala-copy-lookup-result 1/3 H4sIAAAAAAAC/6tWSs7PL...
    impala-copy-lookup-result 2/3 ...
    impala-copy-lookup-result 3/3 ...

each at most FRAME_CHUNK_CHARS characters of payload (no container runtime splits such a line), and
the termination message carries `ResultFrames`: how many lines, the payload's length and its
SHA-256. The operator reads the pod's log (bounded by LOG_READ_LIMIT_BYTES) and `decode_frames`
rebuilds the JSON: it ignores every other line (progress on stderr shares the log), checks count,
order, length and digest, and decompresses with a bound, so a crafted log is an error, never a
memory blow-up.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import hmac
import math
import re
import zlib
from typing import Literal

from pydantic import Field

from impala_copy.api.common import ApiModel

FRAME_MARKER = "impala-copy-lookup-result"
FRAME_ENCODING = "gzip+base64"
# Payload characters per log line: far below the 16 KiB at which container runtimes split lines.
FRAME_CHUNK_CHARS = 8192
# ADF fails a Lookup whose output exceeds 4 MB; so does this one (bytes of the compact UTF-8 JSON).
MAX_OUTPUT_BYTES = 4 * 1024 * 1024
# The longest payload a MAX_OUTPUT_BYTES output can give: gzip of incompressible data adds 5 bytes
# per 16 KiB block and 18 of header and trailer, base64 adds a third.
MAX_PAYLOAD_BYTES = 4 * math.ceil((MAX_OUTPUT_BYTES + 5 * (MAX_OUTPUT_BYTES // 16384 + 1) + 18) / 3)
_LINE_OVERHEAD = len(FRAME_MARKER) + len(" 9999/9999 \n")
# What a reader of the pod log needs at most: every frame line, plus 1 MiB for the lines on stderr.
LOG_READ_LIMIT_BYTES = (
    MAX_PAYLOAD_BYTES + math.ceil(MAX_PAYLOAD_BYTES / FRAME_CHUNK_CHARS) * _LINE_OVERHEAD + 1024 * 1024
)

_LINE = re.compile(rf"^{FRAME_MARKER} (\d{{1,9}})/(\d{{1,9}}) ([A-Za-z0-9+/=]*)$")


class FrameError(ValueError):
    """The frames in the log do not rebuild the output the termination message describes."""


class ResultFrames(ApiModel):
    """How a lookup output was printed to the pod log (see the module's docstring)."""

    encoding: Literal["gzip+base64"] = Field(default="gzip+base64", description="Encoding of the payload.")
    chunks: int = Field(ge=1, description="Number of frame lines.")
    payload_bytes: int = Field(ge=1, description="Length of the base64 text, all lines together.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="Hex SHA-256 of the base64 text.")


def encode_frames(json_text: str) -> tuple[ResultFrames, list[str]]:
    """The frames of an output JSON text: their description and the log lines to print, in order."""
    payload = base64.b64encode(gzip.compress(json_text.encode("utf-8"), mtime=0)).decode("ascii")
    chunks = [payload[i : i + FRAME_CHUNK_CHARS] for i in range(0, len(payload), FRAME_CHUNK_CHARS)]
    n = len(chunks)
    frames = ResultFrames(
        chunks=n, payload_bytes=len(payload), sha256=hashlib.sha256(payload.encode("ascii")).hexdigest()
    )
    return frames, [f"{FRAME_MARKER} {i}/{n} {chunk}" for i, chunk in enumerate(chunks, start=1)]


def _payload(log_text: str, frames: ResultFrames, limit: int) -> str:
    """The base64 text of the frame lines, checked for count, order and length as it is collected."""
    parts: list[str] = []
    length = 0
    for line in log_text.splitlines():
        if not line.startswith(FRAME_MARKER + " "):
            continue
        match = _LINE.match(line)
        if match is None:
            raise FrameError(f"a {FRAME_MARKER} line is malformed (line {len(parts) + 1} expected)")
        index, total, chunk = int(match[1]), int(match[2]), match[3]
        if total != frames.chunks:
            raise FrameError(
                f"a frame line says {total} chunks; the termination message says {frames.chunks}"
            )
        if index != len(parts) + 1:
            raise FrameError(f"frame {index} of {total} came where frame {len(parts) + 1} was expected")
        length += len(chunk)
        if length > limit:
            raise FrameError(f"the frames hold more than the {limit} bytes the termination message announces")
        parts.append(chunk)
    if len(parts) != frames.chunks:
        raise FrameError(f"{len(parts)} of {frames.chunks} frames found in the log")
    return "".join(parts)


def _gunzip(data: bytes) -> bytes:
    """gzip data decompressed to at most MAX_OUTPUT_BYTES (one member, nothing after it)."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, MAX_OUTPUT_BYTES + 1)
    except zlib.error as exc:
        raise FrameError(f"the frames are not valid gzip data ({exc})") from None
    if len(out) > MAX_OUTPUT_BYTES or inflater.unconsumed_tail:
        raise FrameError(
            f"the frames decompress to more than the {MAX_OUTPUT_BYTES} bytes a lookup output may have"
        )
    if not inflater.eof or inflater.unused_data:
        raise FrameError("the gzip data in the frames is truncated or followed by other data")
    return out


def decode_frames(log_text: str, frames: ResultFrames, *, max_payload_bytes: int = MAX_PAYLOAD_BYTES) -> str:
    """The output JSON text that the frame lines in `log_text` carry; FrameError on any mismatch."""
    if frames.payload_bytes > max_payload_bytes:
        raise FrameError(
            f"the termination message announces {frames.payload_bytes} bytes of frames; "
            f"at most {max_payload_bytes} are accepted"
        )
    payload = _payload(log_text, frames, frames.payload_bytes)
    if len(payload) != frames.payload_bytes:
        raise FrameError(
            f"the frames hold {len(payload)} bytes; the termination message says {frames.payload_bytes}"
        )
    digest = hashlib.sha256(payload.encode("ascii")).hexdigest()
    if not hmac.compare_digest(digest, frames.sha256):
        raise FrameError("the SHA-256 of the frames differs from the termination message's")
    try:
        data = base64.b64decode(payload, validate=True)
    except binascii.Error as exc:
        raise FrameError(f"the frames are not valid base64 ({exc})") from None
    try:
        return _gunzip(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrameError(f"the output in the frames is not UTF-8 text (byte {exc.start})") from None


__all__ = [
    "FRAME_CHUNK_CHARS",
    "FRAME_ENCODING",
    "FRAME_MARKER",
    "LOG_READ_LIMIT_BYTES",
    "MAX_OUTPUT_BYTES",
    "MAX_PAYLOAD_BYTES",
    "FrameError",
    "ResultFrames",
    "decode_frames",
    "encode_frames",
]
