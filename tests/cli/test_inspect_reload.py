"""inspect before and after loading; reload of a prefix (twice, dry run, declined) locally.

The pipeline is the local stack (moto_server + real MariaDB); loading goes
through the loader engine itself, as the scheduled loader would.
"""

from __future__ import annotations

import json

import pymysql
from typer.testing import CliRunner

from cli.main import app
from contract.staging import decode_line
from loaders import engine
from localmode.pipeline import from_local
from tests.cli.conftest import change, put_staging
from tests.conftest import mariadb_params

T0 = 1_750_000_000_000_000  # 2025-06-15T15:06:40Z in µs


def two_files(stack) -> tuple[str, str]:
    first = put_staging(
        stack,
        "table=customers/2025/06/15/15/one.gz",
        [change("a", T0 + 1), change("b", T0 + 2), change("b", T0 + 3, op="REMOVE")],
    )
    second = put_staging(
        stack,
        "table=customers/2025/06/15/16/two.gz",
        [change("c", T0 + 3_600_000_000), change("a", T0 - 5)],  # the second "a" is stale
    )
    return first, second


def target_rows(database: str) -> list[tuple]:
    with pymysql.connect(**mariadb_params(database)) as conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM customers ORDER BY id")
        return list(cur.fetchall())


def ledger_counts(database: str) -> dict[str, int]:
    with pymysql.connect(**mariadb_params(database)) as conn, conn.cursor() as cur:
        cur.execute("SELECT s3_key, load_count FROM _ddbload_ledger")
        return dict(cur.fetchall())


