"""Fixtures of the status and latency tests: a private database, moto, a clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pymysql
import pytest
from moto import mock_aws

from tests.conftest import mariadb_params
from tests.ops.world import World


@pytest.fixture
def conn(database: str) -> Iterator[Any]:
    c = pymysql.connect(**mariadb_params(database))
    yield c
    c.close()


@pytest.fixture
def world(conn: Any, aws_env: None) -> Iterator[World]:
    with mock_aws():
        yield World(conn)


@pytest.fixture
def now() -> datetime:
    # Near the real time only because moto's CloudWatch files data points by it.
    return datetime.now(UTC).replace(microsecond=0)
