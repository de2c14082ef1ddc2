"""The loader's fast paths load exactly what the slow ones did.

A one-attribute key goes to the stage as its own field when every key text of a
chunk has the plain form (otherwise the server reads it out of the JSON), and a
table without mapped columns leaves the item's JSON check to its overflow column,
falling back to finding the culprits when that check refuses a row.
"""

from __future__ import annotations

import base64
from decimal import Decimal

import orjson
import pytest

from contract.config import parse_config
from loaders import ledger, sql
from loaders.engine import load_staging_bytes
from loaders.quarantine import MemoryQuarantine
from tests.loaders.builders import change, obj
from tests.loaders.conftest import fetch


@pytest.fixture
def raw_keys(monkeypatch):
    """Whether each LOAD DATA got the key as its own field, in call order."""
    seen: list[bool] = []
    real = sql.load_data

    def spy(*args, **kwargs):
        seen.append(kwargs.get("raw_key", False))
        return real(*args, **kwargs)

    monkeypatch.setattr(sql, "load_data", spy)
    return seen


def test_plain_and_escaped_string_keys_load_exactly(conn, admin, raw_keys):
    # GIVEN one file of plain keys (4-byte UTF-8 included) and one whose keys need JSON escapes
    plain = ["a", "a ", "ü€😀", "x" * 200]
    escaped = ['q"uote', "back\\slash", "tab\there", "nul\0"]
    config = parse_config({})
    # WHEN each loads in a run of its own (a chunk of its own)
    for keys in (plain, escaped):
        lines = [
            change("fp1", {"pk": {"S": k}}, {"v": {"N": str(i)}}, 1) for i, k in enumerate(keys)
        ]
        [result] = load_staging_bytes(conn, config, [obj("fp1", lines)])
        assert (result.status, result.applied) == ("loaded", len(keys))
    # THEN the plain file sent its keys as values, the other as JSON
    assert raw_keys == [True, False]
    # AND every key is exactly the DynamoDB string, each its own row
    rows = fetch(admin, "SELECT pk, JSON_VALUE(item, '$.v') FROM fp1")
    assert sorted(k for k, _ in rows) == sorted(plain + escaped)


def test_number_and_binary_keys_load_exactly_as_values(conn, admin, raw_keys):
    # GIVEN a number-keyed and a binary-keyed table, with 38-digit and fractional numbers
    numbers = [
        "-12.5",
        "7",
        "12345678901234567890123456789012345678",
        "0.000000000000000000000000001",
    ]
    blobs = [b"\x00\xff", b"ab", bytes(range(40))]
    config = parse_config({})
    n_lines = [change("fp2", {"pk": {"N": n}}, {"v": {"S": n}}, 1) for n in numbers]
    b_lines = [
        change("fp3", {"pk": {"B": base64.b64encode(b).decode()}}, {"v": {"N": "1"}}, 1)
        for b in blobs
    ]
    # WHEN they load
    for table, lines in (("fp2", n_lines), ("fp3", b_lines)):
        [result] = load_staging_bytes(conn, config, [obj(table, lines)])
        assert result.status == "loaded", result.error
    # THEN both went as values, and the keys are the exact numbers and bytes
    assert raw_keys == [True, True]
    got = fetch(admin, "SELECT CAST(pk AS CHAR), JSON_VALUE(item, '$.v') FROM fp2")
    assert {Decimal(k): v for k, v in got} == {Decimal(n): n for n in numbers}
    assert sorted(r[0] for r in fetch(admin, "SELECT pk FROM fp3")) == sorted(blobs)


def test_an_item_that_is_not_json_is_quarantined_by_the_overflow_check(conn, admin, monkeypatch):
    # GIVEN a table with no mapped columns, and a file whose third line's item is not JSON
    checked: list[str] = []
    real = sql.unchecked_items
    monkeypatch.setattr(sql, "unchecked_items", lambda t: checked.append(t.table) or real(t))
    good = [change("fp4", {"pk": {"S": f"k{i}"}}, {"v": {"N": str(i)}}, 1) for i in range(4)]
    line = orjson.loads(good[2])
    bad = orjson.dumps({**line, "key": '{"pk":"bad"}', "item": '{"pk": "bad", "v": '}) + b"\n"
    q = MemoryQuarantine()
    key, etag, data = obj("fp4", [*good, bad])
    # WHEN it loads
    [result] = load_staging_bytes(conn, parse_config({}), [(key, etag, data)], quarantine=q)
    # THEN the stage left the check to the column, whose refusal found the one culprit
    assert checked == ["`fp4`"]
    # AND the other rows merged, the culprit is quarantined with its reason, counts exact
    assert (result.status, result.applied, result.quarantined) == ("loaded", 4, 1)
    assert sorted(r[0] for r in fetch(admin, "SELECT pk FROM fp4")) == ["k0", "k1", "k2", "k3"]
    [rejected] = q.rows[key]
    assert rejected["key"] == '{"pk":"bad"}' and "not valid JSON" in rejected["_reason"]
    [row] = ledger.ledger_rows(conn, [key])
    assert (row.records_read, row.rows_applied, row.rows_quarantined) == (5, 4, 1)
