"""The scrubber of secret values (engine/secrets.py) and where the engine applies it.

In:  secret values (plain, with characters URL and base64 encodings change), texts quoting them the
     ways servers and libraries do (plain, URL-encoded, inside an HTTP Basic token, a Python bytes
     repr, JSON), CopyErrors raised through the engine's entry points.
Out: the exact scrubbed text; the error's type, code and retryability kept; the run summary of a
     copy whose sink fails with a message quoting the password.
Faked: nothing (the failing copy is a real run against a closed port).
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import pytest

from impala_copy.engine.errors import AuthenticationFailed, CopyError
from impala_copy.engine.secrets import MASK, Scrubber, scrubs_errors
from impala_copy.engine.source.errors import rpc_error

PASSWORD = "s3cr3t/P@ss word+"


def test_plain_and_url_encoded_values_are_masked() -> None:
    scrub = Scrubber([PASSWORD])
    text = f"login failed for {PASSWORD}; uri postgresql://u:{quote(PASSWORD, safe='')}@h/db"
    assert scrub(text) == "login failed for ***; uri postgresql://u:***@h/db"


@pytest.mark.parametrize("user", ["alice", "bob1", "carol12", "x"])
def test_a_value_inside_an_http_basic_token_is_masked_at_any_alignment(user: str) -> None:
    token = base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
    scrubbed = Scrubber([PASSWORD])(f"Authorization: Basic {token}")
    assert MASK in scrubbed
    # What is left around the mask decodes to the user name and at most 2 bytes of the password.
    head, tail = scrubbed.removeprefix("Authorization: Basic ").split(MASK)
    decoded = base64.b64decode(head[: len(head) // 4 * 4]).decode()
    assert f"{user}:{PASSWORD[:2]}".startswith(decoded), decoded
    assert len(tail) <= 4, tail


def test_bytes_repr_and_json_escapes_are_masked() -> None:
    value = "it's\\a\"secret\u00e9"
    scrub = Scrubber([value])
    payload = b"\x00alice\x00" + value.encode()
    assert scrub(f"Bad status: 3 ({payload!r})") == "Bad status: 3 (b'\\x00alice\\x00***')"
    assert scrub(json.dumps({"password": value})) == '{"password": "***"}'


def test_the_longest_form_wins_and_short_or_empty_values_are_left_alone() -> None:
    scrub = Scrubber(["abcdef", "abc", "ab", "", None])
    assert scrub("abcdefg abcx ab") == "***g ***x ab"
    assert not Scrubber(["", None, "ab"])
    assert Scrubber([])("nothing to hide") == "nothing to hide"


def test_an_error_keeps_its_type_code_and_exit_code() -> None:
    err = AuthenticationFailed(f"rejected {PASSWORD}")
    same = Scrubber([PASSWORD]).error(err)
    assert same is err
    assert (same.message, str(same), same.code, same.exit_code) == (
        "rejected ***",
        "rejected ***",
        "AuthenticationFailed",
        2,
    )


def test_scrubs_errors_masks_the_values_of_the_secrets_argument() -> None:
    @scrubs_errors
    def entry(plan: Any, secrets: dict[str, str]) -> None:
        raise CopyError(f"the server said {secrets['ICP_SECRET_X']}")

    with pytest.raises(CopyError) as caught:
        entry(None, {"ICP_SECRET_X": PASSWORD})
    assert caught.value.message == "the server said ***"
    with pytest.raises(CopyError) as caught:
        entry(None, secrets={"ICP_SECRET_X": PASSWORD})
    assert caught.value.message == "the server said ***"


def test_thrift_size_limits_are_configuration_errors_naming_the_limit() -> None:
    from thrift.transport.TTransport import TTransportException

    err = rpc_error(
        TTransportException(6, "Length exceeded max allowed: 16384000"), "h:21050", "fetching results", 30
    )
    assert (err.code, err.retryable) == ("InvalidConfiguration", False)
    assert err.message == (
        "h:21050 sent a value while fetching results, over the client's limit of 16384000 bytes "
        "(16.384 MB); a single value that large cannot be read: leave the column out or cut it in the "
        "query (e.g. substr)"
    )
    frame = rpc_error(
        TTransportException(6, "Frame size (20000000) larger than the maximum (16384000)"), "h:1", "x", 30
    )
    assert frame.message.startswith("h:1 sent a frame of 20000000 bytes while x, over the client's limit of")


def test_the_secret_parts_of_a_connection_string_and_a_sas_token_are_masked_on_their_own() -> None:
    connection_string = (
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5c2VjcmV0Zm9v;"
        "EndpointSuffix=core.windows.net"
    )
    sas = "sv=2022-11-02&ss=b&srt=co&sig=abc%2Bdefghij%3D"
    scrub = Scrubber([connection_string, sas])
    assert scrub("key a2V5c2VjcmV0Zm9v refused at https://acct.blob.core.windows.net") == (
        "key *** refused at https://acct.blob.core.windows.net"
    )
    assert scrub("signature abc+defghij= did not match; sig=abc%2Bdefghij%3D") == (
        "signature *** did not match; sig=***"
    )
