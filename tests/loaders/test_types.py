"""Mapped column types on the real MariaDB: which DynamoDB values each accepted SQL type
takes and what it stores; every other value is quarantined with a reason naming the
column and the DynamoDB type. docs/DEPLOY.md ("Mapping reference: column types") states
these rules; each bound is tested on both sides."""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest

from contract.config import parse_config
from contract.values import loads_exact, to_plain
from loaders.engine import load_staging_bytes
from loaders.quarantine import MemoryQuarantine
from tests.loaders.builders import change, obj
from tests.loaders.conftest import fetch

ABSENT: dict[str, Any] = {}  # no attribute at the column's path


@dataclass(frozen=True)
class Refused:
    """Expected quarantine; ``words`` must appear in the reason."""

    words: str


@dataclass(frozen=True)
class Kept:
    """Expected column value whose exact DynamoDB digits also stay in the overflow."""

    column: Any


def N(text: str) -> dict[str, Any]:
    return {"N": text}


def S(text: str) -> dict[str, Any]:
    return {"S": text}


def B(raw: bytes) -> dict[str, Any]:
    return {"B": base64.b64encode(raw).decode()}


BOOL_TRUE, BOOL_FALSE, NULL = {"BOOL": True}, {"BOOL": False}, {"NULL": True}
TYPE = "does not take a DynamoDB"
_tables = itertools.count()


def load_column(conn, admin, sql_type: str, values: list[dict[str, Any]], path: str = "v"):
    """Load one item per value (value at ``path``) into a fresh table with column ``c`` of
    ``sql_type``; return ({index: (column, overflow)}, {index: quarantine reason}, table)."""
    table = f"types{next(_tables)}"
    config = parse_config(
        {
            "tables": {
                table: {
                    "partition_key": {"name": "pk"},
                    "columns": {"c": {"path": path, "type": sql_type}},
                }
            }
        }  # fmt: skip
    )
    lines = []
    for i, value in enumerate(values):
        item: dict[str, Any] = {}
        if value is not ABSENT:
            node = item
            *parents, leaf = path.split(".")
            for part in parents:
                node[part] = {"M": {}}
                node = node[part]["M"]
            node[leaf] = value
        lines.append(change(table, {"pk": {"S": str(i)}}, item, 1))
    q = MemoryQuarantine()
    key, etag, data = obj(table, lines)
    [result] = load_staging_bytes(conn, config, [(key, etag, data)], quarantine=q)
    assert result.status == "loaded", result.error
    fetch(admin, "SET time_zone = '+00:00'")
    loaded = {
        int(pk): (c, loads_exact(item))
        for pk, c, item in fetch(admin, f"SELECT pk, c, item FROM {table}")
    }
    refused = {int(orjson.loads(r["key"])["pk"]): r["_reason"] for r in q.rows.get(key, [])}
    assert result.applied == len(loaded) and result.quarantined == len(refused)
    return loaded, refused, table


def expect(conn, admin, sql_type: str, cases: list[tuple[dict[str, Any], Any]]) -> str:
    """Each (value, expected): the column value (plain, or ``Kept``), or ``Refused``.

    A loaded value's path leaves the overflow unless ``Kept``; a refused one's reason names
    the column, its type and the value's DynamoDB type. Returns the table's name.
    """
    loaded, refused, table = load_column(conn, admin, sql_type, [v for v, _ in cases])
    wrong = []
    for i, (value, want) in enumerate(cases):
        if isinstance(want, Refused):
            reason = refused.get(i, "")
            (tag,) = value
            needed = (f"column c ({sql_type})", f"DynamoDB {tag} value", want.words)
            if not all(part in reason for part in needed):
                wrong.append((value, want, loaded.get(i) or reason))
            continue
        if i not in loaded:
            wrong.append((value, want, refused.get(i)))
            continue
        column, overflow = loaded[i]
        kept = isinstance(want, Kept)
        expected = want.column if kept else want
        digits_kept = "v" in overflow and str(overflow["v"]) == value.get("N")
        if column != expected or type(column) is not type(expected) or digits_kept != kept:
            wrong.append((value, want, (column, overflow)))
        elif not kept and "v" in overflow:
            wrong.append((value, "path left in the overflow", overflow))
    assert wrong == []
    return table


