"""``MARIADB_URL`` as the loader reads it: server, account and TLS from the URL; the database
from the config; the Secrets Manager secret, where there is one, before the URL."""

from __future__ import annotations

import json
import logging
import uuid

import boto3
import pytest
from moto import mock_aws

from contract.config import parse_config
from loaders.db import connect
from loaders.settings import LoaderSettings, MariaDBServer, SettingsError, mariadb_server
from tests.conftest import for_database, mariadb_params


def _server_url(path: str = "") -> str:
    p = mariadb_params()
    return f"mysql://{p['user']}:{p['password']}@{p['host']}:{p['port']}{path}"


def test_the_url_gives_server_account_and_tls_and_only_a_notice_for_its_database(caplog):
    path = f"db_{uuid.uuid4().hex[:8]}"
    url = f"mysql://us%40er:p%2Fw%3A@db.example:3307/{path}?tls=Verify&ca=/etc/ca.pem"
    with caplog.at_level(logging.WARNING, logger="loaders.settings"):
        # WHEN the URL is read twice
        first, second = mariadb_server(url), mariadb_server(url)
    # THEN server, percent-decoded account and TLS come from it
    assert (
        first
        == second
        == MariaDBServer("db.example", 3307, "us@er", "p/w:", "verify", "/etc/ca.pem")
    )
    # AND its database is ignored, said once, in one line naming where the database comes from
    notices = [r.getMessage() for r in caplog.records if path in r.getMessage()]
    assert len(notices) == 1 and "\n" not in notices[0]
    assert "ignored" in notices[0] and "database.name or --database" in notices[0]


def test_without_a_url_the_server_is_root_on_this_machine():
    assert mariadb_server(env={}) == MariaDBServer("127.0.0.1", 3306, "root", "")


@pytest.mark.parametrize(
    "url, needle",
    [
        ("http://u:s3cret@db/x", "must look like mysql://user:password@host:port"),
        ("mysql://u:s3cret@/x", "must look like"),
        ("mysql://u:s3cret@db:port/x", "must look like"),
        ("mysql://u:s3cret@db/x?tls=maybe", "tls=maybe; use one of verify, required, off"),
        ("mysql://u:s3cret@db/x?sslmode=on", "unknown parameter sslmode; it takes tls and ca"),
    ],
)
def test_a_bad_url_is_one_sentence_without_the_password(url, needle):
    with pytest.raises(SettingsError, match=needle) as caught:
        mariadb_server(url)
    assert "s3cret" not in str(caught.value)
    # and the loader says so at start, not at its first connection
    env = {"DDBLOAD_CONFIG": parse_config({}).to_json(), "DDBLOAD_BUCKET": "b", "MARIADB_URL": url}
    with pytest.raises(SettingsError, match=needle):
        LoaderSettings.from_env(env)


def test_the_loader_takes_its_database_from_the_config_not_the_url(database):
    # GIVEN a URL naming another database, and a config naming the test's
    settings = LoaderSettings(
        config=for_database(parse_config({}), database),
        mariadb_url=_server_url(f"/other_{uuid.uuid4().hex[:8]}"),
    )
    # WHEN the loader connects
    conn = connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT DATABASE()")
            # THEN its session is on the config's database
            assert cur.fetchone() == (database,)
    finally:
        conn.close()


def test_the_secret_wins_over_a_url_in_the_environment(aws_env, database):
    # GIVEN the stack's secret for the test's database, and a MARIADB_URL to a closed port
    p = mariadb_params()
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        value = {"host": p["host"], "port": p["port"], "username": p["user"],
                 "password": p["password"], "dbname": database}  # fmt: skip
        arn = sm.create_secret(Name="db", SecretString=json.dumps(value))["ARN"]
        settings = LoaderSettings(
            config=parse_config({}), db_secret=arn, mariadb_url="mysql://root@127.0.0.1:9"
        )
        # WHEN the loader connects
        conn = connect(settings, sm)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT DATABASE()")
            # THEN it used the secret, as a deployed loader does
            assert cur.fetchone() == (database,)
    finally:
        conn.close()
