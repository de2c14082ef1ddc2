"""Mapped columns: which DynamoDB values each accepted SQL type takes, and how.

``sql.load_data`` asks this module for the SQL of every mapped column; MariaDB
evaluates it per row inside LOAD DATA (no Python per row). Per column ``i``:

* ``describe`` sets ``@t{i}``, the DynamoDB type of the value at the column's path (S,
  N, B, BOOL, M, L, SS, NS or BS; NULL for a NULL or absent value), and ``@v{i}``, its
  text (for a JSON column: ``@j{i}``, its JSON text, NULL when absent);
* ``check`` gives NULL when the column takes the value exactly, else ``<type>:<rule>``
  (``S:format``); it fills the stage column ``_x{i}``, and ``merge`` quarantines those
  rows with ``reason``'s sentence;
* ``value`` is what goes in the column (NULL when absent, NULL or refused);
* ``keep`` (DOUBLE, FLOAT): true when the column's number is not the DynamoDB number,
  so the exact digits stay in the overflow column.

What the SQL lets through but the column cannot hold (too long, out of range) raises a
LOAD DATA warning naming the row; ``merge`` quarantines those rows too, with
``warning_reason``. Users read these rules in docs/DEPLOY.md ("Mapping reference:
column types"); tests/loaders/test_types.py checks both sides of every bound.

No expression here may raise a warning itself (MariaDB's expression warnings name no
row, and a warning without a row stops the file): every conversion is guarded by the
checks before it, and ``CASE`` evaluates its branches in order, which sequences the
user-variable assignments. The SQL goes through the driver's %-formatting with the
statement's parameters, so a literal % is written %%.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from contract.values import _Num, loads_exact

_INTEGERS = ("TINYINT", "SMALLINT", "MEDIUMINT", "INT", "BIGINT")
_TEXTS = ("VARCHAR", "TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT")
_BLOBS = ("VARBINARY", "TINYBLOB", "BLOB", "MEDIUMBLOB", "LONGBLOB")
# What each family takes, for the quarantine reason of a value of another type.
_TAKES = {
    "integer": "N with a whole-number value",
    "decimal": "N",
    "float": "N",
    "boolean": "BOOL, or N 0 or 1",
    "char": "S",
    "text": "S",
    "binary": "B",
    "temporal": "S (ISO-8601) or N (seconds since 1970-01-01 UTC)",
    "json": "any value",
}
_RULES = {
    "fraction": "the number is not whole",
    "exponent": "its exponent has five or more digits, far outside any column's range",
    "range": "it is outside the column's range",
    "bool": "a BOOLEAN takes a number only when it is 0 or 1",
    "space": "it ends in a space, which a CHAR column drops when read",
    "base64": "it is not valid base64",
    "length": "a BINARY(n) column holds exactly n bytes (it pads shorter values with zero bytes)",
    "format": (
        "it is not a valid ISO-8601 date or date-time "
        "(YYYY-MM-DD, or YYYY-MM-DD[T or space]hh:mm:ss[.fraction][Z or +hh:mm or -hh:mm])"
    ),
    "precision": "it has more fractional-second digits than the column's precision",
    "day": "it has a time of day (in UTC), and a DATE holds whole days",
}
# Largest finite DOUBLE as MariaDB prints it, and FLOAT's (as a DOUBLE literal).
_DOUBLE_MAX_DIGITS = "17976931348623157"
_FLOAT_MAX = "3.4028234663852886e38"
# 1000-01-01 00:00:00 and 9999-12-31 23:59:59 UTC in seconds since the epoch:
# MariaDB's documented DATE and DATETIME range.
_EPOCH_MIN, _EPOCH_MAX = -30610224000, 253402300799
_ISO = (
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    "([Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})?)?$"
)
# JSON's number grammar: a string with this text is told from a number by JSON_CONTAINS.
_NUMBER = "^-?(0|[1-9][0-9]*)([.][0-9]+)?([eE][-+]?[0-9]+)?$"
_WARNED_COLUMN = re.compile(r"for column (?:'([^']+)'|`[^`]*`\.`[^`]*`\.`([^`]+)`)")


@dataclass(frozen=True)
class ColumnType:
    """The family of a mapped column's SQL type, with its size or precision."""

    family: str
    size: int | None = None  # CHAR/BINARY length; DATETIME/TIMESTAMP fraction digits
    day: bool = False  # DATE
    single: bool = False  # FLOAT (else DOUBLE)

    @classmethod
    def of(cls, sql_type: str) -> ColumnType:
        text = sql_type.upper()
        kind = text.split("(")[0].split()[0]
        number = re.search(r"\(\s*(\d+)", text)
        size = int(number.group(1)) if number else None
        if kind in _INTEGERS:
            return cls("integer")
        if kind == "DECIMAL":
            return cls("decimal")
        if kind in ("DOUBLE", "FLOAT"):
            return cls("float", single=kind == "FLOAT")
        if kind == "BOOLEAN":
            return cls("boolean")
        if kind == "CHAR":
            return cls("char", size)
        if kind in _TEXTS:
            return cls("text")
        if kind == "BINARY":
            return cls("binary", size)
        if kind in _BLOBS:
            return cls("binary")
        if kind == "DATE":
            return cls("temporal", 0, day=True)
        if kind in ("DATETIME", "TIMESTAMP"):
            return cls("temporal", size or 0)
        if kind == "JSON":
            return cls("json")
        raise ValueError(f"unsupported column type {sql_type!r}")

    @property
    def checked(self) -> bool:
        """Whether some values are refused (a JSON column takes any value)."""
        return self.family != "json"


