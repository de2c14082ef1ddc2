"""The local drivers produce AWS's documented shapes (fixtures), not whatever moto returns."""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract import lanes, layout
from localmode import resources
from localmode.aws import Clients
from localmode.drivers import firehose, scheduler, stream_to_kinesis
from localmode.drivers.firehose import FirehoseDriver
from localmode.drivers.stream_to_kinesis import StreamToKinesis
from localmode.resources import LocalResources
from tests.localmode.moto_pipeline import load_fixture, private_pipeline, shape


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalResources, Path]]:
    folder = tmp_path_factory.mktemp("state")
    with private_pipeline(folder) as res:
        yield res, folder


def _read_kinesis(aws: Clients, stream: str) -> list[dict[str, Any]]:
    out = []
    for shard in aws.kinesis.list_shards(StreamName=stream)["Shards"]:
        it = aws.kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        got = aws.kinesis.get_records(ShardIterator=it, Limit=10_000)
        out += [dict(r, ShardId=shard["ShardId"]) for r in got["Records"]]
    return out


def _clear_kinesis_checkpoints(folder: Path, aws: Clients, stream: str) -> None:
    """Point the Firehose driver past everything already on the stream."""
    marks = {}
    for rec in _read_kinesis(aws, stream):
        marks[rec["ShardId"]] = rec["SequenceNumber"]
    (folder / "kinesis_checkpoints.json").write_text(json.dumps(marks))


# -- DynamoDB stream -> Kinesis ---------------------------------------------------------


def test_destination_record_has_the_documented_shape_with_microseconds() -> None:
    # GIVEN a DynamoDB Streams record as boto3 returns it (datetime, bytes)
    streams_record = {
        "eventID": "e1",
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC),
            "Keys": {"id": {"S": "a"}},
            "NewImage": {"id": {"S": "a"}, "blob": {"B": b"\x00\xff"}, "bs": {"BS": [b"\x01"]}},
            "OldImage": {"id": {"S": "a"}},
            "SequenceNumber": "100000000000000000001",
            "SizeBytes": 40,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }

    # WHEN it becomes a Kinesis-destination record
    record = stream_to_kinesis.destination_record(streams_record, "things")

    # THEN it has the documented top-level fields and nothing Streams-only
    documented = load_fixture("kinesis_destination_record.json")
    assert list(record) == list(documented)

    def top(d: dict[str, Any]) -> dict[str, Any]:
        return {k: shape(v) for k, v in d.items() if k not in ("userIdentity", "dynamodb")}

    assert top(record) == top(documented)
    assert record["userIdentity"] is None
    assert "SequenceNumber" not in record["dynamodb"] and "eventVersion" not in record
    # the timestamp is epoch microseconds (16 digits) with the precision field
    assert record["dynamodb"]["ApproximateCreationDateTime"] == 1714564800123456
    assert record["dynamodb"]["ApproximateCreationDateTimePrecision"] == "MICROSECOND"
    # binary travels as base64 text, as in the JSON AWS sends
    assert record["dynamodb"]["NewImage"]["blob"] == {"B": "AP8="}
    assert record["dynamodb"]["NewImage"]["bs"] == {"BS": ["AQ=="]}
    assert set(documented["dynamodb"]) - {"NewImage"} <= set(record["dynamodb"])


