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
    # dead letters: the work queue's and the schedule's
    assert len(alarms["ApproximateNumberOfMessagesVisible"]) == 2
    # loader lag: the oldest waiting staging file, beyond a few schedule periods
    lag = alarms["ApproximateAgeOfOldestMessage"][0]
    assert lag["Threshold"] >= 3 * settings["schedule_minutes"] * 60


def test_every_alarm_notifies_the_encrypted_topic(default_pipeline: Synthesized) -> None:
    topic_id, topic = default_pipeline.only("AWS::SNS::Topic")
    assert "KmsMasterKeyId" in topic["Properties"]
    for alarm in default_pipeline.resources("AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching"


def test_dashboard_and_optional_email(
    default_pipeline: Synthesized, existing_pipeline: Synthesized
) -> None:
    default_pipeline.only("AWS::CloudWatch::Dashboard")
    assert default_pipeline.resources("AWS::SNS::Subscription") == {}
    _, subscription = existing_pipeline.only("AWS::SNS::Subscription")
    assert subscription["Properties"]["Endpoint"] == "ops@example.com"
