"""LOCAL STAND-IN for DynamoDB's Kinesis streaming destination (moto does not forward).

Reads each table's DynamoDB Stream (NEW_AND_OLD_IMAGES) from where it last
stopped and puts every change on the Kinesis stream in the documented
Kinesis-destination record format, which differs from a Streams record::

    {"awsRegion", "eventID", "eventName": INSERT|MODIFY|REMOVE,
     "userIdentity": null | {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
     "recordFormat": "application/json", "tableName",
     "dynamodb": {"ApproximateCreationDateTime": <epoch microseconds>,
                  "ApproximateCreationDateTimePrecision": "MICROSECOND",
                  "Keys", "NewImage"?, "OldImage"?, "SizeBytes"},
     "eventSource": "aws:dynamodb"}

No ``SequenceNumber`` and no ``eventVersion`` (those belong to Streams);
binary values are base64 text. The partition key is derived from the item key,
so every change of one item lands on one shard, in order.

TTL deletes: moto never expires items, so nothing in it can produce a delete
by the TTL process. ``ttl_delete`` deletes an item and marks that change in the
state folder; when the driver forwards the marked REMOVE it gives it the TTL
service identity, exactly what AWS sends for an expired item.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from contract.staging import key_text
from contract.values import wire_value
from localmode import state
from localmode.aws import Clients
from localmode.resources import LocalResources

TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PUT_BATCH = 500  # PutRecords limit
_PUT_BYTES = 4 * 1024 * 1024  # stay under PutRecords' 5 MiB per request


def _wire_image(image: dict[str, Any]) -> dict[str, Any]:
    return {k: wire_value(v) for k, v in image.items()}


def epoch_micros(moment: datetime | int | float) -> int:
    """A stream timestamp (boto3 datetime, or epoch seconds) in microseconds, exactly."""
    if isinstance(moment, datetime):
        return (moment - _EPOCH) // timedelta(microseconds=1)
    return round(moment * 1_000_000)


def destination_record(
    stream_record: dict[str, Any], table: str, *, ttl: bool = False
) -> dict[str, Any]:
    """One DynamoDB Streams record (as boto3 returns it) -> a Kinesis-destination record."""
    ddb = stream_record["dynamodb"]
    # moto base64-encodes binary key values in ``Keys`` twice; the image holds the
    # same key attributes (AWS guarantees it), so take them from there when we can.
    image = ddb.get("NewImage") or ddb.get("OldImage") or {}
    keys = {name: image.get(name, value) for name, value in ddb["Keys"].items()}
    body: dict[str, Any] = {
        "ApproximateCreationDateTime": epoch_micros(ddb["ApproximateCreationDateTime"]),
        "Keys": _wire_image(keys),
    }
    if "NewImage" in ddb:
        body["NewImage"] = _wire_image(ddb["NewImage"])
    if "OldImage" in ddb:
        body["OldImage"] = _wire_image(ddb["OldImage"])
    body["SizeBytes"] = ddb.get("SizeBytes", 1)
    body["ApproximateCreationDateTimePrecision"] = "MICROSECOND"
    return {
        "awsRegion": stream_record.get("awsRegion", "us-east-1"),
        "eventID": stream_record["eventID"],
        "eventName": stream_record["eventName"],
        "userIdentity": dict(TTL_IDENTITY) if ttl else None,
        "recordFormat": "application/json",
        "tableName": table,
        "dynamodb": body,
        "eventSource": "aws:dynamodb",
    }


def partition_key(record: dict[str, Any]) -> str:
    """Kinesis partition key of a destination record: a hash of its table and item key."""
    text, _ = key_text(record["dynamodb"]["Keys"])
    return hashlib.md5(f"{record['tableName']}\n{text}".encode()).hexdigest().upper()


def _mark_id(table: str, old_image: dict[str, Any]) -> str:
    """Identity of one delete: the table and the exact item it removed."""
    text = json.dumps(_wire_image(old_image), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{table}\n{text}".encode()).hexdigest()


def ttl_delete(
    aws: Clients,
    table: str,
    key: dict[str, Any],
    state_path: str | os.PathLike[str] | None = None,
) -> bool:
    """Delete an item the way DynamoDB's TTL process would (see the module docstring).

    ``key`` is typed wire form (``{"pk": {"S": "a"}}``). The delete is marked
    by the item it removed, so the REMOVE whose OldImage is exactly that item
    carries the TTL service identity (an earlier user delete of the same key
    does not). Returns False when there was no item to expire.
    """
    folder = state.state_dir(state_path)
    old = aws.dynamodb.delete_item(TableName=table, Key=key, ReturnValues="ALL_OLD")
    if "Attributes" not in old:
        return False
    marks = state.read(folder, state.TTL_MARKS_FILE) or {}
    mark = _mark_id(table, old["Attributes"])
    marks[mark] = marks.get(mark, 0) + 1
    state.write(folder, state.TTL_MARKS_FILE, marks)
    return True


class StreamToKinesis:
    """Forwards new DynamoDB Stream records to Kinesis; remembers where each shard stopped."""

    def __init__(
        self,
        resources: LocalResources,
        *,
        state_path: str | os.PathLike[str] | None = None,
        clients: Clients | None = None,
    ) -> None:
        self.resources = resources
        self.aws = clients or Clients(resources.endpoint)
        self.folder = state.state_dir(state_path)

    def _read_shard(self, stream_arn: str, shard_id: str, after: str | None) -> list[dict]:
        streams = self.aws.dynamodbstreams
        if after:
            iterator = streams.get_shard_iterator(
                StreamArn=stream_arn,
                ShardId=shard_id,
                ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                SequenceNumber=after,
            )["ShardIterator"]
        else:
            iterator = streams.get_shard_iterator(
                StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        records: list[dict] = []
        for _ in range(100_000):
            got = streams.get_records(ShardIterator=iterator, Limit=1000)
            records.extend(got["Records"])
            iterator = got.get("NextShardIterator")
            if not got["Records"] or not iterator:
                break
        return records

    def _put(self, records: list[dict[str, Any]]) -> None:
        entries = [
            {
                "Data": json.dumps(r, separators=(",", ":")).encode(),
                "PartitionKey": partition_key(r),
            }
            for r in records
        ]
        batch: list[dict] = []
        size = 0
        for entry in entries:
            entry_size = len(entry["Data"]) + len(entry["PartitionKey"])
            if batch and (len(batch) == _PUT_BATCH or size + entry_size > _PUT_BYTES):
                self._put_batch(batch)
                batch, size = [], 0
            batch.append(entry)
            size += entry_size
        if batch:
            self._put_batch(batch)

    def _put_batch(self, batch: list[dict]) -> None:
        # One request at a time, in order: per-key order on a shard is what the
        # real destination gives, and the transform's tie-breaker relies on it.
        got = self.aws.kinesis.put_records(StreamName=self.resources.kinesis_stream, Records=batch)
        if got.get("FailedRecordCount"):
            raise RuntimeError(
                f"Kinesis refused {got['FailedRecordCount']} of {len(batch)} records."
            )

    def pump(self) -> int:
        """Forward every stream record not forwarded yet; return how many went to Kinesis."""
        checkpoints = state.read(self.folder, state.STREAM_CHECKPOINTS_FILE) or {}
        marks = state.read(self.folder, state.TTL_MARKS_FILE) or {}
        forwarded = 0
        for table, stream_arn in sorted(self.resources.tables.items()):
            shards = self.aws.dynamodbstreams.describe_stream(StreamArn=stream_arn)[
                "StreamDescription"
            ]["Shards"]
            for shard in shards:
                where = f"{stream_arn}|{shard['ShardId']}"
                found = self._read_shard(stream_arn, shard["ShardId"], checkpoints.get(where))
                if not found:
                    continue
                out = []
                for rec in found:
                    ttl = False
                    if rec["eventName"] == "REMOVE" and "OldImage" in rec["dynamodb"]:
                        mark = _mark_id(table, rec["dynamodb"]["OldImage"])
                        if marks.get(mark):
                            ttl = True
                            marks[mark] -= 1
                            if not marks[mark]:
                                del marks[mark]
                    out.append(destination_record(rec, table, ttl=ttl))
                self._put(out)
                forwarded += len(out)
                checkpoints[where] = found[-1]["dynamodb"]["SequenceNumber"]
                state.write(self.folder, state.STREAM_CHECKPOINTS_FILE, checkpoints)
                state.write(self.folder, state.TTL_MARKS_FILE, marks)
        return forwarded

    def skip_pending(self) -> int:
        """Move every shard's checkpoint past what the stream holds now, forwarding nothing.

        Streaming "starts" here: changes made before this call never reach
        Kinesis (the demo backfills them instead). Returns the records skipped.
        """
        checkpoints = state.read(self.folder, state.STREAM_CHECKPOINTS_FILE) or {}
        skipped = 0
        for stream_arn in sorted(self.resources.tables.values()):
            shards = self.aws.dynamodbstreams.describe_stream(StreamArn=stream_arn)[
                "StreamDescription"
            ]["Shards"]
            for shard in shards:
                where = f"{stream_arn}|{shard['ShardId']}"
                found = self._read_shard(stream_arn, shard["ShardId"], checkpoints.get(where))
                if found:
                    checkpoints[where] = found[-1]["dynamodb"]["SequenceNumber"]
                    skipped += len(found)
        state.write(self.folder, state.STREAM_CHECKPOINTS_FILE, checkpoints)
        return skipped