# -- numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql_type, low, high",
    [
        ("TINYINT", -128, 127),
        ("TINYINT UNSIGNED", 0, 255),
        ("SMALLINT", -32768, 32767),
        ("SMALLINT UNSIGNED", 0, 65535),
        ("MEDIUMINT", -8388608, 8388607),
        ("INT", -2147483648, 2147483647),
        ("INT UNSIGNED", 0, 4294967295),
        ("BIGINT", -9223372036854775808, 9223372036854775807),
        ("BIGINT UNSIGNED", 0, 18446744073709551615),
    ],
)
def test_integer_columns_take_whole_numbers_within_their_range(conn, admin, sql_type, low, high):
    # GIVEN an integer column and N values on both sides of both bounds
    # WHEN they load  THEN the bounds load exactly; one past them is quarantined
    expect(conn, admin, sql_type, [
        (N(str(low)), low), (N(str(high)), high),
        (N(str(low - 1)), Refused("Out of range")), (N(str(high + 1)), Refused("Out of range")),
    ])  # fmt: skip


def test_integer_columns_refuse_fractions_and_other_types(conn, admin):
    # GIVEN an INT column and whole numbers in every JSON spelling, fractions, other types
    # WHEN they load
    # THEN whole values load whatever the spelling; a fraction, however small, is never
    # rounded; S, BOOL and sets are refused; NULL and an absent value are SQL NULL
    not_whole = Refused("not whole")
    expect(conn, admin, "INT", [
        (N("1.0"), 1), (N("1E2"), 100), (N("1.5E1"), 15), (N("100E-2"), 1), (N("-0"), 0),
        (N("0E+3"), 0), (N("-7"), -7),
        (N("1.5"), not_whole), (N("12.5E-1"), not_whole), (N("1E-130"), not_whole),
        (N("-0.5"), not_whole), (N("2147483646.9999999999999999999999999999999"), not_whole),
        (N("1E-99999"), Refused("exponent has five or more digits")),
        (S("5"), Refused(TYPE)), (BOOL_TRUE, Refused(TYPE)), ({"NS": ["1"]}, Refused(TYPE)),
        (NULL, None), (ABSENT, None),
    ])  # fmt: skip


def test_decimal_columns_take_numbers_that_fit_scale_and_precision(conn, admin):
    # GIVEN DECIMAL(5,2) and numbers on both sides of its range and its scale
    # WHEN they load  THEN what fits loads exactly (trailing zeros are not digits);
    # a digit past the scale or the range is quarantined, never rounded or clipped
    expect(conn, admin, "DECIMAL(5,2)", [
        (N("999.99"), Decimal("999.99")), (N("1000"), Refused("Out of range")),
        (N("-999.99"), Decimal("-999.99")), (N("-1000"), Refused("Out of range")),
        (N("1.23"), Decimal("1.23")), (N("1.234"), Refused("truncated")),
        (N("1.230"), Decimal("1.23")), (N("1.5E2"), Decimal("150.00")),
        (N("1E-130"), Refused("truncated")), (S("1.5"), Refused(TYPE)),
        (BOOL_FALSE, Refused(TYPE)), (NULL, None),
    ])  # fmt: skip


def test_unsigned_and_38_digit_decimals(conn, admin):
    # GIVEN DECIMAL(38,0), which holds every DynamoDB integer of 38 digits
    big = "9" * 38
    expect(conn, admin, "DECIMAL(38,0)", [
        (N(big), Decimal(big)), (N("-" + big), Decimal("-" + big)),
        (N("1E38"), Refused("Out of range")), (N("0.5"), Refused("truncated")),
    ])  # fmt: skip
    # AND DECIMAL(5,2) UNSIGNED around zero
    expect(conn, admin, "DECIMAL(5,2) UNSIGNED", [
        (N("0"), Decimal("0.00")), (N("0.01"), Decimal("0.01")),
        (N("-0.01"), Refused("Out of range")),
    ])  # fmt: skip


