"""The pipeline configuration: tables, their MariaDB mapping, and pipeline settings.

One source of truth. It lives in ``cdk.json`` under the context key
``ddbload``; the stacks parse it at synth (``app.py``) and hand the validated
JSON to the loader in ``DDBLOAD_CONFIG``; the loader and the CLI parse it again
at start. ``parse_config`` reports every problem at once, one sentence each.

Shape (every field but ``partition_key`` is optional)::

    {"tables": {
        "orders": {
          "partition_key": {"name": "pk", "type": "S"},
          "sort_key": {"name": "sk", "type": "N", "column": "sk"},
          "existing": false,              # true: attach to a table that exists
          "target": "orders",             # MariaDB table (default: see target_name)
          "columns": {"customer_id": {"path": "customer.id", "type": "VARCHAR(64)"}},
          "overflow_column": "item",      # JSON column of unmapped attributes; null drops them
          "delete_mode": "delete",        # or "soft": keep the row, flag _ddbload_deleted
          "ttl_policy": "delete"}},       # or "keep": keep the row, flag _ddbload_expired
     "database": {"name": "ddbload", "existing": null, "deletion_protection": true},
     # existing MariaDB: {"endpoint", "port", "secret_arn", "vpc_id", "security_group_id",
     #                    "subnet_ids" (required by the stacks), "secret_kms_key_arn" (optional)}
     "schedule_minutes": 5, ...}

With no ``columns``, ``overflow_column`` (``item``) holds the whole item:
lossless. With columns, it holds the item minus the mapped paths.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# DynamoDB table names: 3-255 of [a-zA-Z0-9_.-].
DYNAMODB_TABLE_NAME = re.compile(r"[A-Za-z0-9_.\-]{3,255}")
# Target columns the loader owns; mapped columns may not use this prefix.
SYSTEM_PREFIX = "_ddbload_"
KEY_TYPES = ("S", "N", "B")
DELETE_MODES = ("delete", "soft")
TTL_POLICIES = ("delete", "keep")
# The SQL types a mapped column may declare. Types are the one piece of mapping
# text that reaches SQL, so only these shapes pass.
SQL_TYPE = re.compile(
    r"(?ix)"
    r"(?:(?:TINY|SMALL|MEDIUM|BIG)?INT(?:\s+UNSIGNED)?"
    r"|DECIMAL\(\s*\d{1,2}\s*(?:,\s*\d{1,2}\s*)?\)(?:\s+UNSIGNED)?"
    r"|DOUBLE|FLOAT|BOOLEAN"
    r"|(?:VAR)?CHAR\(\s*\d{1,5}\s*\)|(?:TINY|MEDIUM|LONG)?TEXT"
    r"|(?:VAR)?BINARY\(\s*\d{1,5}\s*\)|(?:TINY|MEDIUM|LONG)?BLOB"
    r"|DATE|DATETIME(?:\(\s*[0-6]\s*\))?|TIMESTAMP(?:\(\s*[0-6]\s*\))?|JSON)"
)

DEFAULTS: dict[str, Any] = {
    "schedule_minutes": 5,
    "firehose_buffer_seconds": 60,
    "firehose_buffer_mb": 64,
    "processor_buffer_seconds": 60,
    "processor_buffer_mb": 1,
    "staging_prefix": "staging",
    "error_prefix": "errors",
    "quarantine_prefix": "quarantine",
    "staging_expiry_days": 30,
    "stream_retention_hours": 24,
    "tombstone_retention_hours": 24 * 45,
    "loader_timeout_seconds": 600,
    "loader_reserved_concurrency": None,
    "freshness_objective_seconds": None,
    "kinesis_stream_mode": "on-demand",
    "kinesis_shards": None,
}
# With dynamic partitioning Firehose buffers in stages: a batch may take up to 1.5
# times the buffer interval (AWS, "Buffer data for dynamic partitioning").
DYNAMIC_PARTITIONING_FACTOR = 1.5
# Kinesis capacity, checked together by _stream_capacity. 500 shards is Kinesis's
# default quota per account in its largest Regions (200 elsewhere).
STREAM_MODES = ("on-demand", "provisioned")
KINESIS_SHARDS_MAX = 500


class ConfigError(ValueError):
    """Invalid configuration; ``problems`` holds one sentence per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid ddbload configuration: " + " ".join(problems))


