"""The loader's one MariaDB connection: credentials, session settings, and a safe LOAD DATA LOCAL.

Credentials come from the Secrets Manager secret (RDS shape: host, port,
username, password, dbname), in local mode too. A run without a secret (tests,
benchmarks) takes ``MARIADB_URL``: server, user, password and TLS from the URL,
the database from the pipeline config, never from the URL.

TLS (``tls_policy``): ``verify`` checks the server certificate against a CA bundle
and the host name; ``required`` encrypts without checking (and logs a warning);
``off`` is plain text, the default only for a loopback host (local mode). RDS with
``require_secure_transport=ON`` refuses plain text.

``LOAD DATA LOCAL INFILE`` lets the *server* name the file the client sends.
PyMySQL would open whatever path the server asks for; ``LoaderConnection``
instead answers only the one in-memory load file the loader registered for the
current statement, and sends nothing for any other name.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import ssl
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
from pymysql.connections import MySQLResult
from pymysql.constants import CR
from pymysql.protocol import LoadLocalPacketWrapper

from contract import names
from loaders.errors import is_tls_unavailable
from loaders.settings import (
    TLS_MODES,
    LoaderSettings,
    MariaDBServer,
    SettingsError,
    mariadb_server,
)

log = logging.getLogger(__name__)

# Strict mode for every merge statement; all warnings of a LOAD DATA visible.
SESSION_SETTINGS = (
    "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO', "
    "max_error_count = 65535, sql_notes = 1, time_zone = '+00:00', "
    "tx_isolation = 'READ-COMMITTED', net_read_timeout = 120, net_write_timeout = 120"
)
# A loader that dies unseen (frozen Lambda, partition) must not keep its open transaction
# and its table's GET_LOCK for the server default of 8 hours: the server ends a session
# silent for longer than a run can last (the loader timeout) plus this margin.
SESSION_IDLE_MARGIN_SECONDS = 60
# Load file bytes per protocol packet (well under any max_allowed_packet).
_PACKET = 1024 * 1024
# A CA bundle shipped with the code: the stack copies rds-ca-bundle.pem to the root of the
# Lambda bundle, which is the repository root in a checkout.
SHIPPED_CA_BUNDLE = Path(__file__).resolve().parent.parent / "rds-ca-bundle.pem"


class DatabaseTlsError(SettingsError):
    """TLS to MariaDB cannot work as configured; the message says what to change."""


@dataclass(frozen=True)
class TlsPolicy:
    """How one connection is protected: ``mode`` in TLS_MODES, ``ca_bundle`` for verify."""

    mode: str
    ca_bundle: str | None = None

    def connect_kwargs(self) -> dict[str, Any]:
        """PyMySQL keywords; ``off`` must say so, or PyMySQL tries TLS when offered."""
        if self.mode == "off":
            return {"ssl_disabled": True}
        if self.mode == "required":
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            try:
                # Only this bundle is trusted, not the system store.
                ctx = ssl.create_default_context(cafile=self.ca_bundle)
            except (OSError, ssl.SSLError) as e:
                raise DatabaseTlsError(
                    f"{names.ENV_DB_CA_BUNDLE} {self.ca_bundle} is not a readable PEM file of "
                    f"CA certificates ({e})."
                ) from None
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return {"ssl": ctx}


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tls_policy(
    host: str,
    mode: str | None = None,
    ca_bundle: str | None = None,
    *,
    shipped: Path = SHIPPED_CA_BUNDLE,
) -> TlsPolicy:
    """The TLS policy for ``host``: ``mode`` if set, else verify with a bundle, else
    required, and off only for a loopback host. A shipped bundle counts for remote hosts
    (a local server has no reason to hold an RDS certificate)."""
    if mode is not None and mode not in TLS_MODES:
        raise SettingsError(f"{names.ENV_DB_TLS} must be one of {', '.join(TLS_MODES)}.")
    loopback = is_loopback(host)
    bundle = ca_bundle
    if bundle is None and shipped.is_file() and (mode == "verify" or not loopback):
        bundle = str(shipped)
    if mode is None:
        mode = "verify" if bundle else ("off" if loopback else "required")
    if mode != "verify":
        return TlsPolicy(mode)
    if bundle is None:
        raise DatabaseTlsError(
            f"{names.ENV_DB_TLS}=verify needs {names.ENV_DB_CA_BUNDLE}: the PEM file of the CAs "
            "that sign the server certificate (RDS: global-bundle.pem, see docs/DEPLOY.md)."
        )
    if not Path(bundle).is_file():
        raise DatabaseTlsError(
            f"{names.ENV_DB_CA_BUNDLE} names {bundle}, which is not a file; point it at the "
            "PEM CA bundle of the server (RDS: global-bundle.pem)."
        )
    return TlsPolicy("verify", bundle)


def _tls_failure(exc: pymysql.err.OperationalError, tls: TlsPolicy, where: str) -> str | None:
    """One sentence for a connection that failed because of TLS, else None."""
    cause = getattr(exc, "original_exception", None)
    if isinstance(cause, ssl.SSLCertVerificationError):
        return (
            f"MariaDB at {where} presented a certificate that {tls.ca_bundle} does not verify "
            f"({cause.verify_message}); point {names.ENV_DB_CA_BUNDLE} at the CA bundle that "
            "signed it (RDS: global-bundle.pem, see docs/DEPLOY.md)."
        )
    if isinstance(cause, ssl.SSLError):
        return (
            f"the TLS handshake with MariaDB at {where} failed ({cause.reason or cause}); "
            f"check the server's TLS setup and {names.ENV_DB_TLS}."
        )
    if is_tls_unavailable(exc):
        return (
            f"MariaDB at {where} does not offer TLS; enable it on the server, or set "
            f"{names.ENV_DB_TLS}=off if the network to it is trusted."
        )
    return None


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
            raise pymysql.err.OperationalError(
                CR.CR_COMMANDS_OUT_OF_SYNC, "Commands out of sync after LOAD DATA"
            )
        self._read_ok_packet(ok_packet)


class LoaderConnection(pymysql.connections.Connection):
    """A PyMySQL connection whose LOAD DATA LOCAL sends only the loader's own buffer."""

    _infile: tuple[bytes, memoryview] | None = None
    refused_requests: list[bytes]

    def __init__(self, *args: Any, idle_timeout: int = 960, **kwargs: Any) -> None:
        self.refused_requests = []
        self.idle_timeout = int(idle_timeout)
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
            cur.execute("SET SESSION wait_timeout = %s", (self.idle_timeout,))

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

    # PyMySQL keeps the last statement's OK packet in the private ``_result``; these two
    # are the only readers of it, so a PyMySQL upgrade that moves it breaks here alone.
    def last_info(self) -> bytes:
        """The server's info line of the last statement (``Records: ... Duplicates: ...``)."""
        return (self._result.message if self._result else b"") or b""

    def last_warning_count(self) -> int:
        """How many warnings the last statement raised."""
        return self._result.warning_count if self._result else 0


