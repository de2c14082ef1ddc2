"""A local pipeline for fault tests: moto, the real drivers and transform, S3 staging objects.

``Scenario`` starts an in-process moto server on a free port (reachable from a
child process too, so a SIGKILLed loader can use it), creates the pipeline
resources, writes a workload of changes to DynamoDB and pushes them through the
stream driver, the Firehose driver and the REAL transform into gzip staging
objects. Tests then load those objects under a fault and check the result with
``reliability.checks``.
"""

from __future__ import annotations

import logging
import os
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from moto.server import ThreadedMotoServer

from contract.config import PipelineConfig, parse_config
from loaders.settings import mariadb_server
from localmode import resources
from localmode.aws import FAKE_CREDENTIALS, Clients
from localmode.drivers.firehose import DeliveryStats, FirehoseDriver
from localmode.drivers.stream_to_kinesis import StreamToKinesis
from localmode.resources import LocalResources
from localmode.workload import Workload

# Two tables: one mapped (columns + overflow), one unconfigured-style binary key. The one
# test config: the local-mode and end-to-end tests use it too (tests/localmode/moto_pipeline.py).
CONFIG = {
    "tables": {
        "orders": {
            "partition_key": {"name": "pk", "type": "S"},
            "sort_key": {"name": "sk", "type": "N"},
            "columns": {
                "customer_id": {"path": "customer.id", "type": "VARCHAR(64)"},
                "total": {"path": "total", "type": "DECIMAL(38,4)"},
            },
        },
        "blobs": {"partition_key": {"name": "id", "type": "B"}},
    },
    "database": {"name": "ddbload"},
}


def pipeline_config() -> PipelineConfig:
    return parse_config(CONFIG)


def mariadb_url(port: int, database: str, host: str = "127.0.0.1") -> str:
    """Where a test's loader loads, in one string: the server at ``host:port`` with the
    account of ``MARIADB_URL``, and the test's private database in the path, which
    ``Scenario.environment`` moves into the loader's config."""
    account = mariadb_server()
    user, password = quote(account.user, safe=""), quote(account.password, safe="")
    return f"mysql://{user}:{password}@{host}:{port}/{database}"


@dataclass
class Scenario:
    """One local pipeline with a workload delivered to S3 as staging objects."""

    res: LocalResources
    aws: Clients
    folder: Path
    workload: Workload
    stream: StreamToKinesis
    hose: FirehoseDriver
    objects: list[str] = field(default_factory=list)
    delivered: DeliveryStats = field(default_factory=DeliveryStats)

    @property
    def config(self) -> PipelineConfig:
        return self.res.config

    def burst(self, items: int) -> DeliveryStats:
        """Write about ``items`` new items (plus updates and deletes) and deliver them to S3."""
        self.workload.burst(items)
        self.stream.pump()
        stats = self.hose.deliver()
        self.delivered.add(stats)
        self.objects += stats.objects
        return stats

    def staging_keys(self) -> list[str]:
        """Every object under the staging prefix, listed from S3."""
        keys: list[str] = []
        pages = self.aws.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.res.bucket, Prefix=self.res.staging_prefix + "/"
        )
        for page in pages:
            keys += [o["Key"] for o in page.get("Contents", [])]
        return keys

    def get(self, key: str) -> bytes:
        return self.aws.s3.get_object(Bucket=self.res.bucket, Key=key)["Body"].read()

    def put(self, key: str, body: bytes) -> None:
        self.aws.s3.put_object(Bucket=self.res.bucket, Key=key, Body=body)

    def environment(self, url: str, *, work_queue: bool = False) -> dict[str, str]:
        """The loader Lambda's environment, with MariaDB at ``url`` (no queue unless asked).

        ``url`` (``mariadb_url``) replaces the stack's secret: its server goes in
        MARIADB_URL and its database in the config, the only place the loader takes a
        database from. An empty ``url`` keeps the secret.
        """
        env = resources.lambda_environment(self.res)
        if url:
            parts = urlsplit(url)
            database = replace(self.config.database, name=unquote(parts.path.strip("/")))
            env["DDBLOAD_CONFIG"] = replace(self.config, database=database).to_json()
            env["DDBLOAD_DB_SECRET"] = ""
            url = urlunsplit(parts._replace(path=""))
        env["MARIADB_URL"] = url
        if not work_queue:
            env.pop("DDBLOAD_WORK_QUEUE_URL", None)
        return env


@contextmanager
def moto_endpoint() -> Iterator[str]:
    """An in-process moto server on 127.0.0.1 and a free port."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@contextmanager
def scenario(
    folder: Path,
    *,
    bursts: int = 4,
    items: int = 40,
    seed: int = 7,
    buffer_bytes: int | None = None,
) -> Iterator[Scenario]:
    """A fresh local pipeline with ``bursts`` deliveries of about ``items`` items each."""
    # moto's request log would bury the test output.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    for name, value in FAKE_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with moto_endpoint() as endpoint:
        # moto keeps its state per process, shared by every server in it: start empty.
        urllib.request.urlopen(
            urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10
        ).close()
        res = resources.create(endpoint, pipeline_config(), database="unused", state_path=folder)
        aws = Clients(endpoint)
        s = Scenario(
            res=res,
            aws=aws,
            folder=folder,
            workload=Workload(
                res.config, aws, run_id=uuid.uuid4().hex[:6], seed=seed, state_path=folder
            ),
            stream=StreamToKinesis(res, state_path=folder, clients=aws),
            hose=FirehoseDriver(
                res, state_path=folder, clients=aws, buffer_seconds=0, buffer_bytes=buffer_bytes
            ),
        )
        for _ in range(bursts):
            s.burst(items)
        yield s


def as_event(s: Scenario, keys: list[str]) -> dict[str, Any]:
    """An S3 ObjectCreated notification body naming ``keys`` (what the work queue carries)."""
    records = []
    for key in keys:
        head = s.aws.s3.head_object(Bucket=s.res.bucket, Key=key)
        records.append(
            {
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": s.res.bucket},
                    "object": {"key": key, "eTag": head["ETag"].strip('"'), "size": 0},
                },
            }
        )
    return {"Records": records}


def tick(s: Scenario, url: str, event: dict[str, Any] | None = None, **env: str) -> dict[str, Any]:
    """One loader Lambda invocation in this process: scheduled, or ``event`` (load/reload)."""
    from loaders.handler import handler
    from localmode.drivers.scheduler import LambdaContext, environment, scheduler_event

    context = LambdaContext(s.res.loader_function_arn, s.config.settings["loader_timeout_seconds"])
    with environment({**s.environment(url, work_queue="DDBLOAD_WORK_QUEUE_URL" in env), **env}):
        return handler(event or scheduler_event(s.res), context)
