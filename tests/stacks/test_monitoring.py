"""Alarms on every failure an operator must hear about, all wired to the alarm topic."""

from __future__ import annotations

from tests.stacks.conftest import Synthesized


def alarms_by_metric(pipeline: Synthesized) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for alarm in pipeline.resources("AWS::CloudWatch::Alarm").values():
        found.setdefault(alarm["Properties"]["MetricName"], []).append(alarm["Properties"])
    return found


def test_each_failure_has_an_alarm(default_pipeline: Synthesized) -> None:
    alarms = alarms_by_metric(default_pipeline)
    # Firehose delivery failures, transform invocation failures, freshness
    assert alarms["DeliveryToS3.Success"][0]["ComparisonOperator"] == "LessThanThreshold"
    assert "ExecuteProcessing.Success" in alarms
    freshness = alarms["DeliveryToS3.DataFreshness"][0]
    settings = default_pipeline.config.settings
    assert freshness["Threshold"] > settings["firehose_buffer_seconds"]
    # loader and transform errors
    assert len(alarms["Errors"]) == 2
    # dead letters: each lane's work queue's and the schedules'
    tables = len(default_pipeline.config.tables)
    assert len(alarms["ApproximateNumberOfMessagesVisible"]) == tables + 1
    # loader lag: each lane's oldest waiting staging file, beyond a few schedule periods
    assert len(alarms["ApproximateAgeOfOldestMessage"]) == tables
    for lag in alarms["ApproximateAgeOfOldestMessage"]:
        assert lag["Threshold"] >= 3 * settings["schedule_minutes"] * 60


def test_every_alarm_notifies_the_encrypted_topic(default_pipeline: Synthesized) -> None:
    topic_id, topic = default_pipeline.only("AWS::SNS::Topic")
    assert "KmsMasterKeyId" in topic["Properties"]
    for alarm in default_pipeline.resources("AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
        # No data is quiet, except where a silent loader is the failure itself.
        silent = alarm["Properties"]["MetricName"] == "Invocations"
        assert alarm["Properties"]["TreatMissingData"] == (
            "breaching" if silent else "notBreaching"
        )


def test_a_loader_that_stops_running_alarms_even_with_no_data(
    default_pipeline: Synthesized, existing_pipeline: Synthesized
) -> None:
    for pipeline in (default_pipeline, existing_pipeline):
        # GIVEN the schedule period (the existing pipeline: 10 minutes)
        minutes = pipeline.config.settings["schedule_minutes"]
        loader_id = pipeline.logical_id(pipeline.stack.loader.function)
        # THEN one alarm counts the loader's invocations per schedule period, and
        # fires after two periods with none: no data breaches, since then it is the
        # freshness alarms that hear nothing
        (alarm,) = alarms_by_metric(pipeline)["Invocations"]
        assert alarm_dimensions(alarm)["FunctionName"] == {"Ref": loader_id}
        assert alarm["Period"] == minutes * 60
        assert alarm["EvaluationPeriods"] == 2
        assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 1
        assert alarm["TreatMissingData"] == "breaching"


def test_dashboard_and_optional_email(
    default_pipeline: Synthesized, existing_pipeline: Synthesized
) -> None:
    default_pipeline.only("AWS::CloudWatch::Dashboard")
    assert default_pipeline.resources("AWS::SNS::Subscription") == {}
    _, subscription = existing_pipeline.only("AWS::SNS::Subscription")
    assert subscription["Properties"]["Endpoint"] == "ops@example.com"


def alarm_dimensions(alarm: dict) -> dict[str, object]:
    return {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}


def test_each_table_has_replication_alarms(
    default_pipeline: Synthesized, existing_pipeline: Synthesized
) -> None:
    # GIVEN new tables (default) and an existing one (existing_pipeline)
    for pipeline in (default_pipeline, existing_pipeline):
        alarms = alarms_by_metric(pipeline)
        for metric in (
            "AgeOfOldestUnreplicatedRecord",
            "FailedToReplicateRecordCount",
            "ThrottledPutRecordCount",
        ):
            # THEN every table has each DynamoDB -> Kinesis alarm, on Maximum (no Sum there)
            found = [a for a in alarms.get(metric, []) if a["Namespace"] == "AWS/DynamoDB"]
            tables = sorted(alarm_dimensions(a)["TableName"] for a in found)
            assert tables == sorted(pipeline.config.tables), (metric, tables)
            for alarm in found:
                assert alarm_dimensions(alarm)["DelegatedOperation"] == "PutRecords"
                assert alarm["Statistic"] == "Maximum"


def test_loader_throttles_and_dropped_ticks_alarm(default_pipeline: Synthesized) -> None:
    alarms = alarms_by_metric(default_pipeline)
    loader_id = default_pipeline.logical_id(default_pipeline.stack.loader.function)
    for metric in ("Throttles", "AsyncEventsDropped"):
        (alarm,) = alarms[metric]
        assert alarm_dimensions(alarm)["FunctionName"] == {"Ref": loader_id}
        assert alarm["Threshold"] == 1


def test_new_database_alarms_on_cpu_storage_and_connections(
    default_pipeline: Synthesized, existing_pipeline: Synthesized
) -> None:
    alarms = alarms_by_metric(default_pipeline)
    instance_id, _ = default_pipeline.only("AWS::RDS::DBInstance")
    for metric in ("CPUUtilization", "FreeStorageSpace", "DatabaseConnections"):
        (alarm,) = alarms[metric]
        assert alarm_dimensions(alarm)["DBInstanceIdentifier"] == {"Ref": instance_id}
    assert alarms["FreeStorageSpace"][0]["ComparisonOperator"] == "LessThanThreshold"
    # An existing server may not be RDS at all: no database alarms there.
    existing = alarms_by_metric(existing_pipeline)
    assert not {"CPUUtilization", "FreeStorageSpace", "DatabaseConnections"} & set(existing)


def test_dashboard_shows_replication_loader_and_database(default_pipeline: Synthesized) -> None:
    import json

    _, dashboard = default_pipeline.only("AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in (
        "AgeOfOldestUnreplicatedRecord",
        "FailedToReplicateRecordCount",
        "ThrottledPutRecordCount",
        "Throttles",
        "AsyncEventsDropped",
        "CPUUtilization",
        "FreeStorageSpace",
        "DatabaseConnections",
    ):
        assert metric in body, metric
