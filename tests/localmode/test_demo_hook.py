"""The demo's backfill step on the local stack: items seeded before streaming, backfilled, verified."""

from __future__ import annotations

from pathlib import Path

from localmode import demo, server
from tests.localmode.moto_pipeline import pipeline_config


def test_demo_with_seeded_items_backfills_and_reconciles(tmp_path: Path, database: str) -> None:
    # GIVEN the demo, which seeds items before streaming starts and backfills them
    try:
        # WHEN it runs a small workload that also updates and deletes seeded items
        summary = demo.run_demo(
            items=60, config=pipeline_config(), database=database, state_path=tmp_path
        )
        # THEN the stream carried only the workload's own changes, the backfill the seeded
        # items, and MariaDB == DynamoDB
        assert summary.items_seeded == demo.SEED_ITEMS
        assert summary.items_backfilled == demo.SEED_ITEMS
        assert summary.backfill_files > 0
        assert summary.backfill_rows_applied == demo.SEED_ITEMS
        assert summary.stream_records == sum(summary.changes_written.values())
        # AND every streamed change had its end-to-end latency measured
        assert summary.latency and summary.latency["changes"] == summary.stream_records
        assert summary.changes_written.get("update", 0) > 0
        assert summary.ok, summary.reconciliation
        assert sum(r["dynamodb_items"] for r in summary.reconciliation) > demo.SEED_ITEMS // 2
    finally:
        server.down(tmp_path)
