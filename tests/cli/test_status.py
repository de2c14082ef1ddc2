"""`ddbload status`: per-table freshness, latency, target, backlog and lanes; exit code 3 when something needs attention."""

from __future__ import annotations

import json
import time

import pymysql
from typer.testing import CliRunner

from cli.main import app
from localmode import aws
from localmode.drivers import scheduler
from ops.inspection import iso_us
from tests.cli.conftest import change, put_staging
from tests.conftest import mariadb_params


def test_status_reports_freshness_latency_backlog_and_target(runner: CliRunner, local_stack):
    # GIVEN one file loaded (changes 200 and 90 s old) and one still pending (30 s old)
    now_us = int(time.time() * 1e6)  # at test time, not import time: collection can be slow
    loaded = put_staging(
        local_stack,
        "table=customers/2025/06/15/15/one.gz",
        [change("a", now_us - 200_000_000), change("b", now_us - 90_000_000)],
    )
    result = runner.invoke(app, ["reload", "--local", "--prefix", loaded, "--yes"])
    assert result.exit_code == 0, result.output
    waiting = now_us - 30_000_000
    pending = put_staging(
        local_stack, "table=customers/2025/06/15/16/two.gz", [change("c", waiting)]
    )
    size = aws.client("s3", local_stack.endpoint).head_object(
        Bucket=local_stack.bucket, Key=pending
    )["ContentLength"]
    # WHEN asking for the status
    result = runner.invoke(app, ["status", "--local", "--json"])
    # THEN customers shows the pending change as its freshness, the loaded file's
    # latency (its changes waited at least 90 and 200 s), its backlog and last load
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    tables = {t["table"]: t for t in doc["tables"]}
    customers = tables["customers"]
    assert customers["oldest_pending_change"] == iso_us(waiting)
    assert customers["freshness_seconds"] >= 30
    lanes = {lane["lane"]: lane for lane in doc["lanes"]}
    assert lanes["customers"]["freshness_seconds"] == customers["freshness_seconds"]
    assert lanes["orders"]["freshness_seconds"] == 0
    assert customers["latency_p50_seconds"] >= 200 and customers["latency_max_seconds"] >= 200
    assert customers["newest_change"] == iso_us(now_us - 90_000_000)
    assert (customers["backlog_objects"], customers["backlog_bytes"]) == (1, size)
    assert customers["last_load"] is not None and customers["failed_24h"] == 0
    assert customers["needs_attention"] is False
    # a configured table with nothing staged is listed, idle: fresh, no latency
    orders = tables["orders"]
    assert (orders["freshness_seconds"], orders["latency_p50_seconds"]) == (0, None)
    assert orders["backlog_objects"] == 0 and orders["last_load"] is None
    assert doc["dead_letter_messages"] == 0 and doc["needs_attention"] is False
    assert doc["freshness_objective_seconds"] == 1050 and doc["upstream"] is None
    # AND the table view names each table's MariaDB target and says all is well
    text = runner.invoke(app, ["status", "--local"], env={"COLUMNS": "200"})
    assert text.exit_code == 0 and "all good" in text.stdout
    assert "MariaDB target" in text.stdout and "freshness objective: 17 min" in text.stdout


def test_status_exits_3_when_freshness_exceeds_the_objective_not_when_idle(
    runner: CliRunner, local_stack
) -> None:
    # GIVEN a table loaded two days ago and idle since
    now_us = int(time.time() * 1e6)
    old = put_staging(
        local_stack, "table=customers/2025/06/13/15/old.gz",
        [change("a", now_us - 2 * 86_400_000_000)],
    )  # fmt: skip
    assert runner.invoke(app, ["reload", "--local", "--prefix", old, "--yes"]).exit_code == 0
    # WHEN asking for the status, THEN all is well: idle is not stale
    idle = runner.invoke(app, ["status", "--local", "--json"])
    assert idle.exit_code == 0, idle.output
    assert {t["table"]: t["freshness_seconds"] for t in json.loads(idle.stdout)["tables"]} == {
        "customers": 0, "orders": 0
    }  # fmt: skip
    # GIVEN then a change two hours old still pending
    put_staging(
        local_stack, "table=customers/2025/06/15/16/late.gz",
        [change("b", now_us - 7_200_000_000)],
    )  # fmt: skip
    # WHEN asking again, THEN exit 3, and the table says why
    stale = runner.invoke(app, ["status", "--local", "--json"])
    assert stale.exit_code == 3, stale.output
    customers = next(t for t in json.loads(stale.stdout)["tables"] if t["table"] == "customers")
    assert customers["freshness_seconds"] >= 7200 and customers["needs_attention"]
    (reason,) = customers["attention"]
    assert reason.startswith("freshness ") and reason.endswith("exceeds the objective of 1050 s")