@dataclass(frozen=True)
class KeyAttribute:
    name: str  # DynamoDB attribute name
    type: str  # S | N | B
    column: str  # MariaDB column


@dataclass(frozen=True)
class Column:
    name: str  # MariaDB column
    path: tuple[str, ...]  # attribute path inside the item
    sql_type: str


@dataclass(frozen=True)
class TableMapping:
    source: str
    target: str
    keys: tuple[KeyAttribute, ...]
    columns: tuple[Column, ...] = ()
    overflow_column: str | None = "item"
    delete_mode: str = "delete"
    ttl_policy: str = "delete"
    existing: bool = False


@dataclass(frozen=True)
class DatabaseConfig:
    name: str = "ddbload"
    # An existing MariaDB: {"endpoint", "port", "secret_arn", "vpc_id", "security_group_id"}.
    existing: dict[str, Any] | None = None
    deletion_protection: bool = True
    engine_version: str = "10.11"


@dataclass(frozen=True)
class PipelineConfig:
    tables: dict[str, TableMapping]
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    settings: dict[str, Any] = field(default_factory=lambda: dict(DEFAULTS))

    def mapping_for(self, source: str, key_types: dict[str, str] | None = None) -> TableMapping:
        """The declared mapping of a table, or the lossless default built from its key."""
        if source in self.tables:
            return self.tables[source]
        if not key_types:
            raise ConfigError([f"table {source!r} is not configured and its key is unknown."])
        return default_mapping(source, key_types)

    def target_of(self, source: str) -> str:
        """The MariaDB table that ``source`` loads into (declared, else the default name)."""
        mapping = self.tables.get(source)
        return mapping.target if mapping else target_name(source)

    def to_json(self) -> str:
        return json.dumps(
            {
                "tables": {name: _mapping_to_raw(m) for name, m in sorted(self.tables.items())},
                "database": asdict(self.database),
                **self.settings,
            },
            # not sort_keys: column order is part of a mapping (it is the DDL order)
        )


def target_name(source: str) -> str:
    """Default MariaDB table of a DynamoDB table; distinct sources get distinct names.

    A source that is already a usable MariaDB name keeps it (``orders`` -> ``orders``).
    Any other (``ev-log.v2``, longer than 64, starting with a digit, or in the loader's
    reserved ``_ddbload_`` namespace) gets a readable form plus ``_`` and 8 hex digits of
    the SHA-256 of the exact source name, so ``ev-log.v2`` and ``ev_log.v2`` no longer
    meet in ``ev_log_v2``. Names that differ only in case keep their case here; the
    loader's target registry refuses the second of them (``lower_case_table_names``
    decides on the server whether they are one table).
    """
    if IDENTIFIER.fullmatch(source) and not is_reserved_target(source):
        return source
    readable = re.sub(r"[^A-Za-z0-9_]", "_", source)
    if readable[:1].isdigit() or is_reserved_target(readable):
        readable = "t" + readable
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:8]
    return f"{readable[: 64 - 9]}_{digest}"


def is_reserved_target(name: str) -> bool:
    """The loader's own tables (ledger, tombstones, stage, registry) live under this prefix."""
    return name.lower().startswith(SYSTEM_PREFIX)


def default_mapping(source: str, key_types: dict[str, str]) -> TableMapping:
    """Lossless mapping with nothing declared: key columns + whole item as JSON."""
    problems: list[str] = []
    keys = []
    for name, letter in key_types.items():
        if not IDENTIFIER.fullmatch(name) or name.startswith(SYSTEM_PREFIX):
            problems.append(
                f"table {source!r}: key attribute {name!r} is not a valid column name; "
                "declare the table in the config with a 'column' for this key."
            )
        keys.append(KeyAttribute(name, letter, name))
    if problems:
        raise ConfigError(problems)
    return TableMapping(source=source, target=target_name(source), keys=tuple(keys))


