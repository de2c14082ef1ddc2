"""One DynamoDB change -> one staging line: the pure core of the Firehose transform.

``handler`` decodes each Firehose record and calls ``normalize`` on the
DynamoDB Kinesis-destination record inside it. No base64, environment or AWS
here, so tests and benchmarks call it directly. The old image is not needed
(the staging line carries the state after the change) and is never read.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from contract import staging, values
from contract.staging import StagingLine

OPERATIONS = ("INSERT", "MODIFY", "REMOVE")
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.\-]{3,255}")
_SEQUENCE_NUMBER = re.compile(r"[0-9]{1,128}")


class Rejected(ValueError):
    """A record the transform cannot turn into a staging line.

    ``reason`` is a fixed code (for metrics and searches), ``detail`` a
    sentence that names attributes but never their values, so it can be logged.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


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


def _fields(record: Any, sequence_number: str, arrival_ms: int) -> tuple[Any, ...]:
    """The staging line fields of a change, in ``StagingLine`` order; raises ``Rejected``."""
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
    if type(sequence_number) is not str or not _SEQUENCE_NUMBER.fullmatch(sequence_number):
        raise Rejected("bad_sequence_number", "the Kinesis sequenceNumber must be decimal digits")
    if type(arrival_ms) is not int or arrival_ms < 0:
        raise Rejected("bad_arrival_time", "approximateArrivalTimestamp must be ms since the epoch")
    try:
        version = staging.version_us(
            body.get("ApproximateCreationDateTime"),
            body.get("ApproximateCreationDateTimePrecision"),
        )
    except staging.BadLine:
        raise Rejected(
            "bad_creation_time", "ApproximateCreationDateTime must be a positive integer"
        ) from None
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
            plain, types = values.to_plain(image)
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
