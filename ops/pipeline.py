"""The pipeline an operator works on: plain names plus boto3 clients for its account.

Every operator function (inspect, reload, status, verify, backfill) takes a
``Pipeline``. A deployed pipeline is found here, by its CloudFormation stack
name (``from_stack``): the outputs named in ``contract.names`` give the
bucket, prefixes, loader function, secret and validated config, and one output
per loader lane its queues (``contract.lanes``). The
local stack is reached by ``localmode.pipeline.from_local``, which hands in a
client factory pointed at the moto server; this module knows nothing of it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from contract import lanes, layout, names
from contract.config import PipelineConfig, from_json


class OperatorError(Exception):
    """A problem the operator can act on; ``str()`` is one sentence saying what to do."""


# Outputs a stack must have for the CLI to work with it; the others are optional
# (an older stack without a dead-letter queue output still inspects fine).
_REQUIRED_OUTPUTS = (
    names.OUTPUT_BUCKET,
    names.OUTPUT_STAGING_PREFIX,
    names.OUTPUT_ERROR_PREFIX,
    names.OUTPUT_QUARANTINE_PREFIX,
    names.OUTPUT_CONFIG,
)


@dataclass(frozen=True)
class Lane:
    """One loader lane: a configured table or the default lane, and its SQS queues (none
    for the default lane)."""

    name: str
    work_queue_url: str | None = None
    dead_letter_queue_url: str | None = None


@dataclass(frozen=True)
class Pipeline:
    """One ddbload pipeline as the CLI sees it."""

    where: str  # "local" or "stack <name>", for messages
    bucket: str
    staging_prefix: str
    error_prefix: str
    quarantine_prefix: str
    config: PipelineConfig
    db_secret: str | None = None
    loader_function: str | None = None
    # The loader's lanes (contract.lanes), each with its queues; () where unknown.
    lanes: tuple[Lane, ...] = ()
    region: str | None = None
    # Local: the loader engine runs in this process instead of the deployed function.
    local: bool = False
    # Deployed: the Kinesis stream and Firehose delivery stream, whose CloudWatch metrics
    # say what they still hold (``ops.status``); None where unknown.
    kinesis_stream: str | None = None
    delivery_stream: str | None = None
    # TLS to MariaDB as the loader is told (DDBLOAD_DB_TLS / _CA_BUNDLE); None: by the host.
    db_tls: str | None = None
    db_ca_bundle: str | None = None
    # Makes the client of a service; None: boto3's default session for ``region``.
    make_client: Callable[[str], Any] | None = field(default=None, compare=False, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def client(self, service: str, config: Any = None) -> Any:
        """A boto3 client for this pipeline's account, region and endpoint (cached).

        ``config`` (a ``botocore.config.Config``: timeouts, retries) makes a client of
        its own, not cached; a ``make_client`` factory's clients keep the factory's.
        """
        if config is not None and self.make_client is None:
            session = self._clients.setdefault("_session", boto3.session.Session())
            return session.client(service, region_name=self.region, config=config)
        if service not in self._clients and self.make_client is not None:
            self._clients[service] = self.make_client(service)
        if service not in self._clients:
            session = self._clients.setdefault("_session", boto3.session.Session())
            self._clients[service] = session.client(service, region_name=self.region)
        return self._clients[service]

    def loader_settings(self) -> Any:
        """The loader's settings for this pipeline (what the stack gives the loader Lambda)."""
        from loaders.settings import LoaderSettings

        return LoaderSettings(
            config=self.config,
            bucket=self.bucket,
            staging_prefix=self.staging_prefix.strip("/"),
            error_prefix=self.error_prefix.strip("/"),
            quarantine_prefix=self.quarantine_prefix.strip("/"),
            db_secret=self.db_secret,
            db_tls=self.db_tls,
            db_ca_bundle=self.db_ca_bundle,
        )

    def connect(self) -> Any:
        """A connection to the pipeline's MariaDB, with the credentials from its secret."""
        from loaders import db

        if not self.db_secret:
            raise OperatorError(f"The {self.where} pipeline names no database secret.")
        try:
            params = db.credentials(self.loader_settings(), self.client("secretsmanager"))
        except ClientError as e:
            if e.response["Error"]["Code"] == "ResourceNotFoundException":
                raise OperatorError(
                    f"The database secret {self.db_secret} does not exist in the {self.where} "
                    "pipeline."
                ) from None
            raise
        return db.open_connection(
            params, tls=db.tls_policy(params["host"], self.db_tls, self.db_ca_bundle)
        )

    def ledger_connection(self) -> Any:
        """A connection for reading the ledger, or None where the database is out of reach.

        A deployed stack's database is usually private: commands that can do
        without the ledger (reload plans, backfill) then leave the loading to the
        deployed loader. Locally an unreachable database is an error.
        """
        import pymysql

        if self.local:
            return self.connect()
        try:
            return self.connect()
        except pymysql.err.OperationalError:
            return None

    def table_prefix(self, table: str) -> str:
        """The staging prefix of one source table's objects."""
        return layout.table_prefix(self.staging_prefix, table)