# Families whose values are numbers: their type is read off the value's JSON text.
_NUMBERS = ("integer", "decimal", "float", "boolean")


def describe(i: int, ct: ColumnType) -> tuple[str, int]:
    """SQL that reads the value of column ``i`` (NULL only when a JSON column has none);
    it takes the column's path as many times as the int says.

    A JSON column needs the value's JSON text: JSON_EXTRACT. So do the number columns,
    whose values are nearly all N: the first character of that text tells N from S, BOOL
    and the rest, and @v is the number's text as written (BOOL: true or false). JSON_EXTRACT
    always scans the whole item; the other columns, whose values are nearly all strings,
    read the scalar with JSON_VALUE instead, which stops at it (JSON_QUERY only when it is
    no scalar). JSON_VALUE gives a string's text, a number's text as written and BOOL as
    1 or 0: a text outside JSON's number grammar is a string; for one inside,
    JSON_CONTAINS tells N (the value equals the number), S (it equals the text quoted,
    which needs no escaping) and, for 1 and 0, BOOL (neither). The type map names B and
    the sets. Nothing here may parse a text that is not JSON: MariaDB notes that as a
    warning naming no row.
    """
    v = f"@v{i}"
    if not ct.checked:
        return f"(@j{i} := JSON_EXTRACT(@item, %s))", 1
    if ct.family in _NUMBERS:
        return (
            f"(@t{i} := CASE WHEN ({v} := JSON_EXTRACT(@item, %s)) IS NULL THEN 'NULL' "
            "ELSE COALESCE(JSON_VALUE(@types, %s), "
            f"CASE LEFT({v}, 1) WHEN '\"' THEN 'S' WHEN '{{' THEN 'M' WHEN '[' THEN 'L' "
            "WHEN 't' THEN 'BOOL' WHEN 'f' THEN 'BOOL' WHEN 'n' THEN 'NULL' ELSE 'N' END) END)",
            2,
        )
    digit = f"(LEFT({v}, 1) BETWEEN '0' AND '9' OR LEFT({v}, 1) = '-')"
    return (
        f"(@t{i} := CASE WHEN ({v} := JSON_VALUE(@item, %s)) IS NULL THEN "
        "COALESCE(JSON_VALUE(@types, %s), "
        "CASE LEFT(JSON_QUERY(@item, %s), 1) WHEN '{' THEN 'M' WHEN '[' THEN 'L' ELSE 'NULL' END) "
        f"WHEN NOT {digit} OR {v} NOT REGEXP '{_NUMBER}' "
        "THEN COALESCE(JSON_VALUE(@types, %s), 'S') "
        f"WHEN JSON_CONTAINS(@item, {v}, %s) THEN 'N' "
        f"WHEN JSON_CONTAINS(@item, CONCAT('\"', {v}, '\"'), %s) THEN 'S' "
        f"WHEN {v} IN ('0', '1') THEN 'BOOL' ELSE 'N' END)",
        6,
    )


