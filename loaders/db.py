"""The loader's one MariaDB connection: credentials, session settings, and a safe LOAD DATA LOCAL.

Credentials come from the Secrets Manager secret (RDS shape: host, port,
username, password, dbname); ``MARIADB_URL`` overrides it for local runs.

``LOAD DATA LOCAL INFILE`` lets the *server* name the file the client sends.
PyMySQL would open whatever path the server asks for; ``LoaderConnection``
instead answers only the one in-memory load file the loader registered for the
current statement, and sends nothing for any other name.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlparse

import pymysql
from pymysql.connections import MySQLResult
from pymysql.protocol import LoadLocalPacketWrapper

from loaders.settings import LoaderSettings, SettingsError

# Strict mode for every merge statement; all warnings of a LOAD DATA visible.
SESSION_SETTINGS = (
    "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO', "
    "max_error_count = 65535, sql_notes = 1, time_zone = '+00:00', "
    "tx_isolation = 'READ-COMMITTED'"
)
# Load file bytes per protocol packet (well under any max_allowed_packet).
_PACKET = 1024 * 1024


class _GuardedResult(MySQLResult):
    def _read_load_local_packet(self, first_packet: Any) -> None:
        conn: LoaderConnection = self.connection  # type: ignore[assignment]
        requested = LoadLocalPacketWrapper(first_packet).filename
        try:
            conn._send_registered(requested)
        finally:
            conn.write_packet(b"")  # end of file: the server stops reading here
            ok_packet = conn._read_packet()
        if not ok_packet.is_ok_packet():
            raise pymysql.err.OperationalError(2014, "Commands out of sync after LOAD DATA")
        self._read_ok_packet(ok_packet)


class LoaderConnection(pymysql.connections.Connection):
    """A PyMySQL connection whose LOAD DATA LOCAL sends only the loader's own buffer."""

    _infile: tuple[bytes, memoryview] | None = None
    refused_requests: list[bytes]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.refused_requests = []
        super().__init__(*args, **kwargs)

    @contextmanager
    def infile(self, data: bytes | bytearray | memoryview) -> Iterator[str]:
        """Register ``data`` as the only file LOAD DATA LOCAL may send; yields its name."""
        name = f"ddbload-{uuid.uuid4().hex}.tsv"
        self._infile = (name.encode(), memoryview(data))
        try:
            yield name
        finally:
            self._infile = None

    def _send_registered(self, requested: bytes) -> None:
        registered = self._infile
        if registered is None or requested != registered[0]:
            # A server asking for any other file gets an empty one.
            self.refused_requests.append(bytes(requested))
            return
        view = registered[1]
        for start in range(0, len(view), _PACKET):
            self.write_packet(view[start : start + _PACKET])

    def connect(self, sock: Any = None) -> None:
        # Also runs on ping(reconnect=True): every new session gets the same settings.
        super().connect(sock)
        with self.cursor() as cur:
            cur.execute(SESSION_SETTINGS)

    def _read_query_result(self, unbuffered: bool = False) -> int:
        self._result = None
        result = _GuardedResult(self)
        if unbuffered:
            result.init_unbuffered_query()
        else:
            result.read()
        self._result = result
        if result.server_status is not None:
            self.server_status = result.server_status
        return result.affected_rows


def credentials(settings: LoaderSettings, secrets_client: Any = None) -> dict[str, Any]:
    """Connection keywords from ``MARIADB_URL`` or the Secrets Manager secret."""
    if settings.mariadb_url:
        url = urlparse(settings.mariadb_url)
        if url.scheme not in ("mysql", "mariadb") or not url.hostname:
            raise SettingsError(
                "MARIADB_URL must look like mysql://user:password@host:port/database."
            )
        return {
            "host": url.hostname,
            "port": url.port or 3306,
            "user": unquote(url.username or "root"),
            "password": unquote(url.password or ""),
            "database": url.path.lstrip("/") or settings.config.database.name,
        }
    if not settings.db_secret:
        raise SettingsError("no database secret configured (DDBLOAD_DB_SECRET).")
    if secrets_client is None:
        import boto3

        secrets_client = boto3.client("secretsmanager")
    raw = secrets_client.get_secret_value(SecretId=settings.db_secret)["SecretString"]
    try:
        secret = json.loads(raw)
        params = {
            "host": secret["host"],
            "port": int(secret.get("port", 3306)),
            "user": secret["username"],
            "password": secret["password"],
            "database": secret.get("dbname") or settings.config.database.name,
        }
    except (ValueError, KeyError, TypeError) as e:
        raise SettingsError(
            f"secret {settings.db_secret} is not an RDS credentials secret "
            f"(host, port, username, password, dbname): missing or bad {e}."
        ) from None
    return params


def open_connection(params: dict[str, Any], *, connect_timeout: int = 5) -> LoaderConnection:
    """Open a loader connection with the session settings every statement relies on."""
    return LoaderConnection(
        **params,
        charset="utf8mb4",
        autocommit=True,
        local_infile=True,
        connect_timeout=connect_timeout,
        read_timeout=900,
        write_timeout=900,
    )


def connect(settings: LoaderSettings, secrets_client: Any = None) -> LoaderConnection:
    """The run's one connection (credentials from the secret, or ``MARIADB_URL``)."""
    return open_connection(credentials(settings, secrets_client))
