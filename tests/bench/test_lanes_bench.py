"""Smoke test of the lanes benchmark's code paths on two small tables, so the bench cannot rot.

Both cases (one lane in turn, one lane per table in its own process) run against the
test server and must end in the workload model's state; the entries it records are the
ones ``ops.estimate`` reads. No timing is asserted.
"""

from __future__ import annotations

import pickle
from pathlib import Path

from bench import lanes_bench, measure
from bench.results import Results
from bench.workload import generate
from ops import measured_rates
from tests.conftest import mariadb_params


def test_one_lane_and_a_lane_per_table_both_reach_the_model_state(
    tmp_path: Path, database: str
) -> None:
    # GIVEN two tables' staging objects, pickled for the lane processes
    workloads = [
        generate(1_500, seed=7 + i, table=f"bench_lane_{i}", key_prefix=f"l{i}-",
                 lines_per_object=400)
        for i in range(2)
    ]  # fmt: skip
    paths = []
    for i, w in enumerate(workloads):
        path = tmp_path / f"t{i}.pickle"
        path.write_bytes(pickle.dumps(w.objects))
        paths.append(str(path))
    expected = [measure.expected_state(w.expected) for w in workloads]
    series = {}
    for name, lanes in (
        (lanes_bench.ONE_LANE, [paths]),
        (lanes_bench.FOUR_LANES, [[p] for p in paths]),
    ):
        with measure.scratch_database(mariadb_params(database)) as db:
            # WHEN the case runs
            outcome = lanes_bench.run_case(db, lanes, lanes_bench.server_pid(db["port"]))
            # THEN every target holds the model state, and each lane reported its span
            assert lanes_bench._states(db, workloads) == expected
        assert len(outcome.lane_seconds) == len(lanes) and outcome.seconds > 0
        assert outcome.lanes_cpu > 0 and "CPUs" in outcome.cores()
        outcome.changes = sum(len(w.changes) for w in workloads)
        series[name] = [outcome]
    # AND the entries name the ceiling the way ops.measured_rates looks for it
    results = Results()
    with results.suite(measured_rates.LANES_SUITE):
        lanes_bench._record(results, series, 1_500, "test server", 0.0)
    names = {e.name: e for e in results.entries}
    assert names[lanes_bench.FOUR_LANES].baseline == measured_rates.LANES_ONE_LANE
    ceiling = [e for e in results.entries if "ceiling" in e.name.lower()]
    assert [e.unit for e in ceiling] == ["changes/s"]
