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
def loader_account(database: str) -> Iterator[dict]:
    """Connection parameters of a fresh user holding only the loader's grants
    (contract.grants) on the test database, as the deployed loader's user does."""
    import uuid

    import pymysql

    from contract import grants

    user, password = f"ddbt_{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    root = pymysql.connect(**mariadb_params())
    try:
        with root.cursor() as cur:
            # No placeholder: the account's '%' host would read as one; the password is hex.
            cur.execute(f"CREATE USER {grants.account(user)} IDENTIFIED BY '{password}'")
            cur.execute(grants.grant_statement(user, database))
        yield {**loader_params(database), "user": user, "password": password}
    finally:
        with root.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS {grants.account(user)}")
        root.close()


@pytest.fixture
def conn(loader_account: dict) -> Iterator[LoaderConnection]:
    c = open_connection(loader_account)
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
