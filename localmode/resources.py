"""The pipeline's AWS resources, created in the local moto_server from the pipeline config.

Same shape as the deployed stack: one DynamoDB table per configured source
(key schema from the config, stream with NEW_AND_OLD_IMAGES so the local
stream driver can stand in for the Kinesis destination), the Kinesis change
stream, the S3 staging bucket, a loader lane per configured table
(``contract.lanes``: its SQS work queue and dead-letter queue, fed by an
ObjectCreated notification filtered to the table's staging folder, which moto
delivers; the default lane has none), and a Secrets Manager secret holding the MariaDB credentials
in the RDS secret shape: server, user and password from ``MARIADB_URL`` (else
root@127.0.0.1:3306), the database from the config or ``--database``, never from
the URL. ``lambda_environment`` is what the deployed stack would put in the
Lambda functions' environment (with the URL's TLS setting).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from contract import lanes, layout
from contract import names as env_names
from contract.config import PipelineConfig, load_cdk_json, parse_config
from loaders.settings import MariaDBServer, mariadb_server
from localmode import state
from localmode.aws import ACCOUNT_ID, FAKE_CREDENTIALS, REGION, Clients

KINESIS_STREAM = "ddbload-changes"
KINESIS_SHARDS = 2
BUCKET = "ddbload-staging-local"
# Each lane's queues: WORK_QUEUE-<lane id> and its -dlq.
WORK_QUEUE = "ddbload-work"
SECRET_NAME = "ddbload/local/mariadb"
# Names of things moto cannot run (Firehose, the two Lambdas, the schedule);
# the local drivers use them where AWS would put an ARN in an event.
DELIVERY_STREAM = "ddbload-local-delivery"
TRANSFORM_FUNCTION = "ddbload-local-transform"
LOADER_FUNCTION = "ddbload-local-loader"
SCHEDULE = "ddbload-local-loader-schedule"
# Demo tables expire items through this attribute (moto never expires them;
# the stream driver marks a delete as TTL when asked, see stream_to_kinesis).
TTL_ATTRIBUTE = "expires_at"


@dataclass(frozen=True)
class LocalResources:
    """Names and ARNs of one local stack; saved in the state folder as JSON."""

    endpoint: str
    config_json: str
    tables: dict[str, str]  # DynamoDB table -> its stream ARN
    kinesis_stream: str
    kinesis_stream_arn: str
    bucket: str
    staging_prefix: str
    error_prefix: str
    quarantine_prefix: str
    # Configured table -> {"work_queue_url", "dead_letter_queue_url"} of its lane.
    lanes: dict[str, dict[str, str]]
    db_secret_arn: str
    database: str
    # TLS to MariaDB from MARIADB_URL (None: by the host), given to the loader as the
    # stack gives it DDBLOAD_DB_TLS / DDBLOAD_DB_CA_BUNDLE.
    db_tls: str | None = None
    db_ca_bundle: str | None = None
    region: str = REGION
    delivery_stream_arn: str = (
        f"arn:aws:firehose:{REGION}:{ACCOUNT_ID}:deliverystream/{DELIVERY_STREAM}"
    )
    transform_function_arn: str = (
        f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{TRANSFORM_FUNCTION}:$LATEST"
    )
    loader_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{LOADER_FUNCTION}"
    schedule_arn: str = f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/default/{SCHEDULE}"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> PipelineConfig:
        return parse_config(json.loads(self.config_json))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lane_names(self) -> list[str]:
        """Every lane of the stack: the configured tables, then the default lane."""
        return lanes.lanes(self.config)

    def work_queue_url(self, lane: str) -> str | None:
        """The lane's work queue (None for the default lane, which only sweeps)."""
        return self.lanes.get(lane, {}).get("work_queue_url")


def mariadb_credentials(
    url: str | None = None, database: str = "ddbload", *, server: MariaDBServer | None = None
) -> dict[str, Any]:
    """RDS-shaped secret value: server, user and password from ``MARIADB_URL`` (or
    root@127.0.0.1:3306), the database given (the config's or ``--database``), never
    the URL's."""
    server = server or mariadb_server(url)
    return {
        "engine": "mariadb",
        "host": server.host,
        "port": server.port,
        "username": server.user,
        "password": server.password,
        "dbname": database,
    }


