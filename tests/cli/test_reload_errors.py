"""``ddbload reload --errors`` through the runner: the local stack (moto_server) and real MariaDB.

Each case fails first, is fixed, then reloads: quarantined rows (a value too
long for its column, then the column widened), a Firehose processing failure
(a transform that failed, now working, plus a record that still fails), and a
quarantined whole file (unreadable, then replaced by a good copy).
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import replace

import orjson
import pymysql
from typer.testing import CliRunner

from cli.main import app
from contract.config import parse_config
from contract.staging import StagingLine
from localmode import aws, resources
from tests.cli.conftest import CDK_JSON, change, put_staging
from tests.conftest import mariadb_params

T0 = 1_750_000_000_000_000  # 2025-06-15T15:06:40Z in µs


def query(database: str, sql: str) -> list[tuple]:
    with pymysql.connect(**mariadb_params(database)) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall())


def keys_under(stack, prefix: str) -> list[str]:
    s3 = aws.client("s3", stack.endpoint)
    listed = s3.list_objects_v2(Bucket=stack.bucket, Prefix=prefix).get("Contents", [])
    return sorted(o["Key"] for o in listed)


def invoke_json(runner: CliRunner, *args: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["reload", "--local", *args, "--json"])
    assert result.exit_code in (0, 3), result.output
    return result.exit_code, json.loads(result.stdout)


def order(pk: str, version_us: int, status: str) -> StagingLine:
    """One staging line of an ``orders`` change (key pk + sk)."""
    item = json.dumps({"pk": pk, "sk": "o", "status": status, "total": 5})
    return replace(
        change(pk, version_us, table="orders", item=item),
        key=json.dumps({"pk": pk, "sk": "o"}, separators=(",", ":")),
        key_types="SS",
    )


def widen_status(stack, database: str, state_path) -> None:
    """The fix: orders.status becomes VARCHAR(64) in the config and in the target."""
    doc = json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"]["ddbload"]
    doc["tables"]["orders"]["columns"]["status"]["type"] = "VARCHAR(64)"
    resources.create(stack.endpoint, parse_config(doc), database=database, state_path=state_path)
    query(database, "ALTER TABLE orders MODIFY status VARCHAR(64)")


def test_quarantined_rows_reload_once_the_column_is_fixed(
    runner: CliRunner, local_stack, database: str, moto_state
) -> None:
    # GIVEN a loaded staging file with one row whose status is too long for VARCHAR(32)
    put_staging(
        local_stack,
        "table=orders/2025/06/15/15/o.gz",
        [order("a", T0, "shipped"), order("b", T0 + 1, "x" * 40)],
    )
    first = runner.invoke(app, ["reload", "--local", "--prefix", "table=orders/", "--yes"])
    assert first.exit_code == 0, first.output
    assert [r[0] for r in query(database, "SELECT pk FROM orders")] == ["a"]
    quarantine = local_stack.quarantine_prefix + "/"
    assert len(keys_under(local_stack, quarantine)) == 1
    # AND the cause fixed afterwards: the mapping (redeployed) and the column widened
    widen_status(local_stack, database, moto_state)

    # WHEN the dry run plans, then reload --errors runs
    code, planned = invoke_json(runner, "--errors", "--dry-run")
    assert code == 0 and planned["plan"]["quarantined_row_objects"] == 1
    assert planned["plan"]["records"] == 1 and len(keys_under(local_stack, quarantine)) == 1
    code, done = invoke_json(runner, "--errors", "--yes")

    # THEN the row reaches the target and the quarantine is empty
    assert code == 0 and done["ok"] and done["resolved"] == 1, done
    assert done["rows"]["applied"] == 1
    assert query(database, "SELECT pk, status FROM orders ORDER BY pk") == [
        ("a", "shipped"),
        ("b", "x" * 40),
    ]
    assert keys_under(local_stack, quarantine) == []
    # AND a second reload --errors finds nothing and changes nothing
    before = query(database, "SELECT * FROM orders ORDER BY pk")
    ledger = query(database, "SELECT s3_key, load_count FROM _ddbload_ledger ORDER BY s3_key")
    code, again = invoke_json(runner, "--errors", "--yes")
    assert code == 0 and again["plan"]["entries"] == []
    assert query(database, "SELECT * FROM orders ORDER BY pk") == before
    assert query(database, "SELECT s3_key, load_count FROM _ddbload_ledger ORDER BY s3_key") == (
        ledger
    )


def destination_record(pk: str, micros: int, name: str) -> dict:
    return {
        "awsRegion": "us-east-1",
        "eventID": f"ev-{pk}",
        "eventName": "INSERT",
        "userIdentity": None,
        "recordFormat": "application/json",
        "tableName": "customers",
        "dynamodb": {
            "ApproximateCreationDateTime": micros,
            "ApproximateCreationDateTimePrecision": "MICROSECOND",
            "Keys": {"id": {"S": pk}},
            "NewImage": {"id": {"S": pk}, "name": {"S": name}},
            "SizeBytes": 20,
        },
        "eventSource": "aws:dynamodb",
    }


def error_record(data: bytes, code: str, message: str) -> dict:
    """Firehose's processing-failed record shape (AWS: data-transformation-failure-handling)."""
    return {
        "attemptsMade": 4,
        "arrivalTimestamp": T0 // 1000,
        "errorCode": code,
        "errorMessage": message,
        "attemptEndingTimestamp": T0 // 1000 + 5000,
        "rawData": base64.b64encode(data).decode(),
        "lambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:transform:$LATEST",
    }


