"""Alarms and a dashboard over the whole flow, publishing to one encrypted SNS topic.

What an operator must hear about: Firehose failing to deliver or to run the
transform, data going stale inside Firehose, loader errors (a scheduled run that
could not start raises, so Lambda counts it), files the loader failed or quarantined
and rows it quarantined (its Embedded Metric Format metrics), anything in a
dead-letter queue, and the loader falling behind (the oldest unprocessed work message).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks import defaults
from stacks.delivery import Delivery
from stacks.loader import ScheduledLoader

PERIOD = Duration.minutes(defaults.ALARM_PERIOD_MINUTES)


class Monitoring(Construct):
    """Public: ``topic``, ``alarms`` (by name), ``dashboard``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        delivery: Delivery,
        loader: ScheduledLoader,
        settings: dict[str, Any],
        alarm_email: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        # CloudWatch can only publish to a topic whose key policy lets it use the key,
        # which rules out the AWS managed aws/sns key.
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description="ddbload alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        self.topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))

        stream = delivery.delivery_stream
        freshness_limit = settings["firehose_buffer_seconds"] + defaults.FRESHNESS_SLACK_SECONDS
        lag_limit = (
            defaults.LAG_SCHEDULE_PERIODS * settings["schedule_minutes"] * 60
            + settings["loader_timeout_seconds"]
        )
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self._alarm(
            "DeliveryFailures",
            stream.metric("DeliveryToS3.Success", statistic="Average", period=PERIOD),
            threshold=1,
            below=True,
            what="Firehose failed to deliver some batches to S3 (see the delivery log group).",
        )
        self._alarm(
            "ProcessingFailures",
            stream.metric("ExecuteProcessing.Success", statistic="Average", period=PERIOD),
            threshold=1,
            below=True,
            what="Firehose could not invoke the transform for some batches.",
        )
        self._alarm(
            "DataFreshness",
            stream.metric("DeliveryToS3.DataFreshness", statistic="Maximum", period=PERIOD),
            threshold=freshness_limit,
            what=f"The oldest record in Firehose is older than {freshness_limit} s.",
        )
        self._alarm(
            "TransformErrors",
            delivery.transform.metric_errors(statistic="Sum", period=PERIOD),
            threshold=1,
            what="The transform Lambda raised errors (records go to the error prefix).",
        )
        self._alarm(
            "LoaderErrors",
            loader.function.metric_errors(statistic="Sum", period=PERIOD),
            threshold=1,
            what="A loader run failed; the next run retries its files.",
        )
        for name, metric_name, what in (
            (
                "LoaderFilesFailed",
                defaults.LOADER_METRIC_FILES_FAILED,
                "The loader could not load some staging files (terminal errors); see its "
                "log and `ddbload status`, fix the cause, then `ddbload reload`.",
            ),
            (
                "LoaderFilesQuarantined",
                defaults.LOADER_METRIC_FILES_QUARANTINED,
                "The loader quarantined whole staging files (unreadable); see the "
                "quarantine prefix.",
            ),
            (
                "LoaderRowsQuarantined",
                defaults.LOADER_METRIC_ROWS_QUARANTINED,
                "The loader quarantined rows that do not fit their columns; see the "
                "quarantine prefix and `ddbload reload --errors`.",
            ),
        ):
            self._alarm(name, self.loader_metric(loader, metric_name), threshold=1, what=what)
        self._alarm(
            "LoaderLag",
            loader.work_queue.metric_approximate_age_of_oldest_message(
                statistic="Maximum", period=PERIOD
            ),
            threshold=lag_limit,
            what=f"A staging file has waited more than {lag_limit} s to be loaded.",
        )
        for name, queue in (
            ("WorkDeadLetters", loader.work_dead_letters),
            ("ScheduleDeadLetters", loader.schedule_dead_letters),
        ):
            self._alarm(
                name,
                self._visible(queue),
                threshold=1,
                what=f"Messages are waiting in the {name} queue.",
            )
        self.dashboard = self._dashboard(delivery, loader)

    @staticmethod
    def loader_metric(loader: ScheduledLoader, name: str) -> cloudwatch.Metric:
        """One of the loader's EMF metrics (summed per alarm period)."""
        return cloudwatch.Metric(
            namespace=defaults.LOADER_METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={defaults.LOADER_METRIC_DIMENSION: loader.function.function_name},
            statistic="Sum",
            period=PERIOD,
        )

    @staticmethod
    def _visible(queue: sqs.IQueue) -> cloudwatch.IMetric:
        return queue.metric_approximate_number_of_messages_visible(
            statistic="Maximum", period=PERIOD
        )

    def _alarm(
        self,
        name: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        what: str,
        below: bool = False,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            name,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=(
                cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
                if below
                else cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
            ),
            # No data means nothing flowed, which is not a failure.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"ddbload: {what}",
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms[name] = alarm

    def _dashboard(self, delivery: Delivery, loader: ScheduledLoader) -> cloudwatch.Dashboard:
        stream = delivery.delivery_stream
        dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(6))
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Firehose records in / delivered",
                left=[
                    stream.metric_incoming_records(period=PERIOD),
                    stream.metric("DeliveryToS3.Records", statistic="Sum", period=PERIOD),
                ],
                right=[stream.metric("DeliveryToS3.DataFreshness", statistic="Maximum")],
            ),
            cloudwatch.GraphWidget(
                title="Transform",
                left=[delivery.transform.metric_invocations(), delivery.transform.metric_errors()],
                right=[delivery.transform.metric_duration(statistic="p99")],
            ),
            cloudwatch.GraphWidget(
                title="Loader",
                left=[loader.function.metric_invocations(), loader.function.metric_errors()],
                right=[loader.function.metric_duration(statistic="Maximum")],
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Loader files and quarantined rows",
                left=[
                    self.loader_metric(loader, name)
                    for name in (
                        defaults.LOADER_METRIC_FILES_LOADED,
                        defaults.LOADER_METRIC_FILES_FAILED,
                        defaults.LOADER_METRIC_FILES_QUARANTINED,
                    )
                ],
                right=[self.loader_metric(loader, defaults.LOADER_METRIC_ROWS_QUARANTINED)],
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Work queue backlog and age",
                left=[self._visible(loader.work_queue)],
                right=[
                    loader.work_queue.metric_approximate_age_of_oldest_message(statistic="Maximum")
                ],
            ),
            cloudwatch.GraphWidget(
                title="Dead letters",
                left=[
                    self._visible(loader.work_dead_letters),
                    self._visible(loader.schedule_dead_letters),
                ],
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values())),
        )
        return dashboard
