"""Deployment defaults in one place: runtimes, sizes, retries, alarm thresholds, names.

The pipeline settings users change (schedule, buffers, prefixes, retention) live in
``contract.config`` and reach the constructs through ``PipelineConfig``; what is here
is the AWS plumbing around them that an operator rarely needs to touch. Constructs
read these values; they never hard-code their own.
"""

from __future__ import annotations

from contract import names

# Both functions run the project's Python (pyproject: >=3.11,<3.12) on x86_64, the
# platform the local bundler downloads wheels for.
PYTHON_VERSION = "3.11"
WHEEL_PLATFORM = "manylinux2014_x86_64"

# Stack name the CLI looks for unless DDBLOAD_STACK says otherwise.
STACK_NAME = "ddbload"

TRANSFORM_HANDLER = "transforms.handler.handler"
TRANSFORM_PACKAGES = ("transforms", "contract")
# Small wheels only (no pandas): the transform bundle stays small for fast cold starts.
TRANSFORM_REQUIREMENTS = ("orjson", "msgspec", "pybase64")
TRANSFORM_MEMORY_MB = 512
TRANSFORM_TIMEOUT_SECONDS = 60
# Firehose retries a failed processor invocation this many times before the batch
# goes to the error prefix.
PROCESSOR_RETRIES = 3

LOADER_HANDLER = "loaders.handler.handler"
LOADER_PACKAGES = ("loaders", "contract")
# pyarrow and numpy are bundled at the versions pyproject.toml pins, so Lambda runs the
# pyarrow the tests ran (a managed layer ships other versions, and its ARN differs by
# region, account and partition). pyarrow 20.0.0 is the newest with a cp311
# manylinux2014 wheel; the bundle stays under Lambda's 250 MB unzipped limit
# (tests/stacks/test_bundles.py measures it).
LOADER_REQUIREMENTS = ("pymysql", "orjson", "pyarrow", "numpy")
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024
LOADER_MEMORY_MB = 2048
LOADER_EPHEMERAL_STORAGE_MB = 2048
# How long an asynchronous invocation may wait before it is dropped: Lambda allows
# 60 s to 6 h, EventBridge Scheduler 60 s to 24 h.
LAMBDA_MAX_EVENT_AGE_SECONDS = 6 * 3600
SCHEDULER_MAX_EVENT_AGE_SECONDS = 24 * 3600

# TLS to MariaDB. A CA bundle the user saves under this name at the repository root
# (AWS's RDS global-bundle.pem, see docs/DEPLOY.md) is copied to the root of the loader
# bundle, which Lambda unpacks in its task root; the loader then verifies the server.
# Without it the loader still encrypts (require_secure_transport) but cannot verify.
RDS_CA_BUNDLE_FILE = "rds-ca-bundle.pem"
LAMBDA_TASK_ROOT = "/var/task"
DB_TLS_WITH_BUNDLE = "verify"
DB_TLS_WITHOUT_BUNDLE = "required"

# EventBridge Scheduler target: retries of a failed delivery to Lambda, then the DLQ.
SCHEDULE_RETRY_ATTEMPTS = 3
# SQS: a work message invisible for longer than a whole loader run, so a run that
# takes a message but times out does not race the next run for it.
WORK_QUEUE_MAX_RECEIVES = 5
DLQ_RETENTION_DAYS = 14
WORK_QUEUE_RETENTION_DAYS = 4

LOG_RETENTION_DAYS = 30
ACCESS_LOG_EXPIRY_DAYS = 90
# Firehose processing failures and quarantined rows are kept longer than staging
# data: someone has to look at them.
ERROR_EXPIRY_DAYS = 90

# New MariaDB instance.
DB_INSTANCE_TYPE = "t4g.medium"
# CloudFormation wants a full engine version. These are the newest minors of each
# supported major known to aws-cdk-lib 2.275; RDS applies later minors itself
# (auto minor version upgrade).
MARIADB_VERSIONS = {"10.11": "10.11.19", "11.4": "11.4.13"}
DB_ALLOCATED_STORAGE_GB = 20
DB_MAX_ALLOCATED_STORAGE_GB = 200
DB_BACKUP_RETENTION_DAYS = 7
DB_MULTI_AZ = True
DB_ROTATION_DAYS = 30
DB_PORT = 3306
VPC_MAX_AZS = 2

# Alarms. Freshness: Firehose buffers up to firehose_buffer_seconds; anything older
# than that plus this slack means delivery is stuck.
FRESHNESS_SLACK_SECONDS = 900
# Loader lag: the oldest unprocessed work message, in schedule periods.
LAG_SCHEDULE_PERIODS = 3
# The loader's own metrics: one Embedded Metric Format log line per scheduled run
# (loaders/handler.py), dimension Function = the loader function's name.
# The names are defined once, in contract.names (the handler emits the same ones).
LOADER_METRICS_NAMESPACE = names.METRICS_NAMESPACE
LOADER_METRIC_DIMENSION = names.METRIC_DIMENSION
LOADER_METRIC_FILES_FAILED = names.METRIC_FILES_FAILED
LOADER_METRIC_FILES_QUARANTINED = names.METRIC_FILES_QUARANTINED
LOADER_METRIC_ROWS_QUARANTINED = names.METRIC_ROWS_QUARANTINED
LOADER_METRIC_FILES_LOADED = names.METRIC_FILES_LOADED
ALARM_PERIOD_MINUTES = 5
# The loader must run every schedule period; this many periods with no invocation at
# all alarm (a single late tick does not).
LOADER_SILENT_SCHEDULE_PERIODS = 2
# DynamoDB's Kinesis streaming destination publishes its metrics (AWS/DynamoDB) with the
# dimensions TableName and DelegatedOperation, the Kinesis call DynamoDB makes for us.
REPLICATION_DELEGATED_OPERATION = "PutRecords"
# Normally milliseconds; minutes mean the stream throttles or DynamoDB lost access.
REPLICATION_AGE_LIMIT_SECONDS = 300
# New MariaDB instance (DB_INSTANCE_TYPE, 4 GiB: max_connections is about 340).
DB_CPU_ALARM_PERCENT = 80
DB_FREE_STORAGE_ALARM_GB = 2
DB_CONNECTIONS_ALARM = 200