def _parts(p: str, i: int, text: str) -> str:
    """True, having set @{p}z{i} (significant digits, '' for zero) and @{p}x{i} (power of
    ten of the last of them) of the JSON number ``text``: its value is ±z × 10^x."""
    a, m, d, z, x = (f"@{p}{s}{i}" for s in "amdzx")
    return (
        f"(CASE WHEN ({a} := LOWER(TRIM(LEADING '-' FROM {text}))) IS NULL THEN FALSE "
        f"WHEN ({m} := SUBSTRING_INDEX({a}, 'e', 1)) IS NULL THEN FALSE "
        f"WHEN ({d} := TRIM(LEADING '0' FROM REPLACE({m}, '.', ''))) IS NULL THEN FALSE "
        f"WHEN ({z} := TRIM(TRAILING '0' FROM {d})) IS NULL THEN FALSE "
        f"ELSE ({x} := IF({m} = {a}, 0, CAST(SUBSTRING_INDEX({a}, 'e', -1) AS SIGNED)) "
        f"- IF(LOCATE('.', {m}), LENGTH(SUBSTRING_INDEX({m}, '.', -1)), 0) "
        f"+ LENGTH({d}) - LENGTH({z})) IS NOT NULL END)"
    )


def _long_exponent(i: int) -> str:
    return f"@v{i} REGEXP '[eE][-+]?[0-9]{{5}}'"


def _short_plain(i: int, digits: int) -> str:
    """The number is written without exponent in at most ``digits`` characters: such a
    number is within DOUBLE's (15) or FLOAT's (6) guaranteed decimal precision and range."""
    v = f"@v{i}"
    # At most ``digits`` characters: no more digits than that. LIKE is cheaper than REGEXP
    # here; % is doubled for the driver.
    return f"(LENGTH({v}) <= {digits} AND {v} NOT LIKE '%%e%%' AND {v} NOT LIKE '%%E%%')"


def _float_rule(i: int, ct: ColumnType) -> str:
    magnitude = f"(LENGTH(@nz{i}) + @nx{i})"
    width = f"GREATEST(17, LENGTH(@nz{i}))"
    too_big = (
        f"{magnitude} > 309 OR ({magnitude} = 309 AND "
        f"RPAD(@nz{i}, {width}, '0') > RPAD('{_DOUBLE_MAX_DIGITS}', {width}, '0'))"
    )
    rule = (
        f"CASE WHEN @t{i} <> 'N' THEN 'type' "
        f"WHEN (@q{i} := {_short_plain(i, 6 if ct.single else 15)}) THEN NULL "
        f"WHEN {_long_exponent(i)} THEN 'exponent' "
        f"WHEN NOT {_parts('n', i, f'@v{i}')} OR {too_big} THEN 'range' "
    )
    if ct.single:
        rule += f"WHEN ABS(CAST(@v{i} AS DOUBLE)) > {_FLOAT_MAX} THEN 'range' "
    return rule + "END"


def keep(i: int, ct: ColumnType) -> str:
    """For an accepted N value: the column does not read back as the DynamoDB number.

    "The same number": MariaDB's text for the column value (``CAST(col AS CHAR)``: the
    shortest decimal that reads back as the same DOUBLE, or 6 significant digits for a
    FLOAT) has the value of the DynamoDB number. Numbers written in at most 15 (DOUBLE)
    or 6 (FLOAT) digits always do (``check`` noted that in @q); others are compared digit
    by digit.
    """
    cast = "FLOAT" if ct.single else "DOUBLE"
    back = f"CAST(CAST(@v{i} AS {cast}) AS CHAR)"
    same = f"@mz{i} = @nz{i} AND (@nz{i} = '' OR @mx{i} = @nx{i})"
    return (
        f"CASE WHEN @q{i} THEN FALSE "
        f"WHEN {_parts('m', i, back)} AND {same} THEN FALSE ELSE TRUE END"
    )


