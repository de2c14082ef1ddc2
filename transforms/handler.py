"""Firehose data-transformation Lambda: Kinesis records of DynamoDB changes -> staging lines.

Firehose (Kinesis source) calls ``handler`` with a batch of records whose
``data`` is a base64 DynamoDB Kinesis-destination record. Each one becomes a
staging line (``contract.staging``) partitioned by table name, or, if it
cannot, ``ProcessingFailed`` with its original data, which Firehose writes
under the error prefix for a later reload. One bad record never fails the
batch, and the response stays under Lambda's 6 MB response limit: records that
would push it over come back ``ProcessingFailed`` as well. ``Dropped`` is
never returned: every change matters downstream.

Imports stay to the standard library, orjson, msgspec, pybase64 and ``contract``
so a cold start is cheap.
"""

from __future__ import annotations

import binascii
import sys
from typing import Any

import orjson
import pybase64

from transforms.normalize import Rejected, decode_json, normalize_json

# Lambda caps a synchronous response at 6 MB; read as 10**6 bytes to be safe,
# then keep room for the envelope and for serializers that escape more.
RESPONSE_LIMIT_BYTES = 6_000_000
RESPONSE_BUDGET_BYTES = RESPONSE_LIMIT_BYTES - 64 * 1024

# Serialized size of a response entry without its strings, counted with the
# spaces json.dumps puts after ':' and ',' (the larger of the usual spellings),
# plus the ", " separating it from the next entry.
_OK_OVERHEAD = (
    len(
        '{"recordId": "", "result": "Ok", "data": "", "metadata": {"partitionKeys": {"table": ""}}}'
    )
    + 2
)
_FAILED_OVERHEAD = len('{"recordId": "", "result": "ProcessingFailed", "data": ""}') + 2
_ENVELOPE = len('{"records": []}')


def handler(event: dict[str, Any], context: Any = None) -> dict[str, list[dict[str, Any]]]:
    """Firehose transformation entry point: one result per record, in order."""
    records = event["records"]
    invocation = event.get("invocationId")
    results: list[dict[str, Any]] = []
    size = _ENVELOPE
    # What failing every record not yet answered would add: an Ok entry is
    # taken only if that fallback still fits after it.
    id_sizes = [_json_size(r.get("recordId")) for r in records]
    failed_sizes = [_failed_size(r, i) for r, i in zip(records, id_sizes, strict=True)]
    fallback = sum(failed_sizes)
    over_budget = False
    ok = 0
    for record, id_size, failed_size in zip(records, id_sizes, failed_sizes, strict=True):
        record_id = record.get("recordId")
        data = record.get("data")
        fallback -= failed_size
        if over_budget:
            reason = ("response_budget", "the response would exceed the Lambda 6 MB limit")
        else:
            try:
                line, table = _transform(record)
            except Rejected as e:
                reason = (e.reason, e.detail)
            else:
                ok_size = _OK_OVERHEAD + id_size + len(line) + len(table)
                if size + ok_size + fallback <= RESPONSE_BUDGET_BYTES:
                    results.append(
                        {
                            "recordId": record_id,
                            "result": "Ok",
                            "data": line,
                            "metadata": {"partitionKeys": {"table": table}},
                        }
                    )
                    size += ok_size
                    ok += 1
                    continue
                over_budget = True
                reason = ("response_budget", "the response would exceed the Lambda 6 MB limit")
        _log("record_failed", invocation, record_id, reason[0], reason[1])
        results.append(
            {
                "recordId": record_id,
                "result": "ProcessingFailed",
                "data": data if type(data) is str else "",
            }
        )
        size += failed_size
    if ok != len(records):
        _log(
            "batch_summary",
            invocation,
            None,
            "records_failed",
            f"{len(records) - ok} of {len(records)}",
        )
    return {"records": results}


def _transform(record: dict[str, Any]) -> tuple[str, str]:
    """One Firehose record -> (base64 staging line, table name); raises ``Rejected``."""
    raw = record_bytes(record.get("data"))
    meta = record.get("kinesisRecordMetadata")
    if type(meta) is not dict:
        decode_json(raw)  # data that is not JSON says so first
        raise Rejected("not_kinesis_source", "record has no kinesisRecordMetadata")
    line, table = normalize_json(
        raw,
        sequence_number=meta.get("sequenceNumber"),  # type: ignore[arg-type]
        arrival_ms=record.get("approximateArrivalTimestamp"),  # type: ignore[arg-type]
    )
    return pybase64.b64encode_as_string(line), table


def record_bytes(data: object) -> bytes:
    """A Firehose record's base64 ``data`` -> its bytes; raises ``Rejected``."""
    if type(data) is not str:
        raise Rejected("not_base64", "record data is missing")
    try:
        return pybase64.b64decode(data, validate=True)
    except ValueError:  # binascii.Error included
        # pybase64 refuses a few spellings binascii's strict mode takes (an '='
        # after a full group): binascii has the last word, so both accept the same.
        try:
            return binascii.a2b_base64(data, strict_mode=True)
        except (binascii.Error, ValueError):
            raise Rejected("not_base64", "record data is not valid base64") from None


def _failed_size(record: dict[str, Any], id_size: int) -> int:
    """Serialized size of a ProcessingFailed entry for ``record`` (``id_size``: its recordId's)."""
    data = record.get("data")
    return _FAILED_OVERHEAD + id_size + (_json_size(data) if type(data) is str else 0)


def _json_size(text: object) -> int:
    """Upper bound of a string's serialized size (without quotes), with ASCII escaping."""
    if type(text) is not str:
        return 4  # null
    if text.isascii():
        # orjson escapes ASCII as json.dumps does, except DEL, which json.dumps
        # spells \u007f and orjson leaves as it is
        return len(orjson.dumps(text)) - 2 + 5 * text.count("\x7f")
    return 12 * len(text)  # \uXXXX\uXXXX per astral character at worst


def _log(event: str, invocation: object, record_id: object, reason: str, detail: str) -> None:
    """One structured JSON line to stdout (CloudWatch); names the record, never its values."""
    entry = {
        "level": "WARNING",
        "event": event,
        "invocationId": invocation,
        "recordId": record_id,
        "reason": reason,
        "detail": detail[:500],
    }
    sys.stdout.write(orjson.dumps(entry).decode() + "\n")