def test_double_holds_the_nearest_value_and_the_overflow_keeps_other_digits(conn, admin):
    # GIVEN a DOUBLE column and numbers that MariaDB reads back as themselves (up to 15
    # digits always; more when the shortest text of the double has the same value) and
    # numbers it does not
    # WHEN they load
    # THEN the column holds the nearest double; where it reads back as another number,
    # the exact digits also stay in the overflow
    expect(conn, admin, "DOUBLE", [
        (N("0.1"), 0.1), (N("123456789012345"), 123456789012345.0),
        (N("1234567890123456"), 1234567890123456.0), (N("1.50"), 1.5), (N("-0"), 0.0),
        (N("1E+125"), 1e125), (N("1E-130"), 1e-130), (N("-2.5E-7"), -2.5e-7),
        (N("12345678901234567"), Kept(12345678901234568.0)),
        (N("0.30000000000000001"), Kept(0.3)),
        (N("0.1000000000000000055511151231257827"), Kept(0.1)),
        (N("12345678901234567890123456789012345678"), Kept(1.2345678901234568e37)),
        (N("9.9999999999999999999999999999999999999E+125"), Kept(1e126)),
        (N("1.7976931348623157E308"), 1.7976931348623157e308),
        (N("1.7976931348623158E308"), Refused("outside the column's range")),
        (S("1"), Refused(TYPE)), ({"NS": ["1"]}, Refused(TYPE)), (NULL, None),
    ])  # fmt: skip


def test_float_holds_the_nearest_single_and_the_overflow_keeps_other_digits(conn, admin):
    # GIVEN a FLOAT column: MariaDB reads it back to 6 significant digits
    # WHEN numbers load  THEN up to 6 digits read back as themselves; others keep their
    # digits in the overflow; beyond FLOAT's largest value is quarantined
    expect(conn, admin, "FLOAT", [
        (N("0.1"), 0.1), (N("123456"), 123456.0), (N("3.14159"), 3.14159), (N("-0.00001"), -1e-05),
        (N("1234567"), Kept(1234570.0)), (N("16777216"), Kept(16777200.0)),
        (N("1E-50"), Kept(0.0)), (N("3.4028234E38"), Kept(3.40282e38)),
        (N("3.4028236E38"), Refused("outside the column's range")),
        (N("-3.4028236E38"), Refused("outside the column's range")),
        (BOOL_TRUE, Refused(TYPE)),
    ])  # fmt: skip


def test_boolean_takes_bool_and_the_numbers_0_and_1(conn, admin):
    # GIVEN a BOOLEAN column
    # WHEN BOOL values, numbers and strings load
    # THEN BOOL and N 0 or 1 (any spelling) load; other numbers and S are quarantined
    not_01 = Refused("only when it is 0 or 1")
    expect(conn, admin, "BOOLEAN", [
        (BOOL_TRUE, 1), (BOOL_FALSE, 0), (N("1"), 1), (N("0"), 0), (N("1.0"), 1),
        (N("0E+3"), 0), (N("-0"), 0),
        (N("2"), not_01), (N("-1"), not_01), (N("0.5"), not_01), (N("1.0000001"), not_01),
        (S("true"), Refused(TYPE)), (S("1"), Refused(TYPE)), (NULL, None),
    ])  # fmt: skip


# -- text and binary ----------------------------------------------------------------------


def test_text_columns_take_strings_exactly(conn, admin):
    # GIVEN a VARCHAR(3) column
    # WHEN strings of 3 and 4 characters (4-byte UTF-8 counts as one), trailing spaces and
    # values of every other DynamoDB type load
    # THEN strings that fit load exactly; longer ones and non-strings are quarantined
    refused = [(v, Refused(TYPE)) for v in (
        N("1"), BOOL_TRUE, {"M": {"a": S("x")}}, {"L": [S("x")]}, {"SS": ["x"]}, B(b"ab"),
    )]  # fmt: skip
    expect(conn, admin, "VARCHAR(3)", [
        (S("abc"), "abc"), (S("ab "), "ab "), (S("😀😀😀"), "😀😀😀"), (S(""), ""),
        (S("abcd"), Refused("truncated")), (S("😀😀😀😀"), Refused("truncated")),
        (NULL, None), (ABSENT, None), *refused,
    ])  # fmt: skip


def test_char_refuses_trailing_spaces_it_would_drop(conn, admin):
    # GIVEN a CHAR(3) column (MariaDB strips trailing spaces when reading CHAR)
    expect(conn, admin, "CHAR(3)", [
        (S("abc"), "abc"), (S("a b"), "a b"), (S(" ab"), " ab"), (S(""), ""),
        (S("ab "), Refused("ends in a space")), (S("abcd"), Refused("truncated")),
    ])  # fmt: skip


