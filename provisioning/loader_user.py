"""Custom resource handler: the loader's own MariaDB user on a new RDS instance.

Runs at deploy, in the database's VPC, behind CDK's custom-resource Provider (which
answers CloudFormation, so this function needs no route out of the VPC). It logs in
with the instance's admin secret and makes the account of the loader's secret exist
with the current password and exactly the grants of ``contract.grants`` on the
pipeline database, for the user and its rotation clone (``<user>_clone``, made by the
multi-user secret rotation). Updating re-applies the grants; deleting the stack drops
both accounts. Stacks wire it in ``stacks/database.py``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import ssl
from typing import Any

import pymysql
from pymysql.constants import ER

from contract import grants, names

log = logging.getLogger(__name__)
# With the RDS CA bundle in the asset (the same file the loader gets) the server is
# verified; without it the connection is still encrypted (require_secure_transport=1).
CA_BUNDLE = os.path.join(os.environ.get("LAMBDA_TASK_ROOT", "."), "rds-ca-bundle.pem")


def _tls(host: str) -> dict[str, Any]:
    try:
        if ipaddress.ip_address(host).is_loopback:
            return {}
    except ValueError:
        pass
    path = os.environ.get(names.ENV_DB_CA_BUNDLE) or CA_BUNDLE
    if os.path.isfile(path):
        return {"ssl": ssl.create_default_context(cafile=path)}
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return {"ssl": context}


def connect(secret: dict[str, Any]) -> pymysql.connections.Connection:
    """An autocommit connection with the credentials of an RDS-shaped secret."""
    return pymysql.connect(
        host=secret["host"],
        port=int(secret.get("port", 3306)),
        user=secret["username"],
        password=secret["password"],
        connect_timeout=10,
        autocommit=True,
        **_tls(secret["host"]),
    )


def _exists(cur: Any, user: str, host: str) -> bool:
    cur.execute("SELECT 1 FROM mysql.user WHERE User = %s AND Host = %s", [user, host])
    return cur.fetchone() is not None


def ensure_user(
    conn: Any, *, user: str, database: str, username: str, password: str, host: str = "%"
) -> None:
    """Make ``user`` (and its clone, if rotation made one) hold exactly the loader's grants
    on ``database``, and give ``username`` (the secret's current account) ``password``."""
    clone = user + grants.CLONE_SUFFIX
    if username not in (user, clone):
        raise ValueError(f"the loader secret names user {username!r}, not {user!r} or {clone!r}.")
    with conn.cursor() as cur:
        # Statements carry no placeholders: an account's '%' host would read as one, so
        # the password goes in as an escaped literal.
        secret_password = conn.escape(password)
        if not _exists(cur, username, host):
            cur.execute(
                f"CREATE USER {grants.account(username, host)} IDENTIFIED BY {secret_password}"
            )
        else:
            cur.execute(
                f"ALTER USER {grants.account(username, host)} IDENTIFIED BY {secret_password}"
            )
        for account in (user, clone):
            if not _exists(cur, account, host):
                continue
            # Revoke first so a privilege dropped from contract.grants goes too; a fresh
            # account has nothing to revoke yet.
            try:
                cur.execute(
                    f"REVOKE ALL PRIVILEGES ON `{database}`.* FROM {grants.account(account, host)}"
                )
            except pymysql.err.OperationalError as e:
                if e.args[0] != ER.NONEXISTING_GRANT:
                    raise
            cur.execute(grants.grant_statement(account, database, host))


def drop_users(conn: Any, *, user: str, host: str = "%") -> None:
    with conn.cursor() as cur:
        for account in (user, user + grants.CLONE_SUFFIX):
            cur.execute(f"DROP USER IF EXISTS {grants.account(account, host)}")


def read_secret(arn: str, client: Any = None) -> dict[str, Any]:
    if client is None:
        import boto3

        client = boto3.client("secretsmanager")
    return json.loads(client.get_secret_value(SecretId=arn)["SecretString"])


def handler(event: dict[str, Any], context: Any = None, secrets: Any = None) -> dict[str, Any]:
    """Provider ``onEvent``: Create/Update make the user right, Delete drops it."""
    props = event["ResourceProperties"]
    user, database = props["User"], props["Database"]
    host = props.get("Host", "%")
    admin = read_secret(props["AdminSecretArn"], secrets)
    physical = f"{user}@{database}"
    if event["RequestType"] == "Delete":
        try:
            with connect(admin) as conn:
                drop_users(conn, user=user, host=host)
        except pymysql.err.MySQLError as e:
            # The instance may be gone or unreachable already; a stack delete must not hang.
            log.warning("could not drop the loader's MariaDB user %s: %s", user, e)
        return {"PhysicalResourceId": event.get("PhysicalResourceId", physical)}
    loader = read_secret(props["LoaderSecretArn"], secrets)
    with connect(admin) as conn:
        ensure_user(
            conn,
            user=user,
            database=database,
            username=loader["username"],
            password=loader["password"],
            host=host,
        )
    log.info("loader user %s holds %s on %s", user, ", ".join(grants.LOADER_PRIVILEGES), database)
    return {"PhysicalResourceId": physical, "Data": {"User": user}}