def _mapping_to_raw(m: TableMapping) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "partition_key": {
            "name": m.keys[0].name,
            "type": m.keys[0].type,
            "column": m.keys[0].column,
        },
        "target": m.target,
        "columns": {c.name: {"path": list(c.path), "type": c.sql_type} for c in m.columns},
        "overflow_column": m.overflow_column,
        "delete_mode": m.delete_mode,
        "ttl_policy": m.ttl_policy,
        "existing": m.existing,
    }
    if len(m.keys) > 1:
        k = m.keys[1]
        raw["sort_key"] = {"name": k.name, "type": k.type, "column": k.column}
    return raw


def _key(raw: Any, where: str, problems: list[str]) -> KeyAttribute | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        problems.append(f"{where} must be an object with a non-empty 'name'.")
        return None
    name = raw["name"]
    letter = raw.get("type", "S")
    if letter not in KEY_TYPES:
        problems.append(f"{where} {name!r} has type {letter!r}; key types are S, N or B.")
    column = raw.get("column", name)
    if not isinstance(column, str) or not IDENTIFIER.fullmatch(column):
        problems.append(
            f"{where} {name!r} maps to column {column!r}, which is not a valid identifier "
            "([A-Za-z_][A-Za-z0-9_]{0,63}); give it a 'column'."
        )
    elif column.startswith(SYSTEM_PREFIX):
        problems.append(f"{where} column {column!r} uses the reserved prefix {SYSTEM_PREFIX}.")
    return KeyAttribute(name, letter if letter in KEY_TYPES else "S", str(column))


def _path(raw: Any) -> tuple[str, ...] | None:
    if isinstance(raw, str) and raw:
        parts = tuple(raw.split("."))
    elif isinstance(raw, list) and raw and all(isinstance(p, str) for p in raw):
        parts = tuple(raw)
    else:
        return None
    # Path parts become JSON path members (passed as parameters, never SQL text);
    # quotes, backslashes and control characters would need escaping there, so refuse them.
    if any(not p or re.search(r'["\\\x00-\x1f]', p) for p in parts):
        return None
    return parts


def _table(source: str, raw: Any, problems: list[str]) -> TableMapping | None:
    where = f"table {source!r}"
    if not DYNAMODB_TABLE_NAME.fullmatch(source):
        problems.append(f"{where}: not a valid DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -).")
    if not isinstance(raw, dict):
        problems.append(f"{where} must be an object.")
        return None
    known = {"partition_key", "sort_key", "existing", "target", "columns", "overflow_column",
             "delete_mode", "ttl_policy"}  # fmt: skip
    for extra in sorted(set(raw) - known):
        problems.append(f"{where}: unknown setting {extra!r} (known: {', '.join(sorted(known))}).")
    if "partition_key" not in raw:
        problems.append(f"{where} needs a partition_key.")
        return None
    keys = [_key(raw["partition_key"], f"{where} partition_key", problems)]
    if raw.get("sort_key") is not None:
        keys.append(_key(raw["sort_key"], f"{where} sort_key", problems))
    target = raw.get("target", target_name(source))
    if not isinstance(target, str) or not IDENTIFIER.fullmatch(target):
        problems.append(f"{where}: target {target!r} is not a valid MariaDB table name.")
    elif is_reserved_target(target):
        problems.append(
            f"{where}: target {target!r} uses the prefix {SYSTEM_PREFIX}, reserved for the "
            "loader's own tables; choose another target."
        )
    columns = []
    raw_columns = raw.get("columns", {})
    if not isinstance(raw_columns, dict):
        problems.append(f"{where}: columns must be an object of column name -> {{path, type}}.")
        raw_columns = {}
    for name, spec in raw_columns.items():
        cw = f"{where} column {name!r}"
        if not IDENTIFIER.fullmatch(name):
            problems.append(f"{cw}: not a valid column name ([A-Za-z_][A-Za-z0-9_]{{0,63}}).")
        elif name.startswith(SYSTEM_PREFIX):
            problems.append(f"{cw}: the prefix {SYSTEM_PREFIX} is reserved for the loader.")
        if not isinstance(spec, dict):
            problems.append(f"{cw} must be an object with 'path' and 'type'.")
            continue
        path = _path(spec.get("path", name))
        if path is None:
            problems.append(
                f"{cw}: path must be a non-empty attribute path without quotes, backslashes "
                "or control characters."
            )
        sql_type = spec.get("type")
        if not isinstance(sql_type, str) or not SQL_TYPE.fullmatch(sql_type.strip()):
            problems.append(
                f"{cw}: type {sql_type!r} is not supported (INT, BIGINT, DECIMAL(p,s), DOUBLE, "
                "VARCHAR(n), TEXT, VARBINARY(n), BLOB, DATE, DATETIME(n), TIMESTAMP(n), JSON, BOOLEAN)."
            )
        columns.append(
            Column(
                name, path or (name,), sql_type.strip().upper() if isinstance(sql_type, str) else ""
            )
        )
    overflow = raw.get("overflow_column", "item")
    if overflow is not None and (
        not isinstance(overflow, str) or not IDENTIFIER.fullmatch(overflow)
    ):
        problems.append(
            f"{where}: overflow_column {overflow!r} is not a valid column name (or null)."
        )
    names = (
        [k.column for k in keys if k] + [c.name for c in columns] + ([overflow] if overflow else [])
    )
    dupes = sorted(
        {
            n.lower()
            for n in names
            if names.count(n) > 1 or [x.lower() for x in names].count(n.lower()) > 1
        }
    )
    if dupes:
        problems.append(f"{where}: column names used twice: {', '.join(dupes)}.")
    delete_mode = raw.get("delete_mode", "delete")
    if delete_mode not in DELETE_MODES:
        problems.append(
            f"{where}: delete_mode {delete_mode!r} must be one of {', '.join(DELETE_MODES)}."
        )
    ttl_policy = raw.get("ttl_policy", "delete")
    if ttl_policy not in TTL_POLICIES:
        problems.append(
            f"{where}: ttl_policy {ttl_policy!r} must be one of {', '.join(TTL_POLICIES)}."
        )
    existing = raw.get("existing", False)
    if not isinstance(existing, bool):
        problems.append(f"{where}: existing must be true or false.")
    if any(k is None for k in keys):
        return None
    return TableMapping(
        source=source,
        target=target if isinstance(target, str) else "",
        keys=tuple(k for k in keys if k),
        columns=tuple(columns),
        overflow_column=overflow,
        delete_mode=delete_mode,
        ttl_policy=ttl_policy,
        existing=bool(existing),
    )


