"""One DynamoDB change -> one staging line: the pure core of the Firehose transform.

``handler`` decodes each Firehose record and calls ``normalize`` on the
DynamoDB Kinesis-destination record inside it. No base64, environment or AWS
here, so tests and benchmarks call it directly. The old image is not needed
(the staging line carries the state after the change) and is never read.

``normalize_json`` starts from the record's JSON bytes. Its fast path
(msgspec) builds only the fields the transform reads and skips the rest,
OldImage above all, unparsed. It only ever accepts: a record it cannot decode,
and every record it would reject, goes through the exact path (orjson, the
whole record), so rejections and their words are the exact path's.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
import orjson

from contract import staging, values
from contract.staging import StagingLine

OPERATIONS = ("INSERT", "MODIFY", "REMOVE")
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.\-]{3,255}")


class Rejected(ValueError):
    """A record the transform cannot turn into a staging line.

    ``reason`` is a fixed code (for metrics and searches), ``detail`` a
    sentence that names attributes but never their values, so it can be logged.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# orjson reads integers up to 2**64 - 1 as int and larger ones as float; the
# fast path leaves any integer outside int64 to the exact path, so both read
# the same value.
_INT64_END = 2**63
_INT64 = msgspec.Meta(ge=-_INT64_END, le=_INT64_END - 1)


class _Body(msgspec.Struct, gc=False):
    """The fields of ``dynamodb`` that ``normalize`` reads; OldImage and the rest are skipped."""

    ApproximateCreationDateTime: Annotated[int, _INT64] | None = None
    ApproximateCreationDateTimePrecision: Any = None
    Keys: Any = None
    NewImage: Any = None


class _Change(msgspec.Struct, gc=False):
    """The fields of a change record that ``normalize`` reads (a field ``_fields`` starts
    reading must be added here and in ``decode_fast``, or the fast path reads it as None)."""

    eventSource: Any = None
    eventName: Any = None
    eventID: Any = None
    tableName: Any = None
    userIdentity: Any = None
    dynamodb: _Body | None = None


_decode_fast = msgspec.json.Decoder(_Change).decode


def normalize_json(raw: bytes, *, sequence_number: str, arrival_ms: int) -> tuple[bytes, str]:
    """``normalize_encoded`` of the change record whose JSON is ``raw``; raises ``Rejected``.

    On what it accepts the fast path reads what the exact path reads: strings,
    booleans, null and containers decode alike in both, and a number in an
    image or key is an error that the exact path then names. It differs only
    on faults in fields never read: a record whose OldImage holds bytes that
    are not UTF-8, say, is accepted rather than refused.
    """
    record = decode_fast(raw)
    if record is not None:
        try:
            # in place: the decoded record is this call's own
            fields = _fields(record, sequence_number, arrival_ms, in_place=True)
        except (Rejected, RecursionError):
            pass  # the exact path says what is wrong
        else:
            return staging.encode_fields(*fields), fields[0]
    return normalize_encoded(
        decode_json(raw), sequence_number=sequence_number, arrival_ms=arrival_ms
    )


def decode_fast(raw: bytes) -> dict[str, Any] | None:
    """The fields of a change record that ``normalize`` reads, or None if msgspec cannot
    decode them as the exact path would."""
    try:
        change = _decode_fast(raw)
    except (msgspec.MsgspecError, RecursionError):
        return None
    body = change.dynamodb
    return {
        "eventSource": change.eventSource,
        "eventName": change.eventName,
        "eventID": change.eventID,
        "tableName": change.tableName,
        "userIdentity": change.userIdentity,
        # A missing field reads as None, as dict.get reads it on the exact path.
        "dynamodb": body
        and {
            "ApproximateCreationDateTime": body.ApproximateCreationDateTime,
            "ApproximateCreationDateTimePrecision": body.ApproximateCreationDateTimePrecision,
            "Keys": body.Keys,
            "NewImage": body.NewImage,
        },
    }


def decode_json(raw: bytes) -> Any:
    """A change record's JSON, all of it, as orjson reads it; raises ``Rejected``."""
    try:
        return orjson.loads(raw)  # checks UTF-8 itself, faster than decoding first
    except orjson.JSONDecodeError:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected("not_utf8", "record data is not UTF-8") from None
        raise Rejected("not_json", "record data is not JSON") from None


def _is_sequence_number(text: str) -> bool:
    """1 to 128 ASCII digits (as ``[0-9]{1,128}``, without the regex)."""
    return text.isdigit() and text.isascii() and len(text) <= 128


