"""Reconciliation: does MariaDB hold what DynamoDB holds? (``ddbload verify``)

For each table: a full scan of DynamoDB and a full read of the MariaDB target
(rows flagged deleted or expired do not count: DynamoDB no longer has those
items). Each side is reduced to ``key text -> checksum of the mapped values``:

* the key text is ``contract.staging.key_text`` of the typed key on both sides
  (MariaDB's S, DECIMAL and VARBINARY key columns are turned back into typed
  DynamoDB keys), so equal keys have equal text;
* the values are what the loader stores for the item, derived on the DynamoDB
  side through ``contract.values`` (the same plain JSON the transform writes)
  and the table mapping: each mapped column's value at its path, normalised
  for its SQL type (DOUBLE, FLOAT and the temporal types in the exact form they
  store, ``ops.stored_forms``), and the overflow column's JSON document. Both sides are
  rendered canonically (object keys sorted, numbers as
  ``contract.values.canonical_number``, never through float) before hashing.

A key only in DynamoDB is *missing*, only in MariaDB *extra*, in both with
different checksums *different*. The result is zero differences exactly when
every current item is in MariaDB with the values the mapping says it should have.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pymysql

from contract.config import PipelineConfig, TableMapping
from contract.staging import key_text
from contract.values import _Num, canonical_number, loads_exact, to_plain, wire_value
from loaders import sql
from loaders.columns import ColumnType
from ops import stored_forms

# (stage label, units done so far, total or None when unknown)
Progress = Callable[[str, int, int | None], None]
_NUMERIC = ("INT", "TINYINT", "SMALLINT", "MEDIUMINT", "BIGINT", "DECIMAL", "DOUBLE", "FLOAT")
_BINARY = ("BINARY", "VARBINARY", "BLOB", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB")
_SAMPLES = 5


@dataclass
class TableReconciliation:
    """Counts for one table; ``samples`` holds up to five key texts per kind of difference."""

    table: str
    target: str
    dynamodb_items: int = 0
    mariadb_rows: int = 0
    missing: int = 0
    extra: int = 0
    different: int = 0
    samples: dict[str, list[str]] = field(
        default_factory=lambda: {"missing": [], "extra": [], "different": []}
    )

    @property
    def ok(self) -> bool:
        return self.missing == 0 and self.extra == 0 and self.different == 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- canonical values --------------------------------------------------------------------


def _canonical(value: Any) -> Any:
    """Plain JSON (numbers as ``_Num``) -> a form whose JSON text is one per value."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, _Num):
        return {"#n": canonical_number(str(value))}
    return value


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        return {"#n": "1" if value else "0"}
    if isinstance(value, float):
        return {"#n": canonical_number(repr(value))}
    if isinstance(value, int | Decimal | _Num):
        return {"#n": canonical_number(str(value))}
    if isinstance(value, str):
        try:
            return {"#n": canonical_number(value)}
        except Exception:
            return value
    return None


def _kind(sql_type: str) -> str:
    return sql_type.split("(")[0].split()[0].upper()


def _expected_column(sql_type: str, value: Any) -> Any:
    """What the loader stores in a mapped column for the plain value at its path."""
    kind = _kind(sql_type)
    if value is None:
        return None
    if kind == "JSON":
        return _canonical(value)
    if isinstance(value, dict | list):
        return None  # JSON_VALUE of a non-scalar is NULL
    # DOUBLE/FLOAT and the temporal types store another exact form (ops.stored_forms).
    ct = ColumnType.of(sql_type)
    stored = None
    if ct.family == "float" and isinstance(value, _Num):
        stored = stored_forms.float_text(value, ct)
        if stored is not None:
            return {"#n": stored}
    if ct.family == "temporal":
        stored = stored_forms.temporal_text(value, ct)
        if stored is not None:
            return stored
    if kind in _NUMERIC or kind == "BOOLEAN":
        return _number(value)
    if kind in _BINARY:
        try:
            return base64.b64decode(value, validate=True).hex() if isinstance(value, str) else None
        except ValueError:
            return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _Num):
        return str(value)
    return value


def _stored_column(sql_type: str, value: Any) -> Any:
    """A value read back from a mapped column, in the form ``_expected_column`` gives."""
    kind = _kind(sql_type)
    if value is None:
        return None
    if kind == "JSON":
        return _canonical(loads_exact(value))
    if kind in _NUMERIC or kind == "BOOLEAN":
        return _number(value)
    if kind in _BINARY:
        return bytes(value).hex()
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value


