"""Names the stacks and the runtime must agree on: environment variables, outputs, metrics.

Every environment variable the Lambda functions and the CLI read is named here
once. Stacks import these constants to set them; ``transforms`` and
``loaders`` import them to read them at start. The CloudFormation outputs are
how the operator tools find a deployed pipeline, and the metric names are what
the loader emits and the stack's alarms watch. (The settings themselves, with
their defaults and bounds, are ``contract.config``.)
"""

# The pipeline configuration (contract.config), as the JSON the stacks validated.
ENV_CONFIG = "DDBLOAD_CONFIG"
# S3 staging bucket and the three prefixes (data, Firehose failures, quarantine).
ENV_BUCKET = "DDBLOAD_BUCKET"
ENV_STAGING_PREFIX = "DDBLOAD_STAGING_PREFIX"
ENV_ERROR_PREFIX = "DDBLOAD_ERROR_PREFIX"
ENV_QUARANTINE_PREFIX = "DDBLOAD_QUARANTINE_PREFIX"
# Secrets Manager secret (ARN or name) with the MariaDB credentials
# (host, port, username, password, dbname), the RDS secret shape.
ENV_DB_SECRET = "DDBLOAD_DB_SECRET"
# SQS work queue fed by S3 object-created events (URL).
ENV_WORK_QUEUE_URL = "DDBLOAD_WORK_QUEUE_URL"
# TLS to MariaDB: "verify" (CA bundle + host name), "required" (encrypted, certificate
# not checked) or "off"; unset: verify with a CA bundle, else required, off on loopback.
ENV_DB_TLS = "DDBLOAD_DB_TLS"
# PEM file of the CAs that sign the MariaDB server certificate (RDS: global-bundle.pem).
ENV_DB_CA_BUNDLE = "DDBLOAD_DB_CA_BUNDLE"
# CloudWatch namespace of the loader's Embedded Metric Format metrics (default "ddbload").
ENV_METRICS_NAMESPACE = "DDBLOAD_METRICS_NAMESPACE"
# Set by the Lambda runtime itself: the function's name (the loader's metric dimension).
ENV_LAMBDA_FUNCTION_NAME = "AWS_LAMBDA_FUNCTION_NAME"
# Local mode: boto3 endpoint of the moto server, and MariaDB's server, account and TLS
# (never its database: that is the config's or --database; loaders.settings.mariadb_server).
ENV_AWS_ENDPOINT = "AWS_ENDPOINT_URL"
ENV_MARIADB_URL = "MARIADB_URL"
# CLI: which deployed stack to talk to, or local mode.
ENV_STACK_NAME = "DDBLOAD_STACK"
ENV_LOCAL = "DDBLOAD_LOCAL"

# CloudFormation output names the CLI reads to find a deployed pipeline.
OUTPUT_BUCKET = "StagingBucketName"
OUTPUT_STAGING_PREFIX = "StagingPrefix"
OUTPUT_ERROR_PREFIX = "ErrorPrefix"
OUTPUT_QUARANTINE_PREFIX = "QuarantinePrefix"
OUTPUT_LOADER_FUNCTION = "LoaderFunctionName"
OUTPUT_TRANSFORM_FUNCTION = "TransformFunctionName"
# Each loader lane's queues and schedule: one output per lane (contract.lanes.output_name).
OUTPUT_DB_SECRET = "DatabaseSecretArn"
OUTPUT_CONFIG = "PipelineConfig"

# The loader's CloudWatch metrics: one Embedded Metric Format document per run
# (loaders/handler.py), namespace ENV_METRICS_NAMESPACE (default below), one
# dimension, the function's name. The stack's alarms and dashboard read the same names.
METRICS_NAMESPACE = "ddbload"
METRIC_DIMENSION = "Function"
METRIC_FILES_LOADED = "FilesLoaded"
METRIC_FILES_FAILED = "FilesFailed"
METRIC_FILES_QUARANTINED = "FilesQuarantined"
METRIC_FILES_PENDING = "FilesPending"
METRIC_ROWS_QUARANTINED = "RowsQuarantined"
METRIC_RUN_FAILED = "RunFailed"
# Per table (dimensions Function and METRIC_TABLE_DIMENSION, one EMF document per table
# and run; loaders.freshness defines them), in seconds: the age of the oldest change not
# yet committed (0 when nothing is pending), and commit time minus change time of the
# changes the run committed (p50 and max; only when it committed some).
METRIC_TABLE_DIMENSION = "Table"
METRIC_FRESHNESS = "FreshnessSeconds"
METRIC_LATENCY_P50 = "LatencyP50Seconds"
METRIC_LATENCY_MAX = "LatencyMaxSeconds"
# Tables a run found locked by another run (left for later, not failed).
METRIC_TABLES_BUSY = "TablesBusy"
