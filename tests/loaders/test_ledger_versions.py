"""Per-file change-time ranges in the ledger: computed in Arrow while the file is read,
written with the commit, kept by reloads, and added in place to a ledger made before them."""

from __future__ import annotations

import gzip
import statistics
from datetime import datetime

import pyarrow as pa
import pytest

from contract.config import parse_config
from loaders import arrowfile, freshness, ledger
from loaders.engine import load_staging_bytes
from loaders.settings import LoaderSettings
from tests.loaders.builders import T0, change, obj
from tests.loaders.conftest import fetch

# The ledger as the first release made it: no change times, no commit time.
OLD_LEDGER = """CREATE TABLE `_ddbload_ledger` (
  job_id CHAR(64) CHARACTER SET ascii NOT NULL,
  s3_key VARCHAR(1024) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  etag VARCHAR(128) CHARACTER SET ascii NOT NULL,
  source_table VARCHAR(255) NOT NULL DEFAULT '',
  target_table VARCHAR(64) NOT NULL DEFAULT '',
  records_read BIGINT NOT NULL DEFAULT 0,
  rows_applied BIGINT NOT NULL DEFAULT 0,
  stale_skipped BIGINT NOT NULL DEFAULT 0,
  rows_deleted BIGINT NOT NULL DEFAULT 0,
  rows_quarantined BIGINT NOT NULL DEFAULT 0,
  started_at DATETIME(6) NULL,
  finished_at DATETIME(6) NULL,
  status VARCHAR(16) CHARACTER SET ascii NOT NULL,
  error TEXT NULL,
  load_count INT NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id),
  KEY by_key (s3_key(700)),
  KEY by_status (status, finished_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"""


def versions_of(admin, key: str) -> tuple:
    (row,) = fetch(
        admin,
        "SELECT version_oldest_us, version_median_us, version_newest_us, committed_at, "
        "finished_at, load_count FROM _ddbload_ledger WHERE s3_key = %s",
        [key],
    )
    return row