def _url_server(settings: LoaderSettings) -> MariaDBServer | None:
    """The ``MARIADB_URL`` server of a run without a secret, else None."""
    if settings.db_secret or not settings.mariadb_url:
        return None
    return mariadb_server(settings.mariadb_url)


def credentials(settings: LoaderSettings, secrets_client: Any = None) -> dict[str, Any]:
    """Connection keywords from the Secrets Manager secret, else from ``MARIADB_URL``.

    The secret wins: a ``MARIADB_URL`` in the environment never redirects a loader
    that has one. From the URL, the database is the config's ``database.name``.
    """
    server = _url_server(settings)
    if server is not None:
        return {**server.connect_kwargs(), "database": settings.config.database.name}
    if not settings.db_secret:
        raise SettingsError("no database secret configured (DDBLOAD_DB_SECRET).")
    if secrets_client is None:
        import boto3

        secrets_client = boto3.client("secretsmanager")
    raw = secrets_client.get_secret_value(SecretId=settings.db_secret)["SecretString"]
    # Errors name the field, never its value: a misplaced password must not reach a log.
    try:
        secret = json.loads(raw)
    except ValueError:
        secret = None
    if not isinstance(secret, dict):
        raise SettingsError(f"secret {settings.db_secret} is not a JSON object of RDS credentials.")
    bad = [f for f in ("host", "username", "password") if not isinstance(secret.get(f), str)]
    port = secret.get("port", 3306)
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    if type(port) is not int or not 0 < port < 65536:
        bad.append("port")
    if bad:
        raise SettingsError(
            f"secret {settings.db_secret} is not an RDS credentials secret "
            f"(host, port, username, password, dbname): missing or bad {', '.join(bad)}."
        )
    params = {
        "host": secret["host"],
        "port": port,
        "user": secret["username"],
        "password": secret["password"],
        "database": secret.get("dbname") or settings.config.database.name,
    }
    return params


def open_connection(
    params: dict[str, Any],
    *,
    tls: TlsPolicy | None = None,
    connect_timeout: int = 5,
    run_seconds: int = 900,
) -> LoaderConnection:
    """Open a loader connection with the session settings every statement relies on.

    ``tls`` defaults to ``tls_policy(host)``: off for loopback, else verified with the
    shipped CA bundle if there is one, else encrypted without verification.
    """
    host = str(params.get("host") or "localhost")
    tls = tls or tls_policy(host)
    where = f"{host}:{params.get('port', 3306)}"
    if tls.mode == "required":
        log.warning(
            "TLS to MariaDB at %s is encrypted but the server certificate is NOT verified "
            "(%s=required); set %s to the server's CA bundle to verify it.",
            where, names.ENV_DB_TLS, names.ENV_DB_CA_BUNDLE,
        )  # fmt: skip
    try:
        return LoaderConnection(
            **params,
            **tls.connect_kwargs(),
            charset="utf8mb4",
            autocommit=True,
            local_infile=True,
            connect_timeout=connect_timeout,
            idle_timeout=run_seconds + SESSION_IDLE_MARGIN_SECONDS,
            read_timeout=900,
            write_timeout=900,
        )
    except pymysql.err.OperationalError as e:
        sentence = _tls_failure(e, tls, where)
        if sentence is None:
            raise
        raise DatabaseTlsError(sentence) from None


def connect(settings: LoaderSettings, secrets_client: Any = None) -> LoaderConnection:
    """The run's one connection (credentials from the secret, or ``MARIADB_URL``), with the
    TLS policy of the settings (or of the URL, where it says one)."""
    params = credentials(settings, secrets_client)
    mode, bundle = settings.db_tls, settings.db_ca_bundle
    server = _url_server(settings)
    if server is not None:
        mode, bundle = server.tls or mode, server.ca_bundle or bundle
    tls = tls_policy(params["host"], mode, bundle)
    run_seconds = int(settings.config.settings["loader_timeout_seconds"])
    return open_connection(params, tls=tls, run_seconds=run_seconds)
