"""SQL injection through table names, attribute names, mapping config and values.

Each attempt must be refused (config validation, a failed file naming the
problem) or stored as data; none may execute. A canary table in the test's
database proves nothing ran: it and its row are still there afterwards, and no
table other than the expected targets appeared.
"""

from __future__ import annotations

import orjson
import pytest

from contract.config import ConfigError, parse_config
from loaders.engine import load_staging_bytes
from tests.loaders.builders import change, obj
from tests.loaders.conftest import fetch

pytestmark = pytest.mark.xdist_group("reliability-security")

EVIL = "x`; DROP TABLE canary; -- '\""
EVIL_VALUES = [
    "'); DROP TABLE canary; --",
    "\\'; DROP TABLE canary; #",
    "`canary`",
    "1' OR '1'='1",
    "\\N",
    "NULL",
    "\t\n\r\\\x00",
    "0x4142; SELECT SLEEP(5)",
    "${jndi:ldap://127.0.0.1/a}",
]


@pytest.fixture
def canary(admin):
    with admin.cursor() as cur:
        cur.execute("CREATE TABLE canary (id INT PRIMARY KEY, v VARCHAR(20))")
        cur.execute("INSERT INTO canary VALUES (1, 'alive')")
    return admin


def _tables(admin) -> set[str]:
    return {r[0] for r in fetch(admin, "SHOW TABLES")}


def _alive(admin) -> bool:
    return fetch(admin, "SELECT v FROM canary") == [("alive",)]


def _base(table: dict) -> dict:
    return {"tables": {"tbl": {"partition_key": {"name": "pk", "type": "S"}, **table}}}


CONFIG_ATTEMPTS = {
    "source table name": {"tables": {EVIL: {"partition_key": {"name": "pk", "type": "S"}}}},
    "target table": _base({"target": EVIL}),
    "key attribute": {"tables": {"tbl": {"partition_key": {"name": EVIL, "type": "S"}}}},
    "key column": _base({"partition_key": {"name": "pk", "type": "S", "column": EVIL}}),
    "column name": _base({"columns": {EVIL: {"path": "a", "type": "TEXT"}}}),
    "column path": _base({"columns": {"c": {"path": EVIL, "type": "TEXT"}}}),
    "column SQL type": _base({"columns": {"c": {"path": "a", "type": "TEXT); DROP TABLE canary"}}}),
    "overflow column": _base({"overflow_column": EVIL}),
    "database name": {"database": {"name": EVIL}},
}


@pytest.mark.parametrize("where", sorted(CONFIG_ATTEMPTS))
def test_injection_through_the_mapping_config_is_refused(where):
    # GIVEN a config with an injection attempt in one field
    # WHEN it is validated (at synth and at loader start)
    with pytest.raises(ConfigError) as refused:
        parse_config(CONFIG_ATTEMPTS[where])
    # THEN it is refused with a message (nothing reaches SQL)
    assert refused.value.problems


def test_config_injections_all_refused_row(record):
    refused = 0
    for attempt in CONFIG_ATTEMPTS.values():
        try:
            parse_config(attempt)
        except ConfigError:
            refused += 1
    assert refused == len(CONFIG_ATTEMPTS)
    record(
        "SQL injection: mapping config",
        f"{len(CONFIG_ATTEMPTS)} fields ({', '.join(sorted(CONFIG_ATTEMPTS))}) set to "
        "identifiers with backquotes, quotes, `;` and comments",
        f"{refused}/{len(CONFIG_ATTEMPTS)} refused by config validation with a message",
        kind="security",
        rows_lost=0,
        rows_doubled=0,
    )


def test_injection_through_attribute_names_and_values_is_stored_as_data(conn, canary, record):
    # GIVEN an unconfigured table whose items carry hostile attribute names and values
    items = {
        f"k{i}": {
            "v": {"S": value},
            EVIL: {"S": value},
            "nested": {"M": {EVIL: {"L": [{"S": value}]}}},
        }
        for i, value in enumerate(EVIL_VALUES)
    }
    lines = [
        change("hostile", {"pk": {"S": k}}, item, 1 + i)
        for i, (k, item) in enumerate(items.items())
    ]
    before = _tables(canary)
    # WHEN they are loaded
    results = load_staging_bytes(conn, parse_config({}), [obj("hostile", lines)])
    # THEN they loaded, and every name and value reads back literally from the overflow JSON
    assert [r.status for r in results] == ["loaded"]
    rows = dict(fetch(canary, "SELECT pk, item FROM hostile"))
    assert len(rows) == len(EVIL_VALUES)
    for i, value in enumerate(EVIL_VALUES):
        doc = orjson.loads(rows[f"k{i}"])
        assert doc["v"] == value and doc[EVIL] == value and doc["nested"][EVIL] == [value]
    # AND nothing executed: the canary is alive and only the target (and loader tables) appeared
    assert _alive(canary)
    assert {t for t in _tables(canary) - before if not t.startswith("_ddbload_")} == {"hostile"}
    record(
        "SQL injection: attribute names and values",
        f"{len(EVIL_VALUES)} items with SQL in attribute names (top level and nested) and in "
        "values (quotes, backquotes, `;`, comments, \\N, NULL, NUL, tab, newline)",
        f"{len(rows)}/{len(EVIL_VALUES)} stored; every name and value read back literally; "
        "canary table intact",
        kind="security",
        rows_lost=len(EVIL_VALUES) - len(rows),
        rows_doubled=0,
    )


def test_injection_through_table_and_key_names_in_the_data_is_refused(conn, canary, record):
    # GIVEN staging objects of an unconfigured table with a hostile name, and one whose
    # key attribute has a hostile name
    hostile_table = obj(EVIL, [change(EVIL, {"pk": {"S": "a"}}, {"v": {"S": "x"}}, 1)])
    hostile_key = obj("keyed", [change("keyed", {EVIL: {"S": "a"}}, {"v": {"S": "x"}}, 1)])
    before = _tables(canary)
    # WHEN they are loaded
    results = load_staging_bytes(conn, parse_config({}), [hostile_table, hostile_key])
    by_key = {r.key: r for r in results}
    # THEN the hostile key name is refused with a message, the hostile table name becomes
    # a safe identifier, and nothing executed
    keyed = by_key[hostile_key[0]]
    assert keyed.status == "failed" and "not a valid column name" in (keyed.error or "")
    created = {t for t in _tables(canary) - before if not t.startswith("_ddbload_")}
    assert all(name.replace("_", "").isalnum() for name in created)
    assert _alive(canary)
    record(
        "SQL injection: table and key names in the data",
        "staging objects of an unconfigured table named with backquotes/`;`/comments, and "
        "of a table whose key attribute is so named",
        f"hostile key name: file {keyed.status} with a message; hostile table name: "
        f"{by_key[hostile_table[0]].status} into {sorted(created)}; canary table intact",
        kind="security",
        rows_lost=None,
        rows_doubled=None,
    )
