"""verify as an oracle: every kind of divergence it must see, one altered value at a time.

Every end-to-end, backfill and reliability test trusts ``ops.verify`` to say "zero
differences" only when MariaDB holds what DynamoDB holds. Here the rows are written by
the real loader (``load_staging_bytes`` on the real MariaDB) from the same items put
into moto DynamoDB, so the baseline is the loader's own output; verify must find it
equal, and then find each single altered value -- per mapped column kind, in the
overflow JSON, a missing row and an extra row -- as exactly one difference naming
that key.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import boto3
import pymysql
import pytest
from moto import mock_aws

from contract.config import TableMapping, parse_config
from loaders.db import open_connection
from loaders.engine import load_staging_bytes
from ops import verify
from tests.conftest import mariadb_params
from tests.loaders.builders import change, obj

TABLE = "oracle"
COLUMNS = {
    "s": ("s", "VARCHAR(64)"),
    "i": ("i", "INT"),
    "d": ("d", "DECIMAL(12,3)"),
    "f": ("f", "DOUBLE"),
    "b": ("b", "BOOLEAN"),
    "bin": ("bin", "VARBINARY(16)"),
    "t": ("t", "DATETIME"),
    "j": ("j", "JSON"),
}


def _item(n: int) -> dict[str, Any]:
    """Item ``n`` in wire form (binary as base64 text), the form staging lines carry."""
    return {
        "s": {"S": f"name {n} é"},
        "i": {"N": str(100 + n)},
        "d": {"N": f"{n}.125"},
        "f": {"N": f"{n}.5"},
        "b": {"BOOL": n % 2 == 0},
        "bin": {"B": base64.b64encode(bytes([n, 0, 255])).decode()},
        "t": {"S": f"2026-11-2{n} 12:34:56"},
        "j": {"M": {"x": {"N": str(n)}, "tags": {"L": [{"S": "a"}, {"BOOL": True}]}}},
        "rest": {"M": {"note": {"S": f"overflow {n}"}, "count": {"N": str(n * 7)}}},
    }


def _boto(item: dict[str, Any]) -> dict[str, Any]:
    """The wire item as boto3 takes it (binary as bytes)."""
    return {k: ({"B": base64.b64decode(v["B"])} if "B" in v else v) for k, v in item.items()}


KEYS = [1, 2, 3]
ALTERED = 2  # the key whose value each test changes


@pytest.fixture
def ddb(aws_env: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


@pytest.fixture
def loaded(ddb: Any, database: str) -> Iterator[tuple[TableMapping, Any, Any]]:
    """(mapping, DynamoDB client, MariaDB connection) with the same three items on both
    sides, MariaDB's written by the loader; verify agrees before any test alters a value."""
    config = parse_config(
        {
            "tables": {
                TABLE: {
                    "partition_key": {"name": "pk"},
                    "columns": {c: {"path": p, "type": t} for c, (p, t) in COLUMNS.items()},
                }
            }
        }
    )
    lines = []
    for n in KEYS:
        key = {"pk": {"S": f"k{n}"}}
        lines.append(change(TABLE, key, _item(n), n))
        ddb.put_item(TableName=TABLE, Item={**key, **_boto(_item(n))})
    params = mariadb_params(database)
    params.pop("autocommit")
    loader = open_connection(params)
    try:
        [result] = load_staging_bytes(loader, config, [obj(TABLE, lines)])
    finally:
        loader.close()
    assert result.status == "loaded" and result.applied == len(KEYS), result.error
    conn = pymysql.connect(**mariadb_params(database))
    mapping = config.tables[TABLE]
    baseline = verify.verify_table(mapping, ddb, conn)
    assert baseline.ok and baseline.dynamodb_items == baseline.mariadb_rows == len(KEYS), baseline
    yield mapping, ddb, conn
    conn.close()


def _update(conn: Any, assignment: str, params: list[Any] | None = None) -> None:
    with conn.cursor() as cur:
        cur.execute(
            f"UPDATE `{TABLE}` SET {assignment} WHERE pk = %s", [*(params or []), f"k{ALTERED}"]
        )
        assert cur.rowcount == 1


def _only_different(result: verify.TableReconciliation) -> None:
    assert (result.missing, result.extra, result.different) == (0, 0, 1), result
    [sample] = result.samples["different"]
    assert f"k{ALTERED}" in sample
    assert result.dynamodb_items == result.mariadb_rows == len(KEYS)
    assert not result.ok