def test_text_sizes_count_bytes_where_mariadb_does(conn, admin):
    # GIVEN TINYTEXT (255 bytes) and TEXT with every character that breaks TSV or SQL
    nasty = "\t\n\r\\\"'`\x00%_é😀\u2028"
    expect(conn, admin, "TINYTEXT", [
        (S("x" * 255), "x" * 255), (S("x" * 256), Refused("truncated")),
        (S("é" * 127), "é" * 127), (S("é" * 128), Refused("Incorrect string value")),
    ])  # fmt: skip
    expect(conn, admin, "TEXT", [(S(nasty), nasty), (S("NULL"), "NULL"), (N("5"), Refused(TYPE))])


def test_binary_columns_take_b_values_exactly(conn, admin):
    # GIVEN BINARY(4), which pads shorter values with zero bytes, and VARBINARY(4)
    # WHEN B values of 3, 4 and 5 bytes and strings that look like base64 load
    # THEN only what the column holds byte for byte loads
    expect(conn, admin, "BINARY(4)", [
        (B(b"\x00\x01\x02\x03"), b"\x00\x01\x02\x03"),
        (B(b"\x00\x01\x02"), Refused("exactly n bytes")),
        (B(b"\x00\x01\x02\x03\x04"), Refused("exactly n bytes")),
        (S("AAECAw=="), Refused(TYPE)),
    ])  # fmt: skip
    expect(conn, admin, "VARBINARY(4)", [
        (B(b"\xff\t\n\\"), b"\xff\t\n\\"), (B(b""), b""),
        (B(b"12345"), Refused("truncated")), ({"BS": ["AAE="]}, Refused(TYPE)),
        (S("AAE="), Refused(TYPE)), (NULL, None),
    ])  # fmt: skip


def test_blob_sizes(conn, admin):
    raw = bytes(range(256))
    expect(conn, admin, "TINYBLOB", [
        (B(raw[:255]), raw[:255]), (B(raw), Refused("truncated")),
    ])  # fmt: skip
    expect(conn, admin, "BLOB", [(B(raw * 4), raw * 4), (S("x"), Refused(TYPE))])


def test_json_takes_any_value_as_its_plain_json(conn, admin):
    # GIVEN a JSON column and a value of every DynamoDB type
    values = [
        S("x\ty"),
        N("12345678901234567890123456789012345678"),
        N("1.50"),
        BOOL_TRUE,
        NULL,
        B(b"\x00\x01"),
        {"SS": ["b", "a"]},
        {"NS": ["10", "9.5"]},
        {"BS": ["AAE="]},
        {"M": {"a": {"L": [N("1"), NULL, {"M": {}}]}}},
        {"L": []},
    ]
    # WHEN they load
    loaded, refused, _ = load_column(conn, admin, "JSON", [*values, ABSENT])
    # THEN each holds the contract's plain JSON of the value (numbers with every digit),
    # DynamoDB NULL is JSON null, an absent value SQL NULL, and nothing is refused
    assert refused == {}
    for i, value in enumerate(values):
        plain = loads_exact(to_plain({"v": value})[0])["v"]
        assert loads_exact(loaded[i][0]) == plain, value
        assert "v" not in loaded[i][1]
    assert loaded[len(values)][0] is None
    assert loaded[values.index(NULL)][0] == "null"


# -- dates and times ------------------------------------------------------------------------


