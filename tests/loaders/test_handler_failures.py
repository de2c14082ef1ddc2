"""Failures the operator must see: EMF metrics per scheduled run, and a raise Lambda counts.

Inside Lambda (``AWS_LAMBDA_FUNCTION_NAME`` set) a scheduled run prints its summary and
an Embedded Metric Format document, and raises when it could not start; actions (the
CLI's reloads) and direct calls return the summary. S3 and SQS are moto, MariaDB real.
"""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from contract.config import parse_config, target_name
from loaders import handler, ledger
from tests.loaders.aws import make_pipeline
from tests.loaders.builders import change, gz, staging_key
from tests.loaders.conftest import fetch
from tests.loaders.test_handler import Context, url

HOUR = datetime.now(UTC).strftime("%Y/%m/%d/%H")
FUNCTION = "ddbload-LoaderFunction-test"
CONFIG = parse_config(
    {
        "tables": {
            "narrow": {
                "partition_key": {"name": "pk"},
                "columns": {"code": {"path": "code", "type": "VARCHAR(3)"}},
            }
        }
    }
)
METRIC_NAMES = {
    handler.METRIC_FILES_LOADED,
    handler.METRIC_FILES_FAILED,
    handler.METRIC_FILES_QUARANTINED,
    handler.METRIC_FILES_PENDING,
    handler.METRIC_ROWS_QUARANTINED,
    handler.METRIC_RUN_FAILED,
    handler.METRIC_TABLES_BUSY,
}


def emf_problems(doc: dict) -> list[str]:
    """What makes ``doc`` an invalid Embedded Metric Format document (the published spec)."""
    problems = []
    meta = doc.get("_aws")
    if not isinstance(meta, dict):
        return ["no _aws object"]
    if not isinstance(meta.get("Timestamp"), int) or meta["Timestamp"] <= 0:
        problems.append("Timestamp is not epoch milliseconds")
    directives = meta.get("CloudWatchMetrics")
    if not isinstance(directives, list) or not directives:
        return [*problems, "no CloudWatchMetrics directives"]
    for d in directives:
        if not isinstance(d.get("Namespace"), str) or not d["Namespace"]:
            problems.append("empty Namespace")
        for dimension_set in d.get("Dimensions", []):
            if not (isinstance(dimension_set, list) and 0 < len(dimension_set) <= 30):
                problems.append(f"bad dimension set {dimension_set!r}")
                continue
            for name in dimension_set:
                if not isinstance(doc.get(name), str) or not doc[name]:
                    problems.append(f"dimension {name} has no string value")
        if not d.get("Metrics"):
            problems.append("no Metrics")
        for metric in d.get("Metrics", []):
            value = doc.get(metric.get("Name"))
            if isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"metric {metric.get('Name')} has no number")
    return problems