def inspect_json(runner: CliRunner, *args: str) -> dict:
    result = runner.invoke(app, ["inspect", "--local", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_inspect_before_and_after_loading(runner: CliRunner, local_stack, database) -> None:
    # GIVEN two staging objects nobody has loaded yet
    first, second = two_files(local_stack)
    # WHEN inspecting everything
    before = inspect_json(runner)
    # THEN both are pending, with records counted and time spans read from the lines
    objects = {o["key"]: o for o in before["objects"]}
    assert set(objects) == {first, second}
    assert [objects[k]["status"] for k in (first, second)] == ["pending", "pending"]
    assert objects[first]["records"] == 3 and objects[second]["records"] == 2
    assert objects[first]["table"] == "customers"
    assert before["targets"] == {"customers": "customers"}
    assert objects[first]["first_change"] == "2025-06-15T15:06:40.000+00:00"
    assert objects[second]["last_change"] == "2025-06-15T16:06:40.000+00:00"
    assert before["totals"] == {
        "objects": 2,
        "bytes": sum(o["size"] for o in before["objects"]),
        "records": 5,
        "loaded": 0,
        "quarantined": 0,
        "failed": 0,
        "pending": 2,
    }

    # WHEN the loader loads them
    pipeline = from_local()
    conn = pipeline.connect()
    try:
        run = engine.load_keys(conn, pipeline.client("s3"), pipeline.loader_settings(), [first])
    finally:
        conn.close()
    assert run.by_status() == {"loaded": 1}, run.as_dict()
    after = inspect_json(runner, "table=customers/2025/06/15/")
    # THEN the loaded one shows the ledger's counts, the other is still pending
    objects = {o["key"]: o for o in after["objects"]}
    assert objects[first]["status"] == "loaded" and objects[first]["loads"] == 1
    assert (objects[first]["applied"], objects[first]["deleted"]) == (1, 1)
    assert objects[first]["loaded_at"]
    assert objects[second]["status"] == "pending"
    assert after["totals"]["loaded"] == 1 and after["totals"]["pending"] == 1

    # AND the table view says the same in words
    table = runner.invoke(app, ["inspect", "--local"])
    assert table.exit_code == 0, table.output
    assert "loaded" in table.stdout and "pending" in table.stdout
    assert "2 objects" in table.stdout and "1 loaded" in table.stdout
    assert "table customers loads into MariaDB table customers" in table.stdout


def test_reload_twice_leaves_the_target_unchanged_and_the_ledger_counts_both(
    runner: CliRunner, local_stack, database
) -> None:
    # GIVEN two staging objects
    first, second = two_files(local_stack)
    args = ["reload", "--local", "--prefix", "table=customers/", "--yes", "--json"]
    # WHEN reloading the prefix once
    once = runner.invoke(app, args)
    assert once.exit_code == 0, once.output
    doc = json.loads(once.stdout)
    rows_once = target_rows(database)
    # THEN every file loaded, and the target holds the newest state of each key
    assert doc["plan"]["objects"] == 2 and doc["plan"]["already_loaded"] == 0
    assert [f["status"] for f in doc["files"]] == ["loaded", "loaded"]
    assert [r[0] for r in rows_once] == ["a", "c"]  # b was removed
    # WHEN reloading it again
    twice = runner.invoke(app, args)
    assert twice.exit_code == 0, twice.output
    doc = json.loads(twice.stdout)
    # THEN the plan knew both were loaded, nothing changed in the target,
    # no upsert won this time, and the ledger shows two loads per file
    assert doc["plan"]["already_loaded"] == 2
    assert doc["rows"]["applied"] == 0 and doc["rows"]["read"] == 5
    assert target_rows(database) == rows_once
    assert ledger_counts(database) == {first: 2, second: 2}
    listed = inspect_json(runner)
    assert [o["loads"] for o in listed["objects"]] == [2, 2]


def test_reload_table_option_and_per_file_outcome_table(
    runner: CliRunner, local_stack, database
) -> None:
    first, second = two_files(local_stack)
    # WHEN reloading one hour of one table, with the table output
    result = runner.invoke(
        app, ["reload", "--local", "--table", "customers", "--prefix", "2025/06/15/16", "--yes"]
    )
    # THEN only that file was loaded and the outcome names it
    assert result.exit_code == 0, result.output
    assert "objects         1" in result.stdout
    assert "two.gz" in result.stdout and "one.gz" not in result.stdout
    assert ledger_counts(database) == {second: 1}


def test_dry_run_changes_nothing(runner: CliRunner, local_stack, database) -> None:
    # GIVEN one object already loaded and one pending
    first, second = two_files(local_stack)
    runner.invoke(app, ["reload", "--local", "--prefix", "table=customers/2025/06/15/15/", "-y"])
    rows, ledger = target_rows(database), ledger_counts(database)
    # WHEN planning a reload of everything
    result = runner.invoke(
        app, ["reload", "--local", "--prefix", "table=customers/", "--dry-run", "--json"]
    )
    # THEN the plan is right and neither the target nor the ledger moved
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)["plan"]
    assert plan["objects"] == 2 and plan["already_loaded"] == 1
    assert plan["keys"] == [first, second]
    assert target_rows(database) == rows
    assert ledger_counts(database) == ledger == {first: 1}


def test_reload_asks_first_and_a_no_changes_nothing(runner: CliRunner, local_stack, database):
    two_files(local_stack)
    # WHEN the operator answers no
    result = runner.invoke(app, ["reload", "--local", "--prefix", "table=customers/"], input="n\n")
    # THEN the plan was shown, nothing loaded, and the exit code says so
    assert result.exit_code == 1
    assert "already loaded  0" in result.stdout and "nothing loaded" in result.stdout
    with pymysql.connect(**mariadb_params(database)) as conn, conn.cursor() as cur:
        cur.execute("SHOW TABLES LIKE '_ddbload_ledger'")
        assert cur.fetchall() == ()


def test_show_of_a_loaded_file_matches_what_was_written(runner: CliRunner, local_stack) -> None:
    first, _ = two_files(local_stack)
    shown = inspect_json(runner, "--show", first)
    assert [r["key"] for r in shown["rows"]] == ['{"id":"a"}', '{"id":"b"}', '{"id":"b"}']
    assert decode_line(json.dumps({**shown["rows"][0], "v": 1, "key_types": "S",
                                   "item_types": None, "arrival_ms": 0})).op == "MODIFY"  # fmt: skip