def test_datetime_takes_iso_8601_and_epoch_seconds_converted_to_utc(conn, admin):
    # GIVEN a DATETIME(3) column
    # WHEN timestamps load as DynamoDB users store them
    # THEN they are stored in UTC: offsets are applied, no offset means UTC, and up to 3
    # fractional digits load (trailing zeros do not count); more are never rounded
    at = datetime(2026, 11, 28, 12, 34, 56, 123000)
    precision = Refused("more fractional-second digits")
    expect(conn, admin, "DATETIME(3)", [
        (S("2026-11-28T12:34:56.123Z"), at), (S("2026-11-28T14:34:56.123+02:00"), at),
        (S("2026-11-28T10:34:56.123-02:00"), at), (S("2026-11-28 12:34:56.123"), at),
        (S("2026-11-28t12:34:56.123z"), at), (S("2026-11-28T12:34:56.123000Z"), at),
        (S("2026-11-28T12:34:56.123456Z"), precision), (S("2026-11-28T12:34:56.1231Z"), precision),
        (S("2026-11-28"), datetime(2026, 11, 28)),
        (S("2026-11-29T00:30:00+05:30"), datetime(2026, 11, 28, 19)),
        (N("1764333296"), datetime(2025, 11, 28, 12, 34, 56)),
        (N("1764333296.123"), datetime(2025, 11, 28, 12, 34, 56, 123000)),
        (N("1.764333296123E9"), datetime(2025, 11, 28, 12, 34, 56, 123000)),
        (N("1764333296.1234"), precision), (N("-1.5"), datetime(1969, 12, 31, 23, 59, 58, 500000)),
        (BOOL_TRUE, Refused(TYPE)), (NULL, None),
    ])  # fmt: skip


def test_datetime_refuses_what_is_no_valid_time(conn, admin):
    fmt = Refused("not a valid ISO-8601 date or date-time")
    expect(conn, admin, "DATETIME", [
        (S("2024-02-29T00:00:00Z"), datetime(2024, 2, 29)), (S("2026-02-29T00:00:00Z"), fmt),
        (S("2026-04-30T23:59:59Z"), datetime(2026, 4, 30, 23, 59, 59)),
        (S("2026-04-31T00:00:00Z"), fmt), (S("2026-13-01T00:00:00Z"), fmt),
        (S("2026-00-10T00:00:00Z"), fmt), (S("2026-11-00T00:00:00Z"), fmt),
        (S("2026-11-28T24:00:00Z"), fmt), (S("2026-11-28T23:60:00Z"), fmt),
        (S("2026-11-28T23:59:60Z"), fmt), (S("2026-11-28T12:34Z"), fmt),
        (S("2026-11-28T12:34:56+24:00"), fmt), (S("2026-11-28T12:34:56+0200"), fmt),
        (S("28/11/2026"), fmt), (S("2026-11-28T12:34:56.Z"), fmt), (S(""), fmt),
        (S("2026-11-28T12:34:56.0Z"), datetime(2026, 11, 28, 12, 34, 56)),
        (S("2026-11-28T12:34:56.5Z"), Refused("more fractional-second digits")),
    ])  # fmt: skip


def test_datetime_range_is_years_1000_to_9999_in_utc(conn, admin):
    out = Refused("outside the column's range")
    expect(conn, admin, "DATETIME(6)", [
        (S("1000-01-01T00:00:00Z"), datetime(1000, 1, 1)),
        (S("0999-12-31T23:59:59.999999Z"), out),
        (S("1000-01-01T00:30:00+01:00"), out),
        (S("9999-12-31T23:59:59.999999Z"), datetime(9999, 12, 31, 23, 59, 59, 999999)),
        (S("9999-12-31T23:59:59-00:01"), out),
        (S("2026-11-28T12:34:56.123456000Z"), datetime(2026, 11, 28, 12, 34, 56, 123456)),
        (N("-30610224000"), datetime(1000, 1, 1)), (N("-30610224000.000001"), out),
        (N("253402300799.999999"), datetime(9999, 12, 31, 23, 59, 59, 999999)),
        (N("253402300800"), out), (N("1E+12"), out),
    ])  # fmt: skip


def test_timestamp_range_is_mariadbs_in_utc(conn, admin):
    # GIVEN a TIMESTAMP(6) column (the loader's session is UTC, so nothing shifts)
    # WHEN values at both ends of MariaDB's TIMESTAMP range load
    # THEN 1970-01-01 00:00:01 .. 2038-01-19 03:14:07.999999 UTC load; outside is quarantined
    out = Refused("Out of range")
    table = expect(conn, admin, "TIMESTAMP(6)", [
        (S("1970-01-01T00:00:01Z"), datetime(1970, 1, 1, 0, 0, 1)),
        (S("1970-01-01T01:00:01+01:00"), datetime(1970, 1, 1, 0, 0, 1)),
        (S("1970-01-01T00:00:00Z"), out), (N("1"), datetime(1970, 1, 1, 0, 0, 1)), (N("0"), out),
        (S("2038-01-19T03:14:07.999999Z"), datetime(2038, 1, 19, 3, 14, 7, 999999)),
        (N("2147483647.999999"), datetime(2038, 1, 19, 3, 14, 7, 999999)),
        (S("2038-01-19T03:14:08Z"), out), (N("2147483648"), out),
    ])  # fmt: skip
    # AND the stored instant is the same whatever the reader's time zone
    fetch(admin, "SET time_zone = '-05:00'")
    [(epoch,)] = fetch(admin, f"SELECT MAX(UNIX_TIMESTAMP(c)) FROM {table}")
    assert epoch == Decimal("2147483647.999999")


