"""End to end through the local stack: moto_server + drivers + real transform + real loader + MariaDB.

Each test has its own moto_server (own port, own state folder) and its own
MariaDB database, so they run in parallel with anything else.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
from pathlib import Path
from typing import Any

import pymysql

from localmode import demo, server
from localmode.aws import Clients
from localmode.drivers.firehose import FirehoseDriver
from localmode.drivers.scheduler import tick
from localmode.drivers.stream_to_kinesis import StreamToKinesis, partition_key
from localmode.replay import replay
from localmode.workload import Workload
from ops.verify import verify
from tests.conftest import mariadb_params
from tests.localmode.moto_pipeline import pipeline_config, private_pipeline


def _objects(aws: Clients, bucket: str, prefix: str) -> dict[str, bytes]:
    listing = aws.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {
        o["Key"]: gzip.decompress(aws.s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
        for o in listing
    }


def test_demo_workload_reconciles_to_zero(tmp_path: Path, database: str) -> None:
    # GIVEN no local stack yet
    try:
        # WHEN the demo runs a small workload
        summary = demo.run_demo(
            items=80, config=pipeline_config(), database=database, state_path=tmp_path
        )

        # THEN every kind of change went through and the reconciliation is zero
        assert summary.ok, summary.reconciliation
        assert {r["table"] for r in summary.reconciliation} == {"orders", "blobs"}
        for r in summary.reconciliation:
            assert (r["missing"], r["extra"], r["different"]) == (0, 0, 0)
            assert r["dynamodb_items"] == r["mariadb_rows"]
        assert sum(r["dynamodb_items"] for r in summary.reconciliation) > 0
        changes = summary.changes_written
        assert all(changes.get(k, 0) > 0 for k in ("insert", "update", "delete", "ttl_delete"))
        assert summary.stream_records == sum(changes.values())
        assert summary.records_ok == summary.stream_records and summary.records_failed == 0
        assert summary.staging_files > 0 and summary.rows_applied > 0
        assert summary.rows_quarantined == 0
        # AND the stack is left running
        assert server.status(tmp_path).running

        # WHEN the stack is stopped and the demo runs again on a new, empty stack
        server.down(tmp_path)
        again = demo.run_demo(
            items=40, config=pipeline_config(), database=database, state_path=tmp_path
        )
        # THEN the first run's rows do not linger in MariaDB: it reconciles to zero again
        assert again.ok, again.reconciliation
        assert all(r["extra"] == 0 for r in again.reconciliation)
    finally:
        server.down(tmp_path)


def _capture(res: Any, folder: Path, aws: Clients) -> list[bytes]:
    """The Kinesis-destination records the stream driver put on Kinesis, in shard order."""
    StreamToKinesis(res, state_path=folder, clients=aws).pump()
    out = []
    for shard in aws.kinesis.list_shards(StreamName=res.kinesis_stream)["Shards"]:
        it = aws.kinesis.get_shard_iterator(
            StreamName=res.kinesis_stream,
            ShardId=shard["ShardId"],
            ShardIteratorType="TRIM_HORIZON",
        )["ShardIterator"]
        out += [bytes(r["Data"]) for r in aws.kinesis.get_records(ShardIterator=it)["Records"]]
    return out


def _shuffle_keeping_ties(lines: list[bytes], rng: random.Random) -> list[bytes]:
    """Shuffle, duplicate some lines, but keep changes of one item in one microsecond in order.

    Two changes of one item with the same timestamp are ordered only by the
    Kinesis sequence number of their delivery; no replay can tell them apart
    once reordered, and AWS's microsecond timestamps make such ties rare.
    """
    tagged = []
    for index, line in enumerate(lines):
        rec = json.loads(line)
        tie = (partition_key(rec), rec["dynamodb"]["ApproximateCreationDateTime"])
        tagged += [(tie, index, line)] * rng.choice((1, 1, 2, 3))
    rng.shuffle(tagged)
    slots: dict[Any, list[int]] = {}
    for pos, (tie, _, _) in enumerate(tagged):
        slots.setdefault(tie, []).append(pos)
    out: list[bytes] = [b""] * len(tagged)
    for tie, positions in slots.items():
        group = sorted((t for t in tagged if t[0] == tie), key=lambda t: t[1])
        for pos, (_, _, line) in zip(positions, group, strict=True):
            out[pos] = line
    return out


def test_duplicated_and_reordered_deliveries_still_reconcile(tmp_path: Path, database: str) -> None:
    with private_pipeline(tmp_path, pipeline_config(), database="unused") as res:
        aws = Clients(res.endpoint)
        # GIVEN a workload's changes captured as Kinesis-destination records
        workload = Workload(res.config, aws, run_id="dup", seed=11, state_path=tmp_path)
        workload.burst(40)
        workload.burst(20)
        captured = _capture(res, tmp_path, aws)
        assert len(captured) == workload.stats.total
        # AND written to a file shuffled, with duplicates
        lines = _shuffle_keeping_ties(captured, random.Random(5))
        assert len(lines) > len(captured)
        assert lines != sorted(lines, key=captured.index)
        capture_file = tmp_path / "captured.jsonl"
        capture_file.write_bytes(b"\n".join(lines) + b"\n")

        # WHEN they are replayed into a MariaDB database
        summary = replay(capture_file, database, config=res.config, state_path=tmp_path)

        # THEN every line was accepted and loaded
        assert (summary.records, summary.ok, summary.processing_failed) == (
            len(lines),
            len(lines),
            0,
        )
        assert summary.files > 0 and summary.rows_applied > 0
        # AND MariaDB holds exactly what DynamoDB holds
        conn = pymysql.connect(**mariadb_params(database))
        try:
            results = verify(res.config, aws.dynamodb, conn)
        finally:
            conn.close()
        for r in results:
            assert r.ok, r.to_dict()
        assert sum(r.dynamodb_items for r in results) > 0


def test_a_malformed_kinesis_record_lands_under_the_error_prefix_and_nothing_else_moves(
    tmp_path: Path, database: str
) -> None:
    with private_pipeline(tmp_path, pipeline_config(), database=database) as res:
        demo.ensure_database(res)
        aws = Clients(res.endpoint)
        workload = Workload(res.config, aws, run_id="bad", seed=3, state_path=tmp_path)
        workload.burst(20)
        StreamToKinesis(res, state_path=tmp_path, clients=aws).pump()
        # GIVEN malformed records among the good ones on the Kinesis stream
        malformed = [
            b"\xff\xfe not utf-8",
            b'{"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"X": "1"}}}}',
        ]
        for i, data in enumerate(malformed):
            aws.kinesis.put_record(StreamName=res.kinesis_stream, Data=data, PartitionKey=f"m{i}")
        workload.burst(10)
        StreamToKinesis(res, state_path=tmp_path, clients=aws).pump()

        # WHEN Firehose delivers and the loader runs
        stats = FirehoseDriver(res, state_path=tmp_path, clients=aws).deliver()
        for _ in range(5):
            tick(res)

        # THEN exactly the malformed records are processing failures under the error prefix
        assert stats.processing_failed == len(malformed)
        assert stats.ok == workload.stats.total
        errors = _objects(aws, res.bucket, f"{res.error_prefix}/processing-failed/")
        docs = [json.loads(line) for body in errors.values() for line in body.splitlines()]
        assert sorted(base64.b64decode(d["rawData"]) for d in docs) == sorted(malformed)
        assert {d["errorCode"] for d in docs} == {"Lambda.ProcessingFailedStatus"}
        # AND nothing else is disturbed: staging holds only good lines, MariaDB matches DynamoDB
        staging = _objects(aws, res.bucket, f"{res.staging_prefix}/")
        assert sum(len(b.splitlines()) for b in staging.values()) == workload.stats.total
        conn = demo.connect(res)
        try:
            results = verify(res.config, aws.dynamodb, conn)
        finally:
            conn.close()
        for r in results:
            assert r.ok, r.to_dict()
