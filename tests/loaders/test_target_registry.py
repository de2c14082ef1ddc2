"""Two DynamoDB tables never share a target, and none reaches the loader's own tables.

Default target names are distinct per source (``contract.config.target_name``); the
registry (``loaders.target``) refuses a second source in a target, in the same
transaction as the first load, whatever the config says.
"""

from __future__ import annotations

import orjson
import pytest

from contract.config import parse_config, target_name
from loaders import ledger
from loaders.engine import load_staging_bytes
from loaders.sql import REGISTRY
from tests.loaders.builders import change, obj
from tests.loaders.conftest import fetch


def _items(admin, table: str) -> dict[str, dict]:
    return {pk: orjson.loads(item) for pk, item in fetch(admin, f"SELECT pk, item FROM `{table}`")}


def test_dotted_and_dashed_names_load_into_separate_targets(conn, admin):
    # GIVEN two unmapped DynamoDB tables whose names differ only in '-' vs '_'
    config = parse_config({})
    a, b = "ev-log.v2", "ev_log.v2"
    objects = [
        obj(a, [change(a, {"pk": {"S": "k1"}}, {"who": {"S": "a"}}, 1)]),
        obj(b, [change(b, {"pk": {"S": "k1"}}, {"who": {"S": "b"}}, 2)]),
        obj(b, [change(b, {"pk": {"S": "k2"}}, {"who": {"S": "b"}}, 3)]),
    ]
    # WHEN both are loaded in one run
    results = load_staging_bytes(conn, config, objects)
    # THEN each landed in its own table, and the counts are what the tables hold
    assert [r.status for r in results] == ["loaded"] * 3
    assert target_name(a) != target_name(b)
    assert _items(admin, target_name(a)) == {"k1": {"pk": "k1", "who": "a"}}
    assert _items(admin, target_name(b)) == {
        "k1": {"pk": "k1", "who": "b"},
        "k2": {"pk": "k2", "who": "b"},
    }
    assert sum(r.applied for r in results) == 3
    owners = dict(fetch(admin, f"SELECT target_table, source_table FROM {REGISTRY}"))
    assert owners == {target_name(a): a, target_name(b): b}


def test_a_table_named_like_a_tombstone_table_cannot_hijack_it(conn, admin):
    # GIVEN 'orders' loaded with a delete (so its tombstone table holds a row)
    config = parse_config({})
    orders = [
        change("orders", {"pk": {"S": "gone"}}, {"v": {"N": "1"}}, 1),
        change("orders", {"pk": {"S": "gone"}}, None, 2),
        change("orders", {"pk": {"S": "kept"}}, {"v": {"N": "1"}}, 1),
    ]
    assert [r.status for r in load_staging_bytes(conn, config, [obj("orders", orders)])] == [
        "loaded"
    ]
    hijacker = "_ddbload_tomb_orders"
    # WHEN a DynamoDB table named after that tombstone table is loaded
    [result] = load_staging_bytes(
        conn, config, [obj(hijacker, [change(hijacker, {"pk": {"S": "x"}}, {"v": {"N": "9"}}, 3)])]
    )
    # THEN it went to a target of its own, outside the loader's namespace
    assert result.status == "loaded"
    own = target_name(hijacker)
    assert not own.lower().startswith("_ddbload_")
    assert list(_items(admin, own)) == ["x"]
    assert fetch(admin, "SELECT pk FROM _ddbload_tomb_orders") == [("gone",)]
    # AND 'orders' goes on loading, its delete still guarded by the tombstone
    [again] = load_staging_bytes(
        conn,
        config,
        [obj("orders", [change("orders", {"pk": {"S": "gone"}}, {"v": {"N": "0"}}, 1)])],
    )
    assert again.status == "loaded" and again.applied == 0
    assert sorted(_items(admin, "orders")) == ["kept"]


def test_a_configured_target_in_the_loaders_namespace_is_refused_at_start():
    with pytest.raises(Exception) as err:
        parse_config(
            {"tables": {"orders": {"partition_key": {"name": "pk"}, "target": "_DDBLOAD_ledger"}}}
        )
    assert "reserved for the loader's own tables" in str(err.value)


def test_a_second_source_is_refused_and_nothing_of_it_is_merged(conn, admin):
    # GIVEN 'alpha' owns target 'alpha' (no mapping), and a config that points 'beta' at it
    config = parse_config(
        {"tables": {"beta": {"partition_key": {"name": "pk"}, "target": "alpha"}}}
    )
    first = obj("alpha", [change("alpha", {"pk": {"S": "k1"}}, {"who": {"S": "alpha"}}, 1)])
    assert load_staging_bytes(conn, config, [first])[0].status == "loaded"
    intruder = obj("beta", [change("beta", {"pk": {"S": "k1"}}, {"who": {"S": "beta"}}, 9)])
    other = obj("gamma", [change("gamma", {"pk": {"S": "g"}}, {"who": {"S": "gamma"}}, 1)])
    # WHEN beta's file and an unrelated file load in one run
    results = {r.key: r for r in load_staging_bytes(conn, config, [intruder, other])}
    # THEN beta's file failed with one sentence naming both tables and the way out
    refused = results[intruder[0]]
    assert refused.status == "failed"
    assert "'alpha'" in refused.error and "'beta'" in refused.error
    assert "its own 'target' in cdk.json" in refused.error
    assert refused.applied == 0
    # AND alpha's row is untouched, and the other file loaded
    assert _items(admin, "alpha") == {"k1": {"pk": "k1", "who": "alpha"}}
    assert results[other[0]].status == "loaded"
    assert list(_items(admin, "gamma")) == ["g"]
    # AND the ledger says failed, so the file is not counted as done
    assert ledger.done_ids(conn, [ledger.job_id(intruder[0], intruder[1])]) == set()


def test_names_differing_only_in_case_never_share_a_target(conn, admin):
    # GIVEN 'Orders' loaded (one table on a server with lower_case_table_names=1)
    config = parse_config({})
    upper = obj("Orders", [change("Orders", {"pk": {"S": "k"}}, {"who": {"S": "upper"}}, 1)])
    lower = obj("orders", [change("orders", {"pk": {"S": "k"}}, {"who": {"S": "lower"}}, 2)])
    assert load_staging_bytes(conn, config, [upper])[0].status == "loaded"
    # WHEN 'orders' arrives
    [result] = load_staging_bytes(conn, config, [lower])
    # THEN it is refused with its reason, whatever the server's case rule
    assert result.status == "failed"
    assert "'Orders'" in result.error and "'orders'" in result.error
    assert _items(admin, "Orders") == {"k": {"pk": "k", "who": "upper"}}


def test_a_target_made_before_the_registry_is_claimed_by_its_first_source(conn, admin):
    # GIVEN a target loaded before targets had owners (no registry row)
    config = parse_config({})
    load_staging_bytes(conn, config, [obj("legacy", [change("legacy", {"pk": {"S": "a"}}, {}, 1)])])
    fetch(admin, f"DELETE FROM {REGISTRY}")
    admin.commit()
    # WHEN its source loads again
    [result] = load_staging_bytes(
        conn, config, [obj("legacy", [change("legacy", {"pk": {"S": "b"}}, {}, 2)])]
    )
    # THEN it keeps loading and now owns the target
    assert result.status == "loaded" and result.applied == 1
    assert sorted(_items(admin, "legacy")) == ["a", "b"]
    assert fetch(admin, f"SELECT source_table FROM {REGISTRY}") == [("legacy",)]
