"""Secrets never appear in logs, loader output or exceptions, failing runs included.

The database secret carries a distinctive password; loader runs that fail in
every way a secret can lead to (server unreachable, password refused, secret
malformed) are captured whole: log records at INFO and above, stdout, stderr,
the handler's response and any exception text. None may contain the password.
"""

from __future__ import annotations

import json
import logging
import socket

import pytest

from reliability.scenario import tick
from tests.conftest import mariadb_params

pytestmark = pytest.mark.xdist_group("reliability-network")

PASSWORD = "Zq8-canary-S3cr3t-7f1e"


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


SECRETS = {
    "server unreachable": lambda db: {"port": _closed_port(), "dbname": db},
    "password refused": lambda db: {"port": mariadb_params()["port"], "dbname": db},
    "secret without host": lambda db: {"host": None, "dbname": db},
    "secret with port and password swapped": lambda db: {
        "port": PASSWORD,
        "password": "3306",
        "dbname": db,
    },
}


# Once a bug: credentials() put a bad field's raw value (here the password) in its error.
@pytest.mark.parametrize("case", sorted(SECRETS))
def test_a_failing_run_never_shows_the_password(
    shared_scenario, database, caplog, capfd, record, case
):
    s = shared_scenario
    # GIVEN the database secret with a distinctive password, broken in one way
    secret = {
        "engine": "mariadb",
        "host": "127.0.0.1",
        "username": "root",
        "password": PASSWORD,
        **SECRETS[case](database),
    }
    secret = {k: v for k, v in secret.items() if v is not None}
    s.aws.secretsmanager.put_secret_value(
        SecretId=s.res.db_secret_arn, SecretString=json.dumps(secret)
    )
    # WHEN the loader runs (from the secret, as in Lambda), everything it says captured
    caplog.set_level(logging.INFO)
    error = ""
    try:
        response = tick(s, "", MARIADB_URL="")
    except Exception as exc:  # noqa: BLE001 - its text is scanned below
        response, error = {}, f"{type(exc).__name__}: {exc!s} {exc!r}"
    out, err = capfd.readouterr()
    captured = {
        "logs": "\n".join(r.getMessage() for r in caplog.records),
        "stdout": out,
        "stderr": err,
        "response": json.dumps(response),
        "exception": error,
    }
    # THEN the run failed as it should, and the password is nowhere
    assert response.get("status") != "ok" or error
    leaks = sorted(name for name, text in captured.items() if PASSWORD in text)
    assert leaks == []
    record(
        f"secret in output: {case}",
        "loader run from a Secrets Manager secret with a distinctive password; logs (INFO+), "
        "stdout, stderr, response and exception text captured",
        f"run ended {response.get('status') or 'with ' + error.split(':')[0]}; password found in "
        f"{leaks or 'none'} of {len(captured)} channels "
        f"({sum(len(t) for t in captured.values())} chars scanned)",
        kind="security",
        leaks=leaks,
    )
