"""Latency measured change by change (the demo's and the soak's figure), from known times."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from ops.latency import distribution, measure
from tests.ops.world import BUCKET


def test_percentiles_are_measured_values_and_buckets_count_each_change() -> None:
    # GIVEN 100 latencies 0.1 .. 10.0 s
    found = distribution(np.arange(1, 101) / 10, files=3)
    assert found is not None
    # THEN each percentile is one of them (nearest lower rank), and the buckets add up
    assert (found.p50_seconds, found.p90_seconds, found.p99_seconds, found.max_seconds) == (
        5.0, 9.0, 9.9, 10.0
    )  # fmt: skip
    assert sum(b["changes"] for b in found.histogram) == 100 == found.changes
    assert found.histogram[0] == {"gt": 0, "le": 0.25, "changes": 2}
    assert found.histogram[-1] == {"gt": 7.5, "le": 10, "changes": 25}
    assert distribution(np.array([]), files=0) is None


def test_every_committed_change_counts_with_its_own_wait(world, now) -> None:
    # GIVEN a file committed at `now` holding changes 1, 2 and 4 s old, and a pending file
    changes = [now - timedelta(seconds=s) for s in (1, 2, 4)]
    committed = world.stage("orders", "c", changes)
    world.commit("orders", committed, changes, now)
    pending = world.stage("orders", "p", [now - timedelta(seconds=9)])
    # WHEN the latency is measured over both
    found = measure(world.conn, world.s3, BUCKET, [committed[0], pending[0]])
    # THEN only the committed changes count, each with its own wait
    assert found is not None
    assert (found.changes, found.files, found.p50_seconds, found.max_seconds) == (3, 1, 2.0, 4.0)
