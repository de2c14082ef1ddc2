"""Freshness alarms at the objective, and the dashboard's freshness and latency per table."""

from __future__ import annotations

from contract import names
from contract.config import freshness_objective
from tests.stacks.conftest import Synthesized


def dimensions(alarm: dict) -> dict[str, object]:
    return {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}


def freshness_alarms(pipeline: Synthesized) -> list[dict]:
    return [
        a["Properties"]
        for a in pipeline.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == names.METRIC_FRESHNESS
    ]


def test_each_table_alarms_when_freshness_exceeds_the_objective(
    default_pipeline: Synthesized, existing_pipeline: Synthesized
) -> None:
    for pipeline in (default_pipeline, existing_pipeline):
        # GIVEN the objective the settings derive (the existing pipeline: a 10-minute schedule)
        objective = freshness_objective(pipeline.config.settings)
        alarms = freshness_alarms(pipeline)
        # THEN every table has one, on the loader's per-table metric, at the objective
        assert sorted(dimensions(a)["Table"] for a in alarms) == sorted(pipeline.config.tables)
        loader_id = pipeline.logical_id(pipeline.stack.loader.function)
        for alarm in alarms:
            assert alarm["Namespace"] == names.METRICS_NAMESPACE
            assert dimensions(alarm)[names.METRIC_DIMENSION] == {"Ref": loader_id}
            assert (alarm["Statistic"], alarm["Threshold"]) == ("Maximum", objective)
    assert freshness_objective(existing_pipeline.config.settings) == 60 + 90 + 600 + 600


def test_firehose_falling_behind_the_stream_alarms_at_the_objective(
    default_pipeline: Synthesized,
) -> None:
    objective = freshness_objective(default_pipeline.config.settings)
    (alarm,) = [
        a["Properties"]
        for a in default_pipeline.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "GetRecords.IteratorAgeMilliseconds"
    ]
    assert alarm["Namespace"] == "AWS/Kinesis" and alarm["Threshold"] == objective * 1000


def test_a_set_objective_is_the_threshold(tmp_path) -> None:
    from tests.stacks.conftest import CDK_JSON, cdk_context, synthesize

    raw = {**CDK_JSON["context"]["ddbload"], "freshness_objective_seconds": 1800}
    pipeline = synthesize(cdk_context(raw), tmp_path)
    assert {a["Threshold"] for a in freshness_alarms(pipeline)} == {1800}


def test_the_dashboard_shows_freshness_and_latency_per_table(default_pipeline: Synthesized):
    _, dashboard = default_pipeline.only("AWS::CloudWatch::Dashboard")
    # The body is a Fn::Join of literal text and tokens (the function name): the literal
    # parts are enough to find the widgets and their metrics.
    body = "".join(p for p in dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
                   if isinstance(p, str))  # fmt: skip
    assert "Freshness per table" in body and "End-to-end latency per table" in body
    objective = freshness_objective(default_pipeline.config.settings)
    assert f'"horizontal":[{{"value":{objective},"label":"objective"' in body
    for table in default_pipeline.config.tables:
        for metric in (names.METRIC_FRESHNESS, names.METRIC_LATENCY_P50, names.METRIC_LATENCY_MAX):
            # [namespace, metric, "Function", <the function's name: a token>, "Table", table]
            expected = f'["{names.METRICS_NAMESPACE}","{metric}","{names.METRIC_DIMENSION}","",'
            expected += f'"{names.METRIC_TABLE_DIMENSION}","{table}"'
            assert expected in body, (metric, table)
