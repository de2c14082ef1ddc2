"""Scan path: every item becomes exactly one BACKFILL staging line, exactly, under the staging layout."""

from __future__ import annotations

import base64
import re
import time

import pytest

from contract import staging
from contract.config import parse_config
from ops import backfill
from tests.ops.backfill.conftest import make_table, put_items, sample_item, scan_all

CONFIG = parse_config({})


@pytest.mark.parametrize(("segments", "page_items"), [(1, 1000), (3, 7), (4, 50)])
def test_scan_writes_each_item_once_exactly(aws, segments, page_items):
    # GIVEN a table with 120 items holding every kind of value
    make_table(aws.ddb, "orders-bf")
    put_items(aws.ddb, "orders-bf", [sample_item(i) for i in range(120)])
    expected = scan_all(aws.ddb, "orders-bf")

    # WHEN it is backfilled by parallel scan
    result = backfill.run(
        aws.ddb,
        aws.s3,
        aws.store,
        CONFIG,
        "orders-bf",
        backfill.Options(segments=segments, page_items=page_items, margin_s=60),
    )

    # THEN each item is one line, its typed item is exactly what DynamoDB holds
    lines = aws.lines(result.keys)
    assert sorted(line.key for line in lines) == sorted(expected)
    for line in lines:
        assert line.op == "BACKFILL"
        assert line.seq == ""
        assert line.event_id == f"backfill:{result.run}"
        assert line.version_us == result.version_us
        assert line.typed_item() == expected[line.key]
    # AND the objects follow the staging layout, one per (segment, page)
    pattern = re.compile(
        rf"staging/table=orders-bf/\d{{4}}/\d{{2}}/\d{{2}}/\d{{2}}/"
        rf"backfill-{re.escape(result.run)}-\d{{4}}-\d{{6}}\.gz"
    )
    assert all(pattern.fullmatch(k) for k in result.keys)
    assert result.items == 120
    assert result.pages_written == len(result.keys)
    assert len(result.keys) >= -(-120 // page_items)


def test_version_is_start_minus_margin(aws):
    # GIVEN a table with a few items
    make_table(aws.ddb, "margin-bf")
    put_items(aws.ddb, "margin-bf", [sample_item(i) for i in range(3)])
    before = time.time_ns() // 1000
    # WHEN backfilled with a 90 s margin
    result = backfill.run(
        aws.ddb, aws.s3, aws.store, CONFIG, "margin-bf", backfill.Options(margin_s=90)
    )
    after = time.time_ns() // 1000
    # THEN B lies 90 s before the run's start
    assert before - 90_000_000 <= result.version_us <= after - 90_000_000
    assert {line.version_us for line in aws.lines(result.keys)} == {result.version_us}


def test_composite_numeric_key_is_canonical(aws):
    # GIVEN a table keyed by a string and a number
    make_table(aws.ddb, "composite-bf", {"pk": "S", "sk": "N"})
    put_items(
        aws.ddb,
        "composite-bf",
        [{"pk": {"S": "a"}, "sk": {"N": n}, "v": {"S": n}} for n in ("1.50", "2", "-0.001")],
    )
    # WHEN backfilled
    result = backfill.run(aws.ddb, aws.s3, aws.store, CONFIG, "composite-bf")
    # THEN keys are the contract's canonical key text, the same the transform writes
    keys = {line.key for line in aws.lines(result.keys)}
    expected = {
        staging.key_text({"pk": {"S": "a"}, "sk": {"N": n}})[0] for n in ("1.50", "2", "-0.001")
    }
    assert keys == expected
    assert {line.key_types for line in aws.lines(result.keys)} == {"SN"}


def test_progress_reports_items_and_segments(aws):
    # GIVEN a table with 40 items
    make_table(aws.ddb, "progress-bf")
    put_items(aws.ddb, "progress-bf", [sample_item(i) for i in range(40)])
    seen: list[backfill.BackfillProgress] = []
    # WHEN backfilled in 2 segments of 10-item pages
    backfill.run(
        aws.ddb,
        aws.s3,
        aws.store,
        CONFIG,
        "progress-bf",
        backfill.Options(segments=2, page_items=10),
        progress=seen.append,
    )
    # THEN progress counts up to every item and segment, with a rate
    assert seen[-1].items == 40
    assert seen[-1].segments_done == seen[-1].segments == 2
    assert [p.items for p in seen] == sorted(p.items for p in seen)
    assert seen[-1].items_per_s > 0


def test_binary_key_pages_continue_from_a_binary_checkpoint(aws):
    # GIVEN a table keyed by binary values (one segment: moto cannot split a binary key)
    make_table(aws.ddb, "blobs-bf", {"id": "B"})
    ids = [base64.b64encode(bytes([i, 0, 255, i])).decode() for i in range(23)]
    put_items(
        aws.ddb, "blobs-bf", [{"id": {"B": b}, "v": {"N": str(n)}} for n, b in enumerate(ids)]
    )
    # WHEN backfilled in 5-item pages (each checkpoint holds a binary LastEvaluatedKey)
    result = backfill.run(
        aws.ddb, aws.s3, aws.store, CONFIG, "blobs-bf", backfill.Options(segments=1, page_items=5)
    )
    # THEN every item is read once, with its key as base64 text (the wire form)
    lines = aws.lines(result.keys)
    assert sorted(line.key for line in lines) == sorted(
        staging.key_text({"id": {"B": b}})[0] for b in ids
    )
    assert {line.key_types for line in lines} == {"B"}
    assert len(result.keys) == 5
