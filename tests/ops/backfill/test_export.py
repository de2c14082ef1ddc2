"""Export path: a finished DynamoDB export (DYNAMODB_JSON, AWS's documented layout) -> staging lines."""

from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract import staging, values
from contract.config import parse_config
from ops import backfill
from ops.backfill_store import Store
from tests.ops.backfill.conftest import FailingS3, PutFailure, make_table, sample_item, write_export
from tests.strategies import keyed_items

CONFIG = parse_config({})
EXPORT_TIME_US = 1_709_287_200_000_000  # 2024-03-01T10:00:00Z


@pytest.mark.parametrize("keys_from_bucket_root", [True, False])
def test_export_lines_carry_export_time_and_every_item(aws, keys_from_bucket_root):
    # GIVEN a table and a finished export of it in three data files, one of them empty
    make_table(aws.ddb, "orders-ex")
    files = [[sample_item(i) for i in range(0, 7)], [], [sample_item(i) for i in range(7, 20)]]
    uri = write_export(
        aws.s3, aws.bucket, "exports/orders", "orders-ex", files,
        keys_from_bucket_root=keys_from_bucket_root,
    )  # fmt: skip

    # WHEN it is backfilled from the export, in 5-item pages, with a 10 s margin
    result = backfill.run(
        aws.ddb, aws.s3, aws.store, CONFIG, "orders-ex",
        backfill.Options(export=uri, page_items=5, margin_s=10),
    )  # fmt: skip

    # THEN every exported item is one line, exactly, at exportTime - margin
    lines = aws.lines(result.keys)
    expected = {staging.key_text({"pk": i["pk"]})[0]: i for f in files for i in f}
    assert sorted(line.key for line in lines) == sorted(expected)
    assert all(line.typed_item() == expected[line.key] for line in lines)
    assert result.version_us == EXPORT_TIME_US - 10_000_000
    assert {line.version_us for line in lines} == {result.version_us}
    assert result.source == "export"
    assert result.items == 20


def test_export_uri_may_name_the_prefix_above_the_export(aws):
    # GIVEN one export under a prefix chosen at export time
    make_table(aws.ddb, "prefix-ex")
    write_export(aws.s3, aws.bucket, "exports/p", "prefix-ex", [[sample_item(1)]])
    # WHEN --export names that prefix, not the export's own directory
    result = backfill.run(
        aws.ddb, aws.s3, aws.store, CONFIG, "prefix-ex",
        backfill.Options(export=f"s3://{aws.bucket}/exports/p"),
    )  # fmt: skip
    # THEN the one export under it is found and read
    assert result.items == 1


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(keyed_items({"pk": "S", "sk": "N"}), min_size=1, max_size=12))
def test_any_exported_item_round_trips(aws, records):
    # GIVEN any items (nasty strings, 38-digit numbers, binary, sets, nesting) in an export
    make_table_once(aws, "prop-ex", {"pk": "S", "sk": "N"})
    by_key = {staging.key_text(keys)[0]: item for keys, item in records}
    uri = write_export(aws.s3, aws.bucket, "exports/prop", "prop-ex", [list(by_key.values())])
    # WHEN backfilled from it under a fresh run
    result = backfill.run(
        aws.ddb, aws.s3, aws.store, CONFIG, "prop-ex",
        backfill.Options(export=uri, resume=False, page_items=4),
    )  # fmt: skip
    # THEN each line rebuilds its item: the same plain JSON and type map as the transform makes
    lines = aws.lines(result.keys)
    assert sorted(line.key for line in lines) == sorted(by_key)
    for line in lines:
        plain, types = values.to_plain(by_key[line.key])
        assert line.item == plain.decode()
        assert json.loads(line.item_types or "{}") == types


def make_table_once(aws, name, keys):
    if name not in aws.ddb.list_tables()["TableNames"]:
        make_table(aws.ddb, name, keys)


def test_export_resume_skips_consumed_lines(aws):
    # GIVEN an export of 30 items in one file, and a run whose third page write fails
    make_table(aws.ddb, "resume-ex")
    uri = write_export(
        aws.s3, aws.bucket, "exports/r", "resume-ex", [[sample_item(i) for i in range(30)]]
    )
    options = backfill.Options(export=uri, page_items=5, run_id="ex-run-1")
    failing = Store(FailingS3(aws.s3, fail_at=3), aws.bucket, "staging")
    with pytest.raises(PutFailure):
        backfill.run(aws.ddb, aws.s3, failing, CONFIG, "resume-ex", options)
    assert len(aws.objects("staging/")) == 2
    # WHEN the same run is started again
    result = backfill.run(aws.ddb, aws.s3, aws.store, CONFIG, "resume-ex", options)
    # THEN it writes only the 4 remaining pages, and the run holds every item once
    assert result.resumed
    assert result.pages_written == 4
    lines = aws.lines(result.keys)
    assert len(lines) == 30 == len({line.key for line in lines})


def test_gzip_body_of_data_file_is_read_line_by_line(aws):
    # GIVEN an export whose data file has blank lines between items (tolerated)
    make_table(aws.ddb, "blank-ex")
    uri = write_export(aws.s3, aws.bucket, "exports/b", "blank-ex", [[sample_item(1)]])
    data_key = next(k for k in aws.objects("exports/b") if "/data/" in k)
    body = b"\n" + json.dumps({"Item": sample_item(2)}).encode() + b"\n\n"
    aws.s3.put_object(Bucket=aws.bucket, Key=data_key, Body=gzip.compress(body))
    # WHEN backfilled
    result = backfill.run(
        aws.ddb, aws.s3, aws.store, CONFIG, "blank-ex", backfill.Options(export=uri)
    )
    # THEN the one item is read
    assert [line.key for line in aws.lines(result.keys)] == ['{"pk":"item-00002"}']
