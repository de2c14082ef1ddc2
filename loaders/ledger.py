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

from loaders.sql import LEDGER, quote

LOADED, QUARANTINED, FAILED = "loaded", "quarantined", "failed"
DONE = (LOADED, QUARANTINED)

_TABLE = quote(LEDGER)
_COLUMNS = (
    "s3_key, etag, source_table, target_table, records_read, rows_applied, stale_skipped, "
    "rows_deleted, rows_quarantined, started_at, finished_at, status, error, load_count"
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
  PRIMARY KEY (job_id),
  KEY by_key (s3_key(700)),
  KEY by_status (status, finished_at)
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

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for k in ("started_at", "finished_at"):
            out[k] = out[k].isoformat() if out[k] else None
        return out


def ensure_ledger(conn: Any) -> None:
    with conn.cursor() as cur:
        cur.execute(DDL)


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


def activity_since(conn: Any, since: datetime, newest: int) -> dict[str, dict[str, Any]]:
    """Per source table: last load, failures, quarantined files and rows since ``since``
    (naive UTC), and the ``newest`` greatest loaded keys (staging keys sort by hour folder,
    so those hold the newest changes). For ``ddbload status``."""
    out: dict[str, dict[str, Any]] = {}
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT source_table, MAX(IF(status = 'loaded', finished_at, NULL)), "
            "SUM(status = 'failed' AND finished_at >= %s), "
            "SUM(status = 'quarantined' AND finished_at >= %s), "
            "SUM(IF(finished_at >= %s, rows_quarantined, 0)) "
            f"FROM {_TABLE} GROUP BY source_table",
            [since, since, since],
        )
        for source, last, failed, qfiles, qrows in cur.fetchall():
            out[source] = {
                "last_load": last,
                "failed": int(failed or 0),
                "quarantined_files": int(qfiles or 0),
                "quarantined_rows": int(qrows or 0),
            }
        for source in out:
            cur.execute(
                f"SELECT s3_key FROM {_TABLE} WHERE source_table = %s "
                "AND status = 'loaded' ORDER BY s3_key DESC LIMIT %s",
                [source, newest],
            )
            out[source]["newest_keys"] = [r[0] for r in cur.fetchall()]
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
    with conn.cursor() as cur:
        cur.execute(
            f"INSERT INTO {_TABLE} (job_id, {_COLUMNS}) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON DUPLICATE KEY UPDATE source_table = VALUES(source_table), "
            "target_table = VALUES(target_table), records_read = VALUES(records_read), "
            "rows_applied = VALUES(rows_applied), stale_skipped = VALUES(stale_skipped), "
            "rows_deleted = VALUES(rows_deleted), rows_quarantined = VALUES(rows_quarantined), "
            "started_at = VALUES(started_at), finished_at = VALUES(finished_at), "
            "status = IF(VALUES(status) = 'failed' AND status IN ('loaded', 'quarantined'), "
            "status, VALUES(status)), error = VALUES(error), "
            "load_count = load_count + VALUES(load_count)",
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
            ],
        )
