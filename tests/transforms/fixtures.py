"""Captured-shape Firehose events (``events/<name>.json``) and their expected responses."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from tests.fixtures import load_json

EVENTS = Path(__file__).with_name("events")


def load_event(name: str) -> dict[str, Any]:
    """The Firehose transformation event ``events/<name>.json``."""
    return load_json(EVENTS / f"{name}.json")


def load_expected_response(name: str) -> dict[str, Any]:
    """The exact response the handler must give for ``events/<name>.json``."""
    return load_json(EVENTS / f"{name}.response.json")


def firehose_record(
    data: bytes, n: int, *, sequence_number: str | None = None, arrival_ms: int = 1764077161000
) -> dict[str, Any]:
    """One Firehose record from a Kinesis source, carrying ``data``."""
    seq = sequence_number or f"49660000000000000000000000000000000000000000{n:012d}"
    return {
        "recordId": f"{seq}000000000000",
        "approximateArrivalTimestamp": arrival_ms,
        "data": base64.b64encode(data).decode(),
        "kinesisRecordMetadata": {
            "shardId": "shardId-000000000000",
            "partitionKey": f"{n:032X}",
            "approximateArrivalTimestamp": arrival_ms,
            "sequenceNumber": seq,
            "subsequenceNumber": 0,
        },
    }


def firehose_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "invocationId": "a1b2c3d4-0000-4000-8000-000000000000",
        "deliveryStreamArn": "arn:aws:firehose:eu-central-1:123456789012:deliverystream/ddbload",
        "sourceKinesisStreamArn": "arn:aws:kinesis:eu-central-1:123456789012:stream/ddbload",
        "region": "eu-central-1",
        "records": records,
    }
