"""The pod-log channel of large lookup outputs: encode_frames and decode_frames (api/lookup_frames.py).

In:  output JSON texts (small, 4 MiB of incompressible text, non-ASCII), the frame lines they give,
     and logs built from them: interleaved with other lines, with a chunk missing, reordered,
     duplicated or altered, with a wrong digest or length, oversize, a gzip bomb, non-UTF-8 content.
Out: the exact JSON text back, or one FrameError whose message names the mismatch.
Faked: nothing (pure functions; the logs are the text a pods/log read returns).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import random
import string

import pytest

from impala_copy.api.lookup_frames import (
    FRAME_CHUNK_CHARS,
    FRAME_MARKER,
    LOG_READ_LIMIT_BYTES,
    MAX_OUTPUT_BYTES,
    MAX_PAYLOAD_BYTES,
    FrameError,
    ResultFrames,
    decode_frames,
    encode_frames,
)


def big_output(size: int, seed: int = 7) -> str:
    """Compact JSON of about `size` bytes of random (incompressible) text."""
    rng = random.Random(seed)
    value = "".join(rng.choices(string.ascii_letters + string.digits, k=size - 40))
    return json.dumps({"count": 1, "value": [{"s": value}]}, separators=(",", ":"))


def frames_of(payload: str, chunks: int) -> ResultFrames:
    return ResultFrames(
        chunks=chunks, payload_bytes=len(payload), sha256=hashlib.sha256(payload.encode()).hexdigest()
    )


def lines_of(payload: str) -> list[str]:
    parts = [payload[i : i + FRAME_CHUNK_CHARS] for i in range(0, len(payload), FRAME_CHUNK_CHARS)]
    return [f"{FRAME_MARKER} {i}/{len(parts)} {p}" for i, p in enumerate(parts, start=1)]


def test_a_small_output_is_one_line_that_decodes_back() -> None:
    text = '{"firstRow":{"id":1,"name":"Ana"}}'
    frames, lines = encode_frames(text)
    assert frames.chunks == 1 == len(lines)
    assert lines[0].startswith(f"{FRAME_MARKER} 1/1 H4sI")  # gzip magic, base64
    assert frames.payload_bytes == len(lines[0].split(" ")[2])
    assert frames.encoding == "gzip+base64"
    assert decode_frames("\n".join(lines), frames) == text


def test_encoding_is_deterministic() -> None:
    assert encode_frames(big_output(50_000)) == encode_frames(big_output(50_000))


def test_4_mib_of_incompressible_json_round_trips_within_the_announced_bounds() -> None:
    text = big_output(MAX_OUTPUT_BYTES)
    frames, lines = encode_frames(text)
    assert all(len(line) <= len(FRAME_MARKER) + 12 + FRAME_CHUNK_CHARS for line in lines)
    assert {len(line.split(" ")[2]) for line in lines[:-1]} == {FRAME_CHUNK_CHARS}
    assert frames.chunks == len(lines) > 500
    assert frames.payload_bytes <= MAX_PAYLOAD_BYTES
    log = "\n".join(lines) + "\n"
    assert len(log.encode()) <= LOG_READ_LIMIT_BYTES - 1024 * 1024
    assert decode_frames(log, frames) == text


def test_other_log_lines_between_frames_are_ignored() -> None:
    text = big_output(60_000)
    frames, lines = encode_frames(text)
    assert len(lines) >= 5
    noise = [
        "2026-01-02 03:04:05,678 INFO lookup r1 of LookupActivity default/orders started",
        f"{FRAME_MARKER}x not a frame",
        "",
        '{"task":"lookup","status":"Succeeded"}',
    ]
    mixed: list[str] = []
    for i, line in enumerate(lines):
        mixed += [noise[i % len(noise)], line]
    mixed.append(noise[0])
    assert decode_frames("\r\n".join(mixed), frames) == text


def test_non_ascii_output_round_trips() -> None:
    text = json.dumps({"firstRow": {"名前": "日本語 ✓ 🙂"}}, ensure_ascii=False, separators=(",", ":"))
    frames, lines = encode_frames(text)
    assert decode_frames("\n".join(lines), frames) == text


@pytest.fixture
def three() -> tuple[str, ResultFrames, list[str]]:
    text = big_output(24_000)
    frames, lines = encode_frames(text)
    assert frames.chunks == 3
    return text, frames, lines


def test_a_missing_chunk_is_an_error(three: tuple[str, ResultFrames, list[str]]) -> None:
    _, frames, lines = three
    with pytest.raises(FrameError, match=r"^2 of 3 frames found in the log$"):
        decode_frames("\n".join(lines[:2]), frames)
    with pytest.raises(FrameError, match=r"^frame 3 of 3 came where frame 2 was expected$"):
        decode_frames("\n".join([lines[0], lines[2]]), frames)


def test_no_frame_at_all_is_an_error(three: tuple[str, ResultFrames, list[str]]) -> None:
    with pytest.raises(FrameError, match=r"^0 of 3 frames found in the log$"):
        decode_frames("progress rows=10\n", three[1])


def test_reordered_and_repeated_chunks_are_errors(three: tuple[str, ResultFrames, list[str]]) -> None:
    _, frames, lines = three
    with pytest.raises(FrameError, match=r"^frame 2 of 3 came where frame 1 was expected$"):
        decode_frames("\n".join([lines[1], lines[0], lines[2]]), frames)
    with pytest.raises(FrameError, match=r"^frame 1 of 3 came where frame 2 was expected$"):
        decode_frames("\n".join([lines[0], lines[0], lines[1], lines[2]]), frames)
    with pytest.raises(FrameError, match=r"frames hold more than the"):
        decode_frames("\n".join([*lines, lines[2].replace(" 3/3 ", " 4/3 ")]), frames)


def test_a_chunk_count_other_than_announced_is_an_error(three: tuple[str, ResultFrames, list[str]]) -> None:
    _, frames, lines = three
    bad = lines[1].replace(" 2/3 ", " 2/4 ")
    with pytest.raises(FrameError, match=r"^a frame line says 4 chunks; the termination message says 3$"):
        decode_frames("\n".join([lines[0], bad, lines[2]]), frames)


def test_a_malformed_frame_line_is_an_error(three: tuple[str, ResultFrames, list[str]]) -> None:
    _, frames, lines = three
    for bad in (lines[1] + " trailing", lines[1].replace(" 2/3 ", " two/3 "), lines[1][:-1] + "!"):
        with pytest.raises(FrameError, match=rf"^a {FRAME_MARKER} line is malformed \(line 2 expected\)$"):
            decode_frames("\n".join([lines[0], bad, lines[2]]), frames)


def test_a_wrong_digest_is_an_error(three: tuple[str, ResultFrames, list[str]]) -> None:
    _, frames, lines = three
    altered = lines[1][:-5] + ("A" if lines[1][-5] != "A" else "B") + lines[1][-4:]
    with pytest.raises(
        FrameError, match=r"^the SHA-256 of the frames differs from the termination message's$"
    ):
        decode_frames("\n".join([lines[0], altered, lines[2]]), frames)
    wrong = frames.model_copy(update={"sha256": "0" * 64})
    with pytest.raises(FrameError, match="SHA-256"):
        decode_frames("\n".join(lines), wrong)


def test_a_length_other_than_announced_is_an_error(three: tuple[str, ResultFrames, list[str]]) -> None:
    _, frames, lines = three
    short = frames.model_copy(update={"payload_bytes": frames.payload_bytes - 1})
    with pytest.raises(FrameError, match=r"^the frames hold more than the \d+ bytes"):
        decode_frames("\n".join(lines), short)
    long = frames.model_copy(update={"payload_bytes": frames.payload_bytes + 4})
    with pytest.raises(FrameError, match=rf"^the frames hold {frames.payload_bytes} bytes; the termination"):
        decode_frames("\n".join(lines), long)


def test_an_oversize_announcement_is_refused_before_reading_the_log() -> None:
    frames = ResultFrames(chunks=1, payload_bytes=MAX_PAYLOAD_BYTES + 1, sha256="0" * 64)
    with pytest.raises(FrameError, match=rf"announces {MAX_PAYLOAD_BYTES + 1} bytes of frames; at most"):
        decode_frames("", frames)
    small, lines = encode_frames(big_output(20_000))
    with pytest.raises(FrameError, match=r"at most 100 are accepted"):
        decode_frames("\n".join(lines), small, max_payload_bytes=100)


def test_a_gzip_bomb_is_an_error() -> None:
    bomb = base64.b64encode(gzip.compress(b" " * (MAX_OUTPUT_BYTES + 1), mtime=0)).decode()
    assert len(bomb) < 20_000
    frames = frames_of(bomb, len(lines_of(bomb)))
    with pytest.raises(FrameError, match=r"^the frames decompress to more than the 4194304 bytes"):
        decode_frames("\n".join(lines_of(bomb)), frames)


def test_exactly_the_limit_decompresses() -> None:
    text = '"' + " " * (MAX_OUTPUT_BYTES - 2) + '"'
    frames, lines = encode_frames(text)
    assert decode_frames("\n".join(lines), frames) == text


def test_non_utf8_content_is_an_error() -> None:
    payload = base64.b64encode(gzip.compress(b'{"a":"\xff\xfe"}', mtime=0)).decode()
    with pytest.raises(FrameError, match=r"^the output in the frames is not UTF-8 text \(byte 6\)$"):
        decode_frames(lines_of(payload)[0], frames_of(payload, 1))


def test_data_that_is_not_gzip_or_is_cut_short_is_an_error() -> None:
    plain = base64.b64encode(b'{"firstRow":{}}').decode()
    with pytest.raises(FrameError, match=r"^the frames are not valid gzip data"):
        decode_frames(lines_of(plain)[0], frames_of(plain, 1))
    whole = gzip.compress(b'{"firstRow":{"a":1}}', mtime=0)
    for data in (whole[:-6], whole + b"trailing"):
        payload = base64.b64encode(data).decode()
        with pytest.raises(FrameError, match=r"^the gzip data in the frames is truncated or followed"):
            decode_frames(lines_of(payload)[0], frames_of(payload, 1))


def test_bad_base64_is_an_error() -> None:
    payload = "QUJD=QUJD"
    with pytest.raises(FrameError, match=r"^the frames are not valid base64"):
        decode_frames(lines_of(payload)[0], frames_of(payload, 1))


def test_the_description_is_strict_on_the_wire() -> None:
    frames, _ = encode_frames("{}")
    wire = frames.to_wire()
    assert set(wire) == {"encoding", "chunks", "payloadBytes", "sha256"}
    assert ResultFrames.model_validate(wire) == frames
    for bad in ({"chunks": 0}, {"sha256": "ABC"}, {"encoding": "zstd"}, {"extra": 1}):
        with pytest.raises(ValueError):
            ResultFrames.model_validate(wire | bad)
