"""The file ledger: one row per loaded S3 object (key + ETag), written in the data's transaction.

The engine writes a ``loaded`` or ``quarantined`` row in the same transaction
as the merged rows, so a committed file is never applied twice by accident and
an uncommitted one is simply loaded again. ``failed`` rows (terminal errors) are
written on their own and never count as done. The CLI reads it through
``ledger_rows``, ``rows_by_status`` and ``summary``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contract.config import SYSTEM_PREFIX
from loaders.sql import LEDGER, quote

LOADED, QUARANTINED, FAILED = "loaded", "quarantined", "failed"
DONE = (LOADED, QUARANTINED)

_TABLE = quote(LEDGER)
_COLUMNS = (
    "s3_key, etag, source_table, target_table, records_read, rows_applied, stale_skipped, "
    "rows_deleted, rows_quarantined, started_at, finished_at, status, error, load_count, "
    "version_oldest_us, version_median_us, version_newest_us, committed_at"
)
# Added after the first release: a ledger made before them is upgraded in place by
# ``ensure_ledger``. Change times are microseconds since the epoch (``version_us``);
# ``committed_at`` is when the file's first committed load wrote its row, inside the
# transaction just before COMMIT (a later reload keeps it: the changes were in
# MariaDB from then on).
_ADDED_COLUMNS = (
    ("version_oldest_us", "BIGINT NULL"),
    ("version_median_us", "BIGINT NULL"),
    ("version_newest_us", "BIGINT NULL"),
    ("committed_at", "DATETIME(6) NULL"),
)

DDL = f"""CREATE TABLE IF NOT EXISTS {_TABLE} (
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
  version_oldest_us BIGINT NULL,
  version_median_us BIGINT NULL,
  version_newest_us BIGINT NULL,
  committed_at DATETIME(6) NULL,
  PRIMARY KEY (job_id),
  KEY by_key (s3_key(700)),
  KEY by_status (status, finished_at),
  KEY by_commit (committed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"""


def job_id(key: str, etag: str) -> str:
    """Stable id of one S3 object version (the bucket is fixed per deployment)."""
    return hashlib.sha256(f"{key}\n{etag}".encode()).hexdigest()


@dataclass
class LedgerRow:
    s3_key: str
    etag: str
    source_table: str
    target_table: str
    records_read: int
    rows_applied: int
    stale_skipped: int
    rows_deleted: int
    rows_quarantined: int
    started_at: datetime | None
    finished_at: datetime | None
    status: str
    error: str | None
    load_count: int
    version_oldest_us: int | None = None
    version_median_us: int | None = None
    version_newest_us: int | None = None
    committed_at: datetime | None = None  # set by ``record`` for a loaded or quarantined row

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for k in ("started_at", "finished_at", "committed_at"):
            out[k] = out[k].isoformat() if out[k] else None
        return out


def ensure_ledger(conn: Any) -> None:
    """Create the ledger, or add the columns a ledger made by an older loader lacks.

    Idempotent: the columns are looked up first, so an up-to-date ledger costs one
    query and no DDL; ``IF NOT EXISTS`` keeps two runs upgrading at once harmless.
    """
    with conn.cursor() as cur:
        cur.execute(DDL)
        cur.execute(
            "SELECT LOWER(column_name) FROM information_schema.columns "
            "WHERE table_schema = DATABASE() AND table_name = %s",
            [LEDGER],
        )
        present = {r[0] for r in cur.fetchall()}
        missing = [(name, kind) for name, kind in _ADDED_COLUMNS if name not in present]
        if missing:
            added = ", ".join(f"ADD COLUMN IF NOT EXISTS {quote(n)} {k}" for n, k in missing)
            cur.execute(
                f"ALTER TABLE {_TABLE} {added}, ADD KEY IF NOT EXISTS by_commit (committed_at)"
            )


def _rows(conn: Any, where: str, params: list[Any]) -> list[LedgerRow]:
    with conn.cursor() as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM {_TABLE} WHERE {where}", params)
        return [LedgerRow(*r) for r in cur.fetchall()]


def ledger_rows(conn: Any, keys: list[str]) -> list[LedgerRow]:
    """Ledger rows of these S3 keys (every ETag seen), in key order."""
    out: list[LedgerRow] = []
    for start in range(0, len(keys), 500):
        part = keys[start : start + 500]
        out += _rows(conn, f"s3_key IN ({', '.join(['%s'] * len(part))})", part)
    return sorted(out, key=lambda r: (r.s3_key, r.finished_at or datetime.min))


def rows_by_status(conn: Any, status: str, limit: int = 100) -> list[LedgerRow]:
    """The most recent rows with this status (loaded, quarantined, failed)."""
    return _rows(conn, "status = %s ORDER BY finished_at DESC LIMIT %s", [status, limit])


def rows_under(conn: Any, prefix: str, limit: int = 10_000) -> list[LedgerRow]:
    """Ledger rows whose S3 key starts with ``prefix``."""
    like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return _rows(conn, "s3_key LIKE %s ORDER BY s3_key LIMIT %s", [like, limit])


def summary(conn: Any) -> dict[str, Any]:
    """Counts per status and the time of the last finished load, for ``ddbload status``."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT status, COUNT(*), SUM(records_read), SUM(rows_quarantined), "
            f"MAX(finished_at) FROM {_TABLE} GROUP BY status"
        )
        rows = cur.fetchall()
    return {
        status: {
            "files": int(n),
            "records": int(read or 0),
            "quarantined_rows": int(q or 0),
            "last_finished": last.isoformat() if last else None,
        }
        for status, n, read, q, last in rows
    }


def activity_since(conn: Any, since: datetime) -> dict[str, dict[str, Any]]:
    """Per source table: last load, failures, quarantined files and rows since ``since``
    (naive UTC), and the newest change time committed (the greatest over every committed
    file, so a late file of old changes never moves it back). For ``ddbload status``."""
    out: dict[str, dict[str, Any]] = {}
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT source_table, MAX(IF(status = 'loaded', finished_at, NULL)), "
            "SUM(status = 'failed' AND finished_at >= %s), "
            "SUM(status = 'quarantined' AND finished_at >= %s), "
            "SUM(IF(finished_at >= %s, rows_quarantined, 0)), "
            "MAX(IF(status = 'loaded', version_newest_us, NULL)) "
            f"FROM {_TABLE} GROUP BY source_table",
            [since, since, since],
        )
        for source, last, failed, qfiles, qrows, newest in cur.fetchall():
            out[source] = {
                "last_load": last,
                "failed": int(failed or 0),
                "quarantined_files": int(qfiles or 0),
                "quarantined_rows": int(qrows or 0),
                "newest_change_us": int(newest) if newest is not None else None,
            }
    return out


