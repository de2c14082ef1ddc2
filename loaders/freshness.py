"""Freshness and end-to-end latency: what each figure means, defined once for the loader and the tools.

Two figures, one meaning each (docs/CLI.md repeats them for operators):

* **freshness** of a table: the age of the oldest change not yet committed to
  MariaDB, and 0 when nothing is pending. Pending means a staging object whose
  version is not settled in the ledger (loaded or quarantined), plus, where it can
  be known, what Kinesis and Firehose still hold. It is computed from what is
  pending *now*, never from what was committed last, so a late file with old
  changes cannot drag it backwards once it is committed, and an idle, caught-up
  table reads 0 however long it stays idle.
* **end-to-end latency** of a committed change: its commit time minus its change
  time (``version_us``, DynamoDB's creation time; backfill lines have none, see
  ``change_times``). The ledger keeps, per file, the
  oldest, median and newest change time (``version_range``, computed in Arrow while
  the file is read) and the commit time, so a file's median latency is commit minus
  median change and its maximum is commit minus oldest change. Over several files:
  the maximum is the maximum of the files' maxima (exact); the p50 is the median of
  the files' medians weighted by their change counts (``combine``), which always
  lies between the smallest and the largest file median.

The loader (``loaders.handler``) emits both per table after each scheduled run;
``ops.status`` shows them. Clocks are passed in (``now_us``), never read here.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any, TypedDict

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from loaders import ledger
from loaders.jobs import SETTLED, RunReport, State

# Reading a pending object's oldest change: the first bytes of the gzip object only.
# Firehose writes records in arrival order, so its head holds the oldest arrivals.
HEAD_BYTES = 64 * 1024
HEAD_TEXT_BYTES = 1024 * 1024
HEAD_LINES = 1000
# Per table, the heads of this many pending objects (the oldest by key) are read.
HEADS_PER_TABLE = 4


@dataclass(frozen=True)
class VersionRange:
    """Change times (microseconds since the epoch) of one file's changes."""

    oldest_us: int
    median_us: int
    newest_us: int


def change_times(batch: pa.RecordBatch) -> pa.Array:
    """A batch's ``version_us``, null on backfill lines: their version is when the
    backfill started (``ops.backfill``), not when the item changed, so they have no
    latency to measure."""
    versions = batch.column("version_us")
    backfill = pc.fill_null(pc.equal(batch.column("op"), "BACKFILL"), False)
    if not pc.any(backfill).as_py():
        return versions
    return pc.if_else(backfill, pa.scalar(None, pa.int64()), versions)


def version_range(columns: Sequence[pa.Array | pa.ChunkedArray]) -> VersionRange | None:
    """Oldest, median and newest ``version_us`` of a file, from its Arrow columns (C++ only)."""
    if not columns:
        return None
    chunks: list[pa.Array] = []
    for column in columns:
        chunks += column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    values = pa.chunked_array(chunks, pa.int64())
    if values.null_count == len(values):
        return None
    bounds = pc.min_max(values)
    # "lower": an actual change time, not a midpoint between two.
    median = pc.quantile(values, 0.5, interpolation="lower")[0].as_py()
    return VersionRange(bounds["min"].as_py(), median, bounds["max"].as_py())


class LedgerVersions(TypedDict):
    """The ledger row's change-time columns (``ledger.LedgerRow``)."""

    version_oldest_us: int | None
    version_median_us: int | None
    version_newest_us: int | None


def ledger_versions(columns: Sequence[pa.Array | pa.ChunkedArray]) -> LedgerVersions:
    """``version_range`` as the ledger row's columns (all None when the file held no change)."""
    found = version_range(columns)
    return {
        "version_oldest_us": found.oldest_us if found else None,
        "version_median_us": found.median_us if found else None,
        "version_newest_us": found.newest_us if found else None,
    }


def freshness_seconds(
    now_us: int, pending_oldest_us: Iterable[int | None], upstream_seconds: float = 0.0
) -> float:
    """Age of the oldest pending change; 0 when nothing is pending.

    ``pending_oldest_us``: the oldest change time of each pending object (None where
    it is unknown). ``upstream_seconds``: the age of what Kinesis and Firehose still
    hold, where known (the deployed pipeline's CloudWatch metrics).
    """
    oldest = min((v for v in pending_oldest_us if v is not None), default=None)
    staged = 0.0 if oldest is None else max(0.0, (now_us - oldest) / 1e6)
    return round(max(staged, upstream_seconds, 0.0), 3)


@dataclass(frozen=True)
class FileLatency:
    """One committed file's latency figures, from its ledger row."""

    changes: int
    p50_seconds: float
    max_seconds: float

    @classmethod
    def of(cls, committed_us: int, oldest_us: int, median_us: int, changes: int) -> FileLatency:
        return cls(
            changes=max(1, changes),
            p50_seconds=max(0.0, (committed_us - median_us) / 1e6),
            max_seconds=max(0.0, (committed_us - oldest_us) / 1e6),
        )


@dataclass(frozen=True)
class Latency:
    """Latency over several files: p50 (weighted median of file medians) and max."""

    files: int
    changes: int
    p50_seconds: float
    max_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "changes": self.changes,
            "p50_seconds": round(self.p50_seconds, 3),
            "max_seconds": round(self.max_seconds, 3),
        }


