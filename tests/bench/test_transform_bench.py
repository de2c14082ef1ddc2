"""Smoke test of the transform benchmark on a small event, so the bench cannot rot."""

from __future__ import annotations

import base64
import json

from bench import transform_bench
from transforms.handler import handler


def test_bench_events_carry_old_images_as_dynamodb_sends_them():
    # GIVEN a small generated Firehose event
    event = transform_bench.firehose_event(64 * 1024)
    changes = [json.loads(base64.b64decode(r["data"])) for r in event["records"]]
    # THEN MODIFY carries both images, REMOVE the old one only, INSERT the new one only
    ops = {c["eventName"] for c in changes}
    assert ops == {"INSERT", "MODIFY", "REMOVE"}
    for c in changes:
        images = {k for k in ("NewImage", "OldImage") if k in c["dynamodb"]}
        assert (
            images
            == {
                "INSERT": {"NewImage"},
                "MODIFY": {"NewImage", "OldImage"},
                "REMOVE": {"OldImage"},
            }[c["eventName"]]
        )


def test_both_handlers_and_every_stage_run_interleaved_the_same_number_of_times():
    event = transform_bench.firehose_event(32 * 1024)
    n = len(event["records"])
    assert [r["result"] for r in handler(event)["records"]] == ["Ok"] * n
    naive = transform_bench.naive_typedeserializer_handler(event)
    assert [r["recordId"] for r in naive["records"]] == [r["recordId"] for r in event["records"]]
    stages = transform_bench.stage_handlers()
    timings = transform_bench.interleaved_cpu_ms(
        [transform_bench.naive_typedeserializer_handler] + [fn for _, fn in stages], event, 3
    )
    assert [len(t.runs) for t in timings] == [3] * (len(stages) + 1)
    assert all(t.median >= 0 for t in timings)


def test_cold_import_sees_only_the_assets_packages():
    # an isolated interpreter with the bundle's packages alone imports the handler
    # (a requirement missing from the transform bundle would fail here)
    assert transform_bench.cold_import_ms("transforms.handler", 1) > 0