def _at(plain: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = plain
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _without(plain: dict[str, Any], paths: Iterable[tuple[str, ...]]) -> dict[str, Any]:
    """The item minus the mapped paths (what JSON_REMOVE leaves in the overflow column)."""
    out = _copy(plain)
    for path in paths:
        node = out
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                break
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return out


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _digest(values: list[Any]) -> str:
    text = json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# -- the two sides -----------------------------------------------------------------------


def item_entry(mapping: TableMapping, item: dict[str, Any]) -> tuple[str, str]:
    """(key text, checksum) of one DynamoDB item (boto3 low-level form) under ``mapping``."""
    wire = {k: wire_value(v) for k, v in item.items()}
    key, _ = key_text({k.name: wire[k.name] for k in mapping.keys})
    plain = loads_exact(to_plain(wire)[0])
    values = [_expected_column(c.sql_type, _at(plain, c.path)) for c in mapping.columns]
    if mapping.overflow_column:
        # A mapped path leaves the overflow document, unless the column could not hold
        # its number exactly and the loader kept the digits there too.
        removed = [
            c.path
            for c in mapping.columns
            if not stored_forms.keeps_digits(_at(plain, c.path), ColumnType.of(c.sql_type))
        ]
        values.append(_canonical(_without(plain, removed)))
    return key, _digest(values)


def row_entry(mapping: TableMapping, row: tuple[Any, ...]) -> tuple[str, str]:
    """(key text, checksum) of one target row: key columns, mapped columns, overflow."""
    n = len(mapping.keys)
    typed = {}
    for k, value in zip(mapping.keys, row[:n], strict=True):
        if k.type == "S":
            typed[k.name] = {"S": value}
        elif k.type == "N":
            typed[k.name] = {"N": canonical_number(str(value))}
        else:
            typed[k.name] = {"B": base64.b64encode(bytes(value)).decode()}
    key, _ = key_text(typed)
    rest = row[n:]
    values = [_stored_column(c.sql_type, v) for c, v in zip(mapping.columns, rest, strict=False)]
    if mapping.overflow_column:
        doc = rest[len(mapping.columns)]
        values.append(_canonical(loads_exact(doc)) if doc is not None else None)
    return key, _digest(values)


def _key_types(dynamodb: Any, table: str) -> dict[str, str]:
    desc = dynamodb.describe_table(TableName=table)["Table"]
    types = {a["AttributeName"]: a["AttributeType"] for a in desc["AttributeDefinitions"]}
    return {k["AttributeName"]: types[k["AttributeName"]] for k in desc["KeySchema"]}


def _scan(dynamodb: Any, mapping: TableMapping, progress: Progress | None) -> dict[str, str]:
    entries: dict[str, str] = {}
    paginator = dynamodb.get_paginator("scan")
    label = f"scan {mapping.source}"
    for page in paginator.paginate(TableName=mapping.source, ConsistentRead=True):
        for item in page.get("Items", []):
            key, digest = item_entry(mapping, item)
            entries[key] = digest
        if progress:
            progress(label, len(entries), None)
    return entries


def _target_exists(conn: Any, target: str) -> bool:
    with conn.cursor() as cur:
        cur.execute(sql.columns_query(), [target])
        return bool(cur.fetchall())


def _read_rows(conn: Any, mapping: TableMapping) -> Iterable[tuple[Any, ...]]:
    with conn.cursor(pymysql.cursors.SSCursor) as cur:
        cur.execute(sql.live_rows(mapping))
        yield from cur


def verify_table(
    mapping: TableMapping, dynamodb: Any, conn: Any, *, progress: Progress | None = None
) -> TableReconciliation:
    """Reconcile one DynamoDB table with its MariaDB target."""
    result = TableReconciliation(table=mapping.source, target=mapping.target)
    expected = _scan(dynamodb, mapping, progress)
    result.dynamodb_items = len(expected)
    if _target_exists(conn, mapping.target):
        label = f"read {mapping.target}"
        for row in _read_rows(conn, mapping):
            result.mariadb_rows += 1
            key, digest = row_entry(mapping, row)
            want = expected.pop(key, None)
            if want is None:
                result.extra += 1
                _sample(result, "extra", key)
            elif want != digest:
                result.different += 1
                _sample(result, "different", key)
            if progress and result.mariadb_rows % 1000 == 0:
                progress(label, result.mariadb_rows, None)
    result.missing = len(expected)
    for key in list(expected)[:_SAMPLES]:
        _sample(result, "missing", key)
    return result


def _sample(result: TableReconciliation, kind: str, key: str) -> None:
    if len(result.samples[kind]) < _SAMPLES:
        result.samples[kind].append(key)


def verify(
    config: PipelineConfig,
    dynamodb: Any,
    conn: Any,
    *,
    tables: Iterable[str] | None = None,
    progress: Progress | None = None,
) -> list[TableReconciliation]:
    """Reconcile DynamoDB tables (default: every configured one) with MariaDB.

    ``dynamodb`` is a boto3 DynamoDB client, ``conn`` an open PyMySQL
    connection to the pipeline's database. A table that is not configured
    is verified under the lossless default mapping, built from its key schema.
    """
    names = list(tables) if tables is not None else sorted(config.tables)
    out = []
    for name in names:
        key_types = None if name in config.tables else _key_types(dynamodb, name)
        out.append(
            verify_table(config.mapping_for(name, key_types), dynamodb, conn, progress=progress)
        )
    return out


def verify_pipeline(
    pipeline: Any, *, table: str | None = None, progress: Progress | None = None
) -> list[TableReconciliation]:
    """``verify`` for a resolved ``ops.pipeline.Pipeline`` (local or deployed)."""
    conn = pipeline.connect()
    try:
        return verify(
            pipeline.config,
            pipeline.client("dynamodb"),
            conn,
            tables=[table] if table else None,
            progress=progress,
        )
    finally:
        conn.close()
