"""What a Lookup of demo.all_types returns: the documented JSON mapping (docs/lookup.md), written out."""

from __future__ import annotations

from typing import Any

ALL_TYPES_JSON: list[dict[str, Any]] = [
    {
        "id": 1, "c_boolean": True, "c_tinyint": 1, "c_smallint": 300, "c_int": 70000, "c_bigint": 5000000000,
        "c_float": 1.5, "c_double": 3.141592653589793, "c_decimal": "12345678.90",
        "c_decimal38": "1234567890123456789012345678.0123456789", "c_decimal_int": "42",
        "c_string": "héllo wörld ✓ 日本語 🎉", "c_varchar": "varchar ü", "c_char": "ab   ",
        "c_timestamp": "2024-02-29T12:34:56.123456", "c_date": "2024-02-29", "c_binary": "AP8Q",
        "c_array": [1, 2, 3], "c_map": {"a": 1, "b": 2}, "c_struct": {"x": 1, "y": "z"},
    },
    {
        "id": 2, "c_boolean": False, "c_tinyint": -128, "c_smallint": -32768, "c_int": -2147483648,
        "c_bigint": -9223372036854775808, "c_float": -2.25, "c_double": -1.0e300, "c_decimal": "-99999999.99",
        "c_decimal38": "-9999999999999999999999999999.9999999999", "c_decimal_int": "-999999999",
        "c_string": "", "c_varchar": "x", "c_char": "abcde", "c_timestamp": "1900-01-01T00:00:00.000001",
        "c_date": "1900-01-01", "c_binary": "", "c_array": [], "c_map": {}, "c_struct": {"x": -1, "y": ""},
    },
    {"id": 3, **dict.fromkeys(("c_boolean", "c_tinyint", "c_smallint", "c_int", "c_bigint", "c_float", "c_double", "c_decimal", "c_decimal38", "c_decimal_int", "c_string", "c_varchar", "c_char", "c_timestamp", "c_date", "c_binary", "c_array", "c_map", "c_struct"))},
    {
        "id": 4, "c_boolean": True, "c_tinyint": 127, "c_smallint": 32767, "c_int": 2147483647,
        "c_bigint": 9223372036854775807, "c_float": 3.4028234663852886e38, "c_double": 1.7976931348623157e308,
        "c_decimal": "0.01", "c_decimal38": "0.0000000001", "c_decimal_int": "0",
        "c_string": "line1\nline2\t\"quoted\" 'single' \\ back,comma;semi", "c_varchar": "ÅÄÖ", "c_char": "é    ",
        "c_timestamp": "2038-01-19T03:14:07.999999", "c_date": "9999-12-31", "c_binary": "3q2+7w==",
        "c_array": [None, 5], "c_map": {"k": None}, "c_struct": {"x": None, "y": "ü"},
    },
]  # fmt: skip
