"""Where the operator CLI talks to: a deployed stack or the local stack.

Every ``ddbload`` command that reads or changes a pipeline starts with
``resolve(local=..., stack=...)``. A deployed pipeline is found by its
CloudFormation stack name: the outputs named in ``contract.settings`` give the
bucket, prefixes, loader function, queues, secret and validated config. Local
mode reads the running moto server's state from ``localmode`` and the config
from ``cdk.json``. The result is a ``Pipeline``: plain names plus boto3 clients
pointed at the right endpoint.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from contract import settings
from contract.config import PipelineConfig, from_json


class OperatorError(Exception):
    """A problem the operator can act on; ``str()`` is one sentence saying what to do."""


# Outputs a stack must have for the CLI to work with it; the others are optional
# (an older stack without a dead-letter queue output still inspects fine).
_REQUIRED_OUTPUTS = (
    settings.OUTPUT_BUCKET,
    settings.OUTPUT_STAGING_PREFIX,
    settings.OUTPUT_ERROR_PREFIX,
    settings.OUTPUT_QUARANTINE_PREFIX,
    settings.OUTPUT_CONFIG,
)


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
    work_queue_url: str | None = None
    dead_letter_queue_url: str | None = None
    endpoint_url: str | None = None  # the moto server in local mode
    region: str | None = None
    local: bool = False
    _clients: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def client(self, service: str) -> Any:
        """A boto3 client for this pipeline's account, region and endpoint (cached)."""
        if service not in self._clients and self.local and self.endpoint_url:
            from localmode import aws

            self._clients[service] = aws.client(service, self.endpoint_url)
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
            work_queue_url=self.work_queue_url,
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
        return db.open_connection(params)

    def table_prefix(self, table: str) -> str:
        """The staging prefix of one source table's objects."""
        return f"{self.staging_prefix.rstrip('/')}/table={table}/"


def resolve(local: bool = False, stack: str | None = None) -> Pipeline:
    """The pipeline named by the flags, else by ``DDBLOAD_LOCAL`` / ``DDBLOAD_STACK``."""
    if local and stack:
        raise OperatorError("Choose one pipeline: --local or --stack, not both.")
    if not local and not stack:
        local = os.environ.get(settings.ENV_LOCAL, "").lower() in ("1", "true", "yes")
        stack = None if local else os.environ.get(settings.ENV_STACK_NAME) or None
    if local:
        return from_local()
    if stack:
        return from_stack(stack)
    raise OperatorError(
        "No pipeline chosen: pass --stack NAME (or set DDBLOAD_STACK) for a deployed stack, "
        "or --local (or DDBLOAD_LOCAL=1) for the local stack."
    )


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
    missing = [o for o in _REQUIRED_OUTPUTS if o not in outputs]
    if missing:
        raise OperatorError(
            f"Stack {name!r} has no output {', '.join(missing)}; is it a ddbload stack?"
        )
    return Pipeline(
        where=f"stack {name}",
        bucket=outputs[settings.OUTPUT_BUCKET],
        staging_prefix=outputs[settings.OUTPUT_STAGING_PREFIX],
        error_prefix=outputs[settings.OUTPUT_ERROR_PREFIX],
        quarantine_prefix=outputs[settings.OUTPUT_QUARANTINE_PREFIX],
        config=from_json(outputs[settings.OUTPUT_CONFIG]),
        db_secret=outputs.get(settings.OUTPUT_DB_SECRET),
        loader_function=outputs.get(settings.OUTPUT_LOADER_FUNCTION),
        work_queue_url=outputs.get(settings.OUTPUT_WORK_QUEUE_URL),
        dead_letter_queue_url=outputs.get(settings.OUTPUT_DEAD_LETTER_QUEUE_URL),
        region=cfn.meta.region_name,
        _clients={"_session": session},
    )


def from_local(state_path: str | None = None) -> Pipeline:
    """The local stack: the running moto server and the resources ``ddbload local up`` made."""
    from localmode import resources, server

    endpoint = server.endpoint(state_path)
    res = resources.load(state_path)
    if res.endpoint != endpoint:
        raise OperatorError(
            "The local stack's resources belong to an older server; run `ddbload local up` again."
        )
    return Pipeline(
        where="local",
        bucket=res.bucket,
        staging_prefix=res.staging_prefix,
        error_prefix=res.error_prefix,
        quarantine_prefix=res.quarantine_prefix,
        config=res.config,
        db_secret=res.db_secret_arn,
        loader_function=resources.LOADER_FUNCTION,
        work_queue_url=res.work_queue_url,
        dead_letter_queue_url=res.dead_letter_queue_url,
        endpoint_url=endpoint,
        region=res.region,
        local=True,
    )