def from_stack(name: str, region: str | None = None) -> Pipeline:
    """Find a deployed pipeline by its CloudFormation stack outputs."""
    # A session of our own: credentials are looked up afresh for every resolution.
    session = boto3.session.Session(region_name=region)
    cfn = session.client("cloudformation")
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as e:
        if "does not exist" in str(e):
            raise OperatorError(
                f"Stack {name!r} was not found in region {cfn.meta.region_name}; "
                "check --stack and AWS_DEFAULT_REGION."
            ) from None
        raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    streams = _stream_names(cfn, name)
    missing = [o for o in _REQUIRED_OUTPUTS if o not in outputs]
    if missing:
        raise OperatorError(
            f"Stack {name!r} has no output {', '.join(missing)}; is it a ddbload stack?"
        )
    return Pipeline(
        where=f"stack {name}",
        bucket=outputs[names.OUTPUT_BUCKET],
        staging_prefix=outputs[names.OUTPUT_STAGING_PREFIX],
        error_prefix=outputs[names.OUTPUT_ERROR_PREFIX],
        quarantine_prefix=outputs[names.OUTPUT_QUARANTINE_PREFIX],
        config=from_json(outputs[names.OUTPUT_CONFIG]),
        db_secret=outputs.get(names.OUTPUT_DB_SECRET),
        loader_function=outputs.get(names.OUTPUT_LOADER_FUNCTION),
        lanes=_lanes(outputs),
        kinesis_stream=streams.get(_KINESIS_STREAM),
        delivery_stream=streams.get(_DELIVERY_STREAM),
        region=cfn.meta.region_name,
        _clients={"_session": session},
    )


def _lanes(outputs: dict[str, str]) -> tuple[Lane, ...]:
    """The lanes the stack describes, one output each (``contract.lanes.output_name``)."""
    found = []
    for key, value in sorted(outputs.items()):
        if not key.startswith(lanes.OUTPUT_LANE_PREFIX):
            continue
        try:
            doc = json.loads(value)
            found.append(
                Lane(doc["lane"], doc.get("work_queue_url"), doc.get("dead_letter_queue_url"))
            )
        except (ValueError, KeyError, TypeError):
            raise OperatorError(
                f"The stack output {key} is not a ddbload lane description; deploy again."
            ) from None
    return tuple(found)


_KINESIS_STREAM = "AWS::Kinesis::Stream"
_DELIVERY_STREAM = "AWS::KinesisFirehose::DeliveryStream"


def _stream_names(cfn: Any, stack: str) -> dict[str, str]:
    """The stack's Kinesis stream and delivery stream names, by resource type.

    Read from the stack's resources rather than outputs, so stacks deployed before
    ``status`` needed them work too; {} when they cannot be listed (``status`` then
    shows no upstream figures).
    """
    found: dict[str, str] = {}
    try:
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack):
            for r in page.get("StackResourceSummaries", []):
                if r.get("ResourceType") in (_KINESIS_STREAM, _DELIVERY_STREAM):
                    found.setdefault(r["ResourceType"], r.get("PhysicalResourceId", ""))
    except ClientError:
        return {}
    return {kind: name for kind, name in found.items() if name}
