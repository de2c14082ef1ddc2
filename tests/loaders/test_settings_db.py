"""Settings from the environment, credentials from Secrets Manager, the per-table lock."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from contract import names
from contract.config import parse_config
from loaders.db import connect, credentials
from loaders.engine import load_staging_bytes
from loaders.settings import LoaderSettings, SettingsError
from tests.conftest import mariadb_params
from tests.loaders.builders import change, obj
from tests.loaders.conftest import fetch

CONFIG = parse_config({}).to_json()


@pytest.mark.parametrize(
    "env, needle",
    [
        ({}, "DDBLOAD_CONFIG is not set"),
        ({names.ENV_CONFIG: "{"}, "DDBLOAD_CONFIG is invalid"),
        ({names.ENV_CONFIG: CONFIG}, "DDBLOAD_BUCKET is not set"),
        ({names.ENV_CONFIG: CONFIG, names.ENV_BUCKET: "b"}, "DDBLOAD_DB_SECRET is not set"),
    ],
)
def test_missing_or_bad_setting_is_named(env, needle):
    with pytest.raises(SettingsError, match=needle):
        LoaderSettings.from_env(env)


def test_settings_from_env_use_config_prefixes_by_default():
    s = LoaderSettings.from_env(
        {
            names.ENV_CONFIG: CONFIG,
            names.ENV_BUCKET: "b",
            names.ENV_DB_SECRET: "arn:x",
            names.ENV_QUARANTINE_PREFIX: "q/",
        }  # fmt: skip
    )
    assert (s.bucket, s.db_secret, s.staging_prefix, s.quarantine_prefix) == (
        "b", "arn:x", "staging", "q",
    )  # fmt: skip


def test_credentials_come_from_the_rds_shaped_secret(aws_env, database):
    # GIVEN an RDS-shaped secret for the test server
    p = mariadb_params(database)
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        arn = sm.create_secret(
            Name="db",
            SecretString=json.dumps(
                {
                    "host": p["host"],
                    "port": p["port"],
                    "username": p["user"],
                    "password": p["password"],
                    "dbname": database,
                }
            ),  # fmt: skip
        )["ARN"]
        settings = LoaderSettings(config=parse_config({}), db_secret=arn)
        # WHEN connecting
        conn = connect(settings, sm)
        with conn.cursor() as cur:
            cur.execute("SELECT DATABASE(), @@local_infile IS NOT NULL")
            # THEN the session is on the secret's database
            assert cur.fetchone() == (database, 1)
        conn.close()
        sm.put_secret_value(SecretId=arn, SecretString=json.dumps({"host": "h"}))
        with pytest.raises(SettingsError, match="not an RDS credentials secret"):
            credentials(settings, sm)


def test_a_table_locked_by_another_run_is_left_for_later(conn, admin, database):
    # GIVEN another session holding the table's named lock
    fetch(admin, "SELECT GET_LOCK(%s, 0)", [f"ddbload:{database}.locked"])
    settings = LoaderSettings(config=parse_config({}), lock_timeout_seconds=1, retries=2,
                              backoff_seconds=0.01)  # fmt: skip
    o = obj("locked", [change("locked", {"pk": {"S": "a"}}, {}, 1)])
    # WHEN the loader runs
    [result] = load_staging_bytes(conn, settings.config, [o], settings=settings)
    # THEN the file is left for a later run, and loads once the lock is free
    assert result.status == "retry" and "holds the lock" in result.error
    fetch(admin, "SELECT RELEASE_LOCK(%s)", [f"ddbload:{database}.locked"])
    [again] = load_staging_bytes(conn, settings.config, [o], settings=settings)
    assert again.status == "loaded"
