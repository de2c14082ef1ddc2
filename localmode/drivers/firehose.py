"""LOCAL STAND-IN for Amazon Data Firehose (moto's Firehose never reads Kinesis nor calls Lambda).

What it does, in Firehose's order:

1. reads the Kinesis stream's shards from where it last stopped;
2. invokes the REAL transform (``transforms.handler.handler``) with Firehose
   transformation events of at most the processor buffer size
   (``invocationId, deliveryStreamArn, sourceKinesisStreamArn, region,
   records[].recordId/approximateArrivalTimestamp/data/kinesisRecordMetadata``);
3. checks the response (one entry per recordId), retries a failed invocation,
   then buffers ``Ok`` data per ``metadata.partitionKeys`` value, drops
   ``Dropped`` and turns ``ProcessingFailed`` into Firehose's error record
   (``attemptsMade, arrivalTimestamp, errorCode, errorMessage,
   attemptEndingTimestamp, rawData, lambdaArn``);
4. writes a buffer when it reaches the buffer size or its oldest record the
   buffer interval (``flush`` writes everything): gzip, key from the expanded
   S3 prefix + ``<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<random>.gz``.

The prefixes are the deployed stack's (``contract.layout.firehose_data_prefix`` and
``firehose_error_prefix``);
``!{timestamp:...}`` uses the arrival time of the oldest record in the object,
in UTC, as Firehose does. S3 itself (moto) sends the ObjectCreated event for
each staging object to the SQS work queue, so this driver does not.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from contract import layout
from localmode import state
from localmode.aws import Clients
from localmode.drivers.logs import function_logs
from localmode.resources import DELIVERY_STREAM, LocalResources

DELIVERY_STREAM_VERSION = 1
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024
_JAVA_TIME = re.compile(r"yyyy|MM|dd|HH|mm|ss")
_STRFTIME = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}
_EXPRESSION = re.compile(r"!\{([A-Za-z]+):([^}]*)\}")

Transform = Callable[[dict[str, Any], Any], dict[str, Any]]


def expand_prefix(
    template: str,
    *,
    timestamp: datetime,
    partition_keys: Mapping[str, str] | None = None,
    error_output_type: str | None = None,
) -> str:
    """Expand Firehose's ``!{namespace:value}`` expressions in an S3 prefix.

    Supports ``timestamp`` (Java date pattern: yyyy MM dd HH mm ss, UTC),
    ``partitionKeyFromLambda`` and ``firehose:error-output-type`` /
    ``firehose:random-string``. An unknown expression raises ``ValueError``,
    as Firehose refuses such a prefix.
    """
    moment = timestamp.astimezone(UTC)

    def one(match: re.Match[str]) -> str:
        namespace, value = match.group(1), match.group(2)
        if namespace == "timestamp":
            return moment.strftime(_JAVA_TIME.sub(lambda m: _STRFTIME[m.group(0)], value))
        if namespace == "partitionKeyFromLambda":
            if not partition_keys or value not in partition_keys:
                raise ValueError(f"no partition key {value!r} from the Lambda")
            return partition_keys[value]
        if namespace == "firehose" and value == "error-output-type":
            if not error_output_type:
                raise ValueError("error-output-type is only known for error output")
            return error_output_type
        if namespace == "firehose" and value == "random-string":
            return uuid.uuid4().hex[:11]
        raise ValueError(f"unsupported prefix expression !{{{namespace}:{value}}}")

    return _EXPRESSION.sub(one, template)


def object_name(delivery_stream: str, timestamp: datetime) -> str:
    """Firehose's object name: ``<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<random>.gz``."""
    stamp = timestamp.astimezone(UTC).strftime("%Y-%m-%d-%H-%M-%S")
    return f"{delivery_stream}-{DELIVERY_STREAM_VERSION}-{stamp}-{uuid.uuid4()}.gz"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass
class KinesisRecord:
    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes
    arrival_ms: int


@dataclass
class _Buffer:
    oldest_ms: int
    opened_at: float
    parts: list[bytes] = field(default_factory=list)
    size: int = 0