def follows_mariadb_url(res: LocalResources, url: str | None = None) -> bool:
    """Whether the stack's secret and TLS are those ``MARIADB_URL`` (or ``url``) gives now."""
    server = mariadb_server(url)
    aws = Clients(res.endpoint)
    try:
        current = json.loads(
            aws.secretsmanager.get_secret_value(SecretId=res.db_secret_arn)["SecretString"]
        )
    except ClientError:
        return False
    wanted = mariadb_credentials(database=res.database, server=server)
    return current == wanted and (res.db_tls, res.db_ca_bundle) == (server.tls, server.ca_bundle)


def _key_schema(config: PipelineConfig, table: str) -> tuple[list[dict], list[dict]]:
    keys = config.tables[table].keys
    schema = [{"AttributeName": keys[0].name, "KeyType": "HASH"}]
    if len(keys) > 1:
        schema.append({"AttributeName": keys[1].name, "KeyType": "RANGE"})
    attributes = [{"AttributeName": k.name, "AttributeType": k.type} for k in keys]
    return schema, attributes


def _ensure_table(aws: Clients, config: PipelineConfig, table: str) -> str:
    try:
        desc = aws.dynamodb.describe_table(TableName=table)["Table"]
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        schema, attributes = _key_schema(config, table)
        desc = aws.dynamodb.create_table(
            TableName=table,
            KeySchema=schema,
            AttributeDefinitions=attributes,
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]
        aws.dynamodb.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )
    return desc["LatestStreamArn"]


def _ensure_queue(aws: Clients, name: str, attributes: dict[str, str]) -> tuple[str, str]:
    url = aws.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def _ensure_secret(aws: Clients, name: str, value: dict[str, Any]) -> str:
    text = json.dumps(value)
    try:
        return aws.secretsmanager.create_secret(Name=name, SecretString=text)["ARN"]
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceExistsException":
            raise
        return aws.secretsmanager.put_secret_value(SecretId=name, SecretString=text)["ARN"]


def create(
    endpoint: str,
    config: PipelineConfig | None = None,
    *,
    database: str | None = None,
    mariadb_url: str | None = None,
    state_path: str | os.PathLike[str] | None = None,
    suffix: str = "",
    with_tables: bool = True,
) -> LocalResources:
    """Create (or find) every pipeline resource in the moto_server at ``endpoint``.

    ``config`` defaults to ``cdk.json`` in the working directory; ``database``
    (default: the config's database name) goes into the secret's ``dbname``.
    Idempotent: running it again keeps what exists and updates the secret.
    The result is saved in the state folder for the drivers and the CLI.
    ``suffix`` names a second, separate pipeline in the same server (replay
    uses one per run, without DynamoDB tables: ``with_tables=False``).
    """
    config = config or load_cdk_json()
    aws = Clients(endpoint)
    settings = config.settings
    tables = (
        {name: _ensure_table(aws, config, name) for name in sorted(config.tables)}
        if with_tables
        else {}
    )
    kinesis_stream, bucket = KINESIS_STREAM + suffix, BUCKET + suffix

    try:
        aws.kinesis.create_stream(StreamName=kinesis_stream, ShardCount=KINESIS_SHARDS)
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceInUseException":
            raise
    summary = aws.kinesis.describe_stream_summary(StreamName=kinesis_stream)
    stream_arn = summary["StreamDescriptionSummary"]["StreamARN"]

    lane_queues: dict[str, dict[str, str]] = {}
    notifications = []
    for table in sorted(config.tables):
        name = f"{WORK_QUEUE}-{lanes.resource_id(table)}{suffix}"
        dlq_url, dlq_arn = _ensure_queue(aws, f"{name}-dlq", {})
        work_url, work_arn = _ensure_queue(
            aws,
            name,
            {
                "VisibilityTimeout": str(settings["loader_timeout_seconds"] + 60),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}
                ),
            },
        )
        lane_queues[table] = {"work_queue_url": work_url, "dead_letter_queue_url": dlq_url}
        prefix = layout.table_prefix(settings["staging_prefix"], table)
        notifications.append(
            {
                "QueueArn": work_arn,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}},
            }
        )

    aws.s3.create_bucket(Bucket=bucket)
    aws.s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": notifications}
    )
    for queues in lane_queues.values():
        _drain_test_event(aws, queues["work_queue_url"])

    dbname = database or config.database.name
    server = mariadb_server(mariadb_url)
    secret_arn = _ensure_secret(
        aws, SECRET_NAME + suffix, mariadb_credentials(database=dbname, server=server)
    )
    resources = LocalResources(
        endpoint=endpoint,
        config_json=config.to_json(),
        tables=tables,
        kinesis_stream=kinesis_stream,
        kinesis_stream_arn=stream_arn,
        bucket=bucket,
        staging_prefix=settings["staging_prefix"],
        error_prefix=settings["error_prefix"],
        quarantine_prefix=settings["quarantine_prefix"],
        lanes=lane_queues,
        db_secret_arn=secret_arn,
        database=dbname,
        db_tls=server.tls,
        db_ca_bundle=server.ca_bundle,
    )
    state.write(state.state_dir(state_path), state.RESOURCES_FILE, resources.to_dict())
    return resources