def _temporal_rule(i: int, ct: ColumnType) -> str:
    v, o, f, e, s = (f"@{n}{i}" for n in "vofes")
    # A DATE holds whole days: no fraction, and midnight UTC.
    precision, finer = (0, "day") if ct.day else (ct.size or 0, "precision")
    day = f"WHEN {e} MOD 86400 <> 0 THEN 'day' " if ct.day else ""
    offset = (
        f"IF({o} = '', 0, IF(LEFT({o}, 1) = '-', -60, 60) "
        f"* (CAST(SUBSTR({o}, 2, 2) AS SIGNED) * 60 + CAST(SUBSTR({o}, 5, 2) AS SIGNED)))"
    )
    local = f"CONCAT(LEFT({v}, 10), ' ', IF(LENGTH({v}) > 10, SUBSTR({v}, 12, 8), '00:00:00'))"
    # The UTC value once every check passed (so DATE_ADD cannot overflow): whole seconds
    # from the epoch plus the fraction as written (ISO), or the decimal seconds (N). The
    # CASTs fix the type: a user variable may be read as text or DOUBLE, which would round.
    iso = (
        f"CASE WHEN {v} NOT REGEXP '{_ISO}' THEN 'format' "
        f"WHEN LEFT({v}, 4) = '0000' OR SUBSTR({v}, 6, 2) NOT BETWEEN '01' AND '12' "
        f"OR SUBSTR({v}, 9, 2) = '00' THEN 'format' "
        f"WHEN SUBSTR({v}, 9, 2) > DAY(LAST_DAY(CONCAT(LEFT({v}, 7), '-01'))) THEN 'format' "
        f"WHEN LENGTH({v}) > 10 AND (SUBSTR({v}, 12, 2) > '23' OR SUBSTR({v}, 15, 2) > '59' "
        f"OR SUBSTR({v}, 18, 2) > '59') THEN 'format' "
        f"WHEN ({o} := REGEXP_SUBSTR({v}, '[+-][0-9]{{2}}:[0-9]{{2}}$')) <> '' "
        f"AND (SUBSTR({o}, 2, 2) > '23' OR SUBSTR({o}, 5, 2) > '59') THEN 'format' "
        f"WHEN LENGTH(({f} := TRIM(TRAILING '0' FROM SUBSTR(REGEXP_SUBSTR({v}, '[.][0-9]+'), 2)))) "
        f"> {precision} THEN '{finer}' "
        f"WHEN ({e} := TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', {local}) - {offset}) "
        f"NOT BETWEEN {_EPOCH_MIN} AND {_EPOCH_MAX} THEN 'range' "
        f"{day}WHEN ({s} := CONCAT(DATE_ADD('1970-01-01 00:00:00', INTERVAL CAST({e} AS SIGNED) SECOND), "
        f"IF({f} = '', '', CONCAT('.', {f})))) IS NULL THEN 'range' END"
    )
    epoch = (
        f"CASE WHEN {_long_exponent(i)} THEN 'exponent' "
        f"WHEN NOT {_parts('n', i, v)} THEN 'format' "
        f"WHEN @nz{i} <> '' AND LENGTH(@nz{i}) + @nx{i} > 12 THEN 'range' "
        f"WHEN @nz{i} <> '' AND -@nx{i} > {precision} THEN '{finer}' "
        f"WHEN ({e} := CAST({v} AS DECIMAL(19,6))) "
        f"NOT BETWEEN {_EPOCH_MIN} AND {_EPOCH_MAX}.999999 THEN 'range' "
        f"{day}WHEN ({s} := DATE_ADD('1970-01-01 00:00:00', "
        f"INTERVAL CAST({e} AS DECIMAL(19,6)) SECOND)) IS NULL "
        "THEN 'range' END"
    )
    return f"CASE @t{i} WHEN 'S' THEN {iso} WHEN 'N' THEN {epoch} ELSE 'type' END"