@dataclass
class DeliveryStats:
    """What one pump or flush did."""

    records: int = 0
    ok: int = 0
    dropped: int = 0
    processing_failed: int = 0
    invocations: int = 0
    objects: list[str] = field(default_factory=list)
    error_objects: list[str] = field(default_factory=list)

    def add(self, other: DeliveryStats) -> None:
        self.records += other.records
        self.ok += other.ok
        self.dropped += other.dropped
        self.processing_failed += other.processing_failed
        self.invocations += other.invocations
        self.objects += other.objects
        self.error_objects += other.error_objects


def transformation_event(records: list[KinesisRecord], resources: LocalResources) -> dict[str, Any]:
    """A Firehose transformation event with a Kinesis source for ``records``."""
    return {
        "invocationId": str(uuid.uuid4()),
        "deliveryStreamArn": resources.delivery_stream_arn,
        "sourceKinesisStreamArn": resources.kinesis_stream_arn,
        "region": resources.region,
        "records": [
            {
                "recordId": record_id(r),
                "approximateArrivalTimestamp": r.arrival_ms,
                "data": base64.b64encode(r.data).decode(),
                "kinesisRecordMetadata": {
                    "shardId": r.shard_id,
                    "partitionKey": r.partition_key,
                    "approximateArrivalTimestamp": r.arrival_ms,
                    "sequenceNumber": r.sequence_number,
                    "subsequenceNumber": "",
                },
            }
            for r in records
        ],
    }


def record_id(r: KinesisRecord) -> str:
    """Firehose's opaque record id; unique per Kinesis record (shard + sequence)."""
    return f"{r.sequence_number}{r.shard_id[-12:]}"


def error_record(
    r: KinesisRecord,
    *,
    code: str,
    message: str,
    attempts: int,
    lambda_arn: str,
    ended_ms: int,
) -> dict[str, Any]:
    """Firehose's processing-failed record (documented shape)."""
    return {
        "attemptsMade": attempts,
        "arrivalTimestamp": r.arrival_ms,
        "errorCode": code,
        "errorMessage": message,
        "attemptEndingTimestamp": ended_ms,
        "rawData": base64.b64encode(r.data).decode(),
        "lambdaArn": lambda_arn,
    }


