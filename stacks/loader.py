"""The scheduled loader: a lane per table, each a schedule that runs the loader for its table.

Third hop of the flow. Each configured table is a lane (``contract.lanes``): S3
ObjectCreated events filtered to the table's staging folder feed the lane's own SQS
work queue (with a dead-letter queue), and the lane's own EventBridge Scheduler
schedule invokes the loader every ``schedule_minutes`` with ``{"lane": <table>,
"work_queue_url": <its queue>}``. The run drains that queue and sweeps the table's
recent hour prefixes against the ledger, so a lost message never loses a file.
Tables missing from the config share the default lane: a schedule of its own and no
queue (S3 refuses overlapping notification filters, and a catch-all one would
overlap every table's), found by its longer sweep. The CLI invokes the same function
with ``{"action": "reload", "prefix": ...}``.

Why a schedule per lane rather than one tick that invokes the loader once per table:
the lanes share nothing, not even a dispatcher that could fail or be throttled for
all of them; each gets the Scheduler's own retries and dead-letter queue; and the
function needs no permission to invoke itself nor a route from its VPC to the Lambda
API. The price is a short run per lane per tick when a table is quiet.

No reserved concurrency unless ``loader_reserved_concurrency`` asks for it: lanes run
in parallel, and the per-table ``GET_LOCK`` in MariaDB keeps one merge per table
whatever runs overlap (a run that finds it held leaves that table for later).
Grants are exact: read the staging prefix (objects and listing), write the
quarantine prefix, consume the lanes' work queues, read the database secret.

TLS to MariaDB: with ``rds-ca-bundle.pem`` at the repository root the loader bundle
carries it and the loader verifies the server (``DDBLOAD_DB_TLS=verify``); without it
the loader encrypts without verifying (``required``) and synth warns how to fix that.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Annotations, Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from contract import lanes, layout
from contract import names as env
from contract.config import PipelineConfig
from stacks import bundling, defaults
from stacks.database import Database
from stacks.nag import LAMBDA_BASIC_POLICY, LAMBDA_VPC_POLICY, acknowledge, arn_finding
from stacks.staging_bucket import StagingBucket

# What the schedules send: no "action" key means a scheduled run to the loader handler;
# the CLI sends {"action": "reload", "prefix": ...} instead.
SCHEDULE_SOURCE = lanes.SCHEDULE_SOURCE


def stale_after(period: Duration, ceiling: int) -> Duration:
    """How long an invocation may wait: one schedule period, within the service's 60 s to
    ``ceiling`` range (a tick older than the next one is worth nothing)."""
    return Duration.seconds(min(ceiling, max(60, int(period.to_seconds()))))


def _queue(scope: Construct, id: str, **kwargs: object) -> sqs.Queue:
    return sqs.Queue(
        scope,
        id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        removal_policy=RemovalPolicy.DESTROY,
        **kwargs,  # type: ignore[arg-type]
    )


class LoaderLane(Construct):
    """One lane. Public: ``lane`` (the table, or ``lanes.DEFAULT_LANE``), ``work_queue`` and
    ``dead_letters`` (None for the default lane), ``schedule``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        lane: str,
        function: lambda_.IFunction,
        staging: StagingBucket,
        period: Duration,
        visibility: Duration,
        schedule_dead_letters: sqs.IQueue,
    ) -> None:
        super().__init__(scope, id)
        self.lane = lane
        self.work_queue: sqs.Queue | None = None
        self.dead_letters: sqs.Queue | None = None
        if lanes.has_queue(lane):
            self.dead_letters = _queue(
                self, "WorkDeadLetters", retention_period=Duration.days(defaults.DLQ_RETENTION_DAYS)
            )
            self.work_queue = _queue(
                self,
                "WorkQueue",
                # A received message stays hidden for a whole run, so two runs never hold it.
                visibility_timeout=visibility,
                retention_period=Duration.days(defaults.DLQ_RETENTION_DAYS),
                dead_letter_queue=sqs.DeadLetterQueue(
                    max_receive_count=defaults.WORK_QUEUE_MAX_RECEIVES, queue=self.dead_letters
                ),
            )
            staging.bucket.add_event_notification(
                s3.EventType.OBJECT_CREATED,
                s3n.SqsDestination(self.work_queue),
                s3.NotificationKeyFilter(prefix=layout.table_prefix(staging.staging_prefix, lane)),
            )
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            description=f"ddbload: run the loader for {lanes.title(lane)}",
            schedule=scheduler.ScheduleExpression.rate(period),
            target=targets.LambdaInvoke(
                function,
                input=scheduler.ScheduleTargetInput.from_object(
                    lanes.lane_event(
                        lane,
                        work_queue_url=self.work_queue.queue_url if self.work_queue else None,
                        scheduled_time=scheduler.ContextAttribute.scheduled_time,
                        execution_id=scheduler.ContextAttribute.execution_id,
                    )
                ),
                dead_letter_queue=schedule_dead_letters,
                retry_attempts=defaults.SCHEDULE_RETRY_ATTEMPTS,
                max_event_age=stale_after(period, defaults.SCHEDULER_MAX_EVENT_AGE_SECONDS),
            ),
        )

    def description(self) -> dict[str, str | None]:
        """The lane as the operator tools read it from the stack outputs."""
        return {
            "lane": self.lane,
            "work_queue_url": self.work_queue.queue_url if self.work_queue else None,
            "dead_letter_queue_url": self.dead_letters.queue_url if self.dead_letters else None,
            "schedule": self.schedule.schedule_name,
        }