def test_date_takes_whole_days_in_utc(conn, admin):
    day = Refused("has a time of day")
    expect(conn, admin, "DATE", [
        (S("2026-11-28"), date(2026, 11, 28)), (S("2026-11-28T00:00:00.000Z"), date(2026, 11, 28)),
        (S("2026-11-28T01:00:00+01:00"), date(2026, 11, 28)),
        (S("2026-11-28T00:00:00+01:00"), day), (S("2026-11-28T00:00:00.001Z"), day),
        (N("1764288000"), date(2025, 11, 28)), (N("1764288001"), day), (N("1764288000.5"), day),
        (S("1000-01-01"), date(1000, 1, 1)), (S("0999-12-31"), Refused("outside the column's range")),
        (S("9999-12-31"), date(9999, 12, 31)), (S("2026-11-31"), Refused("not a valid ISO-8601")),
    ])  # fmt: skip


# -- the row around the column --------------------------------------------------------------


def test_nested_paths_and_the_overflow(conn, admin):
    # GIVEN columns at nested paths: an INT, a DOUBLE, and a path through a string
    config = parse_config({"tables": {"nest": {"partition_key": {"name": "pk"}, "columns": {
        "qty": {"path": "m.qty", "type": "INT"}, "price": {"path": "m.price", "type": "DOUBLE"},
        "deep": {"path": "s.x", "type": "TEXT"}}}}})  # fmt: skip
    item = {"m": {"M": {"qty": N("3"), "price": N("0.30000000000000001"), "o": S("x")}},
            "s": S("not a map")}  # fmt: skip
    # WHEN the item loads
    [result] = load_staging_bytes(
        conn, config, [obj("nest", [change("nest", {"pk": {"S": "a"}}, item, 1)])]
    )
    # THEN the columns hold their values, a path through a string is absent, and the
    # overflow keeps everything unmapped plus the digits the DOUBLE does not hold
    assert result.applied == 1
    [(qty, price, deep, overflow)] = fetch(admin, "SELECT qty, price, deep, item FROM nest")
    assert (qty, price, deep) == (3, 0.3, None)
    assert loads_exact(overflow) == loads_exact(
        '{"m": {"price": 0.30000000000000001, "o": "x"}, "s": "not a map", "pk": "a"}'
    )


def test_one_refused_column_quarantines_the_row_and_the_rest_loads(conn, admin):
    # GIVEN two mapped columns; one row fits both, one breaks only the second
    config = parse_config({"tables": {"two": {"partition_key": {"name": "pk"}, "columns": {
        "a": {"path": "a", "type": "INT"}, "b": {"path": "b", "type": "DATE"}}}}})  # fmt: skip
    q = MemoryQuarantine()
    key, etag, data = obj("two", [
        change("two", {"pk": {"S": "ok"}}, {"a": N("1"), "b": S("2026-11-28")}, 1),
        change("two", {"pk": {"S": "bad"}}, {"a": N("2"), "b": S("2026-11-28T10:00:00Z")}, 1),
    ])  # fmt: skip
    # WHEN loaded
    [result] = load_staging_bytes(conn, config, [(key, etag, data)], quarantine=q)
    # THEN the good row loads, the other is quarantined naming its column, and counts agree
    assert (result.applied, result.quarantined) == (1, 1)
    assert fetch(admin, "SELECT pk, a, b FROM two") == [("ok", 1, date(2026, 11, 28))]
    [row] = q.rows[key]
    assert row["_reason"].startswith("column b (DATE) cannot hold the DynamoDB S value exactly")
