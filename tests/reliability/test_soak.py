"""A bounded soak (``make reliability`` only): steady changes for a few minutes, then drain."""

from __future__ import annotations

import os

import pytest

from reliability.checks import measure
from reliability.scenario import mariadb_url, scenario
from reliability.soak import soak
from tests.conftest import mariadb_params

pytestmark = [pytest.mark.reliability, pytest.mark.xdist_group("reliability-soak")]
SECONDS = float(os.environ.get("DDBLOAD_SOAK_SECONDS", "150"))


def test_steady_change_stream_for_a_few_minutes(tmp_path, database, record):
    with scenario(tmp_path, bursts=0) as s:
        # Firehose buffers for 8 s: objects appear every other tick, as in production
        s.hose.buffer_seconds = 8
        # GIVEN a steady stream of changes; WHEN the pipeline runs for SECONDS
        result = soak(
            s, mariadb_url(mariadb_params()["port"], database), mariadb_params(database),
            seconds=SECONDS,
        )  # fmt: skip
        outcome = measure(s, mariadb_params(database))
    samples = result.samples
    third = max(1, len(samples) // 3)
    early = max(x["rss_mib"] for x in samples[:third])
    late = max(x["rss_mib"] for x in samples[-third:])
    # THEN the backlog drained, nothing is lost or doubled, and every change committed
    # has its end-to-end latency measured
    assert samples[-1]["behind"] == 0
    assert outcome.ok, outcome.problems
    latency = result.latency
    assert latency is not None and latency.changes == outcome.records
    record(
        f"soak ({SECONDS:.0f} s steady change stream)",
        f"{result.bursts} bursts of changes every 4 s through the local pipeline (Firehose "
        f"buffer 8 s), one scheduled run per burst, {result.runs} runs in all",
        f"{samples[-1]['written']} changes; max lag {max(x['lag'] for x in samples):.1f} s; "
        f"max objects behind {max(x['behind'] for x in samples)}; RSS first third max "
        f"{early:.0f} MiB, last third max {late:.0f} MiB; verify {outcome.differences} "
        f"differences; end-to-end latency of {latency.changes} changes p50 "
        f"{latency.p50_seconds:.2f} s, p99 {latency.p99_seconds:.2f} s, max "
        f"{latency.max_seconds:.2f} s (the defaults promise at most {result.bound_seconds} s: "
        "transform buffer + 1.5 x Firehose buffer + schedule period + loader timeout)",
        outcome,
        samples=samples[:: max(1, len(samples) // 20)] + samples[-1:],
        latency=latency.as_dict(),
        latency_bound_seconds=result.bound_seconds,
    )