def test_processing_failures_go_through_the_transform_again(
    runner: CliRunner, local_stack, database: str
) -> None:
    # GIVEN an error object from a time the transform failed: one good change (the
    # invocation timed out) and one record that is not JSON at all
    good = orjson.dumps(destination_record("c1", T0 + 7, "tab\there ✓"))
    lines = [
        error_record(good, "Lambda.FunctionError", "Task timed out after 60.00 seconds"),
        error_record(b"{not json", "Lambda.ProcessingFailed", "not_json: not JSON"),
    ]
    key = f"{local_stack.error_prefix}/processing-failed/2025/06/15/15/ddbload-1-x.gz"
    body = gzip.compress(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    aws.client("s3", local_stack.endpoint).put_object(Bucket=local_stack.bucket, Key=key, Body=body)

    # WHEN reloading the errors
    code, done = invoke_json(runner, "--errors", "--yes")

    # THEN the good change is in the target, from a staging object under the normal layout
    assert code == 3 and done["ok"], done  # 3: one record still fails
    assert query(database, "SELECT id FROM customers") == [("c1",)]
    (outcome,) = done["outcomes"]
    assert (outcome["kind"], outcome["resolved"], outcome["remaining"]) == (
        "processing-failed",
        False,
        1,
    )
    assert "not_json" in outcome["reasons"][0]
    (staged,) = [f["key"] for f in outcome["files"]]
    assert staged.startswith(f"{local_stack.staging_prefix}/table=customers/2025/06/15/15/")
    # AND the record that still fails stays where it was
    assert keys_under(local_stack, local_stack.error_prefix + "/") == [key]

    # WHEN reloading the errors a second time
    rows = query(database, "SELECT * FROM customers")
    ledger = query(database, "SELECT s3_key, load_count FROM _ddbload_ledger ORDER BY s3_key")
    code, again = invoke_json(runner, "--errors", "--yes")
    # THEN the same object is written again, already loaded, and nothing changes
    assert code == 3 and [f["status"] for f in again["outcomes"][0]["files"]] == ["skipped"]
    assert again["outcomes"][0]["files"][0]["key"] == staged
    assert query(database, "SELECT * FROM customers") == rows
    assert query(database, "SELECT s3_key, load_count FROM _ddbload_ledger ORDER BY s3_key") == (
        ledger
    )


def test_a_quarantined_file_reloads_by_its_key_once_replaced(
    runner: CliRunner, local_stack, database: str
) -> None:
    # GIVEN a staging object that was unreadable and got quarantined whole
    name = "table=customers/2025/06/15/15/bad.gz"
    key = f"{local_stack.staging_prefix}/{name}"
    s3 = aws.client("s3", local_stack.endpoint)
    s3.put_object(Bucket=local_stack.bucket, Key=key, Body=b"\x1f\x8b not really gzip")
    first = runner.invoke(app, ["reload", "--local", "--prefix", name, "--yes"])
    assert first.exit_code == 0, first.output
    assert any(k.endswith(".reason.json") for k in keys_under(local_stack, "quarantine"))
    # AND then the object replaced by a good one
    put_staging(local_stack, name, [change("d", T0), change("e", T0 + 1)])

    # WHEN reloading the errors
    code, done = invoke_json(runner, "--errors", "--yes")

    # THEN the file loads by its own key and leaves the quarantine
    assert code == 0 and done["resolved"] == 1, done
    (outcome,) = done["outcomes"]
    assert outcome["kind"] == "quarantined-file" and outcome["files"][0]["key"] == key
    assert query(database, "SELECT id FROM customers ORDER BY id") == [("d",), ("e",)]
    assert keys_under(local_stack, local_stack.quarantine_prefix + "/") == []


def test_reload_needs_a_prefix_or_errors(runner: CliRunner, local_stack) -> None:
    # WHEN reload gets neither --prefix nor --errors
    result = runner.invoke(app, ["reload", "--local", "--yes"])
    # THEN one sentence and exit 1
    assert result.exit_code == 1 and "--errors" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_reload_errors_with_nothing_to_do_says_so(runner: CliRunner, local_stack) -> None:
    # WHEN nothing failed
    result = runner.invoke(app, ["reload", "--local", "--errors", "--yes"])
    # THEN the plan is empty and nothing happens
    assert result.exit_code == 0, result.output
    assert "nothing to reload" in result.stdout


def test_quarantined_rows_stay_while_the_cause_is_not_fixed(
    runner: CliRunner, local_stack, database: str
) -> None:
    # GIVEN a quarantined row whose cause (status too long) is still there
    put_staging(
        local_stack,
        "table=orders/2025/06/15/15/o.gz",
        [order("a", T0, "shipped"), order("b", T0 + 1, "x" * 40)],
    )
    assert (
        runner.invoke(app, ["reload", "--local", "--prefix", "table=orders/", "--yes"]).exit_code
        == 0
    )
    quarantine = local_stack.quarantine_prefix + "/"
    (held,) = keys_under(local_stack, quarantine)

    # WHEN reloading the errors
    code, done = invoke_json(runner, "--errors", "--yes")

    # THEN the row is still quarantined, in the same object, with its reason; exit 3
    assert code == 3 and done["remaining"] == 1 and done["resolved"] == 0, done
    assert "status" in done["outcomes"][0]["reasons"][0]
    assert keys_under(local_stack, quarantine) == [held]
    assert query(database, "SELECT pk FROM orders") == [("a",)]
