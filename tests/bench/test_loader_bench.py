"""Smoke test of the loader benchmark's code paths on ~2,000 changes, so the bench cannot rot.

The suite itself checks that every case ends in the workload model's table
state (the comparison its rates rely on) and raises otherwise; these tests
run it small and check that the check can fail. No timing is asserted.
"""

from __future__ import annotations

from contextlib import contextmanager

import pymysql
import pytest

from bench import loader_bench, loader_cases, measure
from bench.results import Results
from bench.workload import generate
from tests.conftest import mariadb_params


@pytest.fixture(scope="module")
def workload():
    return generate(2_000, seed=42, lines_per_object=600)


def test_the_state_checksum_sees_one_changed_row(database, workload):
    # GIVEN a baseline table in the model state
    params = mariadb_params(database)
    loader_cases.case_batched(params, workload)
    want = measure.expected_state(workload.expected)
    conn = pymysql.connect(**params)
    try:
        assert measure.table_state(conn, "batched", "id", "item") == want
        # WHEN one row's item changes by one character
        with conn.cursor() as cur:
            cur.execute("UPDATE batched SET item = REPLACE(item, '\"gift\"', '\"Gift\"') LIMIT 1")
        # THEN the state differs from the model
        assert measure.table_state(conn, "batched", "id", "item") != want
    finally:
        conn.close()


def test_a_baseline_stopped_by_its_budget_checks_the_prefix_it_applied(database, workload):
    # GIVEN 8 per-row writers with a budget far too short for 2,000 changes
    params = mariadb_params(database)
    # WHEN they run
    outcome = loader_cases.case_per_row_concurrent(params, workload, budget_s=0.2)
    # THEN what they applied (a prefix of each shard) is exactly what the table holds
    assert outcome.state == outcome.expected
    assert outcome.connections == 8
    assert outcome.detail["whole"] == (outcome.changes == len(workload.changes))


def test_run_suite_records_every_case_with_ratios(database):
    # GIVEN the suite at smoke size, each case in the fixture database emptied first
    params = mariadb_params(database)

    @contextmanager
    def emptied():
        conn = pymysql.connect(**params)
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW TABLES")
                for (table,) in cur.fetchall():
                    cur.execute(f"DROP TABLE `{table}`")
        finally:
            conn.close()
        yield params

    results = Results()
    workload = generate(2_000, seed=42, lines_per_object=600)
    prefill = generate(1_000, seed=7, mix=(1.0, 0.0, 0.0, 0.0), staged=False)
    # WHEN it runs two interleaved rounds
    budgets = {"per-row": 3.0, "per-row-8": 3.0, "batched": 3.0}
    loader_bench.run_suite(
        results, [workload], prefill=prefill, databases=emptied, budgets_s=budgets, rounds=2
    )
    # THEN it finished: every case ended in the model state (it raises otherwise)
    # AND every case and comparison is there, each ratio against a recorded baseline
    names = {e.name for e in results.entries}
    for expected in (
        "2k ceiling: deduplicated winners, keyed",
        "2k raw LOAD DATA, no merge (unkeyed ceiling, reference)",
        "2k per-row autocommit, 1 connection",
        "2k per-row autocommit, 8 connections",
        "2k batched executemany, 1000/txn",
        "2k loader (gzip bytes -> COMMIT)",
        "2k loader vs ceiling: deduplicated winners, keyed",
        "2k loader vs per-row autocommit, 1 connection",
        "2k loader vs per-row autocommit, 8 connections",
        "2k loader vs batched executemany, 1000/txn",
        "2k loader connections",
        "2k loader peak memory (RSS growth)",
        "2k loader into a 1k-row table",
    ):
        assert expected in names
    for entry in results.entries:
        if entry.baseline is not None:
            assert entry.baseline in names and entry.ratio is not None and entry.ratio > 0
    assert results.get("2k loader connections").value == 1
    # AND the paired comparisons say how many rounds they paired
    assert "2 interleaved rounds" in (
        results.get("2k loader vs batched executemany, 1000/txn").note or ""
    )


def test_the_ceiling_holds_the_loaders_end_state(database, workload, tmp_path):
    # GIVEN the fair ceiling's files for the workload
    params = mariadb_params(database)
    files = loader_cases.winner_files(workload.changes, tmp_path, "w")
    # WHEN they load into the loader's target shape
    outcome = loader_cases.case_ceiling(params, workload, files)
    # THEN the target holds exactly the model's rows, and a tombstone per deleted key
    assert outcome.state == measure.expected_state(workload.expected)
    deleted = {c.key for c in workload.changes if c.item is None}
    assert outcome.detail["tombstones"] == len(deleted) == files.deleted > 0
