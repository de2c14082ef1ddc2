"""Change capture: on-demand KMS stream, MICROSECOND precision for new and existing tables."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from tests.stacks.conftest import Synthesized


def test_stream_is_on_demand_and_kms_encrypted(default_pipeline: Synthesized) -> None:
    default_pipeline.template.has_resource_properties(
        "AWS::Kinesis::Stream",
        {
            "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
            "StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
            "RetentionPeriodHours": default_pipeline.config.settings["stream_retention_hours"],
        },
    )


def test_new_tables_stream_with_microsecond_precision(default_pipeline: Synthesized) -> None:
    # GIVEN the configured tables, all new
    stream_id = default_pipeline.logical_id(default_pipeline.stack.capture.stream)
    tables = default_pipeline.resources("AWS::DynamoDB::Table")
    # THEN each exists with its key and streams into the stream at MICROSECOND precision
    by_name = {t["Properties"]["TableName"]: t["Properties"] for t in tables.values()}
    assert sorted(by_name) == sorted(default_pipeline.config.tables)
    for name, props in by_name.items():
        assert props["KinesisStreamSpecification"] == {
            "StreamArn": {"Fn::GetAtt": [stream_id, "Arn"]},
            "ApproximateCreationDateTimePrecision": "MICROSECOND",
        }, name
        keys = [k["AttributeName"] for k in props["KeySchema"]]
        assert keys == [k.name for k in default_pipeline.config.tables[name].keys]
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_existing_table_gets_the_destination_from_a_custom_resource(
    existing_pipeline: Synthesized,
) -> None:
    # GIVEN "orders" marked existing and "events" new
    tables = existing_pipeline.resources("AWS::DynamoDB::Table")
    assert [t["Properties"]["TableName"] for t in tables.values()] == ["events"]
    # WHEN reading the custom resource for "orders"
    custom = existing_pipeline.resources("Custom::AWS")
    assert len(custom) == 1
    props = next(iter(custom.values()))["Properties"]
    create = json.loads(
        "".join(p if isinstance(p, str) else "ARN" for p in props["Create"]["Fn::Join"][1])
    )
    delete = json.loads(
        "".join(p if isinstance(p, str) else "ARN" for p in props["Delete"]["Fn::Join"][1])
    )
    # THEN it enables the Kinesis destination at MICROSECOND precision, and disables it on delete
    assert create["action"] == "enableKinesisStreamingDestination"
    assert create["parameters"]["TableName"] == "orders"
    assert create["parameters"]["EnableKinesisStreamingConfiguration"] == {
        "ApproximateCreationDateTimePrecision": "MICROSECOND"
    }
    assert delete["action"] == "disableKinesisStreamingDestination"


def test_custom_resource_may_only_touch_the_existing_table(existing_pipeline: Synthesized) -> None:
    existing_pipeline.template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": Match.array_with(
                                    ["dynamodb:EnableKinesisStreamingDestination"]
                                ),
                                "Resource": {
                                    "Fn::Join": [
                                        "",
                                        Match.array_with(
                                            [Match.string_like_regexp(":table/orders$")]
                                        ),
                                    ]
                                },
                            }
                        )
                    ]
                )
            }
        },
    )


def depends_on(pipeline: Synthesized, logical_id: str) -> list[str]:
    return pipeline.template.to_json()["Resources"][logical_id].get("DependsOn", [])


def test_tables_start_streaming_only_after_the_delivery_stream_exists(
    default_pipeline: Synthesized, existing_pipeline: Synthesized
) -> None:
    # Firehose reads its source from the newest record on: a change written to the stream
    # before the delivery stream exists would be read by nobody.
    for pipeline in (default_pipeline, existing_pipeline):
        delivery_id = pipeline.logical_id(pipeline.stack.delivery.delivery_stream)
        capture = pipeline.stack.capture
        assert capture.new_tables or capture.existing_tables
        for table in capture.new_tables.values():
            assert delivery_id in depends_on(pipeline, pipeline.logical_id(table))
        for resource in capture.existing_tables.values():
            enabling = pipeline.logical_id(resource.node.find_child("Resource"))
            assert enabling in pipeline.resources("Custom::AWS")
            assert delivery_id in depends_on(pipeline, enabling)
