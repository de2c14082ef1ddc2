"""Freshness and latency as ``ddbload status`` computes them, each figure checked for its meaning.

The ledger is written directly with known change and commit times, staging objects sit
in moto's S3 with known change times, CloudWatch figures are put into moto, and the
clock is passed in: no assertion depends on how fast anything ran.
"""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
from moto import mock_aws

from contract import names
from contract.config import freshness_objective
from loaders import freshness
from ops.pipeline import from_stack
from ops.status import status
from tests.ops.world import BUCKET, CONFIG, World


def test_an_idle_caught_up_table_reads_zero_however_long_it_stays_idle(world, now) -> None:
    # GIVEN a table whose only file was committed three days ago
    changes = [now - timedelta(days=3, seconds=s) for s in (30, 20)]
    world.commit("orders", world.stage("orders", "old", changes), changes, now - timedelta(days=3))
    # WHEN status looks now, and a month later
    for later in (now, now + timedelta(days=30)):
        orders = world.table("orders", later)
        # THEN nothing is pending, so freshness is 0 and nothing needs attention
        assert orders.freshness_seconds == 0 and orders.oldest_pending_change is None
        assert orders.needs_attention is False
        # AND no change was committed in the last hour: no latency to show
        assert (orders.latency_p50_seconds, orders.latency_max_seconds) == (None, None)
    # AND a table that never had a file is idle too
    assert world.table("customers", now).freshness_seconds == 0


def test_a_pending_object_reports_the_age_of_its_oldest_change(world, now) -> None:
    # GIVEN a pending object whose oldest change (in the middle of the file) is 300 s
    # old, and a newer pending object
    world.stage("orders", "a", [now - timedelta(seconds=s) for s in (200, 300, 100)])
    world.stage("orders", "b", [now - timedelta(seconds=50)])
    # WHEN status looks
    orders = world.table("orders", now)
    # THEN freshness is that change's age, and it names the change's time
    assert orders.freshness_seconds == 300
    assert orders.oldest_pending_change == (now - timedelta(seconds=300)).isoformat(
        timespec="milliseconds"
    )
    assert orders.backlog_objects == 2
    # AND it grows with the clock while the object stays pending
    assert world.table("orders", now + timedelta(seconds=60)).freshness_seconds == 360


def test_a_late_old_file_does_not_move_freshness_backwards(world, now) -> None:
    # GIVEN recent changes committed: the table is caught up
    recent = [now - timedelta(seconds=s) for s in (60, 30)]
    world.commit(
        "orders", world.stage("orders", "recent", recent), recent, now - timedelta(seconds=20)
    )
    first = world.table("orders", now)
    assert first.freshness_seconds == 0
    newest = first.newest_change
    assert newest == (now - timedelta(seconds=30)).isoformat(timespec="milliseconds")
    # WHEN a late file of hour-old changes shows up, pending (honestly stale) ...
    late = [now - timedelta(seconds=3600), now - timedelta(seconds=3500)]
    obj = world.stage("orders", "late", late)
    pending = world.table("orders", now + timedelta(seconds=10))
    assert pending.freshness_seconds == 3610
    # ... and is then committed
    world.commit("orders", obj, late, now + timedelta(seconds=20))
    after = world.table("orders", now + timedelta(seconds=30))
    # THEN freshness is 0 again: committing the old changes did not make the table look
    # staler (a figure read from the last file committed would now say an hour) ...
    assert after.freshness_seconds == 0 and not after.needs_attention
    # ... the newest change committed did not move back to the late file's ...
    assert after.newest_change == newest
    # ... and the late file's wait shows where it belongs: in the latency
    assert after.latency_max_seconds == 3620


def test_latency_from_known_commit_and_change_times(world, now) -> None:
    # GIVEN two files committed ten minutes ago, and one two hours ago
    at = now - timedelta(minutes=10)
    # 10 changes 1..10 s before commit (lower median 6 s back, oldest 10 s), and 30
    # changes 6..35 s back (lower median 21 s back, oldest 35 s)
    small = [at - timedelta(seconds=s) for s in range(1, 11)]
    large = [at - timedelta(seconds=s) for s in range(6, 36)]
    old = [now - timedelta(hours=2, seconds=999)]
    world.commit("orders", world.stage("orders", "small", small), small, at)
    world.commit("orders", world.stage("orders", "large", large), large, at)
    world.commit("orders", world.stage("orders", "old", old), old, now - timedelta(hours=2))
    # WHEN status looks
    orders = world.table("orders", now)
    # THEN over the last hour: the max is the oldest change's wait, and the p50 is the
    # change-weighted median of the files' medians (the larger file's, 30 of 40 changes)
    assert orders.latency_max_seconds == 35
    assert orders.latency_p50_seconds == 21
    assert orders.freshness_seconds == 0


