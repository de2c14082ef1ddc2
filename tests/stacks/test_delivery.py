"""Firehose delivery: processor wired to the transform, partitioning, prefixes, no S3 for the transform."""

from __future__ import annotations

from aws_cdk.assertions import Match

from stacks import defaults
from tests.stacks.conftest import Synthesized
from tests.stacks.template_queries import actions_of, function_role, role_statements


def s3_destination(pipeline: Synthesized) -> dict:
    _, stream = pipeline.only("AWS::KinesisFirehose::DeliveryStream")
    return stream["Properties"]["ExtendedS3DestinationConfiguration"]


def test_processor_is_the_transform_function(default_pipeline: Synthesized) -> None:
    # GIVEN the default pipeline
    transform_id = default_pipeline.logical_id(default_pipeline.stack.delivery.transform)
    # WHEN reading the delivery stream's processing configuration
    processing = s3_destination(default_pipeline)["ProcessingConfiguration"]
    # THEN its only Lambda processor invokes the transform, with the config's buffers
    assert processing["Enabled"] is True
    lambdas = [p for p in processing["Processors"] if p["Type"] == "Lambda"]
    assert len(lambdas) == 1
    params = {p["ParameterName"]: p["ParameterValue"] for p in lambdas[0]["Parameters"]}
    assert params["LambdaArn"] == {"Fn::GetAtt": [transform_id, "Arn"]}
    settings = default_pipeline.config.settings
    assert params["BufferIntervalInSeconds"] == str(settings["processor_buffer_seconds"])
    assert params["BufferSizeInMBs"] == str(settings["processor_buffer_mb"])
    transform = default_pipeline.resources("AWS::Lambda::Function")[transform_id]
    assert transform["Properties"]["Handler"] == defaults.TRANSFORM_HANDLER
    assert transform["Properties"]["Runtime"] == "python3.11"


def test_dynamic_partitioning_by_table_with_gzip_and_config_buffers(
    default_pipeline: Synthesized,
) -> None:
    destination = s3_destination(default_pipeline)
    settings = default_pipeline.config.settings
    assert destination["DynamicPartitioningConfiguration"]["Enabled"] is True
    assert destination["Prefix"] == (
        f"{settings['staging_prefix']}/table=!{{partitionKeyFromLambda:table}}/"
        "!{timestamp:yyyy/MM/dd/HH}/"
    )
    assert destination["CompressionFormat"] == "GZIP"
    assert destination["FileExtension"] == ".gz"
    assert destination["BufferingHints"] == {
        "IntervalInSeconds": settings["firehose_buffer_seconds"],
        "SizeInMBs": settings["firehose_buffer_mb"],
    }


def test_failed_records_go_to_the_error_prefix_by_error_type(default_pipeline: Synthesized) -> None:
    destination = s3_destination(default_pipeline)
    error_prefix = default_pipeline.config.settings["error_prefix"]
    assert destination["ErrorOutputPrefix"] == (
        f"{error_prefix}/!{{firehose:error-output-type}}/!{{timestamp:yyyy/MM/dd/HH}}/"
    )


def test_delivery_reads_the_kinesis_stream_and_logs(default_pipeline: Synthesized) -> None:
    stream_id = default_pipeline.logical_id(default_pipeline.stack.capture.stream)
    default_pipeline.template.has_resource_properties(
        "AWS::KinesisFirehose::DeliveryStream",
        {
            "DeliveryStreamType": "KinesisStreamAsSource",
            "KinesisStreamSourceConfiguration": {
                "KinesisStreamARN": {"Fn::GetAtt": [stream_id, "Arn"]}
            },
            "ExtendedS3DestinationConfiguration": {
                "CloudWatchLoggingOptions": Match.object_like({"Enabled": True})
            },
        },
    )


def test_transform_has_no_s3_access(default_pipeline: Synthesized) -> None:
    # GIVEN the transform function's execution role
    transform_id = default_pipeline.logical_id(default_pipeline.stack.delivery.transform)
    role = function_role(default_pipeline.template, transform_id)
    # THEN no inline policy grants it any S3 action (Firehose writes, not the transform)
    assert actions_of(role_statements(default_pipeline.template, role), "s3:") == []
    _, role_resource = next(
        (k, v) for k, v in default_pipeline.resources("AWS::IAM::Role").items() if k == role
    )
    managed = str(role_resource["Properties"].get("ManagedPolicyArns", []))
    assert "S3" not in managed
