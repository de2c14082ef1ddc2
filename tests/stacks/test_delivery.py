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


def test_firehose_writes_only_its_own_prefixes(default_pipeline: Synthesized) -> None:
    # GIVEN the role Firehose assumes for the S3 destination
    from tests.stacks.template_queries import joined

    _, stream = default_pipeline.only("AWS::KinesisFirehose::DeliveryStream")
    role = stream["Properties"]["ExtendedS3DestinationConfiguration"]["RoleARN"]["Fn::GetAtt"][0]
    statements = role_statements(default_pipeline.template, role)
    settings = default_pipeline.config.settings
    bucket_id = default_pipeline.logical_id(default_pipeline.stack.staging.bucket)
    # WHEN listing its S3 actions with their resources
    s3 = sorted(
        (action, joined(resource))
        for action, resources in actions_of(statements, "s3:")
        for resource in (resources if isinstance(resources, list) else [resources])
    )
    # THEN it writes (and aborts uploads) below the staging and error prefixes, and may
    # only locate the bucket and list its unfinished uploads: no read, no delete
    own = [f"<{bucket_id}.Arn>/{settings[p]}/*" for p in ("error_prefix", "staging_prefix")]
    assert s3 == sorted(
        [(action, arn) for action in ("s3:AbortMultipartUpload", "s3:PutObject") for arn in own]
        + [
            ("s3:GetBucketLocation", f"<{bucket_id}.Arn>"),
            ("s3:ListBucketMultipartUploads", f"<{bucket_id}.Arn>"),
        ]
    )
    # AND it can still run the transform and log
    assert {a for a, _ in actions_of(statements, "lambda:")} == {
        "lambda:InvokeFunction",
        "lambda:GetFunctionConfiguration",
    }
    assert {a for a, _ in actions_of(statements, "logs:")} >= {"logs:PutLogEvents"}
