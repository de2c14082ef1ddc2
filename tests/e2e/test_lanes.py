"""Lanes never wait on one another: one table's target held in a long transaction, the other
table keeps loading. Local stack end to end (moto_server, drivers, real transform and loader,
real MariaDB); freshness is measured by the data (DynamoDB against MariaDB), not the clock."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pymysql

from localmode import demo
from localmode.aws import Clients
from localmode.drivers.firehose import FirehoseDriver
from localmode.drivers.scheduler import tick
from localmode.drivers.stream_to_kinesis import StreamToKinesis
from localmode.workload import Workload
from ops.verify import verify
from tests.conftest import mariadb_params
from tests.localmode.moto_pipeline import pipeline_config, private_pipeline

# Bounds on the waits below (a loaded two-core machine is slow, never this slow).
WAIT_SECONDS = 240
MAX_TICKS = 6


def _deliver(res: Any, aws: Clients, workload: Workload, folder: Path, items: int) -> None:
    workload.burst(items)
    StreamToKinesis(res, state_path=folder, clients=aws).pump()
    FirehoseDriver(res, state_path=folder, clients=aws).deliver()


def _in_step(res: Any, aws: Clients, table: str) -> bool:
    """Whether MariaDB holds exactly what DynamoDB holds for ``table`` (lag zero by data)."""
    conn = demo.connect(res)
    try:
        [result] = verify(res.config, aws.dynamodb, conn, tables=[table])
    finally:
        conn.close()
    return result.ok


def test_a_table_held_in_a_long_transaction_does_not_delay_the_other(
    tmp_path: Path, database: str
) -> None:
    with private_pipeline(tmp_path, pipeline_config(), database=database) as res:
        demo.ensure_database(res)
        aws = Clients(res.endpoint)
        workload = Workload(res.config, aws, run_id="lanes", seed=11, state_path=tmp_path)
        # GIVEN both tables loaded once (their targets exist), then new changes for both
        _deliver(res, aws, workload, tmp_path, 40)
        tick(res)
        assert _in_step(res, aws, "orders") and _in_step(res, aws, "blobs")
        _deliver(res, aws, workload, tmp_path, 40)
        assert not _in_step(res, aws, "orders") and not _in_step(res, aws, "blobs")
        # AND another session holding every row (and gap) of the orders target
        holder = pymysql.connect(**{**mariadb_params(database), "autocommit": False})
        try:
            with holder.cursor() as cur:
                cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute("START TRANSACTION")
                cur.execute("SELECT COUNT(*) FROM orders FOR UPDATE")
            # WHEN the scheduler ticks every lane, in the background
            runs: dict[str, Any] = {}
            ticking = threading.Thread(target=lambda: runs.update(tick(res)), daemon=True)
            ticking.start()
            # THEN blobs catches up with DynamoDB while the orders lane is still held
            deadline = time.monotonic() + WAIT_SECONDS
            while not _in_step(res, aws, "blobs") and time.monotonic() < deadline:
                time.sleep(0.5)
            assert _in_step(res, aws, "blobs"), "the blobs lane waited for the held orders lane"
            assert ticking.is_alive(), "the orders lane should still be waiting for the holder"
            assert not _in_step(res, aws, "orders")
        finally:
            # the holder lets go: its transaction ends
            holder.rollback()
            holder.close()
        ticking.join(timeout=WAIT_SECONDS * 2)
        assert not ticking.is_alive()
        # AND once released, the orders lane catches up too (this tick or a following one)
        for _ in range(MAX_TICKS):
            if _in_step(res, aws, "orders"):
                break
            tick(res)
        assert _in_step(res, aws, "orders") and _in_step(res, aws, "blobs")
        assert runs["blobs"]["status"] == "ok" and runs["blobs"]["files"].get("loaded", 0) > 0
