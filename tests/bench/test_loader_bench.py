"""Smoke test of the loader benchmark's code paths on ~2,000 changes, so the bench cannot rot.

Every case must end in the workload model's table state (the comparison the
benchmark's rates rely on). No timing is asserted.
"""

from __future__ import annotations

import pymysql
import pytest

from bench import loader_bench, measure
from bench.workload import generate
from tests.conftest import mariadb_params


@pytest.fixture(scope="module")
def workload():
    return generate(2_000, seed=42, lines_per_object=600)


@pytest.mark.parametrize(
    "case",
    [
        loader_bench.case_per_row,
        loader_bench.case_per_row_concurrent,
        loader_bench.case_batched,
    ],
)
def test_each_baseline_ends_in_the_model_state(database, workload, case):
    # GIVEN the benchmark workload and an empty database
    params = mariadb_params(database)
    # WHEN a baseline writes the changes
    outcome = case(params, workload)
    # THEN its table holds exactly the model's rows, and the connections were counted
    assert outcome.state == measure.expected_state(workload.expected)
    assert outcome.connections == (8 if case is loader_bench.case_per_row_concurrent else 1)


def test_raw_load_lands_every_change(database, workload):
    # GIVEN the ceiling case's prepared file
    # WHEN it is loaded with LOAD DATA (warnings would raise)
    outcome = loader_bench.case_raw_load(mariadb_params(database), workload)
    # THEN every change is a row
    assert outcome.state.rows == len(workload.changes) == outcome.detail["loaded"]


def test_the_state_checksum_sees_one_changed_row(database, workload):
    # GIVEN a baseline table in the model state
    params = mariadb_params(database)
    loader_bench.case_batched(params, workload)
    want = measure.expected_state(workload.expected)
    conn = pymysql.connect(**params)
    try:
        # WHEN one row's item changes by one character
        with conn.cursor() as cur:
            cur.execute("UPDATE batched SET item = REPLACE(item, '\"gift\"', '\"Gift\"') LIMIT 1")
        # THEN the state differs from the model
        assert measure.table_state(conn, "batched", "id", "item") != want
    finally:
        conn.close()
