"""Backfill through the real loader into real MariaDB: the target ends equal to DynamoDB.

``ops.verify`` is the judge (the same reconciliation ``ddbload verify`` runs).
Changes streamed during the backfill are produced as the transform would write
them (``contract.staging`` lines with the change's time as version), interleaved
with the scan deterministically: one scan segment, actions after given scan calls.
"""

from __future__ import annotations

import gzip
import itertools
import time
from typing import Any

import orjson
import pymysql
import pytest

from contract import staging, values
from contract.config import parse_config
from loaders import db, engine, jobs, ledger
from loaders.settings import LoaderSettings
from ops import backfill, verify
from ops.backfill_store import Store
from tests.conftest import mariadb_params
from tests.ops.backfill.conftest import (
    FailingS3,
    PutFailure,
    make_table,
    put_items,
    sample_item,
    to_boto,
    write_export,
)

CONFIG = parse_config({})
TABLE = "orders-rc"


@pytest.fixture
def conn(database):
    params = {k: v for k, v in mariadb_params(database).items() if k != "autocommit"}
    c = db.open_connection(params)
    yield c
    c.close()


def settings_for(aws) -> LoaderSettings:
    return LoaderSettings(config=CONFIG, bucket=aws.bucket, staging_prefix="staging")


def reconcile(aws, conn, table=TABLE) -> verify.TableReconciliation:
    key_types = {
        k["AttributeName"]: "S"
        for k in aws.ddb.describe_table(TableName=table)["Table"]["KeySchema"]
    }
    return verify.verify_table(CONFIG.mapping_for(table, key_types), aws.ddb, conn)


