"""The loader-user custom resource against the real MariaDB: exact grants, password from
the secret, rotation clone kept in step, dropped on delete. Secrets come from moto."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import boto3
import pymysql
import pytest
from moto import mock_aws

from contract import grants
from provisioning import loader_user
from tests.conftest import mariadb_params


@pytest.fixture
def root() -> Iterator[pymysql.connections.Connection]:
    c = pymysql.connect(**mariadb_params())
    yield c
    c.close()


@pytest.fixture
def user(root) -> Iterator[str]:
    name = f"ddbt_{uuid.uuid4().hex[:10]}"
    yield name
    loader_user.drop_users(root, user=name)


def privileges(root, account: str, database: str) -> set[str]:
    with root.cursor() as cur:
        cur.execute(f"SHOW GRANTS FOR {grants.account(account)}")
        lines = [row[0] for row in cur.fetchall()]
    on_db = [line for line in lines if f"ON `{database}`.*" in line]
    assert all("ON *.*" not in line or "USAGE" in line for line in lines), lines
    if not on_db:
        return set()
    text = on_db[0].removeprefix("GRANT ").split(" ON ")[0]
    return {p.strip() for p in text.split(",")}


def login(account: str, password: str, database: str) -> pymysql.connections.Connection:
    return pymysql.connect(**{**mariadb_params(database), "user": account, "password": password})


def test_creates_the_user_with_exactly_the_loader_grants(root, user, database) -> None:
    # WHEN the resource is created for a fresh user
    loader_user.ensure_user(root, user=user, database=database, username=user, password="pw-1")
    # THEN the user logs in with the secret's password, holds exactly the loader's
    # privileges on the pipeline database, and nothing anywhere else
    assert privileges(root, user, database) == set(grants.LOADER_PRIVILEGES)
    with login(user, "pw-1", database) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY)")
        with pytest.raises(pymysql.err.OperationalError):
            cur.execute("CREATE DATABASE ddbt_not_allowed")
        with pytest.raises(pymysql.err.OperationalError):
            cur.execute("SELECT * FROM mysql.user")


def test_update_is_idempotent_follows_the_secret_and_revokes_extras(root, user, database) -> None:
    loader_user.ensure_user(root, user=user, database=database, username=user, password="pw-1")
    with root.cursor() as cur:
        cur.execute(f"GRANT DROP ON `{database}`.* TO {grants.account(user)}")
    # WHEN the resource is updated after the secret changed
    loader_user.ensure_user(root, user=user, database=database, username=user, password="pw-2")
    # THEN the new password works and the extra privilege is gone
    assert privileges(root, user, database) == set(grants.LOADER_PRIVILEGES)
    login(user, "pw-2", database).close()
    with pytest.raises(pymysql.err.OperationalError):
        login(user, "pw-1", database)


def test_rotation_clone_gets_the_same_grants(root, user, database) -> None:
    # GIVEN the multi-user rotation switched the secret to the clone account
    clone = user + grants.CLONE_SUFFIX
    loader_user.ensure_user(root, user=user, database=database, username=user, password="pw-1")
    loader_user.ensure_user(root, user=user, database=database, username=clone, password="pw-c")
    # THEN both accounts hold the loader's grants and the clone has the secret's password
    assert privileges(root, user, database) == set(grants.LOADER_PRIVILEGES)
    assert privileges(root, clone, database) == set(grants.LOADER_PRIVILEGES)
    login(clone, "pw-c", database).close()
    login(user, "pw-1", database).close()


def test_a_secret_for_another_user_is_refused(root, user, database) -> None:
    with pytest.raises(ValueError, match="names user"):
        loader_user.ensure_user(root, user=user, database=database, username="root", password="x")


def test_handler_create_and_delete_through_the_secrets(aws_env, user, database) -> None:
    p = mariadb_params()
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        admin = {"host": p["host"], "port": p["port"], "username": p["user"],
                 "password": p["password"]}  # fmt: skip
        admin_arn = client.create_secret(Name="admin", SecretString=json.dumps(admin))["ARN"]
        loader = {**admin, "username": user, "password": "pw-h", "dbname": database}
        loader_arn = client.create_secret(Name="loader", SecretString=json.dumps(loader))["ARN"]
        props = {"AdminSecretArn": admin_arn, "LoaderSecretArn": loader_arn, "User": user,
                 "Database": database, "Host": "%"}  # fmt: skip
        # WHEN CloudFormation creates the resource
        created = loader_user.handler(
            {"RequestType": "Create", "ResourceProperties": props}, secrets=client
        )
        # THEN the user exists with the loader's password
        assert created["PhysicalResourceId"] == f"{user}@{database}"
        login(user, "pw-h", database).close()
        # WHEN the stack is deleted THEN the user is gone
        loader_user.handler(
            {"RequestType": "Delete", "ResourceProperties": props,
             "PhysicalResourceId": created["PhysicalResourceId"]},
            secrets=client,
        )  # fmt: skip
    with pytest.raises(pymysql.err.OperationalError):
        login(user, "pw-h", database)


def test_deploy_doc_gives_the_same_statements_for_an_existing_server() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "DEPLOY.md").read_text()
    for statement in grants.setup_statements(grants.LOADER_USER, "ddbload"):
        assert statement + ";" in doc, statement