@dataclass(frozen=True)
class CommittedFile:
    """What end-to-end latency needs of one loaded file (``loaders.freshness``)."""

    source_table: str
    changes: int
    committed_at: datetime  # naive UTC
    version_oldest_us: int
    version_median_us: int


_COMMITTED = (
    "SELECT source_table, records_read, committed_at, version_oldest_us, version_median_us "
    f"FROM {_TABLE} WHERE status = 'loaded' AND committed_at IS NOT NULL "
    "AND version_oldest_us IS NOT NULL AND version_median_us IS NOT NULL"
)


def committed_since(conn: Any, since: datetime) -> list[CommittedFile]:
    """Loaded files first committed at or after ``since`` (naive UTC), with change times."""
    with conn.cursor() as cur:
        cur.execute(f"{_COMMITTED} AND committed_at >= %s", [since])
        return [CommittedFile(*r) for r in cur.fetchall()]


def committed_of(conn: Any, ids: list[str]) -> list[CommittedFile]:
    """The loaded files among these job ids, with change times and commit time."""
    out: list[CommittedFile] = []
    with conn.cursor() as cur:
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            cur.execute(f"{_COMMITTED} AND job_id IN ({', '.join(['%s'] * len(part))})", part)
            out += [CommittedFile(*r) for r in cur.fetchall()]
    return out


def done_ids(conn: Any, ids: list[str]) -> set[str]:
    """Which of these job ids are already loaded or quarantined."""
    done: set[str] = set()
    with conn.cursor() as cur:
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            cur.execute(
                f"SELECT job_id FROM {_TABLE} WHERE status IN ('loaded', 'quarantined') "
                f"AND job_id IN ({', '.join(['%s'] * len(part))})",
                part,
            )
            done.update(r[0] for r in cur.fetchall())
    return done


def done_keys(conn: Any, keys: list[str]) -> set[str]:
    """Which of these S3 keys have some version loaded or quarantined (ETag unknown yet)."""
    return {r.s3_key for r in ledger_rows(conn, keys) if r.status in DONE}