def test_stream_driver_forwards_every_change_once_and_marks_ttl_deletes(
    stack: tuple[LocalResources, Path],
) -> None:
    res, folder = stack
    aws = Clients(res.endpoint)
    driver = StreamToKinesis(res, state_path=folder)
    driver.pump()  # forward whatever earlier tests left on the table streams

    # GIVEN an item inserted, modified, deleted by a user, re-inserted, then expired by TTL
    key = {"pk": {"S": "ttl-item"}, "sk": {"N": "1"}}
    aws.dynamodb.put_item(TableName="orders", Item={**key, "v": {"N": "1"}})
    aws.dynamodb.put_item(TableName="orders", Item={**key, "v": {"N": "2"}})
    aws.dynamodb.delete_item(TableName="orders", Key=key)
    aws.dynamodb.put_item(TableName="orders", Item={**key, "v": {"N": "3"}})
    stream_to_kinesis.ttl_delete(aws, "orders", key, folder)

    # WHEN the driver pumps twice
    first = driver.pump()
    second = driver.pump()

    # THEN the five changes reach Kinesis once, in order, on one shard
    assert (first, second) == (5, 0)
    new = [
        r
        for r in _read_kinesis(aws, res.kinesis_stream)
        if b"ttl-item" in r["Data"] and json.loads(r["Data"]).get("tableName") == "orders"
    ]
    records = [json.loads(r["Data"]) for r in new]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE", "INSERT", "REMOVE"]
    assert len({r["PartitionKey"] for r in new}) == 1 and len({r["ShardId"] for r in new}) == 1
    # only the TTL delete carries the DynamoDB service identity
    assert [r["userIdentity"] for r in records] == [
        None,
        None,
        None,
        None,
        stream_to_kinesis.TTL_IDENTITY,
    ]
    assert stream_to_kinesis.TTL_IDENTITY == {
        "type": "Service",
        "principalId": "dynamodb.amazonaws.com",
    }
    documented = load_fixture("kinesis_destination_record.json")
    for r in records:
        assert list(r) == list(documented)
        assert r["recordFormat"] == "application/json" and r["eventSource"] == "aws:dynamodb"
        assert r["tableName"] == "orders"
        assert len(str(r["dynamodb"]["ApproximateCreationDateTime"])) == 16
        assert r["dynamodb"]["Keys"] == key
    assert records[1]["dynamodb"]["OldImage"]["v"] == {"N": "1"}
    assert "NewImage" not in records[2]["dynamodb"]


def test_stream_driver_sends_binary_keys_base64_once(stack: tuple[LocalResources, Path]) -> None:
    res, folder = stack
    aws = Clients(res.endpoint)
    # GIVEN an item with a binary key, written and then deleted
    aws.dynamodb.put_item(TableName="blobs", Item={"id": {"B": b"\x00key\xff"}, "v": {"N": "1"}})
    aws.dynamodb.delete_item(TableName="blobs", Key={"id": {"B": b"\x00key\xff"}})

    # WHEN the driver forwards the changes
    StreamToKinesis(res, state_path=folder).pump()

    # THEN Keys carry the key's bytes as base64 text, exactly once encoded
    found = [
        json.loads(r["Data"])
        for r in _read_kinesis(aws, res.kinesis_stream)
        if json.loads(r["Data"]).get("tableName") == "blobs"
    ]
    assert [r["eventName"] for r in found][-2:] == ["INSERT", "REMOVE"]
    for r in found[-2:]:
        assert r["dynamodb"]["Keys"] == {"id": {"B": base64.b64encode(b"\x00key\xff").decode()}}


# -- Kinesis -> Firehose -> S3 ----------------------------------------------------------


class Recorder:
    """A transform that records the events it gets and answers per a rule."""

    def __init__(self, fail: set[bytes] = frozenset(), raises: bool = False) -> None:
        self.events: list[dict[str, Any]] = []
        self.fail = fail
        self.raises = raises

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        if self.raises:
            raise RuntimeError("transform crashed")
        out = []
        for r in event["records"]:
            data = base64.b64decode(r["data"])
            if data in self.fail:
                out.append(
                    {"recordId": r["recordId"], "result": "ProcessingFailed", "data": r["data"]}
                )
            else:
                doc = json.loads(data)
                out.append(
                    {
                        "recordId": r["recordId"],
                        "result": "Ok",
                        "data": base64.b64encode(data + b"\n").decode(),
                        "metadata": {"partitionKeys": {"table": doc["table"]}},
                    }
                )
        return {"records": out}


