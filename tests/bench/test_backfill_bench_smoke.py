"""Smoke test of the backfill benchmark on a few hundred items, so it cannot rot.

The suite checks every case's MariaDB state against DynamoDB (once through
``ops.verify``, then by table checksum) and raises otherwise. No timing is asserted.
"""

from __future__ import annotations

from bench import backfill_bench
from bench.loader_cases import server_params
from bench.results import Results


def test_backfill_bench_records_every_case(aws_env):
    # GIVEN the benchmark at smoke size
    results = Results()
    # WHEN it runs (each case checked against DynamoDB inside the suite)
    backfill_bench.run_size(results, 300, server_params())
    # THEN every case is recorded, the compared ones with a ratio to the loader's own rate
    names = [e.name for e in results.entries]
    assert len(names) == 6 and all(n.startswith("backfill 300: ") for n in names)
    assert all(e.value > 0 for e in results.entries)
    compared = [e for e in results.entries if e.baseline]
    assert {e.baseline for e in compared} == {"backfill 300: loader on streamed INSERT objects"}
    assert all(e.ratio and e.ratio > 0 for e in compared)
