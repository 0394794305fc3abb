"""Placeholders of the run in queries and file paths: finding, formats, SQL literals, paths.

In:  queries and path templates with our placeholders ({windowStart}, {runId:...}), ADF's spellings
     (@{trigger().outputs.windowStartTime}, @{formatDateTime(...)}), look-alikes that are not
     placeholders (a{2}, {foo}), unsupported ADF expressions, hostile formats and values.
Out: the exact SQL or path text, or PlaceholderError with its exact message.
Faked: nothing (pure functions).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from impala_copy.api.path_templates import (
    FILE_NAME,
    FILE_NAME_PREFIX,
    FOLDER_PATH,
    check_template,
    render_template,
)
from impala_copy.api.placeholder_rendering import MissingValue, render_sql, render_text
from impala_copy.api.placeholders import PlaceholderError, SqlFragment, Where, find
from impala_copy.api.time_formats import format_time

VALUES = {
    "windowStart": datetime(2026, 12, 1, tzinfo=UTC),
    "windowEnd": datetime(2026, 12, 2, tzinfo=UTC),
    "triggerTime": datetime(2026, 12, 2, 0, 5, 30, tzinfo=UTC),
    "scheduledTime": datetime(2026, 12, 2, tzinfo=UTC),
    "runId": "orders-20261202-1",
}
START = "CAST('2026-12-01 00:00:00' AS TIMESTAMP)"


@pytest.mark.parametrize(
    ("ours", "adf"),
    [
        ("{windowStart}", "@{trigger().outputs.windowStartTime}"),
        ("{windowEnd}", "@{trigger().outputs.windowEndTime}"),
        ("{scheduledTime}", "@{trigger().scheduledTime}"),
        ("{triggerTime}", "@{trigger().startTime}"),
        ("{triggerTime}", "@{pipeline().TriggerTime}"),
        ("{runId}", "@{pipeline().RunId}"),
        ("{windowStart:yyyy-MM-dd}", "@{formatDateTime(trigger().outputs.windowStartTime,'yyyy-MM-dd')}"),
        ("{windowEnd:yyyyMMddHH}", "@{formatDateTime(trigger().outputs.windowEndTime,'yyyyMMddHH')}"),
        (
            "{windowStart:yyyy-MM-dd}",
            '@{ formatDateTime( trigger().outputs.windowStartTime , "yyyy-MM-dd" ) }',
        ),
        ("{windowStart:HH:mm}", "@{formatdatetime(Trigger().Outputs.WindowStartTime, 'HH:mm')}"),
        ("{triggerTime}", "@{ pipeline () . TriggerTime }"),
    ],
)
@pytest.mark.parametrize("quoted", [False, True])
def test_every_adf_spelling_renders_the_same_sql_as_ours(ours: str, adf: str, quoted: bool) -> None:
    query = "SELECT * FROM t WHERE c >= {} AND d = 1"
    wrap = "'{}'" if quoted else "{}"
    assert render_sql(query.format(wrap.format(adf)), VALUES) == render_sql(
        query.format(wrap.format(ours)), VALUES
    )


def test_times_are_timestamp_literals_in_code_and_bare_values_in_strings() -> None:
    query = (
        "SELECT * FROM t WHERE ts >= {windowStart} AND ts < '{windowEnd}' "
        'AND dt = {windowStart:yyyy-MM-dd} AND run = {runId} AND note = "{runId}"'
    )
    assert render_sql(query, VALUES) == (
        f"SELECT * FROM t WHERE ts >= {START} AND ts < '2026-12-02 00:00:00' "
        "AND dt = '2026-12-01' AND run = 'orders-20261202-1' AND note = \"orders-20261202-1\""
    )


def test_the_adf_idiom_of_a_placeholder_inside_a_sql_string() -> None:
    query = (
        "select * from sales where modified >= '@{formatDateTime(trigger().outputs.windowStartTime,"
        "'yyyy-MM-dd HH:mm')}' and modified < '@{trigger().outputs.windowEndTime}'"
    )
    assert render_sql(query, VALUES) == (
        "select * from sales where modified >= '2026-12-01 00:00' and modified < '2026-12-02 00:00:00'"
    )


def test_comments_and_identifiers_get_the_bare_value() -> None:
    query = "-- window {windowStart:yyyy-MM-dd}\nSELECT * FROM `orders_{windowStart:yyyyMMdd}` /* {runId} */"
    assert render_sql(query, VALUES) == (
        "-- window 2026-12-01\nSELECT * FROM `orders_20261201` /* orders-20261202-1 */"
    )


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM t WHERE s RLIKE 'a{2}' AND j = '{\"k\": 1}'",
        "SELECT '{foo}', '{windowstart}', {WindowStart}, '{ windowStart }', 'x@y.com', 'a @ {b}'",
        "SELECT regexp_extract(s, '[0-9]{4}-[0-9]{2}', 0) FROM t",
    ],
)
def test_braces_that_are_not_our_placeholders_are_left_alone(query: str) -> None:
    assert find(query, sql=True) == []
    assert render_sql(query, VALUES) == query


def test_a_quote_inside_a_string_does_not_hide_or_invent_placeholders() -> None:
    query = r"SELECT 'it\'s {windowStart:dd}', 'a''b {windowEnd:dd}', `x``{runId}`"
    found = find(query, sql=True)
    assert [(f.name, f.where) for f in found] == [
        ("windowStart", Where.STRING),
        ("windowEnd", Where.STRING),
        ("runId", Where.IDENTIFIER),
    ]
    assert render_sql(query, VALUES) == r"SELECT 'it\'s 01', 'a''b 02', `x``orders-20261202-1`"


@pytest.mark.parametrize(
    ("run_id", "code", "in_string"),
    [
        ("x'; DROP TABLE t; --", r"'x\'; DROP TABLE t; --'", r"'x\'; DROP TABLE t; --'"),
        ("a\\'b", r"'a\\\'b'", r"'a\\\'b'"),
    ],
)
def test_text_values_are_escaped_string_literals(run_id: str, code: str, in_string: str) -> None:
    values = {**VALUES, "runId": run_id}
    assert render_sql("SELECT {runId}", values) == f"SELECT {code}"
    assert render_sql("SELECT '{runId}'", values) == f"SELECT {in_string}"


def test_a_value_that_cannot_be_written_where_it_stands_is_refused() -> None:
    with pytest.raises(PlaceholderError, match="contains a backtick"):
        render_sql("SELECT * FROM `t_{runId}`", {"runId": "a`b"})
    with pytest.raises(PlaceholderError, match=r"contains \*/"):
        render_sql("SELECT 1 /* {runId} */", {"runId": "a*/b"})
    with pytest.raises(PlaceholderError, match="control character"):
        render_sql("SELECT '{runId}'", {"runId": "a\nb"})


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "SELECT * FROM t WHERE d > '@{pipeline().parameters.windowStart}'",
            "the ADF expression '@{pipeline().parameters.windowStart}' is not supported (pipeline "
            "parameters do not exist here: use the trigger's value itself): use {windowStart}, "
            "{windowEnd}, {triggerTime}, {scheduledTime} or {runId} (a time with a format: "
            "{windowStart:yyyy-MM-dd}), or ADF's spelling of one of them, e.g. "
            "@{trigger().outputs.windowStartTime}",
        ),
        ("SELECT @activity('LookupOld').output.firstRow.wm", "\"@activity('LookupOld').output.firstRow.wm\""),
        ("@concat('SELECT * FROM ', 't')", "\"@concat('SELECT * FROM ', 't')\""),
        ("SELECT '@{utcnow()}'", "'@{utcnow()}' is not supported"),
        ("SELECT @{formatDateTime(pipeline().RunId, 'yyyy')}", "@{formatDateTime(pipeline().RunId, 'yyyy')}"),
        (
            "SELECT @{trigger().outputs.windowStartTime",
            "'@{trigger().outputs.windowStartTime' has no closing '}'",
        ),
        ("SELECT 'a @{ b'", "the ADF expression \"@{ b'\" has no closing '}'"),
        ("SELECT {windowStart:yy}", "'{windowStart:yy}': the format letters 'yy' are not supported"),
        ("SELECT {windowStart:dddd}", "the format letters 'dddd' are not supported"),
        ("SELECT {windowStart:fff}", "the format letters 'fff' are not supported"),
        ("SELECT {windowStart:yyyy';DROP}", 'the character "\'" is not allowed in a format'),
        ("SELECT {windowStart:yyyy\\}", "the character '\\\\' is not allowed in a format"),
        ("SELECT {windowStart:}", "the format is empty"),
        (
            "SELECT '@{formatDateTime(trigger().outputs.windowStartTime, 'yyyy'' OR 1=1 --')}'",
            "is not supported",
        ),
        ("SELECT * FROM t /* {windowStart:*/ DROP} */", "the character '*' is not allowed in a format"),
        ("SELECT {windowStart:yyyy`}", "the character '`' is not allowed in a format"),
        ("SELECT {windowStart:yyyy\nMM}", "the character '\\n' is not allowed in a format"),
        ("SELECT {runId:yyyy}", "'{runId:yyyy}': {runId} takes no format (only times do)"),
    ],
)
def test_unsupported_expressions_and_formats_are_named(query: str, message: str) -> None:
    with pytest.raises(PlaceholderError) as caught:
        find(query, sql=True)
    assert message in str(caught.value)


def test_a_missing_value_names_the_placeholder_and_why() -> None:
    with pytest.raises(MissingValue) as caught:
        render_sql("SELECT * FROM t WHERE ts >= @{trigger().outputs.windowStartTime}", {"runId": "r"})
    assert str(caught.value) == (
        "'@{trigger().outputs.windowStartTime}' in source.query has no value: this run has no window "
        "(runs of spec.schedule.window have one; `impala-copy run` takes --window-start and --window-end)"
    )


def test_an_engine_fragment_is_written_as_is_in_code_only() -> None:
    from impala_copy.api import placeholders

    placeholders.NAMES["range"] = placeholders.Name(placeholders.ValueKind.SQL, placeholders.Needs.NOTHING)
    try:
        values = {"range": SqlFragment("(`id` > 10 AND `id` <= 20)")}
        assert render_sql("SELECT * FROM t WHERE {range}", values) == (
            "SELECT * FROM t WHERE (`id` > 10 AND `id` <= 20)"
        )
        with pytest.raises(PlaceholderError, match="is SQL built by the engine"):
            render_sql("SELECT '{range}'", values)
    finally:
        del placeholders.NAMES["range"]


def test_times_are_written_in_utc_with_their_fraction() -> None:
    berlin = timezone(timedelta(hours=1))
    values = {"windowStart": datetime(2026, 12, 1, 1, 0, 0, 500000, tzinfo=berlin)}
    assert render_sql("{windowStart}", values) == "CAST('2026-12-01 00:00:00.5' AS TIMESTAMP)"
    assert render_text("{windowStart}", values, field="folderPath") == "2026-12-01T00:00:00.5Z"
    assert format_time(datetime(999, 1, 2, 3, 4, 5), "yyyy/MM/ddTHH:mm:ssZ") == "0999/01/02T03:04:05Z"


def test_paths_render_each_window_into_its_own_folder() -> None:
    template = "orders/dt={windowStart:yyyy-MM-dd}/@{formatDateTime(trigger().outputs.windowStartTime, 'HH')}"
    assert render_template(template, FOLDER_PATH, VALUES) == "orders/dt=2026-12-01/00"
    assert render_template("{windowStart:yyyy/MM/dd}", FOLDER_PATH, VALUES) == "2026/12/01"
    assert render_template("o_{windowEnd:yyyyMMdd}.csv", FILE_NAME, VALUES) == "o_20261202.csv"
    assert render_template("p{windowStart:yyyyMMdd}", FILE_NAME_PREFIX, VALUES) == "p20261201"


@pytest.mark.parametrize(
    ("template", "field", "message"),
    [
        (
            "{windowStart:..}",
            FOLDER_PATH,
            "folderPath '{windowStart:..}' renders to '..': folderPath must not have a '.' or '..' segment",
        ),
        (
            "a/{windowStart:.}/b",
            FOLDER_PATH,
            "renders to 'a/./b': folderPath must not have a '.' or '..' segment",
        ),
        (
            "{windowStart:/yyyy}",
            FOLDER_PATH,
            "renders to '/2026': folderPath must be relative: no leading '/'",
        ),
        (
            "{windowStart:_}temporary",
            FOLDER_PATH,
            "renders to '_temporary': folderPath must not have a segment named _temporary",
        ),
        (
            "{windowStart:yyyy/MM}.csv",
            FILE_NAME,
            "fileName '{windowStart:yyyy/MM}.csv' renders to '2026/12.csv': fileName must not contain '/'",
        ),
        (
            "p_{windowStart:HH:mm}",
            FILE_NAME_PREFIX,
            "renders to 'p_00:00': fileNamePrefix may hold only letters, digits, '_', '.' and '-'",
        ),
        ("p_{windowStart}", FILE_NAME_PREFIX, "renders to 'p_2026-12-01T00:00:00Z': fileNamePrefix may hold"),
    ],
)
def test_rendered_paths_keep_the_rules_of_literal_ones(template: str, field, message: str) -> None:
    with pytest.raises(PlaceholderError) as caught:
        check_template(template, field)
    assert message in str(caught.value)
    with pytest.raises(PlaceholderError):
        render_template(template, field, VALUES)


def test_a_run_id_cannot_add_a_segment_to_a_file_name() -> None:
    with pytest.raises(PlaceholderError, match="renders to 'x_a/b': fileName must not contain '/'"):
        render_template("x_{runId}", FILE_NAME, {"runId": "a/b"})
    with pytest.raises(PlaceholderError, match=r"renders to '\.\.': folderPath must not have"):
        render_template("{runId}", FOLDER_PATH, {"runId": ".."})