def _put(aws: Clients, res: LocalResources, payloads: list[bytes]) -> None:
    for i, p in enumerate(payloads):
        aws.kinesis.put_record(StreamName=res.kinesis_stream, Data=p, PartitionKey=f"k{i}")


def _objects(aws: Clients, bucket: str, prefix: str) -> dict[str, bytes]:
    got = aws.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {
        o["Key"]: gzip.decompress(aws.s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
        for o in got
    }


def test_firehose_event_has_the_documented_shape(stack: tuple[LocalResources, Path]) -> None:
    res, folder = stack
    aws = Clients(res.endpoint)
    _clear_kinesis_checkpoints(folder, aws, res.kinesis_stream)
    payloads = [json.dumps({"table": "orders", "n": i}).encode() for i in range(3)]
    _put(aws, res, payloads)
    recorder = Recorder()

    # WHEN the Firehose driver delivers what is on the stream
    FirehoseDriver(res, transform=recorder, state_path=folder).deliver()

    # THEN the transform saw Firehose transformation events of the documented shape
    documented = load_fixture("firehose_kinesis_event.json")
    seen = [r for e in recorder.events for r in e["records"]]
    for event in recorder.events:
        assert shape(event) == shape(documented)
        assert event["sourceKinesisStreamArn"] == res.kinesis_stream_arn
        assert event["deliveryStreamArn"].startswith("arn:aws:firehose:")
    assert sorted(base64.b64decode(r["data"]) for r in seen) == sorted(payloads)
    assert len({r["recordId"] for r in seen}) == len(seen) == 3
    for r in seen:
        meta = r["kinesisRecordMetadata"]
        assert meta["approximateArrivalTimestamp"] == r["approximateArrivalTimestamp"]
        assert len(str(r["approximateArrivalTimestamp"])) == 13  # milliseconds
        assert meta["shardId"].startswith("shardId-")


def test_firehose_writes_gzip_objects_and_documented_error_records(
    stack: tuple[LocalResources, Path],
) -> None:
    res, folder = stack
    aws = Clients(res.endpoint)
    _clear_kinesis_checkpoints(folder, aws, res.kinesis_stream)
    good = [json.dumps({"table": "orders", "n": i}).encode() for i in range(4)]
    bad = b"\x00 not json"
    _put(aws, res, [*good[:2], bad, *good[2:]])
    before_data = set(_objects(aws, res.bucket, "staging/"))
    before_errors = set(_objects(aws, res.bucket, "errors/"))

    # WHEN the transform fails one record and the driver delivers
    stats = FirehoseDriver(res, transform=Recorder(fail={bad}), state_path=folder).deliver()

    # THEN the good records land, newline-delimited, gzip, under the expanded data prefix
    assert (stats.records, stats.ok, stats.processing_failed) == (5, 4, 1)
    data = {k: v for k, v in _objects(aws, res.bucket, "staging/").items() if k not in before_data}
    assert len(data) == 1
    ((key, body),) = data.items()
    assert re.fullmatch(
        r"staging/table=orders/\d{4}/\d{2}/\d{2}/\d{2}/"
        r"ddbload-local-delivery-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}\.gz",
        key,
    )
    assert sorted(body.splitlines()) == sorted(good)
    # AND the failed one lands under the error prefix in Firehose's error-record shape
    errors = {
        k: v for k, v in _objects(aws, res.bucket, "errors/").items() if k not in before_errors
    }
    assert len(errors) == 1
    ((ekey, ebody),) = errors.items()
    assert re.match(r"errors/processing-failed/\d{4}/\d{2}/\d{2}/\d{2}/", ekey)
    (doc,) = [json.loads(line) for line in ebody.splitlines()]
    documented = load_fixture("firehose_processing_failed_record.json")
    assert list(doc) == list(documented) and shape(doc) == shape(documented)
    assert base64.b64decode(doc["rawData"]) == bad
    assert doc["errorCode"] == "Lambda.ProcessingFailedStatus"
    assert doc["lambdaArn"] == res.transform_function_arn


def test_firehose_retries_a_failing_invocation_then_sends_the_batch_to_errors(
    stack: tuple[LocalResources, Path],
) -> None:
    res, folder = stack
    aws = Clients(res.endpoint)
    _clear_kinesis_checkpoints(folder, aws, res.kinesis_stream)
    _put(aws, res, [b'{"table": "orders"}', b'{"table": "blobs"}'])
    recorder = Recorder(raises=True)

    # WHEN the transform raises on every attempt
    stats = FirehoseDriver(res, transform=recorder, state_path=folder, retries=2).deliver()

    # THEN it was tried 1 + retries times and both records are processing failures
    assert len(recorder.events) == 3
    assert (stats.ok, stats.processing_failed, len(stats.objects)) == (0, 2, 0)
    ((key,),) = [stats.error_objects]
    docs = [json.loads(x) for x in _objects(aws, res.bucket, key)[key].splitlines()]
    assert {d["attemptsMade"] for d in docs} == {3}
    assert {d["errorCode"] for d in docs} == {"Lambda.FunctionError"}


def test_firehose_buffers_until_the_interval_or_the_size_is_reached(
    stack: tuple[LocalResources, Path],
) -> None:
    res, folder = stack
    aws = Clients(res.endpoint)
    _clear_kinesis_checkpoints(folder, aws, res.kinesis_stream)
    now = [1000.0]
    driver = FirehoseDriver(
        res, transform=Recorder(), state_path=folder, buffer_seconds=60, clock=lambda: now[0]
    )
    _put(aws, res, [b'{"table": "orders", "x": 1}'])

    # WHEN the interval has not passed, nothing is written
    assert driver.pump().objects == []
    # WHEN it has, the buffer is written
    now[0] += 61
    assert len(driver.pump().objects) == 1

    # AND a buffer over the size limit is written at once
    small = FirehoseDriver(
        res, transform=Recorder(), state_path=folder, buffer_bytes=10, buffer_seconds=900
    )
    _put(aws, res, [b'{"table": "orders", "x": 2, "pad": "' + b"p" * 40 + b'"}'])
    assert len(small.pump().objects) == 1


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
    ),
    st.from_regex(r"[A-Za-z0-9_.\-]{3,40}", fullmatch=True),
)
def test_prefix_expansion_matches_firehose_rules(moment: datetime, table: str) -> None:
    # GIVEN the stack's data and error prefixes
    data = layout.firehose_data_prefix("staging")
    errors = layout.firehose_error_prefix("errors")

    # WHEN they are expanded for a record arriving at `moment`
    got_data = firehose.expand_prefix(data, timestamp=moment, partition_keys={"table": table})
    got_error = firehose.expand_prefix(
        errors, timestamp=moment, error_output_type="processing-failed"
    )

    # THEN they follow the S3 layout (UTC hour folders)
    hour = moment.strftime("%Y/%m/%d/%H")
    assert got_data == f"staging/table={table}/{hour}/"
    assert got_error == f"errors/processing-failed/{hour}/"


