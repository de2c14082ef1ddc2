"""Bad input: one clear sentence, and nothing written (no staging object, no checkpoint)."""

from __future__ import annotations

import gzip
import json

import pytest

from contract.config import parse_config
from ops import backfill
from ops.backfill import BackfillError
from tests.ops.backfill.conftest import make_table, put_items, sample_item, write_export

CONFIG = parse_config({})


def run(aws, table, config=CONFIG, **options):
    return backfill.run(aws.ddb, aws.s3, aws.store, config, table, backfill.Options(**options))


def assert_one_sentence_and_nothing_written(aws, error, *words, before=()):
    message = str(error.value)
    assert message.endswith(".") and "\n" not in message
    for word in words:
        assert word in message
    assert aws.objects("staging/") == [] and aws.objects("backfill/") == []
    assert set(aws.objects()) == set(before)


def test_missing_table(aws):
    # GIVEN no table named ghost WHEN backfilled THEN it says so
    with pytest.raises(BackfillError) as e:
        run(aws, "ghost")
    assert_one_sentence_and_nothing_written(aws, e, "'ghost'", "does not exist")


def test_unmapped_table_with_key_that_is_no_column_name(aws):
    # GIVEN a table with no mapping whose key attribute cannot be a column name
    make_table(aws.ddb, "weird-keys", {"order id": "S"})
    put_items(aws.ddb, "weird-keys", [{"order id": {"S": "1"}}])
    # WHEN backfilled THEN the config's own sentence says how to fix it
    with pytest.raises(BackfillError) as e:
        run(aws, "weird-keys")
    assert_one_sentence_and_nothing_written(aws, e, "'order id'", "column")


def test_declared_key_differs_from_the_table(aws):
    # GIVEN a mapping that declares another key than the table has
    make_table(aws.ddb, "orders", {"pk": "S", "sk": "N"})
    config = parse_config({"tables": {"orders": {"partition_key": {"name": "pk", "type": "S"}}}})
    with pytest.raises(BackfillError) as e:
        run(aws, "orders", config)
    assert_one_sentence_and_nothing_written(aws, e, "'orders'", "sort_key")


def test_table_that_streams_nowhere(aws):
    # GIVEN a table with neither a Kinesis destination nor a stream
    make_table(aws.ddb, "quiet", stream=False)
    with pytest.raises(BackfillError) as e:
        run(aws, "quiet")
    assert_one_sentence_and_nothing_written(aws, e, "'quiet'", "stream")


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"segments": 0}, ["--segments"]),
        ({"rate_items": -1}, ["--rate"]),
        ({"run_id": "../etc"}, ["Run id"]),
        ({"export": "https://example.com/x"}, ["s3://"]),
    ],
)
def test_bad_options(aws, options, words):
    make_table(aws.ddb, "opts")
    with pytest.raises(BackfillError) as e:
        run(aws, "opts", **options)
    assert_one_sentence_and_nothing_written(aws, e, *words)


def export_of(aws, table="orders-ex", **kwargs):
    make_table(aws.ddb, "orders-ex")
    return write_export(
        aws.s3, aws.bucket, "exports/x", table, [[sample_item(i) for i in range(5)]], **kwargs
    )


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"output_format": "ION"}, ["'ION'", "DYNAMODB_JSON"]),
        ({"export_type": "INCREMENTAL_EXPORT"}, ["INCREMENTAL_EXPORT", "FULL_EXPORT"]),
        ({"table": "customers"}, ["customers", "'orders-ex'"]),
        ({"export_time": "yesterday"}, ["exportTime"]),
    ],
)
def test_export_in_an_unexpected_shape(aws, kwargs, words):
    # GIVEN an export that is not a full DYNAMODB_JSON export of this table
    uri = export_of(aws, **kwargs)
    before = aws.objects()
    # WHEN backfilled from it THEN one sentence names the problem, nothing is written
    with pytest.raises(BackfillError) as e:
        run(aws, "orders-ex", export=uri)
    assert_one_sentence_and_nothing_written(aws, e, *words, before=before)


def test_export_with_a_missing_data_file(aws):
    uri = export_of(aws)
    data = next(k for k in aws.objects("exports/") if "/data/" in k)
    aws.s3.delete_object(Bucket=aws.bucket, Key=data)
    before = aws.objects()
    with pytest.raises(BackfillError) as e:
        run(aws, "orders-ex", export=uri)
    assert_one_sentence_and_nothing_written(aws, e, "not in bucket", before=before)


def test_export_whose_data_is_not_dynamodb_json(aws):
    # GIVEN an export whose data file holds plain JSON documents, not {"Item": ...}
    uri = export_of(aws)
    data = next(k for k in aws.objects("exports/") if "/data/" in k)
    body = gzip.compress(json.dumps({"pk": "1"}).encode() + b"\n")
    aws.s3.put_object(Bucket=aws.bucket, Key=data, Body=body)
    before = aws.objects()
    with pytest.raises(BackfillError) as e:
        run(aws, "orders-ex", export=uri)
    assert_one_sentence_and_nothing_written(aws, e, "Line 1", "DYNAMODB_JSON", before=before)


def test_export_data_file_not_gzip(aws):
    uri = export_of(aws)
    data = next(k for k in aws.objects("exports/") if "/data/" in k)
    aws.s3.put_object(Bucket=aws.bucket, Key=data, Body=b'{"Item": {}}\n')
    before = aws.objects()
    with pytest.raises(BackfillError) as e:
        run(aws, "orders-ex", export=uri)
    assert_one_sentence_and_nothing_written(aws, e, "not gzip", before=before)


def test_export_counts_that_disagree(aws):
    # GIVEN a summary that counts more items than the data files list (an unfinished copy)
    uri = export_of(aws)
    key = next(k for k in aws.objects("exports/") if k.endswith("manifest-summary.json"))
    summary = json.loads(aws.s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read())
    summary["itemCount"] = 99
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=json.dumps(summary).encode())
    before = aws.objects()
    with pytest.raises(BackfillError) as e:
        run(aws, "orders-ex", export=uri)
    assert_one_sentence_and_nothing_written(aws, e, "incomplete", "99", before=before)


def test_prefix_without_an_export(aws):
    make_table(aws.ddb, "orders-ex")
    with pytest.raises(BackfillError) as e:
        run(aws, "orders-ex", export=f"s3://{aws.bucket}/nothing/here")
    assert_one_sentence_and_nothing_written(aws, e, "manifest-summary.json")


def test_prefix_with_two_exports(aws):
    export_of(aws)
    write_export(aws.s3, aws.bucket, "exports/x", "orders-ex", [[sample_item(9)]])
    before = aws.objects()
    with pytest.raises(BackfillError) as e:
        run(aws, "orders-ex", export=f"s3://{aws.bucket}/exports/x")
    assert_one_sentence_and_nothing_written(aws, e, "2 exports", before=before)
