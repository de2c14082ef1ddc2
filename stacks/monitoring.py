"""Alarms and a dashboard over the whole flow, publishing to one encrypted SNS topic.

What an operator must hear about: DynamoDB failing or lagging to replicate changes
into Kinesis (per table), Firehose failing to deliver or to run the
transform, data going stale inside Firehose, loader errors (a scheduled run that
could not start raises, so Lambda counts it), files the loader failed or quarantined
and rows it quarantined (its Embedded Metric Format metrics), anything in a
dead-letter queue, the loader falling behind (the oldest unprocessed work message),
being throttled or having scheduled ticks dropped, a table whose oldest uncommitted
change is older than the freshness objective (the loader's per-table EMF metric, and
Firehose falling behind the stream), and a new MariaDB instance running hot, out of
storage or out of connections. The dashboard shows freshness and end-to-end latency
per table over time.
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

from contract import lanes, names
from contract.config import freshness_objective
from stacks import defaults
from stacks.change_capture import ChangeCapture
from stacks.database import Database
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
        capture: ChangeCapture,
        delivery: Delivery,
        loader: ScheduledLoader,
        database: Database,
        settings: dict[str, Any],
        alarm_email: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.settings = settings
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
        self._replication_alarms(capture.table_names)
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
        # Each lane with a queue (every configured table): its backlog's age, its dead letters.
        queued = [
            (lanes.resource_id(lane.lane), lane.lane, lane.work_queue, lane.dead_letters)
            for lane in loader.lanes.values()
            if lane.work_queue is not None and lane.dead_letters is not None
        ]
        for rid, table, work_queue, _ in queued:
            self._alarm(
                "LoaderLag" + rid,
                work_queue.metric_approximate_age_of_oldest_message(
                    statistic="Maximum", period=PERIOD
                ),
                threshold=lag_limit,
                what=f"A staging file of {table} has waited more than {lag_limit} s to be loaded.",
            )
        dead: list[tuple[str, sqs.IQueue]] = [
            ("WorkDeadLetters" + rid, dead_letters) for rid, _, _, dead_letters in queued
        ]
        for name, queue in (*dead, ("ScheduleDeadLetters", loader.schedule_dead_letters)):
            self._alarm(
                name,
                self._visible(queue),
                threshold=1,
                what=f"Messages are waiting in the {name} queue.",
            )
        self._loader_invocation_alarms(loader)
        self._loader_silence_alarm(loader, settings["schedule_minutes"])
        self._freshness_alarms(capture, loader, freshness_objective(settings))
        self._database_alarms(database)
        self.dashboard = self._dashboard(capture, delivery, loader, database)

    @staticmethod
    def replication_metric(table: str, name: str) -> cloudwatch.Metric:
        """DynamoDB's metric of its Kinesis streaming destination for one table."""
        return cloudwatch.Metric(
            namespace="AWS/DynamoDB",
            metric_name=name,
            dimensions_map={
                "TableName": table,
                "DelegatedOperation": defaults.REPLICATION_DELEGATED_OPERATION,
            },
            # These metrics offer Minimum/Maximum/Average/SampleCount, not Sum.
            statistic="Maximum",
            period=PERIOD,
        )

    def _replication_alarms(self, tables: list[str]) -> None:
        limit = defaults.REPLICATION_AGE_LIMIT_SECONDS
        for table in tables:
            self._alarm(
                f"ReplicationAge-{table}",
                self.replication_metric(table, "AgeOfOldestUnreplicatedRecord"),
                threshold=limit * 1000,
                what=f"Changes of table {table} have waited more than {limit} s to reach "
                "Kinesis (stream throttled, or its access changed by hand).",
            )
            self._alarm(
                f"ReplicationFailed-{table}",
                self.replication_metric(table, "FailedToReplicateRecordCount"),
                threshold=1,
                what=f"DynamoDB failed to replicate changes of table {table} to Kinesis; "
                "they will not reach MariaDB: run `ddbload backfill` for it.",
            )
            self._alarm(
                f"ReplicationThrottled-{table}",
                self.replication_metric(table, "ThrottledPutRecordCount"),
                threshold=1,
                what=f"Kinesis throttled changes of table {table}; if it lasts, raise the "
                "stream's capacity.",
            )

    @staticmethod
    def table_metric(
        loader: ScheduledLoader, table: str, name: str, statistic: str = "Maximum"
    ) -> cloudwatch.Metric:
        """A per-table loader metric (freshness, latency: seconds, one value per run)."""
        return cloudwatch.Metric(
            namespace=defaults.LOADER_METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={
                defaults.LOADER_METRIC_DIMENSION: loader.function.function_name,
                names.METRIC_TABLE_DIMENSION: table,
            },
            statistic=statistic,
            period=PERIOD,
        )

    def _freshness_alarms(
        self, capture: ChangeCapture, loader: ScheduledLoader, objective: int
    ) -> None:
        # The objective (contract.config.freshness_objective) is what a healthy pipeline
        # may take: both Firehose buffers, a schedule period and a whole loader run.
        for table in capture.table_names:
            self._alarm(
                f"Freshness-{table}",
                self.table_metric(loader, table, names.METRIC_FRESHNESS),
                threshold=objective,
                what=f"A change of table {table} has waited more than {objective} s and is "
                "still not in MariaDB (the freshness objective); see `ddbload status`.",
            )
        # The loader sees staged objects only; changes Firehose has not read yet from the
        # stream are as stale, whatever table they belong to.
        self._alarm(
            "FreshnessKinesis",
            capture.stream.metric_get_records_iterator_age_milliseconds(
                statistic="Maximum", period=PERIOD
            ),
            threshold=objective * 1000,
            what=f"Firehose is more than {objective} s behind the Kinesis stream (the "
            "freshness objective): changes wait there before they are staged.",
        )

    def _loader_invocation_alarms(self, loader: ScheduledLoader) -> None:
        self._alarm(
            "LoaderThrottles",
            loader.function.metric_throttles(statistic="Sum", period=PERIOD),
            threshold=1,
            what="Lambda throttled the loader (account concurrency or the opt-in "
            "loader_reserved_concurrency); scheduled runs are being delayed.",
        )
        self._alarm(
            "LoaderTicksDropped",
            loader.function.metric("AsyncEventsDropped", statistic="Sum", period=PERIOD),
            threshold=1,
            what="Scheduled loader runs were dropped without running (waited longer than a "
            "schedule period, or failed); files wait for the next run.",
        )

    def _loader_silence_alarm(self, loader: ScheduledLoader, schedule_minutes: int) -> None:
        # The freshness alarms hear only from loader runs: if no run starts at all
        # (schedules disabled or deleted, the function gone), their metric stops and
        # they would stay quiet. Here no data is the failure, so missing data breaches.
        # Period x periods stays within CloudWatch's window (a day below hourly periods,
        # seven days above) for every schedule the config accepts (1 to 1440 minutes).
        periods = defaults.LOADER_SILENT_SCHEDULE_PERIODS
        self._alarm(
            "LoaderNotRunning",
            loader.function.metric_invocations(
                statistic="Sum", period=Duration.minutes(schedule_minutes)
            ),
            threshold=1,
            below=True,
            evaluation_periods=periods,
            missing_breaches=True,
            what=f"The loader has not run for {periods} schedule periods "
            f"({periods * schedule_minutes} minutes): staged changes are not being loaded "
            "and the freshness alarms cannot hear about it. Check the loader's schedules.",
        )

    def _database_alarms(self, database: Database) -> None:
        instance = database.instance
        if instance is None:
            # An existing server may not be RDS; its owner watches it.
            return
        self._alarm(
            "DatabaseCpu",
            instance.metric_cpu_utilization(statistic="Average", period=PERIOD),
            threshold=defaults.DB_CPU_ALARM_PERCENT,
            evaluation_periods=3,
            what=f"MariaDB CPU has stayed above {defaults.DB_CPU_ALARM_PERCENT}% for 15 minutes.",
        )
        free = defaults.DB_FREE_STORAGE_ALARM_GB
        self._alarm(
            "DatabaseFreeStorage",
            instance.metric_free_storage_space(statistic="Minimum", period=PERIOD),
            threshold=free * 1024**3,
            below=True,
            what=f"MariaDB has less than {free} GiB of free storage (storage autoscaling "
            "may have reached its maximum).",
        )
        self._alarm(
            "DatabaseConnections",
            instance.metric_database_connections(statistic="Maximum", period=PERIOD),
            threshold=defaults.DB_CONNECTIONS_ALARM,
            what=f"MariaDB has {defaults.DB_CONNECTIONS_ALARM} or more connections open "
            "(the loader holds one per run).",
        )

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
        evaluation_periods: int = 1,
        missing_breaches: bool = False,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            name,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=(
                cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
                if below
                else cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
            ),
            # No data means nothing flowed, which is not a failure, except for an
            # alarm on something that must always report (``missing_breaches``).
            treat_missing_data=(
                cloudwatch.TreatMissingData.BREACHING
                if missing_breaches
                else cloudwatch.TreatMissingData.NOT_BREACHING
            ),
            alarm_description=f"ddbload: {what}",
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms[name] = alarm

    def _dashboard(
        self,
        capture: ChangeCapture,
        delivery: Delivery,
        loader: ScheduledLoader,
        database: Database,
    ) -> cloudwatch.Dashboard:
        stream = delivery.delivery_stream
        dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(6))
        tables = capture.table_names
        work_queues = [lane.work_queue for lane in loader.lanes.values() if lane.work_queue]
        dead_letters = [lane.dead_letters for lane in loader.lanes.values() if lane.dead_letters]
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="DynamoDB -> Kinesis: oldest unreplicated change (ms)",
                left=[self.replication_metric(t, "AgeOfOldestUnreplicatedRecord") for t in tables],
            ),
            cloudwatch.GraphWidget(
                title="DynamoDB -> Kinesis: failed / throttled records",
                left=[self.replication_metric(t, "FailedToReplicateRecordCount") for t in tables],
                right=[self.replication_metric(t, "ThrottledPutRecordCount") for t in tables],
            ),
        )
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
                left=[
                    loader.function.metric_invocations(),
                    loader.function.metric_errors(),
                    loader.function.metric_throttles(),
                    loader.function.metric("AsyncEventsDropped", statistic="Sum"),
                ],
                right=[loader.function.metric_duration(statistic="Maximum")],
            ),
        )
        if database.instance is not None:
            instance = database.instance
            dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="MariaDB CPU (%) and connections",
                    left=[instance.metric_cpu_utilization()],
                    right=[instance.metric_database_connections(statistic="Maximum")],
                ),
                cloudwatch.GraphWidget(
                    title="MariaDB free storage (bytes)",
                    left=[instance.metric_free_storage_space(statistic="Minimum")],
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
        objective = freshness_objective(self.settings)
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Freshness per table (s): age of the oldest change not yet in MariaDB",
                left=[
                    self.table_metric(loader, t, names.METRIC_FRESHNESS).with_(label=t)
                    for t in tables
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=objective, label="objective")
                ],
            ),
            cloudwatch.GraphWidget(
                title="End-to-end latency per table (s): commit time minus change time, "
                "p50 (left) and max (right) per run",
                left=[
                    self.table_metric(loader, t, names.METRIC_LATENCY_P50, "Average").with_(
                        label=f"{t} p50"
                    )
                    for t in tables
                ],
                right=[
                    self.table_metric(loader, t, names.METRIC_LATENCY_MAX).with_(label=f"{t} max")
                    for t in tables
                ],
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Work queues (one per lane): backlog and age",
                left=[self._visible(q) for q in work_queues],
                right=[
                    q.metric_approximate_age_of_oldest_message(statistic="Maximum")
                    for q in work_queues
                ],
            ),
            cloudwatch.GraphWidget(
                title="Dead letters",
                left=[
                    *(self._visible(q) for q in dead_letters),
                    self._visible(loader.schedule_dead_letters),
                ],
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values())),
        )
        return dashboard
