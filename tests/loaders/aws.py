"""moto-backed staging bucket and work queue wired like the stacks wire them."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import boto3

from contract import names
from contract.config import PipelineConfig, parse_config
from loaders.settings import LoaderSettings
from tests.conftest import for_database, split_database


@dataclass
class Pipeline:
    s3: Any
    sqs: Any
    bucket: str
    queue_url: str
    config: PipelineConfig

    def target(self, mariadb_url: str) -> tuple[str, PipelineConfig]:
        """The loader's URL and config for ``mysql://.../<the test's database>``."""
        server_url, database = split_database(mariadb_url)
        return server_url, for_database(self.config, database)

    def settings(self, mariadb_url: str, **overrides: Any) -> LoaderSettings:
        server_url, config = self.target(mariadb_url)
        return LoaderSettings(
            config=config,
            bucket=self.bucket,
            work_queue_url=self.queue_url,
            mariadb_url=server_url,
            backoff_seconds=overrides.pop("backoff_seconds", 0.01),
            **overrides,
        )

    def env(self, mariadb_url: str) -> dict[str, str]:
        server_url, config = self.target(mariadb_url)
        return {
            names.ENV_CONFIG: config.to_json(),
            names.ENV_BUCKET: self.bucket,
            names.ENV_WORK_QUEUE_URL: self.queue_url,
            names.ENV_MARIADB_URL: server_url,
        }

    def put(self, key: str, data: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)

    def queued(self) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )


def make_pipeline(
    endpoint_url: str | None = None, config: PipelineConfig | None = None
) -> Pipeline:
    kw = {"region_name": "us-east-1", **({"endpoint_url": endpoint_url} if endpoint_url else {})}
    s3, sqs = boto3.client("s3", **kw), boto3.client("sqs", **kw)
    suffix = uuid.uuid4().hex[:8]
    bucket = f"ddbload-staging-{suffix}"
    s3.create_bucket(Bucket=bucket)
    queue_url = sqs.create_queue(QueueName=f"ddbload-work-{suffix}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "staging/"}]}},
                }
            ]
        },
    )
    return Pipeline(s3, sqs, bucket, queue_url, config or parse_config({}))


def s3_event(bucket: str, key: str) -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1}},
                }
            ]
        }  # fmt: skip
    )