def test_prefix_expansion_refuses_what_firehose_refuses() -> None:
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    for bad in ("x/!{partitionKeyFromQuery:t}/", "x/!{firehose:error-output-type}/"):
        with pytest.raises(ValueError):
            firehose.expand_prefix(bad, timestamp=moment, partition_keys={"t": "a"})
    with pytest.raises(ValueError):
        firehose.expand_prefix(
            layout.firehose_data_prefix("s"), timestamp=moment, partition_keys={}
        )


# -- Scheduler -> loader ----------------------------------------------------------------


def test_scheduler_tick_runs_every_lane_at_once_like_its_schedules(
    stack: tuple[LocalResources, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    res, _ = stack
    monkeypatch.delenv("DDBLOAD_DB_SECRET", raising=False)
    names = res.lane_names()
    # Every lane waits here for all the others: only runs that overlap can pass it.
    together = threading.Barrier(len(names))
    seen: dict[str, dict[str, Any]] = {}

    def probe(event: dict[str, Any], context: Any) -> str:
        # what a loader does at start: read its settings and its secret from the environment
        together.wait(timeout=60)
        secrets = boto3.client("secretsmanager")
        value = secrets.get_secret_value(SecretId=os.environ["DDBLOAD_DB_SECRET"])
        seen[event["lane"]] = {
            "event": event,
            "remaining": context.get_remaining_time_in_millis(),
            "secret": json.loads(value["SecretString"]),
            "request": context.aws_request_id,
        }
        return f"done {event['lane']}"

    # WHEN the scheduler driver ticks
    result = scheduler.tick(res, handler=probe, timeout_seconds=300)

    # THEN every lane ran, all at the same time, each with its own context
    assert names == ["blobs", "orders", lanes.DEFAULT_LANE]
    assert result == {lane: f"done {lane}" for lane in names}
    assert len({s["request"] for s in seen.values()}) == len(names)
    for lane in names:
        event = seen[lane]["event"]
        # AND each got what its schedule sends: the stack's input with the context filled in
        expected = lanes.lane_event(
            lane,
            work_queue_url=res.work_queue_url(lane),
            scheduled_time=event["scheduled_time"],
            execution_id=event["execution_id"],
        )
        assert event == expected
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["scheduled_time"])
        assert 250_000 < seen[lane]["remaining"] <= 300_000
        # AND it could read the MariaDB credentials from the secret, RDS-shaped
        assert set(seen[lane]["secret"]) >= {"host", "port", "username", "password", "dbname"}
        assert seen[lane]["secret"]["dbname"] == res.database
    assert seen["orders"]["event"]["work_queue_url"] == res.lanes["orders"]["work_queue_url"]
    assert "work_queue_url" not in seen[lanes.DEFAULT_LANE]["event"]
    # AND the environment is restored afterwards
    assert "DDBLOAD_DB_SECRET" not in os.environ


def test_the_no_lane_scheduler_event_keeps_the_documented_shape(
    stack: tuple[LocalResources, Path],
) -> None:
    # Fault tests invoke the loader for every table with a schedule's envelope, no input.
    res, _ = stack
    event = scheduler.scheduler_event(res)
    documented = load_fixture("scheduler_event.json")
    assert list(event) == list(documented) and shape(event) == shape(documented)
    assert event["source"] == "aws.scheduler" and event["resources"] == [res.schedule_arn]


def test_resources_match_the_config(stack: tuple[LocalResources, Path]) -> None:
    res, folder = stack
    aws = Clients(res.endpoint)

    # THEN every configured table exists with its key schema and a NEW_AND_OLD_IMAGES stream
    assert set(res.tables) == {"orders", "blobs"}
    orders = aws.dynamodb.describe_table(TableName="orders")["Table"]
    assert orders["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert orders["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    # AND a staging object raises an S3 event on its own table's work queue only; an error
    # object and an unconfigured table's object on none (the default lane sweeps)
    aws.s3.put_object(Bucket=res.bucket, Key="errors/x/probe.gz", Body=b"x")
    aws.s3.put_object(Bucket=res.bucket, Key="staging/table=misc/probe.gz", Body=b"x")
    aws.s3.put_object(Bucket=res.bucket, Key="staging/table=orders/probe.gz", Body=b"x")
    assert sorted(res.lanes) == ["blobs", "orders"]
    for table, queues in res.lanes.items():
        url = queues["work_queue_url"]
        got = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        bodies = [json.loads(m["Body"]) for m in got.get("Messages", [])]
        keys = [
            unquote_plus(r["s3"]["object"]["key"]) for b in bodies for r in b.get("Records", [])
        ]
        probes = ["staging/table=orders/probe.gz"] if table == "orders" else []
        assert [k for k in keys if "probe" in k] == probes
        assert all(k.startswith(f"staging/table={table}/") for k in keys)
        for m in got.get("Messages", []):
            aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    # AND the saved resources are what the CLI will find
    assert resources.load(folder) == res