def _drain_test_event(aws: Clients, queue_url: str) -> None:
    """Remove the ``s3:TestEvent`` S3 sends when a notification is configured."""
    for _ in range(3):
        got = aws.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        messages = got.get("Messages", [])
        if not messages:
            return
        for m in messages:
            if '"s3:TestEvent"' in m["Body"]:
                aws.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
            else:
                aws.sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                )


def load(state_path: str | os.PathLike[str] | None = None) -> LocalResources:
    """The resources of the local stack recorded in the state folder."""
    from localmode.server import LocalModeError

    doc = state.read(state.state_dir(state_path), state.RESOURCES_FILE)
    if not doc:
        raise LocalModeError(
            "the local stack has no resources yet; start it with `ddbload local up`."
        )
    if "lanes" not in doc:
        raise LocalModeError(
            "the local stack was made before loader lanes; `ddbload local up` makes it again."
        )
    return LocalResources(**doc)


def lambda_environment(resources: LocalResources) -> dict[str, str]:
    """The environment the deployed stack gives the Lambda functions, pointed at moto.

    No work queue: as deployed, each lane's run gets its queue in its schedule's event.
    """
    return {
        env_names.ENV_CONFIG: resources.config_json,
        env_names.ENV_BUCKET: resources.bucket,
        env_names.ENV_STAGING_PREFIX: resources.staging_prefix,
        env_names.ENV_ERROR_PREFIX: resources.error_prefix,
        env_names.ENV_QUARANTINE_PREFIX: resources.quarantine_prefix,
        env_names.ENV_DB_SECRET: resources.db_secret_arn,
        # Set even when empty: the loader must not pick up the operator's shell settings.
        env_names.ENV_DB_TLS: resources.db_tls or "",
        env_names.ENV_DB_CA_BUNDLE: resources.db_ca_bundle or "",
        env_names.ENV_AWS_ENDPOINT: resources.endpoint,
        "AWS_REGION": resources.region,
        "AWS_DEFAULT_REGION": resources.region,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        **FAKE_CREDENTIALS,
    }


def describe(resources: LocalResources) -> list[tuple[str, str]]:
    """(kind, name) pairs of what the local stack holds, for `ddbload local up` to print."""
    rows = [("DynamoDB table (stream on)", t) for t in resources.tables]
    rows += [
        ("Kinesis stream", f"{resources.kinesis_stream} ({KINESIS_SHARDS} shards)"),
        ("S3 staging bucket", f"s3://{resources.bucket}/{resources.staging_prefix}/"),
        *(
            ("loader lane (SQS work queue + dead-letter queue)", f"{lane}: {q['work_queue_url']}")
            for lane, q in sorted(resources.lanes.items())
        ),
        ("loader lane (sweep only)", lanes.title(lanes.DEFAULT_LANE)),
        ("Secrets Manager secret", f"{SECRET_NAME} (MariaDB database {resources.database})"),
    ]
    return rows
