"""Poison input: malformed Kinesis records, a truncated gzip object, a non-staging object,
a 400 KB item, a batch at Firehose's 6 MB Lambda limit.

Good data around the poison must load untouched; the poison itself must be
kept where an operator can find it (error prefix, quarantine), never dropped.
"""

from __future__ import annotations

import gzip
import json

import pytest

from localmode.drivers.firehose import FirehoseDriver
from reliability.checks import measure
from reliability.scenario import mariadb_url, scenario
from tests.conftest import mariadb_params
from tests.reliability.conftest import load_until_settled
from transforms.handler import handler

pytestmark = pytest.mark.xdist_group("reliability-poison")


def _url(database: str) -> str:
    return mariadb_url(mariadb_params()["port"], database)


def _count(s, prefix: str) -> int:
    listing = s.aws.s3.list_objects_v2(Bucket=s.res.bucket, Prefix=prefix)
    return len(listing.get("Contents", []))


def _error_records(s) -> int:
    total = 0
    listing = s.aws.s3.list_objects_v2(Bucket=s.res.bucket, Prefix=s.res.error_prefix + "/")
    for o in listing.get("Contents", []):
        total += len(gzip.decompress(s.get(o["Key"])).splitlines())
    return total


def test_malformed_records_and_objects_are_set_aside_and_the_rest_loads(tmp_path, database, record):
    with scenario(tmp_path, bursts=1, items=20) as s:
        # GIVEN malformed Kinesis records among good changes
        malformed = [
            b"\xff\xfe not utf-8",
            b"not json at all",
            b'{"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"X": "1"}}}}',
            b'{"eventName": "MODIFY", "tableName": "orders"}',
            b"[]",
        ]
        for i, data in enumerate(malformed):
            s.aws.kinesis.put_record(
                StreamName=s.res.kinesis_stream, Data=data, PartitionKey=f"m{i}"
            )
        s.burst(20)
        # AND a truncated gzip object and a non-staging object under the staging prefix
        hour = s.objects[0].rsplit("/", 1)[0]
        truncated = f"{hour}/truncated.gz"
        s.put(truncated, s.get(s.objects[0])[:-40])
        stray = f"{hour}/notes.txt"
        s.put(stray, b"an operator's note, not a staging object\n")
        # WHEN scheduled runs load
        runs = load_until_settled(s, _url(database))
        outcome = measure(s, mariadb_params(database), quarantined_ok={truncated, stray})
        failed = _error_records(s)
        quarantined = _count(s, s.res.quarantine_prefix + "/")
    # THEN the malformed records are under the error prefix, the bad objects quarantined,
    # and MariaDB equals DynamoDB
    assert failed == len(malformed)
    assert outcome.objects_quarantined == 2 and quarantined >= 2
    assert outcome.ok, outcome.problems
    record(
        "poison: malformed records, truncated gzip, non-staging object",
        f"{len(malformed)} malformed Kinesis records (bad UTF-8, not JSON, bad type, no keys, "
        "wrong shape) among good ones; a staging object cut 40 bytes short; a .txt under "
        "the staging prefix",
        f"{failed} records under the error prefix; {outcome.objects_quarantined} objects "
        f"quarantined ({quarantined} quarantine objects); {len(runs)} run(s); "
        f"verify {outcome.differences} differences",
        outcome,
    )


def test_a_400_kb_item_and_a_batch_at_the_6_mb_limit(tmp_path, database, record):
    with scenario(tmp_path, bursts=1, items=10) as s:
        # GIVEN items at DynamoDB's 400 KB limit, enough to fill 6 MB Lambda events
        big = 395_000  # with the key and names, just under 400 KB as moto counts it
        count = 16
        for i in range(count):
            s.aws.dynamodb.put_item(
                TableName="blobs",
                Item={"id": {"B": f"big-{i}".encode()}, "payload": {"S": chr(65 + i % 26) * big}},
            )
        s.stream.pump()
        # AND a Firehose whose processor buffer lets events grow to the Lambda payload limit
        sizes: list[int] = []

        def transform(event, context):
            sizes.append(len(json.dumps(event)))
            return handler(event, context)

        hose = FirehoseDriver(
            s.res,
            transform=transform,
            state_path=s.folder,
            clients=s.aws,
            processor_buffer_bytes=6 * 1024 * 1024,
            buffer_seconds=0,
        )
        stats = hose.deliver()
        s.delivered.add(stats)
        # WHEN the loader runs
        runs = load_until_settled(s, _url(database))
        outcome = measure(s, mariadb_params(database))
        failed = _error_records(s)
    # THEN every big item made it to MariaDB; none was turned away for size
    record(
        "poison: 400 KB items, 6 MB batches",
        f"{count} items of {big // 1000} KB through Kinesis, the transform (Firehose "
        "events up to the 6 MB Lambda payload limit) and the loader",
        f"{stats.invocations} transform invocations, largest event "
        f"{max(sizes) / 1e6:.2f} MB; {stats.ok} records Ok, "
        f"{stats.processing_failed} failed ({failed} under the error prefix); "
        f"{len(runs)} run(s); verify {outcome.differences} differences",
        outcome,
    )
    assert max(sizes) > 5_500_000
    assert stats.processing_failed == 0 and failed == 0
    assert outcome.ok, outcome.problems
