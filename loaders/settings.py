"""Loader settings: read once at start from the environment the stacks set (or built directly).

``LoaderSettings.from_env()`` is the Lambda path; tests, the CLI and local mode
build ``LoaderSettings(...)`` with keywords. Env names come from
``contract.names``; a missing or bad one fails with one sentence naming it.
``mariadb_server`` reads ``MARIADB_URL`` for every part (loader, local mode, CLI,
tests, benchmarks) under one rule: the URL gives the server, the user, the password
and TLS, never the database.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from contract import names
from contract.config import ConfigError, PipelineConfig, from_json


class SettingsError(ValueError):
    """A missing or invalid loader setting; the message names it."""


# How the loader protects its MariaDB connection (``loaders.db.tls_policy`` applies it).
TLS_MODES = ("verify", "required", "off")


@dataclass(frozen=True)
class LoaderSettings:
    config: PipelineConfig
    bucket: str = ""
    staging_prefix: str = "staging"
    error_prefix: str = "errors"
    quarantine_prefix: str = "quarantine"
    db_secret: str | None = None
    work_queue_url: str | None = None
    mariadb_url: str | None = None
    # How many hour prefixes back the sweep lists (the current hour included).
    sweep_hours: int = 3
    # The default lane (unconfigured tables) has no work queue, only its sweep: it
    # looks this far back, so a day of its runs can fail before a file needs a reload.
    default_lane_sweep_hours: int = 24
    # One transaction merges at most this many files / compressed bytes of one table.
    batch_max_files: int = 32
    batch_max_bytes: int = 64 * 1024 * 1024
    # Rows held in Arrow before a LOAD DATA round: bounds memory on large files.
    chunk_rows: int = 250_000
    # Transient database errors: attempts per batch and the first backoff delay.
    retries: int = 4
    backoff_seconds: float = 0.5
    lock_timeout_seconds: int = 10
    # A Lambda run stops taking new batches when less than this is left.
    time_margin_seconds: float = 30.0
    # How long a drained work message stays hidden (default: the loader's timeout + 60 s).
    visibility_seconds: int | None = None
    # TLS mode (one of TLS_MODES; None: decided by the host and the CA bundle) and CA bundle.
    db_tls: str | None = None
    db_ca_bundle: str | None = None

    @property
    def tombstone_retention_hours(self) -> int:
        return int(self.config.settings["tombstone_retention_hours"])

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LoaderSettings:
        """Settings from the Lambda environment; raises ``SettingsError`` naming the problem."""
        env = os.environ if env is None else env
        raw_config = env.get(names.ENV_CONFIG)
        if not raw_config:
            raise SettingsError(f"{names.ENV_CONFIG} is not set; deploy the stack or export it.")
        try:
            config = from_json(raw_config)
        except ConfigError as e:
            raise SettingsError(f"{names.ENV_CONFIG} is invalid: {' '.join(e.problems)}") from None
        bucket = env.get(names.ENV_BUCKET, "")
        if not bucket:
            raise SettingsError(f"{names.ENV_BUCKET} is not set; it names the staging bucket.")
        mariadb_url = env.get(names.ENV_MARIADB_URL) or None
        secret = env.get(names.ENV_DB_SECRET) or None
        if not secret and not mariadb_url:
            raise SettingsError(
                f"{names.ENV_DB_SECRET} is not set; it names the Secrets Manager secret "
                f"with the MariaDB credentials (or set {names.ENV_MARIADB_URL} for local runs)."
            )
        if mariadb_url and not secret:
            mariadb_server(mariadb_url)  # a bad URL fails here, at start, not at connect
        prefixes: dict[str, str] = {}
        for env_name, key in (
            (names.ENV_STAGING_PREFIX, "staging_prefix"),
            (names.ENV_ERROR_PREFIX, "error_prefix"),
            (names.ENV_QUARANTINE_PREFIX, "quarantine_prefix"),
        ):
            value = str(env.get(env_name) or config.settings[key]).strip("/")
            if not value:
                raise SettingsError(f"{env_name} is empty; it must be an S3 prefix.")
            prefixes[key] = value
        db_tls = (env.get(names.ENV_DB_TLS) or "").strip().lower() or None
        if db_tls is not None and db_tls not in TLS_MODES:
            raise SettingsError(
                f"{names.ENV_DB_TLS} is {env.get(names.ENV_DB_TLS)!r}; use one of "
                f"{', '.join(TLS_MODES)}."
            )
        return cls(
            config=config,
            db_tls=db_tls,
            db_ca_bundle=env.get(names.ENV_DB_CA_BUNDLE) or None,
            bucket=bucket,
            db_secret=secret,
            work_queue_url=env.get(names.ENV_WORK_QUEUE_URL) or None,
            mariadb_url=mariadb_url,
            staging_prefix=prefixes["staging_prefix"],
            error_prefix=prefixes["error_prefix"],
            quarantine_prefix=prefixes["quarantine_prefix"],
        )


log = logging.getLogger(__name__)

# Where MariaDB is when MARIADB_URL is unset: this machine, as root without a password.
DEFAULT_MARIADB_URL = "mysql://root@127.0.0.1:3306"
URL_FORM = "mysql://user:password@host:port[?tls=verify|required|off&ca=/path/to/ca.pem]"
# Databases named in a URL path already reported, so a notice is one line per process.
_noticed: set[str] = set()


@dataclass(frozen=True)
class MariaDBServer:
    """What ``MARIADB_URL`` gives: the server, the user, the password and TLS.

    Never the database: that is the pipeline config's ``database.name``, or a command's
    ``--database``, in every part alike. A path in the URL is ignored, with a notice.
    """

    host: str
    port: int
    user: str
    password: str
    # One of TLS_MODES, and the CA bundle for ``verify``; None: decided by the host
    # (``loaders.db.tls_policy``: off on loopback, else verified or required).
    tls: str | None = None
    ca_bundle: str | None = None

    def connect_kwargs(self) -> dict[str, Any]:
        """PyMySQL keywords for the server and the account (no database, no TLS)."""
        return {"host": self.host, "port": self.port, "user": self.user, "password": self.password}


def mariadb_server(url: str | None = None, env: Mapping[str, str] | None = None) -> MariaDBServer:
    """The server ``url`` names (default: ``MARIADB_URL``, else root@127.0.0.1:3306).

    User and password are percent-decoded. Raises ``SettingsError`` with one sentence
    (never echoing the password) when the URL is not of the form ``URL_FORM``.
    """
    env = os.environ if env is None else env
    parts = urlsplit(url or env.get(names.ENV_MARIADB_URL) or DEFAULT_MARIADB_URL)
    try:
        port = parts.port or 3306
    except ValueError:
        port = 0
    if parts.scheme not in ("mysql", "mariadb") or not parts.hostname or not port:
        raise SettingsError(f"{names.ENV_MARIADB_URL} must look like {URL_FORM}.")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(query) - {"tls", "ca"})
    if unknown:
        raise SettingsError(
            f"{names.ENV_MARIADB_URL} has unknown parameter {', '.join(unknown)}; "
            "it takes tls and ca."
        )
    tls = query.get("tls", "").strip().lower() or None
    if tls is not None and tls not in TLS_MODES:
        raise SettingsError(
            f"{names.ENV_MARIADB_URL} has tls={query['tls']}; use one of {', '.join(TLS_MODES)}."
        )
    database = unquote(parts.path.strip("/"))
    if database and database not in _noticed:
        _noticed.add(database)
        log.warning(
            "%s names database %r: ignored; the database is the pipeline config's "
            "database.name or --database.",
            names.ENV_MARIADB_URL,
            database,
        )
    return MariaDBServer(
        host=parts.hostname,
        port=port,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        tls=tls,
        ca_bundle=query.get("ca") or None,
    )