def test_combining_files_weights_medians_by_changes() -> None:
    files = [freshness.FileLatency(10, 5.0, 10.0), freshness.FileLatency(30, 20.0, 35.0),
             freshness.FileLatency(5, 1.0, 2.0)]  # fmt: skip
    combined = freshness.combine(files)
    assert combined is not None
    assert (combined.p50_seconds, combined.max_seconds, combined.changes) == (20.0, 35.0, 45)
    assert freshness.combine([]) is None


def test_only_freshness_beyond_the_objective_needs_attention(world, now) -> None:
    objective = freshness_objective(CONFIG.settings)
    # GIVEN a table idle for days, and a table whose oldest pending change is older
    # than the objective
    idle = [now - timedelta(days=2)]
    world.commit("orders", world.stage("orders", "idle", idle), idle, now - timedelta(days=2))
    world.stage("customers", "stuck", [now - timedelta(seconds=objective + 1)])
    result = status(world.pipeline, world.conn, now=now)
    tables = {t.table: t for t in result.tables}
    # THEN only the stuck table needs attention, and says why
    assert not tables["orders"].needs_attention
    assert tables["customers"].needs_attention
    assert tables["customers"].attention == [
        f"freshness {objective + 1} s exceeds the objective of {objective} s"
    ]
    assert result.freshness_objective_seconds == objective
    # AND each table names its MariaDB target
    assert (tables["orders"].target, tables["customers"].target) == ("orders", "crm_customers")


def test_deployed_upstream_counts_for_tables_written_while_it_was_held(conn, aws_env, now):
    with mock_aws():
        world = World(conn, deployed=True)
        minute_ago = now - timedelta(minutes=1)
        # GIVEN Kinesis 30 s behind and Firehose holding records 95 s old ...
        world.metric("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds",
                     ("StreamName", "ddbload-changes"), 30_000, minute_ago)  # fmt: skip
        world.metric("AWS/Firehose", "DeliveryToS3.DataFreshness",
                     ("DeliveryStreamName", "ddbload-delivery"), 95, minute_ago)  # fmt: skip
        # ... orders written two minutes ago, customers not written but with changes
        # 400 s old that DynamoDB has not replicated to Kinesis yet
        world.metric("AWS/DynamoDB", "ConsumedWriteCapacityUnits", ("TableName", "orders"), 5,
                     now - timedelta(minutes=2))  # fmt: skip
        world.metric("AWS/DynamoDB", "AgeOfOldestUnreplicatedRecord",
                     ("TableName", "customers"), 400_000, minute_ago)  # fmt: skip
        result = status(world.pipeline, conn, now=now)
    tables = {t.table: t for t in result.tables}
    # THEN the stream's backlog counts for orders (its changes may be in it), not for
    # customers, whose own replication backlog counts instead
    assert result.upstream == {"kinesis_iterator_age_seconds": 30.0,
                               "firehose_freshness_seconds": 95.0}  # fmt: skip
    assert tables["orders"].freshness_seconds == 95
    assert tables["customers"].freshness_seconds == 400


def test_deployed_and_quiet_upstream_reads_zero(conn, aws_env, now):
    # GIVEN a deployed pipeline whose CloudWatch metrics hold no recent data point
    with mock_aws():
        world = World(conn, deployed=True)
        world.metric("AWS/Firehose", "DeliveryToS3.DataFreshness",
                     ("DeliveryStreamName", "ddbload-delivery"), 500, now - timedelta(hours=1))  # fmt: skip
        result = status(world.pipeline, conn, now=now)
    # THEN nothing is held upstream, and idle tables read 0
    assert result.upstream == {"kinesis_iterator_age_seconds": 0.0,
                               "firehose_freshness_seconds": 0.0}  # fmt: skip
    assert {t.freshness_seconds for t in result.tables} == {0}


def test_a_deployed_stack_names_its_streams_for_status(aws_env) -> None:
    # GIVEN a deployed stack with its outputs and a Kinesis stream among its resources
    outputs = {
        names.OUTPUT_BUCKET: BUCKET,
        names.OUTPUT_STAGING_PREFIX: "staging",
        names.OUTPUT_ERROR_PREFIX: "errors",
        names.OUTPUT_QUARANTINE_PREFIX: "quarantine",
        names.OUTPUT_CONFIG: CONFIG.to_json(),
    }
    template = {
        "Resources": {"Changes": {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    with mock_aws():
        cfn = boto3.client("cloudformation", region_name="us-east-1")
        cfn.create_stack(StackName="ddbload-test", TemplateBody=json.dumps(template))
        stream = boto3.client("kinesis", region_name="us-east-1").list_streams()["StreamNames"]
        # WHEN the CLI finds it
        found = from_stack("ddbload-test", region="us-east-1")
    # THEN status knows which stream's metrics to read (and that no delivery stream is known)
    assert [found.kinesis_stream] == stream and found.delivery_stream is None
