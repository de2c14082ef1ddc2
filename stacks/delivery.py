"""Delivery: Firehose reads the Kinesis stream, runs the transform, writes gzip NDJSON to S3.

Second hop of the flow. The transform Lambda (``transforms.handler.handler``) turns
each DynamoDB change into one staging line and returns the table name as the
``partitionKeyFromLambda:table`` key, so Firehose writes each table's changes under
its own ``table=<name>/`` prefix. Records the transform fails go to the error prefix,
split by Firehose's error type. The transform gets no S3 access: Firehose writes.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy, Size
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from contract import layout
from stacks import bundling, defaults
from stacks.nag import LAMBDA_BASIC_POLICY, acknowledge, arn_finding
from stacks.staging_bucket import StagingBucket


class Delivery(Construct):
    """The transform function and the Firehose delivery stream around it."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        stream: kinesis.IStream,
        staging: StagingBucket,
        settings: dict[str, Any],
    ) -> None:
        super().__init__(scope, id)
        self.transform = lambda_.Function(
            self,
            "Transform",
            description="ddbload: DynamoDB change records -> staging lines (Firehose processor)",
            runtime=lambda_.Runtime.PYTHON_3_11,
            architecture=lambda_.Architecture.X86_64,
            handler=defaults.TRANSFORM_HANDLER,
            code=bundling.transform_code(),
            memory_size=defaults.TRANSFORM_MEMORY_MB,
            timeout=Duration.seconds(defaults.TRANSFORM_TIMEOUT_SECONDS),
            log_group=logs.LogGroup(
                self,
                "TransformLogs",
                retention=logs.RetentionDays.ONE_MONTH,
                removal_policy=RemovalPolicy.DESTROY,
            ),
        )
        acknowledge(
            self.transform,
            "AwsSolutions-IAM4",
            "AWSLambdaBasicExecutionRole only lets the function write its own CloudWatch "
            "logs; it is the standard Lambda execution policy.",
            [LAMBDA_BASIC_POLICY],
        )
        acknowledge(
            self.transform,
            "AwsSolutions-L1",
            "The project targets Python 3.11 (pyproject.toml) and the bundle holds wheels "
            "built for 3.11; the runtime moves with the project, not ahead of it.",
        )

        self.log_group = logs.LogGroup(
            self,
            "DeliveryLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        processor = firehose.LambdaFunctionProcessor(
            self.transform,
            buffer_interval=Duration.seconds(settings["processor_buffer_seconds"]),
            buffer_size=Size.mebibytes(settings["processor_buffer_mb"]),
            retries=defaults.PROCESSOR_RETRIES,
        )
        # The L2 would grant its destination role read/write/delete on the whole bucket
        # (and invoke and log writes) through whatever role it is given. It gets a view of
        # our role that takes no grants, and the role gets exactly what Firehose needs:
        # write and abort uploads below its two prefixes, invoke the transform, write
        # its log group.
        self.role = iam.Role(
            self,
            "DestinationRole",
            assumed_by=iam.ServicePrincipal("firehose.amazonaws.com"),
            description="ddbload Firehose: write staging and error prefixes, run the transform",
        )
        own_objects = [
            staging.bucket.arn_for_objects(f"{staging.staging_prefix}/*"),
            staging.bucket.arn_for_objects(f"{staging.error_prefix}/*"),
        ]
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:AbortMultipartUpload"], resources=own_objects
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
                resources=[staging.bucket.bucket_arn],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"],
                resources=[self.transform.function_arn, f"{self.transform.function_arn}:*"],
            )
        )
        self.log_group.grant_write(self.role)
        destination = firehose.S3Bucket(
            staging.bucket,
            role=self.role.without_policy_updates(),
            processors=[processor],
            dynamic_partitioning=firehose.DynamicPartitioningProps(enabled=True),
            data_output_prefix=layout.firehose_data_prefix(staging.staging_prefix),
            error_output_prefix=layout.firehose_error_prefix(staging.error_prefix),
            compression=firehose.Compression.GZIP,
            file_extension=".gz",
            buffering_interval=Duration.seconds(settings["firehose_buffer_seconds"]),
            buffering_size=Size.mebibytes(settings["firehose_buffer_mb"]),
            logging_config=firehose.EnableLogging(self.log_group),
        )
        self.delivery_stream = firehose.DeliveryStream(
            self,
            "DeliveryStream",
            source=firehose.KinesisStreamSource(stream),
            destination=destination,
        )
        # Firehose must not start before its role may write.
        self.delivery_stream.node.add_dependency(self.role)
        acknowledge(
            self.delivery_stream,
            "AwsSolutions-KDF1",
            "A delivery stream reading a Kinesis stream cannot set its own server-side "
            "encryption; the source stream is KMS-encrypted and S3 objects are SSE-S3.",
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "Firehose's destination role writes objects below the staging and error "
            "prefixes only (names are generated there) and invokes the transform's versions.",
            [
                arn_finding(staging.bucket, f"/{staging.staging_prefix}/*"),
                arn_finding(staging.bucket, f"/{staging.error_prefix}/*"),
                arn_finding(self.transform, ":*"),
            ],
        )
