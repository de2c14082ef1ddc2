"""The demo's backfill step on the local stack: items seeded before streaming, backfilled, verified.

``seed_and_backfill`` below is the code proposed for ``localmode/demo.py``'s
hook (with ``skip_pending`` as a ``StreamToKinesis`` method); until it is
pasted there, this test puts it in place of the hook.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from localmode import demo, server, state
from localmode.drivers.stream_to_kinesis import StreamToKinesis
from localmode.resources import LocalResources
from localmode.workload import Workload
from tests.localmode.stack import pipeline_config

SEED_ITEMS = 120


def skip_pending(driver: StreamToKinesis) -> int:
    """Proposed ``StreamToKinesis.skip_pending``: move every shard's checkpoint past what is
    in the stream now, forwarding nothing (streaming "starts" here); returns records skipped."""
    checkpoints = state.read(driver.folder, state.STREAM_CHECKPOINTS_FILE) or {}
    skipped = 0
    for stream_arn in driver.resources.tables.values():
        shards = driver.aws.dynamodbstreams.describe_stream(StreamArn=stream_arn)[
            "StreamDescription"
        ]["Shards"]
        for shard in shards:
            where = f"{stream_arn}|{shard['ShardId']}"
            found = driver._read_shard(stream_arn, shard["ShardId"], checkpoints.get(where))
            if found:
                checkpoints[where] = found[-1]["dynamodb"]["SequenceNumber"]
                skipped += len(found)
    state.write(driver.folder, state.STREAM_CHECKPOINTS_FILE, checkpoints)
    return skipped


def seed_and_backfill(res: LocalResources, workload: Workload, progress: Any) -> None:
    """Seed items before streaming starts, then backfill them (scan path) through the loader."""
    from loaders import backfill
    from loaders.backfill_store import Store

    report = progress or (lambda label, done, total: None)
    for i in range(SEED_ITEMS):
        workload.insert(workload.rng.choice(workload.tables))
        report("seed items before streaming starts", i + 1, SEED_ITEMS)
    driver = StreamToKinesis(res, state_path=workload.state_path, clients=workload.aws)
    skip_pending(driver)  # the seeded items never reach the stream: only the backfill has them
    store = Store(workload.aws.s3, res.bucket, res.staging_prefix)
    keys: list[str] = []
    for table in workload.tables:
        # moto's parallel scan fails on a binary partition key (it hashes it as text).
        binary_key = res.config.tables[table].keys[0].type == "B"
        result = backfill.run(
            workload.aws.dynamodb,
            workload.aws.s3,
            store,
            res.config,
            table,
            backfill.Options(segments=1 if binary_key else 2, page_items=50),
            progress=lambda p, t=table: report(f"backfill {t}", p.items, p.estimated_items),
        )
        keys += result.keys
    # The backfill's pages are ordinary staging objects: the scheduled loader takes them.
    demo.load_until_done(res, keys)


def test_demo_with_seeded_items_backfills_and_reconciles(
    tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the demo, with its hook seeding items before streaming starts and backfilling them
    monkeypatch.setattr(demo, "seed_and_backfill", seed_and_backfill)
    try:
        # WHEN it runs a small workload that also updates and deletes seeded items
        summary = demo.run_demo(
            items=60, config=pipeline_config(), database=database, state_path=tmp_path
        )
        # THEN the stream carried only the workload's own changes, and MariaDB == DynamoDB
        assert summary.stream_records == sum(summary.changes_written.values()) - SEED_ITEMS
        assert summary.ok, summary.reconciliation
        assert sum(r["dynamodb_items"] for r in summary.reconciliation) > SEED_ITEMS // 2
    finally:
        server.down(tmp_path)