class Stream:
    """Changes as the pipeline would deliver them: staging lines in staging objects."""

    def __init__(self, aws, table: str = TABLE) -> None:
        self.aws, self.table = aws, table
        self.pending: list[bytes] = []
        self.objects: list[str] = []
        self.seq = itertools.count(1000)

    def change(
        self, op: str, item: dict[str, Any] | None, key: dict[str, Any], version: int
    ) -> None:
        key_text, key_types = staging.key_text(key)
        plain, types = values.to_plain(item) if item is not None else (None, {})
        self.pending.append(
            staging.encode_line(
                staging.StagingLine(
                    table=self.table, op=op, key=key_text, key_types=key_types,
                    item=plain.decode() if plain is not None else None,
                    item_types=orjson.dumps(types).decode() if types else None,
                    version_us=version, seq=str(next(self.seq)), ttl_delete=False,
                    event_id=f"ev-{len(self.pending)}", arrival_ms=version // 1000,
                )
            )
        )  # fmt: skip

    def put(self, item: dict[str, Any], version: int | None = None) -> None:
        self.aws.ddb.put_item(TableName=self.table, Item=to_boto(item))
        self.change("MODIFY", item, {"pk": item["pk"]}, version or time.time_ns() // 1000)

    def delete(self, key: dict[str, Any], version: int | None = None) -> None:
        self.aws.ddb.delete_item(TableName=self.table, Key=key)
        self.change("REMOVE", None, key, version or time.time_ns() // 1000)

    def flush(self) -> list[str]:
        """Write what is pending as one staging object (as Firehose would); its key."""
        if not self.pending:
            return []
        hour = time.strftime("%Y/%m/%d/%H", time.gmtime())
        key = f"staging/table={self.table}/{hour}/stream-{len(self.objects):04d}.gz"
        self.aws.s3.put_object(
            Bucket=self.aws.bucket, Key=key, Body=gzip.compress(b"".join(self.pending))
        )
        self.pending = []
        self.objects.append(key)
        return [key]


def load(aws, conn, keys: list[str]) -> engine.RunReport:
    report = engine.load_keys(conn, aws.s3, settings_for(aws), keys)
    assert not [r for r in report.results if r.status not in {s.value for s in jobs.SETTLED}]
    return report


def test_backfill_alone_reconciles(aws, conn):
    # GIVEN a table holding 250 items and an empty MariaDB
    make_table(aws.ddb, TABLE)
    put_items(aws.ddb, TABLE, [sample_item(i) for i in range(250)])
    # WHEN it is backfilled in 3 segments through the loader
    result = backfill.run(
        aws.ddb, aws.s3, aws.store, CONFIG, TABLE,
        backfill.Options(segments=3, page_items=40),
        load=backfill.EngineLoad(conn, aws.s3, settings_for(aws)),
    )  # fmt: skip
    # THEN MariaDB holds exactly the table's items
    check = reconcile(aws, conn)
    assert check.ok, check.to_dict()
    assert check.mariadb_rows == 250 == result.items


class InterleavedScan:
    """A DynamoDB client whose Scan runs scripted changes after given calls (one segment)."""

    def __init__(self, ddb: Any, script: dict[int, Any]) -> None:
        self._ddb, self._script = ddb, script
        self.calls = 0
        self.scanned: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ddb, name)

    def scan(self, **kwargs: Any) -> dict[str, Any]:
        out = self._ddb.scan(**kwargs)
        self.calls += 1
        self.scanned += out.get("RawItems", out.get("Items", []))
        if self.calls in self._script:
            self._script[self.calls](self)
        return out


def edited(i: int, note: str) -> dict[str, Any]:
    return {**sample_item(i), "note": {"S": note}}


@pytest.mark.parametrize("order", ["pages_then_stream", "stream_then_pages", "interleaved"])
def test_changes_streamed_during_backfill_win_when_newer(aws, conn, order):
    # GIVEN 100 items whose history before the backfill was streamed (versions well before B),
    # including an item created and deleted before the backfill
    make_table(aws.ddb, TABLE)
    stream = Stream(aws)
    old = time.time_ns() // 1000 - 600_000_000
    for i in range(100):
        stream.put(sample_item(i), old + i)
    for i in range(10):
        stream.put(edited(i, "before B"), old + 1000 + i)
    stream.put(sample_item(500), old + 2000)
    stream.delete({"pk": sample_item(500)["pk"]}, old + 2001)
    stream.flush()

    def scanned_ids(client: InterleavedScan) -> list[int]:
        return sorted(int(item["pk"]["S"].split("-")[1]) for item in client.scanned)

    def during(client: InterleavedScan) -> None:
        seen = set(scanned_ids(client))
        done = [i for i in range(100) if i in seen and i not in touched][:12]
        todo = [i for i in range(100) if i not in seen and i not in touched][:12]
        touched.update(done + todo)
        for i in done[:4] + todo[:4]:
            stream.put(edited(i, f"during call {client.calls}"))
        for i in done[4:7] + todo[4:7]:
            stream.delete({"pk": sample_item(i)["pk"]})
        stream.put(edited(1000 + client.calls, "inserted during"))
        # deleted then written again, and written then deleted, while the scan runs
        stream.delete({"pk": sample_item(done[7])["pk"]})
        stream.put(edited(done[7], "back again"))
        stream.put(edited(todo[7], "about to go"))
        stream.delete({"pk": sample_item(todo[7])["pk"]})
        stream.flush()

    touched: set[int] = set()
    client = InterleavedScan(aws.ddb, {1: during, 2: during, 3: during})
    loader = backfill.EngineLoad(conn, aws.s3, settings_for(aws))

    def load_pages(keys: list[str]) -> None:
        if order == "interleaved":
            load(aws, conn, list(stream.objects))
        if order != "stream_then_pages":
            loader(keys)

    # WHEN the table is backfilled (20-item scan calls) while those changes stream,
    # and the loader sees pages and streamed files in the given order
    result = backfill.run(
        client, aws.s3, aws.store, CONFIG, TABLE,
        backfill.Options(segments=1, page_items=20, margin_s=60),
        load=load_pages,
    )  # fmt: skip
    load(aws, conn, list(stream.objects))
    if order == "stream_then_pages":
        load(aws, conn, result.keys)

    # THEN MariaDB equals DynamoDB: newer streamed changes won, deleted items stayed deleted
    assert client.calls > 3, "the script ran during the scan"
    check = reconcile(aws, conn)
    assert check.ok, check.to_dict()
    assert check.mariadb_rows == check.dynamodb_items


def ledger_counts(conn, keys: list[str]) -> dict[str, int]:
    return {r.s3_key: r.load_count for r in ledger.ledger_rows(conn, keys)}


def test_interrupted_backfill_resumes_without_doubling(aws, conn):
    # GIVEN 300 items, and a backfill whose 4th page write fails (S3 went away)
    make_table(aws.ddb, TABLE)
    put_items(aws.ddb, TABLE, [sample_item(i) for i in range(300)])
    options = backfill.Options(segments=2, page_items=25, run_id="resume-1")
    loader = backfill.EngineLoad(conn, aws.s3, settings_for(aws))
    broken = Store(FailingS3(aws.s3, fail_at=4), aws.bucket, "staging")
    with pytest.raises(PutFailure):
        backfill.run(aws.ddb, aws.s3, broken, CONFIG, TABLE, options, load=loader)
    first = aws.objects("staging/")
    assert len(first) >= 3

    # WHEN the same run is started again
    result = backfill.run(aws.ddb, aws.s3, aws.store, CONFIG, TABLE, options, load=loader)

    # THEN it continued: fewer pages than a full run, at most one rewritten per segment
    assert result.resumed
    assert set(first) <= set(result.keys)
    assert result.pages_written <= len(result.keys) - len(first) + 2
    assert result.pages_written < len(result.keys)
    assert len(aws.lines(result.keys)) == 300
    # AND nothing is doubled or missing: each page object loaded once, MariaDB == DynamoDB
    counts = ledger_counts(conn, result.keys)
    assert sorted(counts) == result.keys
    assert set(counts.values()) == {1}
    check = reconcile(aws, conn)
    assert check.ok, check.to_dict()
    assert check.mariadb_rows == 300


def test_pages_written_but_not_loaded_load_on_resume(aws, conn):
    # GIVEN a backfill that wrote every page but was stopped before loading any
    make_table(aws.ddb, TABLE)
    put_items(aws.ddb, TABLE, [sample_item(i) for i in range(60)])
    options = backfill.Options(segments=1, page_items=20, run_id="late-load")

    def loader_down(keys: list[str]) -> None:
        raise pymysql.err.OperationalError(2003, "Can't connect to MariaDB")

    with pytest.raises(pymysql.err.OperationalError):
        backfill.run(aws.ddb, aws.s3, aws.store, CONFIG, TABLE, options, load=loader_down)
    # WHEN the run is started again with the loader back
    result = backfill.run(
        aws.ddb, aws.s3, aws.store, CONFIG, TABLE, options,
        load=backfill.EngineLoad(conn, aws.s3, settings_for(aws)),
    )  # fmt: skip
    # THEN the pages of the earlier attempt are loaded too
    assert reconcile(aws, conn).ok
    assert set(ledger_counts(conn, result.keys)) == set(result.keys)


def test_export_backfill_reconciles(aws, conn):
    # GIVEN a table and an export of it (AWS's DYNAMODB_JSON layout) in two data files
    make_table(aws.ddb, TABLE)
    items = [sample_item(i) for i in range(80)]
    put_items(aws.ddb, TABLE, items)
    uri = write_export(aws.s3, aws.bucket, "exports", TABLE, [items[:50], items[50:]])
    # WHEN backfilled from the export through the loader
    loader = backfill.EngineLoad(conn, aws.s3, settings_for(aws))
    result = backfill.run(
        aws.ddb, aws.s3, aws.store, CONFIG, TABLE,
        backfill.Options(export=uri, page_items=30), load=loader,
    )  # fmt: skip
    # THEN MariaDB equals the table
    check = reconcile(aws, conn)
    assert check.ok, check.to_dict()
    assert result.items == 80 == loader.totals["applied"]
