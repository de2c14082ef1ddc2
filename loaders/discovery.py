"""Work discovery: the S3-event SQS queue, plus a sweep of recent hour prefixes.

S3 ObjectCreated notifications on each configured table's staging folder feed
that table's work queue (with a dead-letter queue; ``contract.lanes``). Each
scheduled run of a lane drains its queue, then lists the current and last few
hour prefixes of its table (the default lane: of every unconfigured table, further
back, as no queue feeds it) and compares them with the ledger, so a lost or late
message never loses a file. Firehose names objects by
arrival hour, so a late *record* still lands in a recent prefix. A message is
deleted only when every object it names is settled (loaded, quarantined,
already in the ledger, or gone); otherwise it returns after its visibility
timeout and, after repeated failures, moves to the dead-letter queue.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

from contract import layout
from loaders.jobs import ObjectRef

# Bounds on one run's draining: SQS returns at most 10 per call.
MAX_MESSAGES = 2000


@dataclass
class WorkMessage:
    receipt: str
    refs: list[ObjectRef] = field(default_factory=list)


def refs_of(body: Any, bucket: str) -> list[ObjectRef]:
    """Objects of ``bucket`` named by one message body: S3 event, SNS- or EventBridge-wrapped.

    A test event or anything else that names no object gives an empty list.
    """
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return []
    if not isinstance(body, dict):
        return []
    if body.get("Type") == "Notification" and isinstance(body.get("Message"), str):
        return refs_of(body["Message"], bucket)
    if isinstance(body.get("detail"), dict) and "Object Created" in str(body.get("detail-type")):
        detail = body["detail"]
        obj = detail.get("object") or {}
        if (detail.get("bucket") or {}).get("name") == bucket and obj.get("key"):
            return [
                ObjectRef(
                    obj["key"], (obj.get("etag") or "").strip('"') or None, obj.get("size", 0)
                )
            ]
        return []
    refs = []
    for record in body.get("Records") or []:
        if not isinstance(record, dict) or not str(record.get("eventName", "")).startswith(
            "ObjectCreated"
        ):
            continue
        s3 = record.get("s3") or {}
        obj = s3.get("object") or {}
        if (s3.get("bucket") or {}).get("name") != bucket or not obj.get("key"):
            continue
        # S3 notifications URL-encode keys (spaces as '+').
        key = unquote_plus(obj["key"])
        refs.append(ObjectRef(key, (obj.get("eTag") or "").strip('"') or None, obj.get("size", 0)))
    return refs


def drain(
    sqs: Any, queue_url: str, bucket: str, *, visibility_seconds: int, deadline: float | None = None
) -> list[WorkMessage]:
    """Receive every visible message (bounded), hidden for ``visibility_seconds`` meanwhile."""
    messages: list[WorkMessage] = []
    while len(messages) < MAX_MESSAGES:
        if deadline is not None and time.monotonic() > deadline:
            break
        got = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=visibility_seconds,
        ).get("Messages", [])
        if not got:
            break
        messages += [WorkMessage(m["ReceiptHandle"], refs_of(m.get("Body"), bucket)) for m in got]
    return messages


def acknowledge(sqs: Any, queue_url: str, messages: list[WorkMessage], settled: set[str]) -> int:
    """Delete the messages whose objects are all settled; returns how many."""
    done = [m for m in messages if all(r.key in settled for r in m.refs)]
    for start in range(0, len(done), 10):
        part = done[start : start + 10]
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m.receipt} for i, m in enumerate(part)],
        )
    return len(done)


def hour_prefixes(staging_prefix: str, table_prefix: str, hours: int, now: datetime) -> list[str]:
    return [
        f"{table_prefix}{layout.hour_folder((now - timedelta(hours=h)).timestamp())}/"
        for h in range(hours)
    ]


def _list(s3: Any, bucket: str, prefix: str, delimiter: str | None = None) -> list[dict[str, Any]]:
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if delimiter:
        kwargs["Delimiter"] = delimiter
    pages = s3.get_paginator("list_objects_v2").paginate(**kwargs)
    out: list[dict[str, Any]] = []
    for page in pages:
        out += page.get("CommonPrefixes", []) if delimiter else page.get("Contents", [])
    return out


def table_folders(s3: Any, bucket: str, staging_prefix: str) -> dict[str, str]:
    """Source table -> its folder, for every table with staging objects."""
    root = staging_prefix.strip("/") + "/"
    marker = f"{layout.PARTITION_KEY}="
    folders = {}
    for entry in _list(s3, bucket, root, "/"):
        name = entry["Prefix"][len(root) :].rstrip("/")
        if name.startswith(marker):
            folders[name[len(marker) :]] = entry["Prefix"]
    return folders


def sweep(
    s3: Any,
    bucket: str,
    staging_prefix: str,
    hours: int,
    now: datetime | None = None,
    *,
    tables: list[str] | None = None,
    exclude: frozenset[str] = frozenset(),
) -> list[ObjectRef]:
    """Every object in the last ``hours`` hour prefixes (current hour included) of every
    table, or of ``tables`` only (a lane's), leaving out the tables in ``exclude``."""
    now = now or datetime.now(UTC)
    if tables is None:
        folders = table_folders(s3, bucket, staging_prefix)
    else:
        folders = {t: layout.table_prefix(staging_prefix, t) for t in tables}
    refs = []
    for table, folder in sorted(folders.items()):
        if table in exclude:
            continue
        for prefix in hour_prefixes(staging_prefix, folder, hours, now):
            refs += [
                ObjectRef(o["Key"], o["ETag"].strip('"'), int(o.get("Size", 0)))
                for o in _list(s3, bucket, prefix)
            ]
    return refs


def under_prefix(s3: Any, bucket: str, prefix: str) -> list[ObjectRef]:
    """Every object under ``prefix`` (reload)."""
    return [
        ObjectRef(o["Key"], o["ETag"].strip('"'), int(o.get("Size", 0)))
        for o in _list(s3, bucket, prefix)
    ]
