"""The staging line: one JSON object per DynamoDB change, one line per change.

This module is the only definition of the format. The transform
(``transforms/``) writes lines with ``encode_line``; the loader (``loaders/``),
the CLI, backfill and replay read them. Objects in S3 are gzip NDJSON: lines
joined with ``\\n``. The loader reads the flat fields with pyarrow in C++; the
JSON documents it needs (``key``, ``item``) are carried as *strings* so they
reach MariaDB as text without being parsed per value in Python.

Fields (all present on every line; ``null`` where stated):

``v``           int   contract version, ``1``.
``table``       str   source DynamoDB table name.
``op``          str   ``INSERT`` | ``MODIFY`` | ``REMOVE`` (DynamoDB's eventName),
                      or ``BACKFILL`` for an item read by ``ddbload backfill``.
``key``         str   plain JSON object of the key attributes, names sorted,
                      numbers canonical (``contract.values.canonical_number``):
                      equal keys have equal text, so it is the row identity.
``key_types``   str   one letter per key attribute in ``key`` order: S, N or B.
``item``        str?  plain JSON text of the new image (``contract.values``);
                      null for REMOVE.
``item_types``  str?  JSON text of the type map of ``item``; null when the item
                      needs none (no B, SS, NS, BS anywhere).
``version_us``  int   ApproximateCreationDateTime in microseconds since the epoch.
``seq``         str   Kinesis sequence number (decimal digits, no leading zeros);
                      breaks ties between changes in the same microsecond.
                      Compare as numbers: by length, then text. ``""`` for backfill.
``ttl_delete``  bool  true when DynamoDB's TTL process removed the item.
``event_id``    str   DynamoDB eventID (backfill: ``backfill:<run id>``).
``arrival_ms``  int   Kinesis approximate arrival time, ms since the epoch.

Ordering: a change is newer than another of the same key when
``(version_us, len(seq), seq)`` is greater (``version_key``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from contract import values

CONTRACT_VERSION = 1
OPERATIONS = ("INSERT", "MODIFY", "REMOVE", "BACKFILL")
FIELDS = (
    "v", "table", "op", "key", "key_types", "item", "item_types",
    "version_us", "seq", "ttl_delete", "event_id", "arrival_ms",
)  # fmt: skip

# DynamoDB's Kinesis destination sends ApproximateCreationDateTime in ms
# (13 digits) or, with ApproximateCreationDateTimePrecision=MICROSECOND, in µs
# (16 digits). Anything at or above this is already microseconds.
_MICROS_THRESHOLD = 10**15


class BadLine(ValueError):
    """A line that is not a valid staging line; the message says why."""


def version_us(creation_time: object, precision: object = None) -> int:
    """Creation time of a change in microseconds, from either precision."""
    if type(creation_time) is float and creation_time.is_integer():
        creation_time = int(creation_time)
    if type(creation_time) is not int or creation_time <= 0:
        raise BadLine(
            f"ApproximateCreationDateTime must be a positive integer, got {creation_time!r}"
        )
    if precision == "MICROSECOND" or creation_time >= _MICROS_THRESHOLD:
        return creation_time
    return creation_time * 1000


def version_key(version: int, seq: str) -> tuple[int, int, str]:
    """Sort key of a change: newer changes compare greater."""
    return (version, len(seq), seq)


def key_text(keys: dict[str, Any]) -> tuple[str, str]:
    """Typed key attributes -> (canonical plain JSON text, key type letters)."""
    if type(keys) is not dict or not keys:
        raise values.BadValue("Keys must be a non-empty object")
    letters = ""
    plain = {}
    for name in sorted(keys):
        av = keys[name]
        # String keys, the usual case, inline; key_value checks everything else.
        if type(av) is dict and len(av) == 1 and type(text := av.get("S")) is str:
            letters += "S"
            plain[name] = text
            continue
        letter, value = values.key_value(av)
        letters += letter
        plain[name] = value
    return orjson.dumps(plain).decode(), letters


@dataclass(frozen=True, slots=True)
class StagingLine:
    table: str
    op: str
    key: str
    key_types: str
    item: str | None
    item_types: str | None
    version_us: int
    seq: str
    ttl_delete: bool
    event_id: str
    arrival_ms: int
    v: int = CONTRACT_VERSION

    def typed_key(self) -> dict[str, Any]:
        """The DynamoDB key this line belongs to, typed."""
        plain = values.loads_exact(self.key)
        return {
            name: {letter: str(value)}
            for (name, value), letter in zip(plain.items(), self.key_types, strict=True)
        }

    def typed_item(self) -> dict[str, Any] | None:
        """The DynamoDB item after this change (None for REMOVE), typed, exactly."""
        if self.item is None:
            return None
        types = orjson.loads(self.item_types) if self.item_types else None
        return values.to_typed(self.item, types)


def encode_line(line: StagingLine) -> bytes:
    """One staging line as bytes, ending in a newline."""
    return _encode(
        line.v, line.table, line.op, line.key, line.key_types, line.item, line.item_types,
        line.version_us, line.seq, line.ttl_delete, line.event_id, line.arrival_ms,
    )  # fmt: skip


def encode_fields(
    table: str, op: str, key: str, key_types: str, item: str | None, item_types: str | None,
    version_us: int, seq: str, ttl_delete: bool, event_id: str, arrival_ms: int,
) -> bytes:  # fmt: skip
    """``encode_line`` of the line with these fields (in ``StagingLine`` order), without
    building the ``StagingLine``: the transform's per-record path."""
    return _encode(
        CONTRACT_VERSION, table, op, key, key_types, item, item_types,
        version_us, seq, ttl_delete, event_id, arrival_ms,
    )  # fmt: skip


def _encode(
    v: int, table: str, op: str, key: str, key_types: str, item: str | None,
    item_types: str | None, version_us: int, seq: str, ttl_delete: bool, event_id: str,
    arrival_ms: int,
) -> bytes:  # fmt: skip
    return orjson.dumps(
        {
            "v": v,
            "table": table,
            "op": op,
            "key": key,
            "key_types": key_types,
            "item": item,
            "item_types": item_types,
            "version_us": version_us,
            "seq": seq,
            "ttl_delete": ttl_delete,
            "event_id": event_id,
            "arrival_ms": arrival_ms,
        },
        option=orjson.OPT_APPEND_NEWLINE,
    )


def decode_line(raw: bytes | str) -> StagingLine:
    """Parse and check one staging line; raises ``BadLine`` naming the problem."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise BadLine(f"not JSON: {e}") from None
    if type(obj) is not dict:
        raise BadLine("a staging line must be a JSON object")
    missing = [f for f in FIELDS if f not in obj]
    if missing:
        raise BadLine(f"missing fields: {', '.join(missing)}")
    if obj["v"] != CONTRACT_VERSION:
        raise BadLine(f"unsupported contract version {obj['v']!r}")
    if obj["op"] not in OPERATIONS:
        raise BadLine(f"unknown op {obj['op']!r}")
    if (obj["item"] is None) != (obj["op"] == "REMOVE"):
        raise BadLine("item must be null exactly when op is REMOVE")
    for name, kind in (("table", str), ("key", str), ("key_types", str), ("seq", str),
                       ("event_id", str), ("version_us", int), ("arrival_ms", int),
                       ("ttl_delete", bool)):  # fmt: skip
        if type(obj[name]) is not kind:
            raise BadLine(f"{name} must be {kind.__name__}")
    return StagingLine(**{f: obj[f] for f in FIELDS})
