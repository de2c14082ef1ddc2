"""The form a mapped column stores a DynamoDB value in, when it is not the value's text.

``ops.verify`` compares what DynamoDB holds with what the loader stored. Most mapped
columns store the value as written; two families store another exact form, chosen by
the SQL the loader runs inside LOAD DATA (``loaders.columns``), and this module says
the same in Python for one value at a time:

* **DOUBLE and FLOAT** hold the nearest binary number. MariaDB reads a DOUBLE back as
  the shortest decimal that is the same DOUBLE, a FLOAT to 6 significant digits. When
  that is not the DynamoDB number, the loader keeps the exact digits in the overflow
  column too (``columns.keep``), so nothing is lost.
* **DATE, DATETIME and TIMESTAMP** hold the UTC instant an ISO-8601 text (with ``Z`` or
  an offset) or epoch seconds name, whatever the text looked like.

A value these columns refuse was quarantined by the loader and never reaches the
target; for it the functions give ``None`` and verify reports the row as it finds it.
"""

from __future__ import annotations

import re
import struct
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from contract.values import _Num, canonical_number
from loaders.columns import ColumnType

_EPOCH = datetime(1970, 1, 1)
# The loader's ISO-8601 grammar (``loaders.columns._ISO``), with groups.
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})?)?"
)


def float_text(number: _Num, ct: ColumnType) -> str | None:
    """The number a DOUBLE (or FLOAT) column reads back as, canonical; None if refused."""
    try:
        x = float(str(number))
        if not ct.single:
            return canonical_number(repr(x))
        # FLOAT stores single precision; MariaDB prints 6 significant digits.
        return canonical_number(f"{struct.unpack('<f', struct.pack('<f', x))[0]:.6g}")
    except (ValueError, OverflowError):
        return None


def keeps_digits(number: Any, ct: ColumnType) -> bool:
    """Whether the loader keeps this number's exact digits in the overflow column too:
    a DOUBLE or FLOAT column that does not read back as the DynamoDB number."""
    if ct.family != "float" or not isinstance(number, _Num):
        return False
    stored = float_text(number, ct)
    return stored is not None and stored != canonical_number(str(number))


def instant(value: Any) -> datetime | None:
    """The UTC instant (naive) an ISO-8601 text or epoch seconds name; None if neither."""
    if isinstance(value, _Num):
        try:
            seconds = Decimal(str(value))
            whole = int(seconds.to_integral_value(rounding="ROUND_FLOOR"))
            micro = int((seconds - whole) * 1_000_000)
            return _EPOCH + timedelta(seconds=whole, microseconds=micro)
        except (InvalidOperation, OverflowError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    m = _ISO.fullmatch(value)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    try:
        local = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
            int((fraction or "").rstrip("0")[:6].ljust(6, "0")),
        )  # fmt: skip
    except ValueError:
        return None
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        local -= sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return local


def temporal_text(value: Any, ct: ColumnType) -> str | None:
    """What a DATE or DATETIME/TIMESTAMP column reads back as, in ``datetime.isoformat``
    form (date only for DATE); None if the loader refused the value."""
    at = instant(value)
    if at is None:
        return None
    return at.date().isoformat() if ct.day else at.isoformat(sep=" ")
