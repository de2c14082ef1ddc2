"""The Lambda entry and work discovery, with S3 and SQS from moto and the real MariaDB."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from moto import mock_aws

from loaders import discovery, handler, ledger
from tests.conftest import mariadb_params
from tests.loaders.aws import make_pipeline, s3_event
from tests.loaders.builders import change, gz, staging_key
from tests.loaders.conftest import fetch

HOUR = datetime.now(UTC).strftime("%Y/%m/%d/%H")


def url(database: str) -> str:
    p = mariadb_params(database)
    return f"mysql://{p['user']}:{p['password']}@{p['host']}:{p['port']}/{database}"


class Context:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def get_remaining_time_in_millis(self) -> int:
        return self.ms


@pytest.fixture
def pipeline(aws_env):
    with mock_aws():
        yield make_pipeline()


def test_scheduled_run_loads_queued_and_swept_files_and_acknowledges(
    pipeline, database, admin, monkeypatch
):
    # GIVEN two files announced on the queue, one whose message was lost, and a test event
    for name, value in pipeline.env(url(database)).items():
        monkeypatch.setenv(name, value)
    keys = [staging_key("orders", f"f{i}", hour=HOUR) for i in range(3)]
    for i, key in enumerate(keys):
        pipeline.put(key, gz([change("orders", {"pk": {"S": f"k{i}"}}, {"n": {"N": str(i)}}, 1)]))
    lost = pipeline.sqs.receive_message(QueueUrl=pipeline.queue_url, MaxNumberOfMessages=10)
    assert lost.get("Messages"), "moto should have queued the S3 notifications"
    # drop everything moto queued, then announce two of the three files ourselves
    pipeline.sqs.purge_queue(QueueUrl=pipeline.queue_url)
    for key in keys[:2]:
        pipeline.sqs.send_message(
            QueueUrl=pipeline.queue_url, MessageBody=s3_event(pipeline.bucket, key)
        )
    pipeline.sqs.send_message(
        QueueUrl=pipeline.queue_url,
        MessageBody=json.dumps(
            {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": pipeline.bucket}
        ),
    )
    # WHEN the scheduler invokes the loader twice
    first = handler.handler({"source": "aws.scheduler"}, Context(600_000))
    second = handler.handler({}, Context(600_000))
    # THEN every file is loaded once, every message acknowledged, the rerun only skips
    assert first["status"] == "ok" and first["files"] == {"loaded": 3}
    assert first["messages"] == 3 and first["acknowledged"] == 3
    assert second["files"] == {"skipped": 3}
    assert pipeline.queued() == 0
    assert sorted(fetch(admin, "SELECT pk FROM orders")) == [("k0",), ("k1",), ("k2",)]
    assert [r.load_count for r in ledger.ledger_rows(admin, keys)] == [1, 1, 1]


def test_load_and_reload_actions(pipeline, database, admin, monkeypatch):
    # GIVEN a loaded file and one not yet seen
    for name, value in pipeline.env(url(database)).items():
        monkeypatch.setenv(name, value)
    a, b = staging_key("items", "a", hour=HOUR), staging_key("items", "b", hour=HOUR)
    pipeline.put(a, gz([change("items", {"pk": {"S": "x"}}, {"v": {"N": "1"}}, 1)]))
    pipeline.put(b, gz([change("items", {"pk": {"S": "y"}}, {"v": {"N": "1"}}, 1)]))
    assert handler.handler({"action": "load", "keys": [a]})["files"] == {"loaded": 1}
    # WHEN both are loaded by key, then the prefix is reloaded
    loaded = handler.handler({"action": "load", "keys": [a, b, "staging/none.gz"]})
    reloaded = handler.handler({"action": "reload", "prefix": "staging/table=items/"})
    bad = handler.handler({"action": "reload", "prefix": "elsewhere/"})
    # THEN the known one is skipped, the reload applies both again harmlessly
    assert loaded["files"] == {"skipped": 1, "loaded": 1, "missing": 1}
    assert reloaded["files"] == {"loaded": 2} and reloaded["rows"]["stale"] == 2
    assert bad["status"] == "error" and "staging prefix" in bad["error"]
    assert [r.load_count for r in ledger.ledger_rows(admin, [a, b])] == [2, 2]


def test_run_stops_taking_files_when_time_runs_low(pipeline, database, monkeypatch):
    # GIVEN files and almost no time left
    for name, value in pipeline.env(url(database)).items():
        monkeypatch.setenv(name, value)
    pipeline.put(
        staging_key("late", "x", hour=HOUR), gz([change("late", {"pk": {"S": "a"}}, {}, 1)])
    )
    # WHEN invoked with less time than the safety margin
    result = handler.handler({}, Context(1000))
    # THEN nothing is started and the message stays queued for the next run
    assert result["files"] == {"deferred": 1} and result["acknowledged"] == 0


def test_missing_setting_is_one_sentence(monkeypatch):
    # GIVEN no configuration in the environment
    monkeypatch.delenv("DDBLOAD_CONFIG", raising=False)
    # WHEN invoked THEN the answer names the missing setting
    assert "DDBLOAD_CONFIG is not set" in handler.handler({})["error"]


@pytest.mark.parametrize(
    "body, expected",
    [
        (s3_event("bkt", "staging/table=a/x+y%3D.gz"), ["staging/table=a/x y=.gz"]),
        (json.dumps({"Type": "Notification", "Message": s3_event("bkt", "k1")}), ["k1"]),
        (json.dumps({"detail-type": "Object Created",
                     "detail": {"bucket": {"name": "bkt"}, "object": {"key": "k2", "etag": "e"}}}),
         ["k2"]),
        (json.dumps({"Event": "s3:TestEvent"}), []),
        (s3_event("other-bucket", "k3"), []),
        ("not json", []),
    ],
)  # fmt: skip
def test_work_messages_are_understood(body, expected):
    assert [r.key for r in discovery.refs_of(body, "bkt")] == expected
