"""Shared fixtures: a private MariaDB database per test, and moto for AWS.

MariaDB is the real server (``MARIADB_URL`` or root@127.0.0.1:3306: server, user,
password and TLS; a database in its path is ignored, as everywhere). Each test
that asks for ``database`` gets a fresh database with a unique name, dropped
afterwards; no test touches a database it did not create.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit, urlunsplit

import pymysql
import pytest
from hypothesis import HealthCheck, settings

from contract.config import PipelineConfig
from loaders.db import tls_policy
from loaders.settings import mariadb_server

# The suite runs two workers on a two-core machine, beside a private mariadbd: input
# generation can be slow there without anything being wrong. Every example still runs.
settings.register_profile("ddbload", suppress_health_check=[HealthCheck.too_slow], deadline=None)
settings.load_profile("ddbload")


def mariadb_params(database: str | None = None) -> dict:
    """Connection parameters of the test server, optionally for one of the test's databases."""
    server = mariadb_server()
    params = {**server.connect_kwargs(), "autocommit": True}
    tls = tls_policy(server.host, server.tls, server.ca_bundle)
    if tls.mode != "off":
        params.update(tls.connect_kwargs())
    if database:
        params["database"] = database
    return params


def split_database(url: str) -> tuple[str, str]:
    """``mysql://.../db`` as (the URL without ``/db``, ``db``).

    Tests name their private database in the path of the loader's URL for brevity; the
    harness moves it into the loader's config (``for_database``), the only place the
    loader takes a database from.
    """
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="")), unquote(parts.path.strip("/"))


def for_database(config: PipelineConfig, database: str) -> PipelineConfig:
    """``config`` with ``database.name`` set to one of the test's databases."""
    return dataclasses.replace(config, database=dataclasses.replace(config.database, name=database))


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh, uniquely named MariaDB database, dropped after the test."""
    name = f"ddbt_{uuid.uuid4().hex[:12]}"
    admin = pymysql.connect(**mariadb_params())
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region so boto3 never reaches a real account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