def record(conn: Any, row: LedgerRow) -> None:
    """Insert or update the row of (key, etag); ``load_count`` counts successful loads."""
    counted = 1 if row.status in DONE else 0
    committed = row.finished_at if row.status in DONE else None
    with conn.cursor() as cur:
        cur.execute(
            f"INSERT INTO {_TABLE} (job_id, {_COLUMNS}) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON DUPLICATE KEY UPDATE source_table = VALUES(source_table), "
            "target_table = VALUES(target_table), records_read = VALUES(records_read), "
            "rows_applied = VALUES(rows_applied), stale_skipped = VALUES(stale_skipped), "
            "rows_deleted = VALUES(rows_deleted), rows_quarantined = VALUES(rows_quarantined), "
            "started_at = VALUES(started_at), finished_at = VALUES(finished_at), "
            "status = IF(VALUES(status) = 'failed' AND status IN ('loaded', 'quarantined'), "
            "status, VALUES(status)), error = VALUES(error), "
            "load_count = load_count + VALUES(load_count), "
            # Change times and the first commit come from committed loads only; a failed
            # attempt after a load leaves them as they were.
            "version_oldest_us = IF(VALUES(committed_at) IS NULL, version_oldest_us, "
            "VALUES(version_oldest_us)), "
            "version_median_us = IF(VALUES(committed_at) IS NULL, version_median_us, "
            "VALUES(version_median_us)), "
            "version_newest_us = IF(VALUES(committed_at) IS NULL, version_newest_us, "
            "VALUES(version_newest_us)), "
            "committed_at = COALESCE(committed_at, VALUES(committed_at))",
            [
                job_id(row.s3_key, row.etag),
                row.s3_key,
                row.etag,
                row.source_table,
                row.target_table,
                row.records_read,
                row.rows_applied,
                row.stale_skipped,
                row.rows_deleted,
                row.rows_quarantined,
                row.started_at,
                row.finished_at,
                row.status,
                row.error,
                counted,
                row.version_oldest_us,
                row.version_median_us,
                row.version_newest_us,
                committed,
            ],
        )


# The last run of each lane (contract.lanes), for ``ddbload status``: one row per lane,
# replaced at the end of every lane run that reached the database.
LANE_RUNS = f"{SYSTEM_PREFIX}lanes"
_LANES_TABLE = quote(LANE_RUNS)
_LANE_COLUMNS = (
    "lane, started_at, finished_at, outcome, files_loaded, files_pending, files_failed, "
    "busy_tables, error"
)
LANES_DDL = f"""CREATE TABLE IF NOT EXISTS {_LANES_TABLE} (
  lane VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  started_at DATETIME(6) NOT NULL,
  finished_at DATETIME(6) NOT NULL,
  outcome VARCHAR(16) CHARACTER SET ascii NOT NULL,
  files_loaded INT NOT NULL DEFAULT 0,
  files_pending INT NOT NULL DEFAULT 0,
  files_failed INT NOT NULL DEFAULT 0,
  busy_tables TEXT NULL,
  error TEXT NULL,
  PRIMARY KEY (lane)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"""


@dataclass
class LaneRun:
    """How a lane's last run ended: ``ok``, ``busy`` (its table was locked by another
    run) or ``incomplete`` (files failed or wait for a retry; ``error`` says why)."""

    lane: str
    started_at: datetime
    finished_at: datetime
    outcome: str
    files_loaded: int
    files_pending: int
    files_failed: int
    busy_tables: str | None
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for k in ("started_at", "finished_at"):
            out[k] = out[k].isoformat() if out[k] else None
        return out


def record_lane_run(conn: Any, run: LaneRun) -> None:
    """Replace the lane's last-run row (autocommit or not: the caller commits)."""
    with conn.cursor() as cur:
        cur.execute(LANES_DDL)
        cur.execute(
            f"REPLACE INTO {_LANES_TABLE} ({_LANE_COLUMNS}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                run.lane,
                run.started_at,
                run.finished_at,
                run.outcome,
                run.files_loaded,
                run.files_pending,
                run.files_failed,
                run.busy_tables,
                run.error,
            ],
        )


def lane_runs(conn: Any) -> dict[str, LaneRun]:
    """The last run of every lane that has run, by lane (empty before the first)."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT {_LANE_COLUMNS} FROM {_LANES_TABLE}")
        return {row[0]: LaneRun(*row) for row in cur.fetchall()}
