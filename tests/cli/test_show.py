"""`ddbload inspect --show KEY` and `inspect --errors`: what one object holds, what failed."""

from __future__ import annotations

import gzip
import json

import orjson
from typer.testing import CliRunner

from cli.main import app
from loaders.quarantine import S3Quarantine
from localmode import aws
from tests.cli.conftest import change, put_staging
from tests.cli.deployed import deploy, outputs_of


def test_show_prints_the_decoded_records_in_order(runner: CliRunner, local_stack) -> None:
    # GIVEN an object with an insert, a change with awkward text, and a delete
    lines = [
        change("a", 1_750_000_000_000_001, op="INSERT"),
        change("b", 1_750_000_000_000_002, item='{"id":"b","note":"tab\\there \\"q\\" 😀"}'),
        change("a", 1_750_000_000_000_003, op="REMOVE"),
    ]
    key = put_staging(local_stack, "table=customers/2025/06/15/15/f.gz", lines)
    # WHEN showing it as JSON
    result = runner.invoke(app, ["inspect", "--local", "--show", key, "--json"])
    # THEN every record comes back as written, in order
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["key"] == key and doc["records"] == 3
    assert [(r["op"], r["key"], r["item"], r["version_us"]) for r in doc["rows"]] == [
        (line.op, line.key, line.item, line.version_us) for line in lines
    ]
    assert doc["rows"][0]["version"] == "2025-06-15T15:06:40.000+00:00"


def test_show_limit_and_table_output(runner: CliRunner, local_stack) -> None:
    lines = [change(f"k{i}", 1_750_000_000_000_000 + i) for i in range(5)]
    key = put_staging(local_stack, "table=customers/2025/06/15/15/g.gz", lines)
    # WHEN showing two records as a table, by s3:// URL
    result = runner.invoke(
        app, ["inspect", "--local", "--show", f"s3://{local_stack.bucket}/{key}", "--limit", "2"]
    )
    # THEN the table holds the first two keys and says how many there are
    assert result.exit_code == 0, result.output
    assert '{"id":"k0"}' in result.stdout and '{"id":"k1"}' in result.stdout
    assert '{"id":"k2"}' not in result.stdout
    assert "2 of 5 records" in result.stdout


def test_show_works_the_same_against_a_deployed_stack(
    runner: CliRunner, local_stack, monkeypatch
) -> None:
    # GIVEN a CloudFormation stack whose outputs name the pipeline
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_stack.endpoint)
    deploy(local_stack, "ddbload-test", outputs_of(local_stack))
    key = put_staging(local_stack, "table=customers/2025/06/15/15/h.gz", [change("x", 7)])
    # WHEN showing the object by stack name (also through DDBLOAD_STACK)
    by_flag = runner.invoke(app, ["inspect", "--stack", "ddbload-test", "--show", key, "--json"])
    monkeypatch.setenv("DDBLOAD_STACK", "ddbload-test")
    by_env = runner.invoke(app, ["inspect", "--show", key, "--json"])
    local = runner.invoke(app, ["inspect", "--local", "--show", key, "--json"])
    # THEN both see what local mode sees
    assert by_flag.exit_code == 0, by_flag.output
    assert by_flag.stdout == by_env.stdout == local.stdout
    assert json.loads(by_flag.stdout)["rows"][0]["key"] == '{"id":"x"}'


def test_errors_lists_processing_failures_and_quarantine_with_reasons(
    runner: CliRunner, local_stack
) -> None:
    s3 = aws.client("s3", local_stack.endpoint)
    # GIVEN a Firehose processing-failed object (Firehose's documented record shape) ...
    failed = [
        {
            "attemptsMade": 1,
            "arrivalTimestamp": 1_750_000_000_000,
            "errorCode": "Lambda.ProcessingFailed",
            "errorMessage": "Keys must be a non-empty object",
            "attemptEndingTimestamp": 1_750_000_000_500,
            "rawData": "e30=",
            "lambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:t:$LATEST",
        }
    ] * 2
    error_key = f"{local_stack.error_prefix}/processing-failed/2025/06/15/15/x.gz"
    s3.put_object(
        Bucket=local_stack.bucket,
        Key=error_key,
        Body=gzip.compress(b"".join(orjson.dumps(r) + b"\n" for r in failed)),
    )
    # ... and what the loader quarantines, written by its own quarantine writer
    quarantine = S3Quarantine(s3, local_stack.bucket, local_stack.quarantine_prefix)
    bad_rows = f"{local_stack.staging_prefix}/table=orders/2025/06/15/15/y.gz"
    quarantine.put_rows(
        bad_rows,
        [{"key": '{"pk":"1"}', "_reason": "total does not fit DECIMAL(38,4)"}] * 3,
    )
    bad_file = f"{local_stack.staging_prefix}/table=orders/2025/06/15/15/z.gz"
    quarantine.put_file(bad_file, b"garbage", "not gzip: the file is damaged")
    # WHEN listing errors
    result = runner.invoke(app, ["inspect", "--local", "--errors", "--json"])
    # THEN both appear with counts and distinct reasons
    assert result.exit_code == 0, result.output
    found = {e["key"]: e for e in json.loads(result.stdout)}
    assert found[error_key]["kind"] == "processing-failed"
    assert found[error_key]["records"] == 2
    assert found[error_key]["reasons"] == [
        "Lambda.ProcessingFailed Keys must be a non-empty object"
    ]
    assert found[bad_rows]["kind"] == "quarantined-rows"
    assert found[bad_rows]["records"] == 3
    assert found[bad_rows]["reasons"] == ["total does not fit DECIMAL(38,4)"]
    assert found[bad_file]["kind"] == "quarantined-file"
    assert found[bad_file]["reasons"] == ["not gzip: the file is damaged"]
    assert len(found) == 3