def is_ttl_delete(record: dict[str, Any]) -> bool:
    """True when DynamoDB's TTL process, not a caller, removed the item."""
    identity = record.get("userIdentity")
    return (
        type(identity) is dict
        and identity.get("type") == "Service"
        and identity.get("principalId") == "dynamodb.amazonaws.com"
    )


def normalize(record: Any, *, sequence_number: str, arrival_ms: int) -> StagingLine:
    """A decoded DynamoDB Kinesis-destination record -> its staging line; raises ``Rejected``."""
    return StagingLine(*_fields(record, sequence_number, arrival_ms))


def normalize_encoded(record: Any, *, sequence_number: str, arrival_ms: int) -> tuple[bytes, str]:
    """``normalize`` then ``encode_line``, without the ``StagingLine``: (line bytes, table)."""
    fields = _fields(record, sequence_number, arrival_ms)
    return staging.encode_fields(*fields), fields[0]


def _fields(
    record: Any, sequence_number: str, arrival_ms: int, *, in_place: bool = False
) -> tuple[Any, ...]:
    """The staging line fields of a change, in ``StagingLine`` order; raises ``Rejected``.

    ``in_place``: the NewImage is converted in place (``values.to_plain``).
    """
    if type(record) is not dict or record.get("eventSource") != "aws:dynamodb":
        raise Rejected("not_dynamodb_change", "the record is not a DynamoDB change record")
    body = record.get("dynamodb")
    table = record.get("tableName")
    event_id = record.get("eventID")
    if type(body) is not dict or type(table) is not str or type(event_id) is not str:
        raise Rejected(
            "not_dynamodb_change", "a DynamoDB change record needs dynamodb, tableName and eventID"
        )
    if not _TABLE_NAME.fullmatch(table):
        raise Rejected("not_dynamodb_change", "tableName is not a valid DynamoDB table name")
    op = record.get("eventName")
    if op not in OPERATIONS:
        raise Rejected("unknown_operation", "eventName must be INSERT, MODIFY or REMOVE")
    if type(sequence_number) is not str or not _is_sequence_number(sequence_number):
        raise Rejected("bad_sequence_number", "the Kinesis sequenceNumber must be decimal digits")
    if type(arrival_ms) is not int or not 0 <= arrival_ms < _INT64_END:
        raise Rejected("bad_arrival_time", "approximateArrivalTimestamp must be ms since the epoch")
    try:
        version = staging.version_us(
            body.get("ApproximateCreationDateTime"),
            body.get("ApproximateCreationDateTimePrecision"),
        )
    except staging.BadLine:
        version = _INT64_END
    if version >= _INT64_END:
        # past 2**63 - 1 the line could not be encoded (a year beyond 292,000 anyway)
        raise Rejected(
            "bad_creation_time", "ApproximateCreationDateTime must be a positive integer"
        )
    keys = body.get("Keys")
    if type(keys) is not dict or not keys:
        raise Rejected("missing_keys", "dynamodb.Keys is missing or empty")
    try:
        key, key_types = staging.key_text(keys)
    except values.BadValue as e:
        raise _value_rejection("Keys", e) from None
    item = item_types = None
    if op != "REMOVE":
        image = body.get("NewImage")
        if type(image) is not dict:
            raise Rejected("missing_new_image", f"{op} without dynamodb.NewImage")
        try:
            plain, types = values.to_plain(image, in_place=in_place)
        except values.BadValue as e:
            raise _value_rejection("NewImage", e) from None
        item = plain.decode()
        if types:
            item_types = orjson.dumps(types).decode()
    return (
        table,
        op,
        key,
        key_types,
        item,
        item_types,
        version,
        sequence_number.lstrip("0") or "0",
        op == "REMOVE" and is_ttl_delete(record),
        event_id,
        arrival_ms,
    )


# BadValue reasons by their opening words -> (reason code, loggable sentence).
# Reasons about numbers quote the offending text, so they are replaced.
_VALUE_REASONS = (
    ("unknown type tag", "unknown_type_tag", None),
    ("key attributes must be", "bad_key", None),
    ("not a number", "bad_number", "number is not a valid DynamoDB number"),
    ("not a finite number", "bad_number", "number is not a valid DynamoDB number"),
    ("number must be", "bad_number", None),
    ("binary", "bad_base64", None),
)


def _value_rejection(where: str, error: values.BadValue) -> Rejected:
    path = ".".join([where, *error.path])
    for prefix, reason, sentence in _VALUE_REASONS:
        if error.reason.startswith(prefix):
            return Rejected(reason, f"{sentence or error.reason} at {path}")
    return Rejected("bad_value", f"{error.reason} at {path}")
