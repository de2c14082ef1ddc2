"""boto3 clients for the local stack: the moto_server endpoint, fake credentials, one region.

Everything in local mode talks to AWS through these clients, so nothing ever
leaves 127.0.0.1 and no real credentials are read. The Lambda handlers create
their own clients from the environment ``lambda_environment`` gives them.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
# DynamoDB's account-based endpoints would bypass the endpoint override for
# some operations; moto's DynamoDB Streams needs the classic endpoint.
_CONFIG = Config(
    account_id_endpoint_mode="disabled",
    retries={"max_attempts": 3, "mode": "standard"},
    connect_timeout=5,
    read_timeout=30,
)


def client(service: str, endpoint: str) -> Any:
    """A boto3 client for ``service`` pointed at the local moto_server."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        config=_CONFIG,
    )


class Clients:
    """One client per service for an endpoint, created on first use."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._made: dict[str, Any] = {}

    def __getattr__(self, service: str) -> Any:
        if service.startswith("_"):
            raise AttributeError(service)
        if service not in self._made:
            self._made[service] = client(service, self.endpoint)
        return self._made[service]
