"""Lanes: a run per table that loads only its table, busy tables left at once, overlapping
runs that never double-apply. S3 and SQS from moto (one work queue per configured table,
as the stack wires them), the real MariaDB, the loader's own grants."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from contract import lanes
from contract.config import parse_config
from loaders import handler, ledger
from loaders.db import open_connection
from loaders.engine import load_staging_bytes
from loaders.jobs import JobResult
from loaders.settings import LoaderSettings
from tests.conftest import for_database
from tests.loaders.builders import change, gz, obj, staging_key
from tests.loaders.conftest import fetch
from tests.loaders.test_handler import Context, url

HOUR = datetime.now(UTC).strftime("%Y/%m/%d/%H")
CONFIG = parse_config(
    {
        "tables": {
            "orders": {"partition_key": {"name": "pk"}},
            "users": {"partition_key": {"name": "pk"}},
        }
    }
)


class LanePipeline:
    """A staging bucket whose configured tables each notify their own work queue."""

    def __init__(self) -> None:
        self.s3 = boto3.client("s3", region_name="us-east-1")
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.bucket = "ddbload-lanes-test"
        self.s3.create_bucket(Bucket=self.bucket)
        self.queues: dict[str, str] = {}
        configurations = []
        for table in sorted(CONFIG.tables):
            url_ = self.sqs.create_queue(QueueName=f"work-{table}")["QueueUrl"]
            arn = self.sqs.get_queue_attributes(QueueUrl=url_, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            self.queues[table] = url_
            configurations.append(
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [{"Name": "prefix", "Value": f"staging/table={table}/"}]
                        }
                    },
                }
            )
        self.s3.put_bucket_notification_configuration(
            Bucket=self.bucket,
            NotificationConfiguration={"QueueConfigurations": configurations},
        )
        for queue in self.queues.values():
            # S3's s3:TestEvent on each queue the configuration names
            self.sqs.purge_queue(QueueUrl=queue)

    def use(self, database: str, monkeypatch: pytest.MonkeyPatch) -> None:
        server_url = url(database).rsplit("/", 1)[0]
        monkeypatch.setenv("DDBLOAD_CONFIG", for_database(CONFIG, database).to_json())
        monkeypatch.setenv("DDBLOAD_BUCKET", self.bucket)
        monkeypatch.setenv("MARIADB_URL", server_url)
        monkeypatch.delenv("DDBLOAD_WORK_QUEUE_URL", raising=False)
        monkeypatch.delenv("DDBLOAD_DB_SECRET", raising=False)

    def stage(self, table: str, n: int) -> list[str]:
        keys = []
        for i in range(n):
            key = staging_key(table, f"{table}-{i}", hour=HOUR)
            self.s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=gz([change(table, {"pk": {"S": f"{table}{i}"}}, {"n": {"N": str(i)}}, 1)]),
            )
            keys.append(key)
        return keys

    def event(self, lane: str) -> dict[str, Any]:
        return lanes.lane_event(
            lane,
            work_queue_url=self.queues.get(lane),
            scheduled_time="2026-11-25T13:00:00Z",
            execution_id="e1",
        )

    def queued(self, table: str) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.queues[table],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attrs.values())


@pytest.fixture
def lanes_pipeline(aws_env):
    with mock_aws():
        yield LanePipeline()


def test_a_lane_run_loads_its_own_table_and_notes_how_it_ended(
    lanes_pipeline, database, admin, monkeypatch
):
    # GIVEN files of two configured tables and of a table the config does not name
    p = lanes_pipeline
    p.use(database, monkeypatch)
    orders, users, misc = p.stage("orders", 2), p.stage("users", 3), p.stage("misc", 1)
    assert p.queued("orders") == 2 and p.queued("users") == 3
    # WHEN the orders lane runs, then the default lane
    first = handler.handler(p.event("orders"), Context(600_000))
    default = handler.handler(p.event(lanes.DEFAULT_LANE), Context(600_000))
    # THEN each loads its own files only, and the orders queue is empty, the users one not
    assert first["lane"] == "orders" and first["status"] == "ok"
    assert first["files"] == {"loaded": 2} and first["acknowledged"] == 2
    assert default["files"] == {"loaded": 1} and default["messages"] == 0
    assert p.queued("orders") == 0 and p.queued("users") == 3
    loaded = {r.s3_key for r in ledger.ledger_rows(admin, orders + users + misc)}
    assert loaded == set(orders + misc)
    # AND the lanes table says how each lane's last run ended
    runs = ledger.lane_runs(admin)
    assert sorted(runs) == [lanes.DEFAULT_LANE, "orders"]
    assert (runs["orders"].outcome, runs["orders"].files_loaded) == ("ok", 2)
    assert runs["orders"].started_at <= runs["orders"].finished_at
    # AND the users lane, when it runs, loads its three
    assert handler.handler(p.event("users"), Context(600_000))["files"] == {"loaded": 3}


def test_an_unknown_lane_is_one_sentence(lanes_pipeline, database, monkeypatch):
    lanes_pipeline.use(database, monkeypatch)
    answer = handler.handler({"lane": "nope"}, Context(600_000))
    assert answer["status"] == "error" and "unknown lane 'nope'" in answer["error"]


def test_a_run_finding_a_table_locked_moves_on_and_reports_it_busy(
    lanes_pipeline, database, admin, monkeypatch
):
    # GIVEN another session holding the orders table's named lock, and files of both tables
    p = lanes_pipeline
    p.use(database, monkeypatch)
    orders, users = p.stage("orders", 3), p.stage("users", 2)
    fetch(admin, "SELECT GET_LOCK(%s, 0)", [f"ddbload:{database}.orders"])
    # WHEN a run of every table goes, one file per batch (orders' batches come first)
    settings = LoaderSettings(
        config=for_database(CONFIG, database),
        bucket=p.bucket,
        mariadb_url=url(database).rsplit("/", 1)[0],
        batch_max_files=1,
        lock_timeout_seconds=1,
        retries=4,
        backoff_seconds=0.01,
    )
    conn = open_connection(_params(settings))
    try:
        summary = handler.run_scheduled(conn, p.s3, None, settings)
    finally:
        conn.close()
    # THEN orders is busy, its files wait (not failed), and the users files loaded
    assert summary["busy"] == ["orders"] and handler.run_status(summary) == "busy"
    assert summary["files"] == {"retry": 3, "loaded": 2}
    by_key = {f["key"]: f["error"] for f in summary["failed"]}
    assert sorted(by_key) == sorted(orders)
    assert all("holds the lock" in e and "a later run loads" in e for e in by_key.values())
    assert {r.s3_key for r in ledger.ledger_rows(admin, orders + users)} == set(users)
    # AND once the lock is free, the next run loads them
    fetch(admin, "SELECT RELEASE_LOCK(%s)", [f"ddbload:{database}.orders"])
    conn = open_connection(_params(settings))
    try:
        again = handler.run_scheduled(conn, p.s3, None, settings)
    finally:
        conn.close()
    assert again["files"] == {"loaded": 3, "skipped": 2} and again["busy"] == []


def _params(settings: LoaderSettings) -> dict[str, Any]:
    from loaders.db import credentials

    return credentials(settings)


@pytest.mark.parametrize("lock_timeout", [0, 10])
def test_overlapping_runs_never_double_apply_and_never_fail_each_other(
    loader_account, admin, database, lock_timeout
):
    # GIVEN files of two tables, and four runs that all want every one of them at once,
    # each on its own connection (as overlapping Lambda runs would be)
    objects = [
        obj(table, [change(table, {"pk": {"S": f"{table}{i}-{j}"}}, {"v": {"N": str(j)}}, 1)
                    for j in range(50)], name=f"{table}-{i}")
        for table in ("orders", "users") for i in range(6)
    ]  # fmt: skip
    settings = LoaderSettings(
        config=for_database(CONFIG, database),
        batch_max_files=2,
        lock_timeout_seconds=lock_timeout,
        backoff_seconds=0.01,
    )
    results: list[list[JobResult]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def run() -> None:
        conn = open_connection(loader_account)
        try:
            start.wait(timeout=30)
            results.append(load_staging_bytes(conn, settings.config, objects, settings=settings))
        except BaseException as e:  # noqa: BLE001 - the test reports it below
            errors.append(e)
        finally:
            conn.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    # WHEN they are all done
    assert errors == [] and len(results) == 4
    # THEN no run failed a file, and every file was applied exactly once
    statuses = [r.status for run in results for r in run]
    assert set(statuses) <= {"loaded", "skipped", "retry"}, statuses
    loaded = [r.key for run in results for r in run if r.status == "loaded"]
    assert sorted(loaded) == sorted(set(loaded))
    retried = [r.error for run in results for r in run if r.status == "retry"]
    assert all("holds the lock" in (e or "") for e in retried)
    # AND a last run loads whatever a busy table left, so every file is in the ledger once
    conn = open_connection(loader_account)
    try:
        load_staging_bytes(conn, settings.config, objects, settings=settings)
    finally:
        conn.close()
    rows = ledger.ledger_rows(admin, [key for key, _, _ in objects])
    assert len(rows) == len(objects) and {r.load_count for r in rows} == {1}
    for table in ("orders", "users"):
        assert fetch(admin, f"SELECT COUNT(*) FROM {table}") == [(300,)]