class ScheduledLoader(Construct):
    """Public: ``function``, ``lanes`` (lane -> ``LoaderLane``), ``schedule_dead_letters``,
    ``db_tls`` (the loader's TLS mode)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: PipelineConfig,
        staging: StagingBucket,
        database: Database,
    ) -> None:
        super().__init__(scope, id)
        settings = config.settings
        timeout = Duration.seconds(settings["loader_timeout_seconds"])
        period = Duration.minutes(settings["schedule_minutes"])

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=database.vpc,
            description="ddbload loader: MariaDB and AWS API endpoints",
            allow_all_outbound=True,
        )
        ca_bundle = bundling.rds_ca_bundle()
        self.function = lambda_.Function(
            self,
            "Function",
            description="ddbload: staging files -> MariaDB (LOAD DATA + versioned merge)",
            runtime=lambda_.Runtime.PYTHON_3_11,
            architecture=lambda_.Architecture.X86_64,
            handler=defaults.LOADER_HANDLER,
            code=bundling.loader_code(ca_bundle),
            vpc=database.vpc,
            vpc_subnets=database.subnets,
            security_groups=[self.security_group],
            timeout=timeout,
            memory_size=defaults.LOADER_MEMORY_MB,
            ephemeral_storage_size=Size.mebibytes(defaults.LOADER_EPHEMERAL_STORAGE_MB),
            # None by default: Lambda keeps 100 of an account's concurrency unreserved, so
            # accounts with a quota of 100 or less refuse any reservation. The per-table
            # GET_LOCK already keeps one merge per table; a reservation is opt-in.
            reserved_concurrent_executions=settings["loader_reserved_concurrency"],
            # A tick that waited behind a long run is worthless once the next tick is
            # due, and a failed run is retried by the next tick anyway.
            retry_attempts=0,
            max_event_age=stale_after(period, defaults.LAMBDA_MAX_EVENT_AGE_SECONDS),
            environment={
                env.ENV_CONFIG: config.to_json(),
                env.ENV_BUCKET: staging.bucket.bucket_name,
                env.ENV_STAGING_PREFIX: staging.staging_prefix,
                env.ENV_ERROR_PREFIX: staging.error_prefix,
                env.ENV_QUARANTINE_PREFIX: staging.quarantine_prefix,
                env.ENV_DB_SECRET: database.secret.secret_arn,
                env.ENV_METRICS_NAMESPACE: defaults.LOADER_METRICS_NAMESPACE,
                **self._tls_environment(ca_bundle),
            },
            log_group=logs.LogGroup(
                self,
                "Logs",
                retention=logs.RetentionDays.ONE_MONTH,
                removal_policy=RemovalPolicy.DESTROY,
            ),
        )
        database.allow_from(self.function)

        self.schedule_dead_letters = _queue(
            self,
            "ScheduleDeadLetters",
            retention_period=Duration.days(defaults.DLQ_RETENTION_DAYS),
        )
        self.lanes = {
            lane: LoaderLane(
                self,
                "Lane" + lanes.resource_id(lane),
                lane=lane,
                function=self.function,
                staging=staging,
                period=period,
                visibility=Duration.seconds(settings["loader_timeout_seconds"] + 60),
                schedule_dead_letters=self.schedule_dead_letters,
            )
            for lane in lanes.lanes(config)
        }
        self._grant(staging, database)
        if database.loader_user is not None:
            # The first tick must find the loader's MariaDB user in place.
            for lane in self.lanes.values():
                lane.schedule.node.add_dependency(database.loader_user.resource)
        self._acknowledge(staging)

    def _tls_environment(self, ca_bundle: Path | None) -> dict[str, str]:
        if ca_bundle is not None:
            self.db_tls = defaults.DB_TLS_WITH_BUNDLE
            return {
                env.ENV_DB_TLS: self.db_tls,
                env.ENV_DB_CA_BUNDLE: f"{defaults.LAMBDA_TASK_ROOT}/{defaults.RDS_CA_BUNDLE_FILE}",
            }
        self.db_tls = defaults.DB_TLS_WITHOUT_BUNDLE
        Annotations.of(self).add_warning_v2(
            "ddbload:db-tls-unverified",
            "The loader will encrypt its MariaDB connection but cannot verify the server "
            f"certificate: no {defaults.RDS_CA_BUNDLE_FILE} at the repository root. Download "
            "global-bundle.pem from the RDS trust store "
            "(https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem), save it as "
            f"{defaults.RDS_CA_BUNDLE_FILE} there and synthesize again (docs/DEPLOY.md).",
        )
        return {env.ENV_DB_TLS: self.db_tls}

    def _grant(self, staging: StagingBucket, database: Database) -> None:
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[staging.staging_objects()])
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[staging.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{staging.staging_prefix}/*"]}},
            )
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[staging.quarantine_objects()])
        )
        for lane in self.lanes.values():
            if lane.work_queue is not None:
                lane.work_queue.grant_consume_messages(self.function)
        database.secret.grant_read(self.function)

    def _acknowledge(self, staging: StagingBucket) -> None:
        acknowledge(
            self.function,
            "AwsSolutions-IAM4",
            "AWSLambdaBasicExecutionRole (own logs) and AWSLambdaVPCAccessExecutionRole "
            "(network interfaces for a VPC function) are the standard Lambda execution "
            "policies.",
            [LAMBDA_BASIC_POLICY, LAMBDA_VPC_POLICY],
        )
        acknowledge(
            self.function,
            "AwsSolutions-IAM5",
            "Object ARNs are limited to the staging prefix (read) and the quarantine prefix "
            "(write); staging object names are generated by Firehose.",
            [
                arn_finding(staging.bucket, f"/{staging.staging_prefix}/*"),
                arn_finding(staging.bucket, f"/{staging.quarantine_prefix}/*"),
            ],
        )
        # The Scheduler's target role is created at stack level by the L2.
        acknowledge(
            Stack.of(self),
            "AwsSolutions-IAM5",
            "The Scheduler role (one for every lane's schedule) may invoke the loader function "
            "and its versions, nothing else.",
            [arn_finding(self.function, ":*")],
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "The project targets Python 3.11 and the bundle holds 3.11 wheels (pyarrow 20 is "
            "the newest with a manylinux2014 wheel the python3.11 runtime can load).",
        )
        acknowledge(
            self.schedule_dead_letters,
            "AwsSolutions-SQS3",
            "This queue is the Scheduler target's dead-letter queue; it needs none itself.",
        )
