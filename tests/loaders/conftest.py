"""Loader test fixtures: a loader connection to the test's private database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from loaders.db import LoaderConnection, open_connection
from tests.conftest import mariadb_params


def loader_params(database: str) -> dict:
    params = mariadb_params(database)
    params.pop("autocommit")
    return params


@pytest.fixture
def conn(database: str) -> Iterator[LoaderConnection]:
    c = open_connection(loader_params(database))
    yield c
    c.close()


@pytest.fixture
def admin(database: str) -> Iterator:
    """A second, plain connection to the same database, for checking results."""
    import pymysql

    c = pymysql.connect(**mariadb_params(database))
    yield c
    c.close()


def fetch(admin, query: str, params: list | None = None) -> list[tuple]:
    with admin.cursor() as cur:
        cur.execute(query, params or [])
        return list(cur.fetchall())