def _database(raw: Any, problems: list[str]) -> DatabaseConfig:
    if raw is None:
        return DatabaseConfig()
    if not isinstance(raw, dict):
        problems.append("database must be an object.")
        return DatabaseConfig()
    name = raw.get("name", "ddbload")
    if not isinstance(name, str) or not IDENTIFIER.fullmatch(name):
        problems.append(f"database name {name!r} is not a valid MariaDB database name.")
    existing = raw.get("existing")
    if existing is not None:
        if not isinstance(existing, dict):
            problems.append("database.existing must be an object with endpoint and secret_arn.")
            existing = None
        else:
            for need in ("endpoint", "secret_arn", "vpc_id", "security_group_id"):
                if not isinstance(existing.get(need), str) or not existing.get(need):
                    problems.append(f"database.existing needs {need!r} (a non-empty string).")
    version = str(raw.get("engine_version", "10.11"))
    if version not in ("10.11", "11.4"):
        problems.append(f"database engine_version {version!r} must be 10.11 or 11.4.")
    protection = raw.get("deletion_protection", True)
    if not isinstance(protection, bool):
        problems.append("database.deletion_protection must be true or false.")
    return DatabaseConfig(str(name), existing, bool(protection), version)


def _settings(raw: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """Every pipeline setting checked against its bounds, one sentence per problem.

    Where each bound comes from (docs/DEPLOY.md repeats this for users):
    schedule_minutes: at least a minute, at most a day (a slower loader lets staged files
    outgrow the work queue's and the alarms' horizon). firehose_buffer_seconds 60-900 and
    firehose_buffer_mb 64-128: Firehose's range for S3 with dynamic partitioning.
    processor_buffer_seconds 60-900 and processor_buffer_mb 1-3: Firehose's range for a
    Lambda processor (its response must stay under Lambda's 6 MB). staging_expiry_days
    1-3650: an S3 lifecycle expiry counts whole days. stream_retention_hours 24-8760:
    Kinesis retention. tombstone_retention_hours: at least stream retention plus staging
    lifetime, at most 20 years. loader_timeout_seconds 60-900: Lambda allows 900 at most.
    loader_reserved_concurrency: none by default (Lambda keeps 100 of an account's
    concurrency unreserved, so small accounts refuse any reservation), else 1-1000.
    freshness_objective_seconds: none by default (derived, ``freshness_objective``), else
    from the wait a healthy pipeline may impose (``freshness_floor``) up to the staging
    lifetime (an object pending longer expires unloaded, so the alarm must come first).
    Prefixes: S3 key segments of [A-Za-z0-9_-], at most 100 characters, none inside another.
    """
    limits = {
        "schedule_minutes": (1, 1440),
        "firehose_buffer_seconds": (60, 900),
        "firehose_buffer_mb": (64, 128),
        "processor_buffer_seconds": (60, 900),
        "processor_buffer_mb": (1, 3),
        "staging_expiry_days": (1, 3650),
        "stream_retention_hours": (24, 8760),
        "tombstone_retention_hours": (1, 24 * 365 * 20),
        "loader_timeout_seconds": (60, 900),
        "loader_reserved_concurrency": (1, 1000),
    }
    optional = {"loader_reserved_concurrency", "freshness_objective_seconds"}
    prefix_names = ("staging_prefix", "error_prefix", "quarantine_prefix")
    settings = dict(DEFAULTS)
    for name, default in DEFAULTS.items():
        value = raw.get(name, default)
        if name in ("kinesis_stream_mode", "kinesis_shards"):
            continue
        if name in prefix_names:
            if (
                not isinstance(value, str)
                or len(value) > 100
                or not re.fullmatch(r"[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*", value)
            ):
                problems.append(
                    f"{name} must be an S3 prefix of letters, digits, _ and - separated by / "
                    f"(at most 100 characters), got {value!r}."
                )
                continue
        elif value is None and name in optional:
            pass
        elif type(value) is not int or value <= 0:
            problems.append(
                f"{name} must be a positive whole number"
                + (" or null" if name in optional else "")
                + f", got {value!r}."
            )
            continue
        elif name in limits and not limits[name][0] <= value <= limits[name][1]:
            low, high = limits[name]
            problems.append(f"{name} is {value}; it must be between {low} and {high}.")
            continue
        settings[name] = value
    _stream_capacity(raw, settings, problems)
    objective = settings["freshness_objective_seconds"]
    if objective is not None:
        low, high = freshness_floor(settings), 86_400 * settings["staging_expiry_days"]
        if not low <= objective <= high:
            problems.append(
                f"freshness_objective_seconds is {objective}; it must be between {low} (the "
                "Firehose buffers and one schedule period, which a healthy pipeline may take) "
                f"and {high} (the staging lifetime: an object pending longer expires unloaded)."
            )
    prefixes = [settings[p] for p in prefix_names]
    if len(set(prefixes)) != 3:
        problems.append("staging_prefix, error_prefix and quarantine_prefix must differ.")
    else:
        for outer in prefix_names:
            for inner in prefix_names:
                if settings[inner].startswith(settings[outer] + "/"):
                    problems.append(
                        f"{inner} {settings[inner]!r} lies inside {outer} {settings[outer]!r}; "
                        "the prefixes must not contain one another."
                    )
    needed = settings["stream_retention_hours"] + 24 * settings["staging_expiry_days"]
    if settings["tombstone_retention_hours"] < needed:
        problems.append(
            f"tombstone_retention_hours is {settings['tombstone_retention_hours']}; it must cover "
            f"stream retention plus staging lifetime ({needed} hours) or an old change reloaded "
            "late could resurrect a deleted row."
        )
    return settings


def freshness_floor(settings: dict[str, Any]) -> int:
    """Seconds a change may wait in a healthy pipeline before a loader run can take it.

    Firehose buffers twice, one after the other: before the transform Lambda
    (``processor_buffer_seconds``), then per partition before S3
    (``firehose_buffer_seconds``, up to 1.5 times with dynamic partitioning); the
    staged object then waits up to one schedule period for the next run.
    """
    return (
        settings["processor_buffer_seconds"]
        + math.ceil(DYNAMIC_PARTITIONING_FACTOR * settings["firehose_buffer_seconds"])
        + 60 * settings["schedule_minutes"]
    )


def freshness_objective(settings: dict[str, Any]) -> int:
    """Freshness (seconds) beyond which the stack alarms and ``ddbload status`` exits 3.

    ``freshness_objective_seconds`` when set; by default ``freshness_floor`` plus
    ``loader_timeout_seconds`` (the run that takes the change may last its whole
    timeout before it commits). With the defaults: 60 + 1.5 x 60 + 300 + 600 = 1050 s.
    """
    chosen = settings.get("freshness_objective_seconds")
    if chosen is not None:
        return int(chosen)
    return freshness_floor(settings) + settings["loader_timeout_seconds"]


def _stream_capacity(raw: dict[str, Any], settings: dict[str, Any], problems: list[str]) -> None:
    """kinesis_stream_mode on-demand (default) or provisioned; kinesis_shards with provisioned only."""
    mode = raw.get("kinesis_stream_mode", DEFAULTS["kinesis_stream_mode"])
    shards = raw.get("kinesis_shards")
    if mode not in STREAM_MODES:
        problems.append(f"kinesis_stream_mode must be on-demand or provisioned, got {mode!r}.")
        return
    settings["kinesis_stream_mode"] = mode
    if mode == "on-demand":
        if shards is not None:
            problems.append(
                "kinesis_shards applies only to kinesis_stream_mode provisioned; remove it "
                "or set the mode to provisioned."
            )
    elif shards is None:
        problems.append(
            f"kinesis_shards is required with kinesis_stream_mode provisioned: a whole number "
            f"from 1 to {KINESIS_SHARDS_MAX} (ddbload estimate suggests one for a load)."
        )
    elif type(shards) is not int or not 1 <= shards <= KINESIS_SHARDS_MAX:
        problems.append(
            f"kinesis_shards is {shards!r}; it must be a whole number from 1 to "
            f"{KINESIS_SHARDS_MAX} (Kinesis's default shard quota per account)."
        )
    else:
        settings["kinesis_shards"] = shards


def target_collisions(tables: dict[str, TableMapping]) -> list[str]:
    """One sentence per pair of tables whose targets are equal, also ignoring case.

    Case counts because a server with ``lower_case_table_names`` 1 or 2 (the default on
    Windows and macOS) stores ``Orders`` and ``orders`` as one table.
    """
    owners: dict[str, str] = {}
    problems = []
    for source, mapping in sorted(tables.items()):
        folded = mapping.target.lower()
        if folded in owners:
            first = owners[folded]
            problems.append(
                f"tables {first!r} and {source!r} would both load into MariaDB table "
                f"{tables[first].target!r}"
                + ("" if tables[first].target == mapping.target else f" / {mapping.target!r}")
                + "; give one of them a different 'target'."
            )
        else:
            owners[folded] = source
    return problems


def parse_config(raw: Any) -> PipelineConfig:
    """Validate the raw ``ddbload`` context; raise ``ConfigError`` listing every problem."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise ConfigError(["the ddbload configuration must be a JSON object."])
    known = {"tables", "database", *DEFAULTS}
    for extra in sorted(set(raw) - known):
        problems.append(f"unknown setting {extra!r}.")
    raw_tables = raw.get("tables", {})
    tables: dict[str, TableMapping] = {}
    if not isinstance(raw_tables, dict):
        problems.append("tables must be an object of DynamoDB table name -> mapping.")
        raw_tables = {}
    for source, spec in raw_tables.items():
        mapping = _table(source, spec, problems)
        if mapping:
            tables[source] = mapping
    problems += target_collisions(tables)
    database = _database(raw.get("database"), problems)
    settings = _settings(raw, problems)
    if problems:
        raise ConfigError(problems)
    return PipelineConfig(tables=tables, database=database, settings=settings)


def load_cdk_json(path: str = "cdk.json") -> PipelineConfig:
    """Read and validate the ``ddbload`` context of a cdk.json file."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    return parse_config(doc.get("context", {}).get("ddbload", {}))


def from_json(text: str) -> PipelineConfig:
    """Parse the JSON the stacks put in ``DDBLOAD_CONFIG``."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(
            [f"DDBLOAD_CONFIG is not valid JSON ({e.msg} at position {e.pos})."]
        ) from None
    return parse_config(raw)
