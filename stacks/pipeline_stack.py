"""The whole ddbload pipeline as one stack: composes the constructs and publishes outputs.

DynamoDB -> Kinesis (ChangeCapture) -> Firehose + transform (Delivery) -> S3
(StagingBucket) -> scheduled loader (ScheduledLoader) -> MariaDB (Database), watched by
Monitoring. The stack outputs, named by ``contract.names.OUTPUT_*``, are how the
CLI finds a deployed pipeline.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, Stack, Validations
from constructs import Construct

from contract import lanes, names
from contract.config import PipelineConfig
from stacks.change_capture import ChangeCapture
from stacks.database import Database
from stacks.delivery import Delivery
from stacks.deploy_options import DeployOptions
from stacks.loader import ScheduledLoader
from stacks.monitoring import Monitoring
from stacks.nag import LAMBDA_BASIC_POLICY, acknowledge
from stacks.staging_bucket import StagingBucket


class PipelineStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: PipelineConfig,
        options: DeployOptions | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope, id, description="ddbload: DynamoDB changes into MariaDB in bulk", **kwargs
        )
        options = options or DeployOptions()
        settings = config.settings
        self.config = config

        self.staging = StagingBucket(
            self,
            "Staging",
            staging_prefix=settings["staging_prefix"],
            error_prefix=settings["error_prefix"],
            quarantine_prefix=settings["quarantine_prefix"],
            staging_expiry_days=settings["staging_expiry_days"],
        )
        self.capture = ChangeCapture(
            self,
            "ChangeCapture",
            tables=config.tables,
            stream_retention_hours=settings["stream_retention_hours"],
            stream_mode=settings["kinesis_stream_mode"],
            shards=settings["kinesis_shards"],
        )
        self.delivery = Delivery(
            self,
            "Delivery",
            stream=self.capture.stream,
            staging=self.staging,
            settings=settings,
        )
        # Firehose starts reading its Kinesis source at the newest record when it is
        # created, so a table must start writing to the stream only after the delivery
        # stream exists; changes from before that are read by nobody. Items written before
        # the deploy are not changes at all: `ddbload backfill` loads them (docs/DEPLOY.md).
        for table in [*self.capture.new_tables.values(), *self.capture.existing_tables.values()]:
            table.node.add_dependency(self.delivery.delivery_stream)
        self.database = Database(self, "Database", config=config.database)
        self.loader = ScheduledLoader(
            self,
            "Loader",
            config=config,
            staging=self.staging,
            database=self.database,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            capture=self.capture,
            delivery=self.delivery,
            loader=self.loader,
            database=self.database,
            settings=settings,
            alarm_email=options.alarm_email,
        )
        self._outputs()
        self._acknowledge_framework_resources()
        # The Firehose L2 always adds a mapping of Firehose CIDR blocks, used only by
        # destinations that need IP allow-listing (Redshift, OpenSearch); S3 does not.
        Validations.of(self).acknowledge(
            Acknowledgment(
                id="CloudFormation-Validate::W7001",
                reason="Unused Firehose CIDR-block mapping added by the Firehose L2.",
            )
        )

    def _outputs(self) -> None:
        values = {
            names.OUTPUT_BUCKET: self.staging.bucket.bucket_name,
            names.OUTPUT_STAGING_PREFIX: self.staging.staging_prefix,
            names.OUTPUT_ERROR_PREFIX: self.staging.error_prefix,
            names.OUTPUT_QUARANTINE_PREFIX: self.staging.quarantine_prefix,
            names.OUTPUT_LOADER_FUNCTION: self.loader.function.function_name,
            names.OUTPUT_TRANSFORM_FUNCTION: self.delivery.transform.function_name,
            names.OUTPUT_DB_SECRET: self.database.secret.secret_arn,
            names.OUTPUT_CONFIG: self.config.to_json(),
            "ScheduleDeadLetterQueueUrl": self.loader.schedule_dead_letters.queue_url,
            "AlarmTopicArn": self.monitoring.topic.topic_arn,
            "DeliveryStreamName": self.delivery.delivery_stream.delivery_stream_name,
            "KinesisStreamName": self.capture.stream.stream_name,
        }
        if self.database.instance is not None:
            # The loader's secret is DatabaseSecretArn; this one is for people only.
            values["DatabaseAdminSecretArn"] = self.database.admin_secret.secret_arn
        for name, value in values.items():
            CfnOutput(self, name, value=value)
        # One output per loader lane (its table, queues and schedule, as JSON): many small
        # outputs rather than one that would grow with every table.
        for lane in self.loader.lanes.values():
            CfnOutput(
                self,
                lanes.output_name(lane.lane),
                value=self.to_json_string(lane.description()),
                description=f"ddbload loader lane: {lanes.title(lane.lane)}",
            )

    def _acknowledge_framework_resources(self) -> None:
        """Singleton handlers CDK adds for bucket notifications and custom resources."""
        handlers = {
            "BucketNotificationsHandler050a0587b7544547bf325f094a3db834": "S3 bucket notifications",
            "AWS679f53fac002430cb0da5b7982bd2287": "the Kinesis destination of existing tables",
            "Custom::VpcRestrictDefaultSGCustomResourceProvider": "closing the VPC default group",
            "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a": "RDS log-group retention",
        }
        for child, what in handlers.items():
            handler = self.node.try_find_child(child)
            if handler is None:
                continue
            acknowledge(
                handler,
                "AwsSolutions-IAM4",
                f"CDK's own handler for {what} uses the standard Lambda execution policy.",
                [LAMBDA_BASIC_POLICY],
            )
            acknowledge(
                handler,
                "AwsSolutions-IAM5",
                f"CDK's own handler for {what} needs the wildcard its API calls require.",
                ["Resource::*"],
            )
            acknowledge(
                handler,
                "AwsSolutions-L1",
                f"CDK picks the runtime of its own handler for {what}.",
            )
