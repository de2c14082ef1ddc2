"""The loader's per-table figures: freshness and latency after each scheduled run, as EMF.

S3 is moto, MariaDB real; the clock the figures use is set by the test
(``freshness.now_us``), so every asserted number follows from known times.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from moto import mock_aws

from contract import names
from contract.config import parse_config
from loaders import freshness, handler, ledger
from loaders.engine import load_refs
from loaders.jobs import JobResult, ObjectRef, State
from tests.loaders.aws import make_pipeline
from tests.loaders.builders import T0, change, gz, staging_key
from tests.loaders.test_handler import Context, url
from tests.loaders.test_handler_failures import emf_problems, printed, use

HOUR = datetime.now(UTC).strftime("%Y/%m/%d/%H")
CONFIG = parse_config(
    {
        "tables": {
            "orders": {"partition_key": {"name": "pk"}},
            "idle": {"partition_key": {"name": "pk"}},
        }
    }
)
SECOND = 1_000_000


@pytest.fixture
def pipeline(aws_env):
    with mock_aws():
        yield make_pipeline(config=CONFIG)


def put(pipeline, table: str, name: str, offsets_s: list[int]) -> ObjectRef:
    """A staging object of ``table`` with one change at T0 + each offset (seconds)."""
    key = staging_key(table, name, hour=HOUR)
    lines = [change(table, {"pk": {"S": f"{name}{i}"}}, {"v": {"N": "1"}}, o * SECOND)
             for i, o in enumerate(offsets_s)]  # fmt: skip
    pipeline.put(key, gz(lines))
    etag = pipeline.s3.head_object(Bucket=pipeline.bucket, Key=key)["ETag"].strip('"')
    return ObjectRef(key, etag, 0)


def committed_at_us(admin, key: str) -> int:
    (row,) = ledger.ledger_rows(admin, [key])
    assert row.committed_at is not None
    return int(row.committed_at.replace(tzinfo=UTC).timestamp() * SECOND)


def test_a_run_reports_pending_age_and_the_latency_of_what_it_committed(
    pipeline, database, conn, admin
):
    # GIVEN one file loaded by the run, and one the run deferred (its oldest change at
    # T0 - 45 s, not its first line)
    settings = pipeline.settings(url(database))
    loaded = put(pipeline, "orders", "a", [-20, -30, -10])
    report = load_refs(conn, pipeline.s3, settings, [loaded])
    deferred = put(pipeline, "orders", "b", [-41, -45, -40])
    report.results.append(JobResult(deferred.key, deferred.etag, "orders", State.DEFERRED.value))
    # WHEN the run's figures are taken at T0 + 100 s, for the tables it covered
    now = T0 + 100 * SECOND
    figures = freshness.run_figures(
        conn, pipeline.s3, pipeline.bucket, ["orders", "idle"], report, now
    )
    # THEN orders is as stale as the deferred file's oldest change, and its latency is
    # the loaded file's commit time minus its median and oldest change
    at = committed_at_us(admin, loaded.key)
    assert figures["orders"] == {
        "freshness_seconds": 145.0,
        "latency_p50_seconds": round((at - (T0 - 20 * SECOND)) / SECOND, 3),
        "latency_max_seconds": round((at - (T0 - 30 * SECOND)) / SECOND, 3),
        "committed_files": 1,
    }
    # AND the idle table reads 0 with no latency
    assert figures["idle"] == {
        "freshness_seconds": 0.0,
        "latency_p50_seconds": None,
        "latency_max_seconds": None,
        "committed_files": 0,
    }


def test_a_late_old_file_committed_by_the_run_leaves_freshness_at_zero(
    pipeline, database, conn, admin
):
    # GIVEN a table caught up to T0 - 10 s, then a late file of changes an hour older
    settings = pipeline.settings(url(database))
    load_refs(conn, pipeline.s3, settings, [put(pipeline, "orders", "new", [-10])])
    late = put(pipeline, "orders", "late", [-3600, -3599])
    # WHEN a run loads the late file
    report = load_refs(conn, pipeline.s3, settings, [late])
    figures = freshness.run_figures(
        conn, pipeline.s3, pipeline.bucket, ["orders"], report, T0 + 600 * SECOND
    )
    # THEN nothing is pending: freshness stays 0 (not the late changes' age), and their
    # wait shows as this run's maximum latency
    assert figures["orders"]["freshness_seconds"] == 0
    at = committed_at_us(admin, late.key)
    assert figures["orders"]["latency_max_seconds"] == round(
        (at - (T0 - 3600 * SECOND)) / SECOND, 3
    )


def test_each_table_gets_its_own_emf_document():
    summary = {
        "tables": {
            "orders": {"freshness_seconds": 12.5, "latency_p50_seconds": 3.0,
                       "latency_max_seconds": 9.25, "committed_files": 2},
            "idle": {"freshness_seconds": 0.0, "latency_p50_seconds": None,
                     "latency_max_seconds": None, "committed_files": 0},
        }
    }  # fmt: skip
    docs = handler.table_metrics_documents(summary, "ns", "fn", now_ms=1_700_000_000_000)
    assert [emf_problems(d) for d in docs] == [[], []]
    idle, orders = docs
    for doc, table in ((idle, "idle"), (orders, "orders")):
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Dimensions"] == [[names.METRIC_DIMENSION, names.METRIC_TABLE_DIMENSION]]
        assert (doc[names.METRIC_DIMENSION], doc[names.METRIC_TABLE_DIMENSION]) == ("fn", table)
        assert {m["Unit"] for m in directive["Metrics"]} == {"Seconds"}
    # latency only where the run committed something: no invented zeros
    assert [m["Name"] for m in idle["_aws"]["CloudWatchMetrics"][0]["Metrics"]] == [
        names.METRIC_FRESHNESS
    ]
    assert (
        orders["FreshnessSeconds"],
        orders["LatencyP50Seconds"],
        orders["LatencyMaxSeconds"],
    ) == (
        12.5,
        3.0,
        9.25,
    )


def test_a_scheduled_run_in_lambda_prints_freshness_per_table(
    pipeline, database, monkeypatch, capsys
):
    # GIVEN one staged orders file, the loader in Lambda, and its figures' clock set
    use(pipeline, url(database), monkeypatch)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "ddbload-loader-test")
    monkeypatch.setattr(freshness, "now_us", lambda: T0 + 3600 * SECOND)
    put(pipeline, "orders", "a", [-20, -10])
    # WHEN the scheduler runs it
    summary = handler.handler({"source": "ddbload.schedule"}, Context(600_000))
    # THEN every configured table gets a freshness document: 0, nothing is left pending,
    # and orders also its latency (the run committed its file)
    docs = {d.get("Table"): d for d in printed(capsys) if "_aws" in d and "Table" in d}
    assert sorted(docs) == ["idle", "orders"]
    assert {t: d["FreshnessSeconds"] for t, d in docs.items()} == {"idle": 0.0, "orders": 0.0}
    assert "LatencyMaxSeconds" in docs["orders"] and "LatencyMaxSeconds" not in docs["idle"]
    assert summary["tables"]["orders"]["committed_files"] == 1