def combine(files: Iterable[FileLatency]) -> Latency | None:
    """Aggregate file figures: max of maxima, change-weighted median of medians."""
    chosen = sorted(files, key=lambda f: f.p50_seconds)
    if not chosen:
        return None
    total = sum(f.changes for f in chosen)
    half, seen, p50 = total / 2, 0, chosen[-1].p50_seconds
    for f in chosen:
        seen += f.changes
        if seen >= half:
            p50 = f.p50_seconds
            break
    return Latency(
        files=len(chosen),
        changes=total,
        p50_seconds=p50,
        max_seconds=max(f.max_seconds for f in chosen),
    )


def head_oldest_us(data: bytes, complete: bool) -> int | None:
    """The oldest ``version_us`` among the first lines of a gzip staging object's head.

    ``data``: the object's first bytes (all of it when ``complete``). At most
    ``HEAD_TEXT_BYTES`` are inflated and ``HEAD_LINES`` lines read; a line cut off
    by the end of ``data`` is left out. None when no line there carries a version.
    """
    text = b""
    try:
        rest = data
        # A gzip object may hold several members; bounded by the text limit.
        while rest and len(text) < HEAD_TEXT_BYTES:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            text += inflater.decompress(rest, HEAD_TEXT_BYTES - len(text))
            if not inflater.eof:
                complete = False
                break
            rest = inflater.unused_data
    except zlib.error:
        complete = False
    lines = text.split(b"\n")
    if not (complete and len(text) < HEAD_TEXT_BYTES):
        lines = lines[:-1]
    oldest: int | None = None
    for raw in lines[:HEAD_LINES]:
        try:
            version = orjson.loads(raw).get("version_us")
        except (orjson.JSONDecodeError, AttributeError):
            continue
        if isinstance(version, int) and not isinstance(version, bool):
            oldest = version if oldest is None else min(oldest, version)
    return oldest


def object_oldest_us(s3: Any, bucket: str, key: str) -> int | None:
    """The oldest change time of a pending staging object, read cheaply from its head.

    One ranged GET of ``HEAD_BYTES``. When no line there carries a version (damaged
    or empty object), the object's write time stands in: its changes are at least
    that old. None when the object is gone.
    """
    try:
        obj = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{HEAD_BYTES - 1}")
    except s3.exceptions.NoSuchKey:
        return None
    data = obj["Body"].read()
    total = _total_size(obj.get("ContentRange"), len(data))
    found = head_oldest_us(data, complete=total <= len(data))
    if found is None and obj.get("LastModified") is not None:
        return int(obj["LastModified"].timestamp() * 1_000_000)
    return found


def _total_size(content_range: str | None, read: int) -> int:
    # "bytes 0-65535/123456": the object's full size after the slash.
    if content_range and "/" in content_range:
        tail = content_range.rsplit("/", 1)[1]
        if tail.isdigit():
            return int(tail)
    return read


def pending_oldest_us(s3: Any, bucket: str, oldest_first: Sequence[str]) -> int | None:
    """Oldest change among a table's pending objects, from the heads of the first few.

    ``oldest_first``: the keys, earliest written first (by write time, or by key: staging
    keys sort by hour folder and Firehose's timestamped object name); the heads of
    ``HEADS_PER_TABLE`` of them are read.
    """
    found = [object_oldest_us(s3, bucket, key) for key in oldest_first[:HEADS_PER_TABLE]]
    return min((v for v in found if v is not None), default=None)


def now_us() -> int:
    """The loader's clock for its figures (tests replace it)."""
    return time.time_ns() // 1000


def latency_by_table(
    files: Iterable[ledger.CommittedFile],
) -> dict[str, Latency]:
    """``combine`` per source table of committed files read from the ledger."""
    per: dict[str, list[FileLatency]] = {}
    for f in files:
        committed_us = int(f.committed_at.replace(tzinfo=UTC).timestamp() * 1_000_000)
        per.setdefault(f.source_table, []).append(
            FileLatency.of(committed_us, f.version_oldest_us, f.version_median_us, f.changes)
        )
    return {table: found for table, group in per.items() if (found := combine(group))}


def run_figures(
    conn: Any,
    s3: Any,
    bucket: str,
    tables: Iterable[str],
    report: RunReport,
    now: int,
) -> dict[str, dict[str, Any]]:
    """Freshness and latency of each table a scheduled run covered, as it ends.

    Pending: the run's objects that are not settled (left for a retry, deferred, failed
    or locked by another run); their oldest change comes from their heads. Latency: the
    files this run committed, from their ledger rows. The loader cannot see Kinesis or
    Firehose (``ops.status`` adds them from CloudWatch; the stack alarms on them).
    """
    settled = {s.value for s in SETTLED}
    pending: dict[str, list[str]] = {}
    loaded: list[str] = []
    for r in report.results:
        if r.status == State.LOADED.value:
            loaded.append(ledger.job_id(r.key, r.etag))
        elif r.status not in settled and r.table:
            pending.setdefault(r.table, []).append(r.key)
    latency = latency_by_table(ledger.committed_of(conn, loaded)) if loaded else {}
    figures: dict[str, dict[str, Any]] = {}
    for table in sorted(set(tables) | set(pending) | set(latency)):
        oldest = pending_oldest_us(s3, bucket, sorted(pending.get(table, [])))
        found = latency.get(table)
        figures[table] = {
            "freshness_seconds": freshness_seconds(now, [oldest]),
            "latency_p50_seconds": round(found.p50_seconds, 3) if found else None,
            "latency_max_seconds": round(found.max_seconds, 3) if found else None,
            "committed_files": found.files if found else 0,
        }
    return figures
