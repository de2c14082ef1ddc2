"""``ddbload backfill`` through the runner: the local stack (moto_server) and real MariaDB."""

from __future__ import annotations

import json

import pymysql
from typer.testing import CliRunner

from cli.main import app
from localmode import aws
from tests.conftest import mariadb_params


def put_customers(stack, count: int) -> None:
    ddb = aws.client("dynamodb", stack.endpoint)
    for i in range(count):
        ddb.put_item(
            TableName="customers",
            Item={
                "id": {"S": f"c-{i:04d}"},
                "name": {"S": f"tab\\there {i}"},
                "score": {"N": "12345678901234567890.123456789012345678"},
                "tags": {"SS": ["a", "b"]},
            },
        )


def test_backfill_alone_reconciles(runner: CliRunner, local_stack) -> None:
    # GIVEN a table holding items that were never streamed
    put_customers(local_stack, 37)
    # WHEN backfilling it in two segments
    result = runner.invoke(
        app, ["backfill", "--local", "--table", "customers", "--segments", "2", "--json"]
    )
    # THEN every item was read, written as staging objects and loaded here
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["table"], doc["source"], doc["items"]) == ("customers", "scan", 37)
    assert doc["loaded_here"] and doc["loaded"]["applied"] == 37
    assert doc["objects"] == doc["pages_written"] >= 1
    # AND verify finds MariaDB equal to DynamoDB
    verified = runner.invoke(app, ["verify", "--local", "--table", "customers", "--json"])
    assert verified.exit_code == 0, verified.output
    (table,) = json.loads(verified.stdout)
    assert (table["dynamodb_items"], table["mariadb_rows"]) == (37, 37)


def mapped_rows(database: str) -> list[tuple]:
    """The customers target without the loader's own (version) columns."""
    with pymysql.connect(**mariadb_params(database)) as conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM customers ORDER BY id")
        names = [d[0] for d in cur.description]
        keep = [i for i, n in enumerate(names) if not n.startswith("_ddbload_")]
        return [tuple(row[i] for i in keep) for row in cur.fetchall()]


def test_backfill_again_leaves_the_data_as_it_was(
    runner: CliRunner, local_stack, database: str
) -> None:
    # GIVEN a table already backfilled
    put_customers(local_stack, 12)
    first = runner.invoke(app, ["backfill", "--local", "--table", "customers", "--json"])
    assert first.exit_code == 0, first.output
    before = mapped_rows(database)
    # WHEN backfilling it again as a new run
    again = runner.invoke(
        app, ["backfill", "--local", "--table", "customers", "--restart", "--json"]
    )
    # THEN it reads and loads everything again (a newer version, the same values)
    assert again.exit_code == 0, again.output
    doc = json.loads(again.stdout)
    assert doc["run"] != json.loads(first.stdout)["run"] and doc["items"] == 12
    assert doc["loaded"]["read"] == 12
    assert len(before) == 12 and mapped_rows(database) == before
    assert runner.invoke(app, ["verify", "--local", "--table", "customers"]).exit_code == 0


def test_backfill_prints_a_summary_with_the_rate(runner: CliRunner, local_stack) -> None:
    # GIVEN a table with a few items
    put_customers(local_stack, 5)
    # WHEN backfilling it without --json
    result = runner.invoke(app, ["backfill", "--local", "--table", "customers"])
    # THEN the summary names the run, the items and the rate, and what was loaded
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "of customers (scan): 5 items in" in text and "items/s" in text
    assert "5 read, 5 applied" in text


def test_backfill_of_a_missing_table_is_one_sentence(runner: CliRunner, local_stack) -> None:
    # WHEN backfilling a table that does not exist
    result = runner.invoke(app, ["backfill", "--local", "--table", "nosuch"])
    # THEN one sentence on stderr, exit 1, no traceback, and nothing written
    assert result.exit_code == 1
    assert result.stderr.startswith("ddbload: ") and "nosuch" in result.stderr
    assert "does not exist" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    s3 = aws.client("s3", local_stack.endpoint)
    listed = s3.list_objects_v2(Bucket=local_stack.bucket).get("Contents", [])
    assert [o["Key"] for o in listed if "nosuch" in o["Key"]] == []


def test_backfill_bad_options_are_one_sentence(runner: CliRunner, local_stack) -> None:
    # WHEN giving both read rate bounds
    result = runner.invoke(
        app,
        ["backfill", "--local", "--table", "customers", "--rate", "10", "--rate-rcu", "5"],
    )
    # THEN the backfill refuses with one sentence
    assert result.exit_code == 1
    assert "one read rate bound" in result.stderr
