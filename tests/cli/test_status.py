"""`ddbload status`: per-table lag, backlog and last load; exit code 3 when something needs attention."""

from __future__ import annotations

import json
import time

from typer.testing import CliRunner

from cli.main import app
from localmode import aws
from tests.cli.conftest import change, put_staging


def test_status_reports_backlog_last_load_and_lag(runner: CliRunner, local_stack) -> None:
    # GIVEN one file loaded (newest change 90 s ago) and one still pending
    now_us = int(time.time() * 1e6)  # at test time, not import time: collection can be slow
    loaded = put_staging(
        local_stack,
        "table=customers/2025/06/15/15/one.gz",
        [change("a", now_us - 200_000_000), change("b", now_us - 90_000_000)],
    )
    result = runner.invoke(app, ["reload", "--local", "--prefix", loaded, "--yes"])
    assert result.exit_code == 0, result.output
    pending = put_staging(local_stack, "table=customers/2025/06/15/16/two.gz", [change("c", 1)])
    size = aws.client("s3", local_stack.endpoint).head_object(
        Bucket=local_stack.bucket, Key=pending
    )["ContentLength"]
    # WHEN asking for the status
    result = runner.invoke(app, ["status", "--local", "--json"])
    # THEN the customers table shows one pending object, its last load and its lag
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    tables = {t["table"]: t for t in doc["tables"]}
    customers = tables["customers"]
    assert (customers["backlog_objects"], customers["backlog_bytes"]) == (1, size)
    assert customers["last_load"] is not None and customers["failed_24h"] == 0
    assert 90 <= customers["lag_seconds"] < 90 + 120
    assert customers["needs_attention"] is False
    # a configured table with nothing staged is listed, idle
    assert tables["orders"]["backlog_objects"] == 0 and tables["orders"]["last_load"] is None
    assert doc["dead_letter_messages"] == 0 and doc["needs_attention"] is False
    # AND the table view says all is well
    text = runner.invoke(app, ["status", "--local"])
    assert text.exit_code == 0 and "all good" in text.stdout


def test_status_exits_3_on_quarantine_and_dead_letters(runner: CliRunner, local_stack) -> None:
    # GIVEN a staging object that is not gzip NDJSON, loaded (so quarantined by the loader) ...
    bad = f"{local_stack.staging_prefix}/table=customers/2025/06/15/15/bad.gz"
    s3 = aws.client("s3", local_stack.endpoint)
    s3.put_object(Bucket=local_stack.bucket, Key=bad, Body=b"this is not gzip")
    runner.invoke(app, ["reload", "--local", "--prefix", bad, "--yes"])
    # ... and a message in the dead-letter queue
    aws.client("sqs", local_stack.endpoint).send_message(
        QueueUrl=local_stack.dead_letter_queue_url, MessageBody="{}"
    )
    # WHEN asking for the status
    result = runner.invoke(app, ["status", "--local", "--json"])
    # THEN the exit code says attention, and the JSON says why
    assert result.exit_code == 3, result.output
    doc = json.loads(result.stdout)
    customers = next(t for t in doc["tables"] if t["table"] == "customers")
    assert customers["quarantined_files_24h"] == 1 and customers["needs_attention"]
    assert doc["dead_letter_messages"] == 1
    assert doc["attention"] == ["the dead-letter queue holds 1 messages"]
    # AND the table view lists the reasons
    text = runner.invoke(app, ["status", "--local"])
    assert text.exit_code == 3
    assert "needs attention" in text.stdout and "quarantined" in text.stdout