def check(i: int, ct: ColumnType) -> str:
    """The rule code for a present, non-NULL value of column ``i`` (NULL: accepted)."""
    v, t = f"@v{i}", f"@t{i}"
    if ct.family == "integer":
        return (
            f"CASE WHEN {t} <> 'N' THEN 'type' WHEN {v} NOT REGEXP '[.eE]' THEN NULL "
            f"WHEN {_long_exponent(i)} THEN 'exponent' "
            f"WHEN {_parts('n', i, v)} AND (@nz{i} = '' OR @nx{i} >= 0) THEN NULL "
            "ELSE 'fraction' END"
        )
    if ct.family == "decimal":
        # MariaDB itself warns (naming the row) for every digit a DECIMAL cannot hold.
        return f"IF({t} = 'N', NULL, 'type')"
    if ct.family == "float":
        return _float_rule(i, ct)
    if ct.family == "boolean":
        return (
            f"CASE WHEN {t} = 'BOOL' THEN NULL WHEN {t} <> 'N' THEN 'type' "
            f"WHEN {_long_exponent(i)} THEN 'exponent' "
            f"WHEN {_parts('n', i, v)} AND (@nz{i} = '' OR "
            f"(@nz{i} = '1' AND @nx{i} = 0 AND LEFT({v}, 1) <> '-')) THEN NULL "
            "ELSE 'bool' END"
        )
    if ct.family == "char":
        return f"CASE WHEN {t} <> 'S' THEN 'type' WHEN {v} LIKE '%% ' THEN 'space' END"
    if ct.family == "text":
        return f"IF({t} = 'S', NULL, 'type')"
    if ct.family == "binary":
        # FROM_BASE64 warns (naming no row) on bad input, so the text is checked first.
        rule = (
            f"CASE WHEN {t} <> 'B' THEN 'type' "
            f"WHEN LENGTH({v}) MOD 4 <> 0 OR {v} NOT REGEXP '^[A-Za-z0-9+/]*={{0,2}}$' "
            f"THEN 'base64' WHEN (@y{i} := FROM_BASE64({v})) IS NULL THEN 'base64' "
        )
        if ct.size is not None:
            rule += f"WHEN LENGTH(@y{i}) <> {ct.size} THEN 'length' "
        return rule + "END"
    if ct.family == "temporal":
        return _temporal_rule(i, ct)
    raise ValueError(f"no check for {ct.family}")


def value(i: int, ct: ColumnType) -> str:
    """The column's value for an accepted, present, non-NULL value."""
    if ct.family == "boolean":
        return f"IF(@t{i} = 'BOOL', @v{i} = 'true', @nz{i} <> '')"
    if ct.family == "float":
        return f"CAST(@v{i} AS {'FLOAT' if ct.single else 'DOUBLE'})"
    if ct.family == "binary":
        return f"@y{i}"
    if ct.family == "temporal":
        return f"LEFT(@s{i}, 10)" if ct.day else f"@s{i}"
    if ct.family == "json":
        return f"@j{i}"
    return f"@v{i}"


# -- quarantine reasons (Python, for the few refused rows only) ----------------------------


def reason(name: str, sql_type: str, code: str) -> str:
    """The quarantine reason for a ``_x`` code ``<DynamoDB type>:<rule>``."""
    tag, _, rule = code.partition(":")
    where = f"column {name} ({sql_type})"
    if rule == "type":
        family = ColumnType.of(sql_type).family
        return f"{where} does not take a DynamoDB {tag} value; it takes {_TAKES[family]}."
    return f"{where} cannot hold the DynamoDB {tag} value exactly: {_RULES.get(rule, rule)}."


def warned_column(message: str) -> str | None:
    """The column a LOAD DATA warning names, if any."""
    m = _WARNED_COLUMN.search(message)
    return (m.group(1) or m.group(2)) if m else None


def warning_reason(name: str, sql_type: str, tag: str | None, warning: str) -> str:
    what = f"DynamoDB {tag} value" if tag else "value"
    return f"column {name} ({sql_type}) cannot hold the {what} exactly: {warning}"


def dynamodb_type(item: str | None, item_types: str | None, path: tuple[str, ...]) -> str | None:
    """The DynamoDB type of the value at ``path`` of a staged item (None when absent)."""
    if item is None:
        return None
    try:
        node: Any = loads_exact(item)
        types: Any = orjson.loads(item_types) if item_types else None
    except ValueError:
        return None
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
        types = types.get(part) if isinstance(types, dict) else None
    if isinstance(types, str):
        return types
    if node is None:
        return "NULL"
    if isinstance(node, bool):
        return "BOOL"
    if isinstance(node, _Num):
        return "N"
    if isinstance(node, str):
        return "S"
    return "M" if isinstance(node, dict) else "L"