def test_each_loaded_file_records_its_oldest_median_and_newest_change(conn, admin, monkeypatch):
    # GIVEN a file read in many small Arrow blocks and merged in chunks of 7 rows, whose
    # changes are out of order (the oldest in the middle), and a second file of the table
    monkeypatch.setattr(arrowfile, "_BLOCK", 1024)
    settings = LoaderSettings(config=parse_config({}), chunk_rows=7)
    offsets = [500, 40, 900, 10, 700, 300, 20, 800, 600, 30, 400, 200, 100, 50, 60]
    lines = [change("ranges", {"pk": {"S": f"k{i}"}}, {"v": {"N": str(i)}}, o) for i, o in
             enumerate(offsets)]  # fmt: skip
    first = obj("ranges", lines, "a")
    second = obj("ranges", [change("ranges", {"pk": {"S": "z"}}, {"v": {"N": "1"}}, 5000)], "b")
    # WHEN both load in one batch
    results = load_staging_bytes(conn, settings.config, [first, second], settings=settings)
    assert [r.status for r in results] == ["loaded", "loaded"]
    # THEN each file's ledger row holds its own oldest, median (an actual change time,
    # the lower middle of 15) and newest change time, and its commit time
    oldest, median, newest, committed, finished, loads = versions_of(admin, first[0])
    expected_median = T0 + sorted(offsets)[(len(offsets) - 1) // 2]
    assert (oldest, median, newest) == (T0 + 10, expected_median, T0 + 900)
    assert median == T0 + statistics.median_low(offsets)
    assert committed == finished and loads == 1
    assert versions_of(admin, second[0])[:3] == (T0 + 5000, T0 + 5000, T0 + 5000)


def test_a_reload_keeps_the_first_commit_and_a_failed_attempt_changes_nothing(conn, admin):
    # GIVEN a file loaded once
    config = parse_config({})
    one = obj("kept", [change("kept", {"pk": {"S": "a"}}, {"v": {"N": "1"}}, 70)], "a")
    load_staging_bytes(conn, config, [one])
    before = versions_of(admin, one[0])
    # WHEN it is reloaded, and later a failed attempt of the same version is recorded
    load_staging_bytes(conn, config, [one], reload=True)
    row = ledger.ledger_rows(admin, [one[0]])[0]
    failed = ledger.LedgerRow(**{**row.__dict__, "status": ledger.FAILED, "error": "boom",
                                 "version_oldest_us": 1, "version_median_us": 1,
                                 "version_newest_us": 1, "finished_at": datetime(2030, 1, 1)})  # fmt: skip
    ledger.record(conn, failed)
    conn.commit()
    # THEN the change times and the first commit time are those of the first load
    after = versions_of(admin, one[0])
    assert after[:4] == before[:4] and after[5] == 2
    assert after[4] == datetime(2030, 1, 1)  # the attempt's own time is still recorded


def test_an_old_ledger_is_upgraded_in_place_once(conn, admin):
    # GIVEN a ledger made by a loader that knew no change times, with one loaded row
    with admin.cursor() as cur:
        cur.execute(OLD_LEDGER)
        cur.execute(
            "INSERT INTO _ddbload_ledger (job_id, s3_key, etag, source_table, status, "
            "finished_at, load_count) VALUES (%s, 'old/key.gz', 'e1', 'old', 'loaded', "
            "'2025-01-01 00:00:00', 1)",
            [ledger.job_id("old/key.gz", "e1")],
        )
    # WHEN the loader starts, twice (the second start finds nothing to do)
    ledger.ensure_ledger(conn)
    ledger.ensure_ledger(conn)
    # THEN the columns and the commit-time index exist, the old row is intact with no
    # change times, and a new file loads with its range
    columns = {r[0] for r in fetch(admin, "SHOW COLUMNS FROM _ddbload_ledger")}
    assert {"version_oldest_us", "version_median_us", "version_newest_us", "committed_at"} <= (
        columns
    )
    indexes = {r[2] for r in fetch(admin, "SHOW INDEX FROM _ddbload_ledger")}
    assert "by_commit" in indexes
    (old,) = ledger.ledger_rows(admin, ["old/key.gz"])
    assert (old.status, old.load_count, old.version_oldest_us, old.committed_at) == (
        "loaded", 1, None, None
    )  # fmt: skip
    new = obj("old", [change("old", {"pk": {"S": "a"}}, {"v": {"N": "1"}}, 80)], "n")
    load_staging_bytes(conn, parse_config({}), [new])
    assert versions_of(admin, new[0])[:3] == (T0 + 80, T0 + 80, T0 + 80)


def test_version_range_over_arrow_chunks_ignores_nulls() -> None:
    chunks = [pa.array([5, None, 3], pa.int64()), pa.chunked_array([pa.array([9, 4], pa.int64())])]
    assert freshness.version_range(chunks) == freshness.VersionRange(3, 4, 9)
    assert freshness.version_range([pa.array([None], pa.int64())]) is None
    assert freshness.version_range([]) is None
    assert freshness.ledger_versions([]) == {
        "version_oldest_us": None, "version_median_us": None, "version_newest_us": None
    }  # fmt: skip


@pytest.mark.parametrize("members", [1, 3])
def test_the_head_of_an_object_gives_its_oldest_change(members: int) -> None:
    # GIVEN a small staging object (one or several gzip members), read whole
    lines = [change("h", {"pk": {"S": f"k{i}"}}, {"v": {"N": "1"}}, o) for i, o in
             enumerate([30, 10, 20])]  # fmt: skip
    per = -(-len(lines) // members)
    data = b"".join(gzip.compress(b"".join(lines[i : i + per])) for i in range(0, 3, per))
    # THEN its oldest change is the minimum of all its lines
    assert freshness.head_oldest_us(data, complete=True) == T0 + 10


def test_a_cut_head_leaves_out_the_broken_line_and_garbage_gives_nothing() -> None:
    lines = [change("h", {"pk": {"S": "a"}}, {"v": {"N": "1"}}, 50),
             change("h", {"pk": {"S": "b"}}, {"v": {"N": "1"}}, 40)]  # fmt: skip
    data = gzip.compress(b"".join(lines))
    # A head cut inside the second line: only the first line counts.
    text = gzip.decompress(data)
    cut = gzip.compress(text[: len(lines[0]) + 20])[:-8]  # no gzip trailer: not complete
    assert freshness.head_oldest_us(cut, complete=False) == T0 + 50
    assert freshness.head_oldest_us(b"not gzip at all", complete=True) is None


def test_backfill_lines_carry_no_change_time(conn, admin) -> None:
    # GIVEN a file mixing streamed changes and backfill lines (whose version is when the
    # backfill started, not when their item changed)
    streamed = [change("mixed", {"pk": {"S": f"s{i}"}}, {"v": {"N": "1"}}, o) for i, o in
                enumerate([300, 100])]  # fmt: skip
    backfill = [
        change("mixed", {"pk": {"S": "b"}}, {"v": {"N": "1"}}, 5).replace(
            b'"op":"MODIFY"', b'"op":"BACKFILL"'
        )
    ]
    mixed = obj("mixed", streamed + backfill, "m")
    only_backfill = obj("mixed", [backfill[0].replace(b'"pk\\":\\"b', b'"pk\\":\\"c')], "o")
    # WHEN they load
    load_staging_bytes(conn, parse_config({}), [mixed, only_backfill])
    # THEN the ranges hold the streamed changes only, and none for a backfill-only file
    assert versions_of(admin, mixed[0])[:3] == (T0 + 100, T0 + 100, T0 + 300)
    assert versions_of(admin, only_backfill[0])[:3] == (None, None, None)
