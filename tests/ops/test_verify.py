"""verify: DynamoDB (moto) against a MariaDB target (real), counted per key and checksum."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pymysql
import pytest
from moto import mock_aws

from contract.values import to_plain
from loaders import sql
from ops import verify
from tests.conftest import mariadb_params
from tests.localmode.moto_pipeline import pipeline_config

NASTY = {
    "pk": {"S": "tab\there\nnewline 🎉"},
    "sk": {"N": "1234567890123456789012345.6789012345678"},
    "customer": {"M": {"id": {"S": "c-1"}, "tags": {"SS": ["b", "a"]}}},
    "total": {"N": "12.5"},
    "big": {"N": "-9.9999999999999999999999999999999999999E+125"},
    "blob": {"B": b"\x00\xff\x10"},
    "nums": {"NS": ["3", "1.50", "-2"]},
    "deep": {"L": [{"M": {"x": {"NULL": True}, "y": {"BOOL": False}}}, {"BS": [b"\x01"]}]},
}
PLAIN = {
    "pk": {"S": "plain"},
    "sk": {"N": "1"},
    "customer": {"M": {"id": {"S": "c-2"}}},
    "total": {"N": "0.0001"},
}


@pytest.fixture
def ddb(aws_env: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName="orders",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _wire(item: dict[str, Any]) -> dict[str, Any]:
    """The item as the transform sees it (binary as base64 text)."""
    import base64

    def one(av: dict[str, Any]) -> dict[str, Any]:
        ((tag, v),) = av.items()
        if tag == "B":
            return {"B": base64.b64encode(v).decode()}
        if tag == "BS":
            return {"BS": [base64.b64encode(x).decode() for x in v]}
        if tag == "M":
            return {"M": {k: one(x) for k, x in v.items()}}
        if tag == "L":
            return {"L": [one(x) for x in v]}
        return av

    return {k: one(v) for k, v in item.items()}


def _store(conn: Any, item: dict[str, Any], **override: Any) -> None:
    """Insert the row the loader stores for ``item`` (mapping of `orders` in the test config)."""
    overflow = {k: v for k, v in item.items() if k != "total"}
    customer = {k: v for k, v in overflow["customer"]["M"].items() if k != "id"}
    overflow["customer"] = {"M": customer}
    row = {
        "pk": item["pk"]["S"],
        "sk": item["sk"]["N"],
        "customer_id": item["customer"]["M"]["id"]["S"],
        "total": item["total"]["N"],
        "item": to_plain(_wire(overflow))[0].decode(),
        sql.DELETED: 0,
    }
    row.update(override)
    with conn.cursor() as cur:
        cols = ", ".join(f"`{c}`" for c in row)
        marks = ", ".join(["%s"] * len(row))
        cur.execute(f"INSERT INTO orders ({cols}) VALUES ({marks})", list(row.values()))


def test_verify_counts_missing_extra_and_different_rows(ddb: Any, database: str) -> None:
    config = pipeline_config()
    mapping = config.tables["orders"]
    conn = pymysql.connect(**mariadb_params(database))
    with conn.cursor() as cur:
        cur.execute(sql.create_target(sql.Target.of(mapping)))
    # GIVEN DynamoDB with a nasty item, a plain one, and one MariaDB lacks
    ddb.put_item(TableName="orders", Item=NASTY)
    ddb.put_item(TableName="orders", Item=PLAIN)
    ddb.put_item(TableName="orders", Item={**PLAIN, "pk": {"S": "only-in-dynamodb"}})
    # AND MariaDB with the nasty one stored exactly, the plain one with another total,
    # a row DynamoDB does not have, and a soft-deleted row (which does not count)
    _store(conn, NASTY)
    _store(conn, PLAIN, total="0.0002")
    _store(conn, {**PLAIN, "pk": {"S": "only-in-mariadb"}})
    _store(conn, {**PLAIN, "pk": {"S": "deleted"}}, **{sql.DELETED: 1})

    # WHEN verify runs
    (result,) = verify.verify(config, ddb, conn, tables=["orders"])

    # THEN each difference is counted once, and the nasty item matches exactly
    assert (result.dynamodb_items, result.mariadb_rows) == (3, 3)
    assert (result.missing, result.extra, result.different) == (1, 1, 1)
    assert "only-in-dynamodb" in result.samples["missing"][0]
    assert "only-in-mariadb" in result.samples["extra"][0]
    assert '"plain"' in result.samples["different"][0]
    assert not result.ok
    conn.close()


def test_verify_is_zero_when_everything_matches_and_numbers_compare_exactly(
    ddb: Any, database: str
) -> None:
    config = pipeline_config()
    conn = pymysql.connect(**mariadb_params(database))
    with conn.cursor() as cur:
        cur.execute(sql.create_target(sql.Target.of(config.tables["orders"])))
    ddb.put_item(TableName="orders", Item=NASTY)
    ddb.put_item(TableName="orders", Item=PLAIN)
    _store(conn, NASTY)
    _store(conn, PLAIN)

    (result,) = verify.verify(config, ddb, conn, tables=["orders"])
    assert result.ok and result.dynamodb_items == result.mariadb_rows == 2

    # WHEN the 38-digit key number differs only in its last digit in DynamoDB
    ddb.delete_item(TableName="orders", Key={"pk": NASTY["pk"], "sk": NASTY["sk"]})
    ddb.put_item(
        TableName="orders", Item={**NASTY, "sk": {"N": "1234567890123456789012345.6789012345679"}}
    )
    (result,) = verify.verify(config, ddb, conn, tables=["orders"])
    # THEN it is one missing and one extra, not a match through float
    assert (result.missing, result.extra, result.different) == (1, 1, 0)
    conn.close()