class FirehoseDriver:
    """Kinesis -> real transform -> buffered gzip objects in S3, like the delivery stream."""

    def __init__(
        self,
        resources: LocalResources,
        *,
        transform: Transform | None = None,
        state_path: str | os.PathLike[str] | None = None,
        clients: Clients | None = None,
        processor_buffer_bytes: int | None = None,
        buffer_bytes: int | None = None,
        buffer_seconds: float | None = None,
        retries: int = 3,
        clock: Callable[[], float] = time.time,
    ) -> None:
        settings = resources.config.settings
        if transform is None:
            from transforms.handler import handler as real_transform

            transform = real_transform
        self.transform: Transform = transform
        self.resources = resources
        self.aws = clients or Clients(resources.endpoint)
        self.folder = state.state_dir(state_path)
        self.processor_buffer_bytes = processor_buffer_bytes or settings["processor_buffer_mb"] * (
            1024 * 1024
        )
        self.buffer_bytes = buffer_bytes or settings["firehose_buffer_mb"] * 1024 * 1024
        self.buffer_seconds = (
            settings["firehose_buffer_seconds"] if buffer_seconds is None else buffer_seconds
        )
        self.retries = retries
        self.clock = clock
        # The deployed stack's templates: both come from contract.layout.
        self.data_prefix = layout.firehose_data_prefix(resources.staging_prefix)
        self.error_prefix = layout.firehose_error_prefix(resources.error_prefix)
        self._buffers: dict[tuple[str, tuple], _Buffer] = {}
        self._read_to: dict[str, str] = dict(
            state.read(self.folder, state.KINESIS_CHECKPOINTS_FILE) or {}
        )

    # -- reading Kinesis ---------------------------------------------------------------

    def _read(self) -> list[KinesisRecord]:
        kinesis = self.aws.kinesis
        stream = self.resources.kinesis_stream
        shards = kinesis.list_shards(StreamName=stream)["Shards"]
        out: list[KinesisRecord] = []
        for shard in shards:
            shard_id = shard["ShardId"]
            after = self._read_to.get(shard_id)
            args: dict[str, Any] = {"StreamName": stream, "ShardId": shard_id}
            if after:
                args |= {
                    "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                    "StartingSequenceNumber": after,
                }
            else:
                args |= {"ShardIteratorType": "TRIM_HORIZON"}
            iterator = kinesis.get_shard_iterator(**args)["ShardIterator"]
            for _ in range(100_000):
                got = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
                for rec in got["Records"]:
                    out.append(
                        KinesisRecord(
                            shard_id=shard_id,
                            sequence_number=rec["SequenceNumber"],
                            partition_key=rec["PartitionKey"],
                            data=bytes(rec["Data"]),
                            arrival_ms=_ms(rec["ApproximateArrivalTimestamp"]),
                        )
                    )
                    self._read_to[shard_id] = rec["SequenceNumber"]
                iterator = got.get("NextShardIterator")
                if not got["Records"] or not iterator:
                    break
        return out

    # -- invoking the transform --------------------------------------------------------

    def _batches(self, records: list[KinesisRecord]) -> list[list[KinesisRecord]]:
        # Base64 grows data by 4/3; the event must stay under Lambda's 6 MB.
        limit = min(self.processor_buffer_bytes, LAMBDA_PAYLOAD_LIMIT * 3 // 4 - 64 * 1024)
        batches: list[list[KinesisRecord]] = []
        size = 0
        for r in records:
            if not batches or size + len(r.data) > limit:
                batches.append([])
                size = 0
            batches[-1].append(r)
            size += len(r.data) + 200
        return batches

    def _invoke(self, batch: list[KinesisRecord], stats: DeliveryStats) -> None:
        ids = {record_id(r): r for r in batch}
        problem = ("Lambda.FunctionError", "no attempt made")
        response: dict[str, Any] | None = None
        attempts = 0
        while attempts <= self.retries:
            attempts += 1
            stats.invocations += 1
            try:
                with function_logs():
                    response = self.transform(transformation_event(batch, self.resources), None)
            except Exception as e:  # a failed invocation, as Firehose sees it
                problem = ("Lambda.FunctionError", f"{type(e).__name__}: {e}"[:512])
                continue
            problem = _check_response(response, ids)
            if not problem[0]:
                break
        now = _ms(datetime.now(UTC))
        if problem[0] or response is None:
            for r in batch:
                self._error(r, problem[0], problem[1], attempts, now, stats)
            return
        for out in response["records"]:
            r = ids[out["recordId"]]
            result = out["result"]
            if result == "Dropped":
                stats.dropped += 1
            elif result == "ProcessingFailed":
                self._error(
                    r,
                    "Lambda.ProcessingFailedStatus",
                    "The Lambda function returned ProcessingFailed for this record.",
                    1,
                    now,
                    stats,
                )
            else:
                keys = (out.get("metadata") or {}).get("partitionKeys") or {}
                try:
                    expand_prefix(
                        self.data_prefix, timestamp=datetime.now(UTC), partition_keys=keys
                    )
                except ValueError as e:
                    self._error(
                        r, "DynamicPartitioning.MetadataExtractionFailed", str(e), 1, now, stats
                    )
                    continue
                stats.ok += 1
                self._append(
                    ("data", tuple(sorted(keys.items()))), r, base64.b64decode(out["data"])
                )

    def _error(
        self,
        r: KinesisRecord,
        code: str,
        message: str,
        attempts: int,
        now_ms: int,
        stats: DeliveryStats,
    ) -> None:
        stats.processing_failed += 1
        output_type = (
            "DynamicPartitioning.MetadataExtractionFailed"
            if code.startswith("DynamicPartitioning")
            else "processing-failed"
        )
        doc = error_record(
            r,
            code=code,
            message=message,
            attempts=attempts,
            lambda_arn=self.resources.transform_function_arn,
            ended_ms=now_ms,
        )
        line = json.dumps(doc, separators=(",", ":")).encode() + b"\n"
        self._append(("error", (("type", output_type),)), r, line)

    # -- buffering and writing ---------------------------------------------------------

    def _append(self, where: tuple[str, tuple], r: KinesisRecord, data: bytes) -> None:
        buf = self._buffers.get(where)
        if buf is None:
            buf = self._buffers[where] = _Buffer(oldest_ms=r.arrival_ms, opened_at=self.clock())
        buf.oldest_ms = min(buf.oldest_ms, r.arrival_ms)
        buf.parts.append(data)
        buf.size += len(data)

    def _write(self, where: tuple[str, tuple], buf: _Buffer, stats: DeliveryStats) -> None:
        kind, keys = where
        oldest = datetime.fromtimestamp(buf.oldest_ms / 1000, UTC)
        if kind == "data":
            prefix = expand_prefix(self.data_prefix, timestamp=oldest, partition_keys=dict(keys))
        else:
            prefix = expand_prefix(
                self.error_prefix, timestamp=oldest, error_output_type=dict(keys)["type"]
            )
        key = prefix + object_name(DELIVERY_STREAM, oldest)
        body = layout.gzip_lines(buf.parts)
        self.aws.s3.put_object(
            Bucket=self.resources.bucket, Key=key, Body=body, ContentEncoding="gzip"
        )
        (stats.objects if kind == "data" else stats.error_objects).append(key)

    def _write_due(self, stats: DeliveryStats, *, everything: bool) -> None:
        now = self.clock()
        for where in list(self._buffers):
            buf = self._buffers[where]
            if (
                everything
                or buf.size >= self.buffer_bytes
                or now - buf.opened_at >= self.buffer_seconds
            ):
                self._write(where, buf, stats)
                del self._buffers[where]
        if not self._buffers:
            # Only what has reached S3 is delivered: checkpoint when nothing is buffered.
            state.write(self.folder, state.KINESIS_CHECKPOINTS_FILE, self._read_to)

    def pump(self) -> DeliveryStats:
        """Read new Kinesis records, transform them, write the buffers that are due."""
        stats = DeliveryStats()
        records = self._read()
        stats.records = len(records)
        for batch in self._batches(records):
            self._invoke(batch, stats)
        self._write_due(stats, everything=False)
        return stats

    def flush(self) -> DeliveryStats:
        """Write every buffer now (what Firehose does when the interval has passed)."""
        stats = DeliveryStats()
        self._write_due(stats, everything=True)
        return stats

    def deliver(self) -> DeliveryStats:
        """Pump, then flush: everything on the stream so far ends up in S3."""
        stats = self.pump()
        stats.add(self.flush())
        return stats


def _check_response(response: Any, ids: Mapping[str, KinesisRecord]) -> tuple[str, str]:
    """Firehose's validation of a transform response: ("", "") when acceptable."""
    if not isinstance(response, dict) or not isinstance(response.get("records"), list):
        return "Lambda.InvalidResponse", "The response has no records list."
    seen: set[str] = set()
    for out in response["records"]:
        rid = out.get("recordId") if isinstance(out, dict) else None
        if not isinstance(rid, str) or rid not in ids:
            return "Lambda.MissingRecordId", f"Unknown recordId {str(rid)[:80]!r} in the response."
        if rid in seen:
            return "Lambda.DuplicatedRecordId", f"recordId {rid} appears twice in the response."
        seen.add(rid)
        if out.get("result") not in ("Ok", "Dropped", "ProcessingFailed"):
            return "Lambda.InvalidResult", f"recordId {rid} has result {out.get('result')!r}."
        if out.get("result") == "Ok" and not isinstance(out.get("data"), str):
            return "Lambda.InvalidData", f"recordId {rid} is Ok but has no base64 data."
    if len(seen) != len(ids):
        return (
            "Lambda.MissingRecordId",
            f"{len(ids) - len(seen)} recordIds missing from the response.",
        )
    return "", ""
