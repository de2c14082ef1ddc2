"""The end of every fault test: MariaDB against DynamoDB, and the ledger against S3.

``measure`` runs ``ops.verify`` (what DynamoDB holds vs the target tables)
and reads the ledger row of every staging object in S3. It returns the counts
the report publishes:

* rows lost: items missing from MariaDB or holding other values, plus the
  records of staging objects the ledger never settled (skipped files);
* rows doubled: rows MariaDB has and DynamoDB does not (a delete undone, a key
  twice under two spellings), plus the records of objects applied more times
  than the test asked for (``load_count`` above what was intended).

It also checks that the ledger's counts add up for each object: read =
applied + stale + deleted + quarantined, and read = lines in the object.
"""

from __future__ import annotations

import gzip
from dataclasses import asdict, dataclass, field
from typing import Any

import pymysql

from loaders import ledger
from ops.verify import verify
from reliability.scenario import Scenario


@dataclass
class Outcome:
    rows_lost: int = 0
    rows_doubled: int = 0
    dynamodb_items: int = 0
    mariadb_rows: int = 0
    differences: int = 0  # missing + extra + different, as verify counts them
    objects: int = 0
    objects_settled: int = 0
    objects_quarantined: int = 0
    records: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.rows_lost == 0 and self.rows_doubled == 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _lines(body: bytes) -> int | None:
    try:
        return len([line for line in gzip.decompress(body).split(b"\n") if line.strip()])
    except (OSError, EOFError):
        return None


def measure(
    s: Scenario,
    conn_params: dict[str, Any],
    *,
    expected_loads: dict[str, int] | None = None,
    quarantined_ok: set[str] | None = None,
) -> Outcome:
    """Reconcile and audit the ledger; ``expected_loads`` maps key -> intended load count."""
    expected_loads = expected_loads or {}
    quarantined_ok = quarantined_ok or set()
    out = Outcome()
    conn = pymysql.connect(**{**conn_params, "autocommit": True})
    try:
        for r in verify(s.config, s.aws.dynamodb, conn):
            out.dynamodb_items += r.dynamodb_items
            out.mariadb_rows += r.mariadb_rows
            out.rows_lost += r.missing + r.different
            out.rows_doubled += r.extra
            out.differences += r.missing + r.extra + r.different
            if not r.ok:
                out.problems.append(f"verify {r.table}: {r.to_dict()}")
        ledger.ensure_ledger(conn)
        keys = s.staging_keys()
        rows = ledger.ledger_rows(conn, keys)
    finally:
        conn.close()
    by_key: dict[str, list[ledger.LedgerRow]] = {}
    for row in rows:
        by_key.setdefault(row.s3_key, []).append(row)
    out.objects = len(keys)
    for key in keys:
        body = s.get(key)
        lines = _lines(body)
        etag = s.aws.s3.head_object(Bucket=s.res.bucket, Key=key)["ETag"].strip('"')
        current = [r for r in by_key.get(key, []) if r.etag == etag]
        done = [r for r in current if r.status in ledger.DONE]
        if not done:
            out.rows_lost += lines or 0
            out.problems.append(f"{key}: never settled ({[r.status for r in current]})")
            continue
        row = done[0]
        out.objects_settled += 1
        if row.status == ledger.QUARANTINED:
            out.objects_quarantined += 1
            if key not in quarantined_ok:
                out.rows_lost += lines or 0
                out.problems.append(f"{key}: quarantined unexpectedly ({row.error})")
            continue
        out.records += row.records_read
        parts = row.rows_applied + row.stale_skipped + row.rows_deleted + row.rows_quarantined
        if parts != row.records_read:
            out.problems.append(f"{key}: ledger counts do not add up ({row.as_dict()})")
        if lines is not None and row.records_read != lines:
            out.problems.append(f"{key}: ledger read {row.records_read}, object has {lines}")
        extra_loads = row.load_count - expected_loads.get(key, 1)
        if extra_loads > 0:
            out.rows_doubled += extra_loads * row.records_read
            out.problems.append(f"{key}: applied {row.load_count} times")
    return out