# One changed stored value per column kind; each is a value the column can hold, so only
# the oracle (not the server) can notice it.
MARIADB_CHANGES: dict[str, tuple[str, list[Any]]] = {
    "varchar": ("s = %s", ["name 2 e"]),  # one accent dropped
    "int": ("i = i + 1", []),
    "decimal": ("d = d + 0.001", []),  # last digit of the scale
    "double": ("f = f + 0.25", []),
    "boolean": ("b = NOT b", []),
    "binary": ("bin = %s", [bytes([2, 0, 254])]),  # last byte
    "datetime": ("t = t + INTERVAL 1 SECOND", []),
    "json": ("j = JSON_SET(j, '$.x', 3)", []),
    "overflow_changed": ("item = JSON_SET(item, '$.rest.note', 'overflow 9')", []),
    "overflow_added": ("item = JSON_SET(item, '$.surprise', 'x')", []),
    "overflow_removed": ("item = JSON_REMOVE(item, '$.rest.count')", []),
    "column_nulled": ("s = NULL", []),
}


@pytest.mark.parametrize("change_name", sorted(MARIADB_CHANGES))
def test_one_altered_stored_value_is_one_difference(
    loaded: tuple[TableMapping, Any, Any], change_name: str
) -> None:
    mapping, ddb, conn = loaded
    # WHEN one stored value of one row differs from what the loader wrote
    assignment, params = MARIADB_CHANGES[change_name]
    _update(conn, assignment, params)
    # THEN verify counts exactly that row as different, and names it
    _only_different(verify.verify_table(mapping, ddb, conn))


DYNAMODB_CHANGES: dict[str, tuple[str, dict[str, Any]]] = {
    "varchar": ("s", {"S": "name 2 E"}),
    "int": ("i", {"N": "103"}),
    "decimal": ("d", {"N": "2.126"}),
    "double": ("f", {"N": "2.50000001"}),
    "boolean": ("b", {"BOOL": False}),
    "binary": ("bin", {"B": bytes([2, 0, 255, 0])}),
    "datetime": ("t", {"S": "2026-11-22 12:34:57"}),
    "json": ("j", {"M": {"x": {"N": "2"}, "tags": {"L": [{"S": "a"}, {"BOOL": False}]}}}),
    "overflow": ("rest", {"M": {"note": {"S": "overflow 2"}, "count": {"N": "15"}}}),
}


@pytest.mark.parametrize("change_name", sorted(DYNAMODB_CHANGES))
def test_one_altered_dynamodb_value_is_one_difference(
    loaded: tuple[TableMapping, Any, Any], change_name: str
) -> None:
    mapping, ddb, conn = loaded
    # WHEN DynamoDB's item changes after the load (the change never reached MariaDB)
    attr, value = DYNAMODB_CHANGES[change_name]
    ddb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": f"k{ALTERED}"}},
        UpdateExpression="SET #a = :v",
        ExpressionAttributeNames={"#a": attr},
        ExpressionAttributeValues={":v": value},
    )
    # THEN verify counts exactly that row as different, and names it
    _only_different(verify.verify_table(mapping, ddb, conn))


def test_a_row_missing_from_mariadb_is_one_missing(loaded: tuple[TableMapping, Any, Any]) -> None:
    mapping, ddb, conn = loaded
    with conn.cursor() as cur:
        cur.execute(f"DELETE FROM `{TABLE}` WHERE pk = %s", [f"k{ALTERED}"])
    result = verify.verify_table(mapping, ddb, conn)
    assert (result.missing, result.extra, result.different) == (1, 0, 0), result
    assert len(result.samples["missing"]) == 1 and f"k{ALTERED}" in result.samples["missing"][0]
    assert (result.dynamodb_items, result.mariadb_rows) == (3, 2)


def test_a_row_only_in_mariadb_is_one_extra(loaded: tuple[TableMapping, Any, Any]) -> None:
    mapping, ddb, conn = loaded
    ddb.delete_item(TableName=TABLE, Key={"pk": {"S": f"k{ALTERED}"}})
    result = verify.verify_table(mapping, ddb, conn)
    assert (result.missing, result.extra, result.different) == (0, 1, 0), result
    assert len(result.samples["extra"]) == 1 and f"k{ALTERED}" in result.samples["extra"][0]
    assert (result.dynamodb_items, result.mariadb_rows) == (2, 3)