def printed(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def metrics_of(docs: list[dict]) -> list[dict]:
    """The run's own EMF documents (the per-table freshness ones carry a Table)."""
    return [d for d in docs if "_aws" in d and handler.METRIC_TABLE_DIMENSION not in d]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def pipeline(aws_env):
    with mock_aws():
        yield make_pipeline(config=CONFIG)


@pytest.fixture
def in_lambda(monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
    monkeypatch.delenv("DDBLOAD_METRICS_NAMESPACE", raising=False)


def use(pipeline, mariadb_url: str, monkeypatch) -> None:
    for name, value in pipeline.env(mariadb_url).items():
        monkeypatch.setenv(name, value)


def test_scheduled_run_emits_metrics_for_loaded_failed_and_quarantined(
    pipeline, database, admin, in_lambda, monkeypatch, capsys
):
    # GIVEN a file with one row too wide for its column, a file for a target the loader
    # must refuse (an extra unique key), and a file that is not gzip
    use(pipeline, url(database), monkeypatch)
    fetch(admin, f"CREATE TABLE `{target_name('refused')}` "
                 "(pk VARCHAR(10) PRIMARY KEY, email VARCHAR(10) UNIQUE, item JSON)")  # fmt: skip
    narrow = staging_key("narrow", "n", hour=HOUR)
    pipeline.put(
        narrow,
        gz([
            change("narrow", {"pk": {"S": "fits"}}, {"code": {"S": "abc"}}, 1),
            change("narrow", {"pk": {"S": "wide"}}, {"code": {"S": "abcd"}}, 1),
        ]),
    )  # fmt: skip
    refused = staging_key("refused", "r", hour=HOUR)
    pipeline.put(refused, gz([change("refused", {"pk": {"S": "a"}}, {}, 1)]))
    corrupt = staging_key("narrow", "c", hour=HOUR)
    pipeline.put(corrupt, b"not gzip at all")
    # WHEN the scheduler runs the loader in Lambda
    summary = handler.handler({"source": "ddbload.schedule"}, Context(600_000))
    # THEN the run returns normally and its one EMF line counts what happened
    docs = printed(capsys)
    [doc] = metrics_of(docs)
    assert emf_problems(doc) == []
    [directive] = doc["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == handler.DEFAULT_METRICS_NAMESPACE
    assert directive["Dimensions"] == [[handler.METRIC_DIMENSION]]
    assert {m["Name"] for m in directive["Metrics"]} == METRIC_NAMES
    assert doc[handler.METRIC_DIMENSION] == FUNCTION
    assert summary["files"] == {"loaded": 1, "failed": 1, "quarantined": 1}
    assert (doc["FilesLoaded"], doc["FilesFailed"], doc["FilesQuarantined"]) == (1, 1, 1)
    assert (doc["RowsQuarantined"], doc["FilesPending"], doc["RunFailed"]) == (1, 0, 0)
    # and the summary line says the same as the returned summary
    assert [d["ddbload_run"] for d in docs if "ddbload_run" in d] == [summary]
    assert [r.status for r in ledger.ledger_rows(admin, [narrow])] == ["loaded"]


def test_scheduled_run_with_unreachable_database_raises_after_reporting(
    pipeline, in_lambda, monkeypatch, capsys
):
    # GIVEN a staged file and a database nobody listens for
    use(pipeline, f"mysql://root@127.0.0.1:{closed_port()}/gone", monkeypatch)
    pipeline.put(staging_key("away", hour=HOUR), gz([change("away", {"pk": {"S": "a"}}, {}, 1)]))
    announced = pipeline.queued()
    # WHEN the scheduler runs the loader in Lambda
    with pytest.raises(handler.RunFailed, match="unreachable"):
        handler.handler({"source": "ddbload.schedule"}, Context(600_000))
    # THEN the summary and the metrics were printed before the raise, and the file is
    # still announced on the queue for the next run (nothing was drained)
    docs = printed(capsys)
    [run] = [d["ddbload_run"] for d in docs if "ddbload_run" in d]
    assert run["status"] == "unreachable" and "files stay pending" in run["error"]
    [doc] = metrics_of(docs)
    assert emf_problems(doc) == [] and doc["RunFailed"] == 1 and doc["FilesLoaded"] == 0
    assert announced >= 1 and pipeline.queued() == announced


def test_reload_action_with_unreachable_database_returns_the_summary(
    pipeline, in_lambda, monkeypatch, capsys
):
    # GIVEN the same unreachable database
    use(pipeline, f"mysql://root@127.0.0.1:{closed_port()}/gone", monkeypatch)
    # WHEN the CLI asks the function for a reload
    answer = handler.handler({"action": "reload", "prefix": "staging/"}, Context(600_000))
    # THEN the CLI gets the summary to show; no scheduled-run metrics are printed
    assert answer["status"] == "unreachable" and "cannot connect" in answer["error"]
    assert metrics_of(printed(capsys)) == []


def test_direct_scheduled_call_outside_lambda_returns_the_summary(pipeline, monkeypatch, capsys):
    # GIVEN no Lambda runtime (tests, local tools) and an unreachable database
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    use(pipeline, f"mysql://root@127.0.0.1:{closed_port()}/gone", monkeypatch)
    # WHEN called directly THEN the summary comes back and nothing is printed
    assert handler.handler({})["status"] == "unreachable"
    assert printed(capsys) == []


@pytest.mark.parametrize(
    "env, sentence",
    [
        ({"DDBLOAD_CONFIG": ""}, "DDBLOAD_CONFIG is not set"),
        ({"DDBLOAD_DB_TLS": "verify", "DDBLOAD_DB_CA_BUNDLE": "/nonexistent/ca.pem"},
         "DDBLOAD_DB_CA_BUNDLE names /nonexistent/ca.pem"),
        ({"DDBLOAD_DB_TLS": "sometimes"}, "DDBLOAD_DB_TLS is 'sometimes'"),
    ],
)  # fmt: skip
def test_scheduled_run_with_bad_settings_raises_naming_the_setting(
    pipeline, in_lambda, monkeypatch, capsys, env, sentence
):
    # GIVEN a deployed environment with one bad setting
    use(pipeline, "mysql://root@127.0.0.1:3306/x", monkeypatch)
    monkeypatch.setenv("DDBLOAD_METRICS_NAMESPACE", "custom-ns")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # WHEN a scheduled run starts THEN it raises with the sentence naming the setting
    with pytest.raises(handler.RunFailed) as caught:
        handler.handler({"source": "ddbload.schedule"}, Context(600_000))
    assert sentence in str(caught.value)
    [doc] = metrics_of(printed(capsys))
    assert doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "custom-ns"
    assert doc["RunFailed"] == 1


counts = st.integers(min_value=0, max_value=10**6)


@given(
    files=st.dictionaries(
        st.sampled_from(["loaded", "failed", "quarantined", "retry", "deferred", "skipped"]),
        counts,
    ),
    rows=counts,
    status=st.sampled_from(["ok", "incomplete", "error", "unreachable"]),
)
def test_metrics_document_is_valid_emf_for_any_summary(files, rows, status):
    summary = {"status": status, "files": files, "rows": {"quarantined": rows}}
    doc = handler.metrics_document(summary, "ns", FUNCTION, now_ms=1_700_000_000_000)
    assert emf_problems(doc) == []
    assert json.loads(json.dumps(doc)) == doc
    assert doc["FilesLoaded"] == files.get("loaded", 0)
    assert doc["FilesFailed"] == files.get("failed", 0)
    assert doc["FilesPending"] == files.get("retry", 0) + files.get("deferred", 0)
    assert doc["RowsQuarantined"] == rows
    assert doc["RunFailed"] == (status in ("error", "unreachable"))