def test_status_exits_3_on_quarantine_and_dead_letters(runner: CliRunner, local_stack) -> None:
    # GIVEN a staging object that is not gzip NDJSON, loaded (so quarantined by the loader) ...
    bad = f"{local_stack.staging_prefix}/table=customers/2025/06/15/15/bad.gz"
    s3 = aws.client("s3", local_stack.endpoint)
    s3.put_object(Bucket=local_stack.bucket, Key=bad, Body=b"this is not gzip")
    runner.invoke(app, ["reload", "--local", "--prefix", bad, "--yes"])
    # ... and a message in the customers lane's dead-letter queue
    aws.client("sqs", local_stack.endpoint).send_message(
        QueueUrl=local_stack.lanes["customers"]["dead_letter_queue_url"], MessageBody="{}"
    )
    # WHEN asking for the status
    result = runner.invoke(app, ["status", "--local", "--json"])
    # THEN the exit code says attention, and the JSON says why
    assert result.exit_code == 3, result.output
    doc = json.loads(result.stdout)
    customers = next(t for t in doc["tables"] if t["table"] == "customers")
    assert customers["quarantined_files_24h"] == 1 and customers["needs_attention"]
    assert doc["dead_letter_messages"] == 1
    lanes = {lane["lane"]: lane for lane in doc["lanes"]}
    assert lanes["customers"]["attention"] == ["its dead-letter queue holds 1 messages"]
    assert lanes["orders"]["dead_letter_messages"] == 0 and not lanes["orders"]["attention"]
    # AND the table view lists the reasons
    text = runner.invoke(app, ["status", "--local"])
    assert text.exit_code == 3
    assert "needs attention" in text.stdout and "quarantined" in text.stdout


def test_status_shows_each_lane_backlog_last_run_and_busy(runner: CliRunner, local_stack) -> None:
    # GIVEN a staged file of a configured table and of an unconfigured one (this hour), and
    # another session holding the customers target's lock while every lane runs once
    hour = time.strftime("%Y/%m/%d/%H", time.gmtime())
    put_staging(local_stack, f"table=customers/{hour}/c.gz", [change("a", 1)])
    put_staging(local_stack, f"table=misc/{hour}/m.gz", [change("m", 1, table="misc")])
    admin = pymysql.connect(**mariadb_params(local_stack.database))
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, 0)", [f"ddbload:{local_stack.database}.customers"])
        runs = scheduler.tick(local_stack)
    finally:
        admin.close()
    # WHEN asking for the status
    result = runner.invoke(app, ["status", "--local", "--json"])
    doc = json.loads(result.stdout)
    lanes = {lane["lane"]: lane for lane in doc["lanes"]}
    # THEN every lane is listed: the configured tables and the default lane
    assert sorted(lanes) == ["*", "customers", "orders"] and sorted(runs) == sorted(lanes)
    # AND customers was busy, its file still waiting and still announced on its queue
    customers = lanes["customers"]
    assert (customers["busy"], customers["failed"], customers["backlog_objects"]) == (
        True,
        False,
        1,
    )
    assert customers["last_outcome"] == "busy" and customers["work_queue_messages"] == 1
    # AND the default lane loaded the unconfigured table's file; orders ran with nothing to do
    assert lanes["*"]["tables"] == ["misc"] and lanes["*"]["last_outcome"] == "ok"
    assert lanes["*"]["backlog_objects"] == 0 and lanes["*"]["work_queue_messages"] is None
    assert lanes["orders"]["last_outcome"] == "ok" and lanes["orders"]["last_run"]
    tables = {t["table"]: t for t in doc["tables"]}
    assert (tables["misc"]["lane"], tables["customers"]["lane"]) == ("*", "customers")
    # AND the table view shows the lanes
    text = runner.invoke(app, ["status", "--local"])
    assert "loader lanes" in text.stdout and "busy" in text.stdout