# Values the loader stores in another form than DynamoDB's text, losing nothing: a DOUBLE
# rounds and keeps the exact digits in the overflow column; a DATE/DATETIME holds the UTC
# instant an ISO text or epoch seconds name. verify must see them as equal.
EXACT_FORMS: dict[str, tuple[str, dict[str, Any]]] = {
    "double_more_digits_than_it_holds": ("DOUBLE", {"N": "0.1000000000000000055511151231257827"}),
    "double_seventeen_digits": ("DOUBLE", {"N": "3.14159265358979323846"}),
    "double_exact": ("DOUBLE", {"N": "2.5"}),
    "double_integer_text": ("DOUBLE", {"N": "12345678901234567890"}),
    "float_more_digits": ("FLOAT", {"N": "1.23456789"}),
    "datetime_utc_z": ("DATETIME", {"S": "2026-11-21T12:34:56Z"}),
    "datetime_offset": ("DATETIME(3)", {"S": "2026-11-21T14:34:56.5+02:00"}),
    "datetime_lowercase_t": ("DATETIME", {"S": "2026-11-21t12:34:56"}),
    "datetime_epoch": ("DATETIME(6)", {"N": "1790000000.25"}),
    "date_iso": ("DATE", {"S": "2026-11-21"}),
    "date_epoch": ("DATE", {"N": "1790035200"}),
    "date_epoch_before_1970": ("DATE", {"N": "-86400"}),
    "date_midnight_with_offset": ("DATE", {"S": "2026-11-21T02:00:00+02:00"}),
    "datetime_zero_fraction": ("DATETIME", {"S": "2026-11-21T12:34:56.000Z"}),
    "timestamp_offset": ("TIMESTAMP(6)", {"S": "2026-11-21 07:04:56.123456-05:30"}),
}


@pytest.mark.parametrize("form", sorted(EXACT_FORMS))
def test_a_value_stored_in_another_exact_form_is_no_difference(
    ddb: Any, database: str, form: str
) -> None:
    outcome = _load_one_and_verify(ddb, database, form)
    assert outcome.ok and outcome.different == 0, outcome


@pytest.mark.parametrize(
    "form, assignment",
    [
        # the exact digits the loader kept beside a rounded DOUBLE, lost
        ("double_more_digits_than_it_holds", "item = JSON_REMOVE(item, '$.v')"),
        # an instant one second off, in a column that was given an offset
        ("datetime_offset", "v = v + INTERVAL 1 SECOND"),
    ],
)
def test_a_changed_stored_form_is_still_a_difference(
    ddb: Any, database: str, form: str, assignment: str
) -> None:
    outcome = _load_one_and_verify(ddb, database, form, assignment)
    assert (outcome.missing, outcome.extra, outcome.different) == (0, 0, 1), outcome


def _load_one_and_verify(
    ddb: Any, database: str, form: str, assignment: str | None = None
) -> verify.TableReconciliation:
    """Load one item whose mapped value the column stores in its own form, then verify."""
    sql_type, value = EXACT_FORMS[form]
    config = parse_config(
        {
            "tables": {
                TABLE: {
                    "partition_key": {"name": "pk"},
                    "columns": {"v": {"path": "v", "type": sql_type}},
                }
            }
        }
    )
    key = {"pk": {"S": "k1"}}
    item = {"v": value, "other": {"S": "x"}}
    ddb.put_item(TableName=TABLE, Item={**key, **item})
    params = mariadb_params(database)
    params.pop("autocommit")
    loader = open_connection(params)
    try:
        [result] = load_staging_bytes(loader, config, [obj(TABLE, [change(TABLE, key, item, 1)])])
    finally:
        loader.close()
    assert result.status == "loaded" and result.applied == 1, result.error
    # WHEN (optionally) the stored row is altered, and verify compares the two sides
    conn = pymysql.connect(**mariadb_params(database))
    try:
        if assignment:
            with conn.cursor() as cur:
                cur.execute(f"UPDATE `{TABLE}` SET {assignment} WHERE pk = 'k1'")
                assert cur.rowcount == 1
        return verify.verify_table(config.tables[TABLE], ddb, conn)
    finally:
        conn.close()
