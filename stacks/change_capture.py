"""Change capture: DynamoDB tables stream every item change into one Kinesis data stream.

First hop of the flow. New tables get the Kinesis streaming destination through the
table L2 (``kinesis_stream`` + MICROSECOND precision); tables that already exist get
it from a custom resource calling ``EnableKinesisStreamingDestination`` with the same
precision, and ``DisableKinesisStreamingDestination`` when the stack goes. The
microsecond creation time is the primary part of a change's version (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from contract.config import TableMapping
from stacks.nag import acknowledge

ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
PRECISION = "MICROSECOND"


class ChangeCapture(Construct):
    """The Kinesis stream (KMS, on demand or provisioned) and the tables feeding it."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        tables: Mapping[str, TableMapping],
        stream_retention_hours: int,
        stream_mode: str = "on-demand",
        shards: int | None = None,
    ) -> None:
        super().__init__(scope, id)
        provisioned = stream_mode == "provisioned"
        self.stream = kinesis.Stream(
            self,
            "Stream",
            stream_mode=kinesis.StreamMode.PROVISIONED
            if provisioned
            else kinesis.StreamMode.ON_DEMAND,
            shard_count=shards if provisioned else None,
            # The AWS managed key: DynamoDB and Firehose use it without key-policy
            # changes, and cdk-nag (KDS3) prefers it to a customer managed key.
            encryption=kinesis.StreamEncryption.MANAGED,
            retention_period=Duration.hours(stream_retention_hours),
        )
        self.new_tables: dict[str, dynamodb.Table] = {}
        self.existing_tables: dict[str, cr.AwsCustomResource] = {}
        existing = {name: m for name, m in tables.items() if m.existing}
        for name, mapping in sorted(tables.items()):
            if not mapping.existing:
                self.new_tables[name] = self._new_table(name, mapping)
        if existing:
            log_group = logs.LogGroup(
                self,
                "StreamingDestinationLogs",
                retention=logs.RetentionDays.ONE_MONTH,
                removal_policy=RemovalPolicy.DESTROY,
            )
            for name in sorted(existing):
                self.existing_tables[name] = self._attach_existing(name, log_group)

    def _new_table(self, name: str, mapping: TableMapping) -> dynamodb.Table:
        pk, *rest = mapping.keys
        return dynamodb.Table(
            self,
            f"Table-{name}",
            table_name=name,
            partition_key=dynamodb.Attribute(name=pk.name, type=ATTRIBUTE_TYPES[pk.type]),
            sort_key=(
                dynamodb.Attribute(name=rest[0].name, type=ATTRIBUTE_TYPES[rest[0].type])
                if rest
                else None
            ),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
            kinesis_stream=self.stream,
            kinesis_precision_timestamp=dynamodb.ApproximateCreationDateTimePrecision.MICROSECOND,
        )

    def _attach_existing(self, name: str, log_group: logs.ILogGroup) -> cr.AwsCustomResource:
        table_arn = Stack.of(self).format_arn(
            service="dynamodb", resource="table", resource_name=name
        )
        destination = {"TableName": name, "StreamArn": self.stream.stream_arn}
        resource = cr.AwsCustomResource(
            self,
            f"StreamingDestination-{name}",
            on_create=cr.AwsSdkCall(
                service="DynamoDB",
                action="enableKinesisStreamingDestination",
                parameters={
                    **destination,
                    "EnableKinesisStreamingConfiguration": {
                        "ApproximateCreationDateTimePrecision": PRECISION
                    },
                },
                physical_resource_id=cr.PhysicalResourceId.of(f"kinesis-destination-{name}"),
            ),
            on_delete=cr.AwsSdkCall(
                service="DynamoDB",
                action="disableKinesisStreamingDestination",
                parameters=destination,
                # Already disabled by hand, or the table is gone: nothing left to undo.
                ignore_error_codes_matching="ResourceNotFoundException|ValidationException",
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=[
                            "dynamodb:EnableKinesisStreamingDestination",
                            "dynamodb:DisableKinesisStreamingDestination",
                            "dynamodb:DescribeKinesisStreamingDestination",
                        ],
                        resources=[table_arn],
                    ),
                    iam.PolicyStatement(
                        actions=[
                            "kinesis:PutRecords",
                            "kinesis:DescribeStream",
                            "kinesis:DescribeStreamSummary",
                        ],
                        resources=[self.stream.stream_arn],
                    ),
                    # DynamoDB checks that the caller could list streams; the action has
                    # no resource-level scope.
                    iam.PolicyStatement(actions=["kinesis:ListStreams"], resources=["*"]),
                    # First use in an account creates DynamoDB's replication role.
                    iam.PolicyStatement(
                        actions=["iam:CreateServiceLinkedRole"],
                        resources=["*"],
                        conditions={
                            "StringEquals": {
                                "iam:AWSServiceName": "kinesisreplication.dynamodb.amazonaws.com"
                            }
                        },
                    ),
                ]
            ),
            install_latest_aws_sdk=False,
            log_group=log_group,
            timeout=Duration.minutes(2),
        )
        acknowledge(
            resource,
            "AwsSolutions-IAM5",
            "kinesis:ListStreams has no resource-level permissions, and "
            "iam:CreateServiceLinkedRole is limited by condition to DynamoDB's Kinesis "
            "replication service.",
            ["Resource::*"],
        )
        return resource

    @property
    def table_names(self) -> list[str]:
        return sorted([*self.new_tables, *self.existing_tables])
