"""What sits in S3 staging and what the loader made of it (``ddbload inspect``).

Listing walks the S3 prefix page by page; load status, counts and time spans
come from the ledger where the loader recorded them, and only objects the
ledger does not know are downloaded and decoded (``contract.staging``) to
count their records. ``errors`` lists the Firehose processing-failed objects
and the loader's quarantine with their reasons; ``show`` decodes one object.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from botocore.exceptions import ClientError

from contract import layout
from contract.staging import BadLine, StagingLine, decode_line
from loaders.quarantine import REASON_SUFFIX, ROWS_SUFFIX
from ops.pipeline import OperatorError, Pipeline

STATUSES = ("loaded", "quarantined", "failed", "pending")
# Objects decoded at once when the ledger does not know them; S3 GETs are I/O bound.
_READERS = 8


@dataclass
class StagingObject:
    """One staging object and its load status.

    ``status``: ``loaded`` (the ledger has a committed load), ``quarantined``
    (the loader set the whole file aside; ``reason`` says why), ``failed`` (the
    last attempt failed; ``reason`` says why), ``pending`` (this version of the
    object is not in the ledger yet). ``loads`` counts committed loads (a reload
    adds one).
    """

    key: str
    size: int
    last_modified: str  # ISO 8601, UTC
    table: str | None
    records: int | None = None
    first_change: str | None = None  # ISO 8601 of the oldest change's version_us
    last_change: str | None = None
    status: str = "pending"
    loaded_at: str | None = None
    applied: int | None = None
    stale: int | None = None
    deleted: int | None = None
    quarantined: int | None = None
    loads: int = 0
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Listing:
    """The result of ``inspect``: objects plus totals."""

    bucket: str
    prefix: str
    objects: list[StagingObject] = field(default_factory=list)
    # source table -> the MariaDB table it loads into, for the tables listed
    targets: dict[str, str] = field(default_factory=dict)

    def totals(self) -> dict[str, int]:
        by_status: dict[str, int] = {}
        for o in self.objects:
            by_status[o.status] = by_status.get(o.status, 0) + 1
        return {
            "objects": len(self.objects),
            "bytes": sum(o.size for o in self.objects),
            "records": sum(o.records or 0 for o in self.objects),
            **{s: by_status.get(s, 0) for s in STATUSES},
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "prefix": self.prefix,
            "objects": [o.to_json() for o in self.objects],
            "targets": self.targets,
            "totals": self.totals(),
        }


@dataclass
class ErrorObject:
    """A Firehose processing failure or a loader quarantine entry."""

    kind: str  # "processing-failed" | "quarantined-file" | "quarantined-rows"
    key: str  # the failed object, or for quarantine the staging object it came from
    object: str  # the object under the error or quarantine prefix
    size: int
    last_modified: str
    records: int | None  # failed records or quarantined rows; None for a whole file
    reasons: list[str]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def iso_us(version_us: int | None) -> str | None:
    if version_us is None:
        return None
    return datetime.fromtimestamp(version_us / 1e6, UTC).isoformat(timespec="milliseconds")


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


def full_prefix(pipeline: Pipeline, prefix: str | None) -> str:
    """A user's prefix as an S3 key prefix.

    Accepts ``s3://bucket/key``, a key prefix that already starts with one of
    the pipeline's prefixes, or a prefix relative to the staging prefix
    (``table=orders/2025/``).
    """
    if not prefix:
        return pipeline.staging_prefix.rstrip("/") + "/"
    if prefix.startswith("s3://"):
        bucket, _, prefix = prefix[5:].partition("/")
        if bucket != pipeline.bucket:
            raise OperatorError(
                f"s3://{bucket} is not the {pipeline.where} staging bucket ({pipeline.bucket})."
            )
    roots = (pipeline.staging_prefix, pipeline.error_prefix, pipeline.quarantine_prefix)
    if any(prefix == r.rstrip("/") or prefix.startswith(r.rstrip("/") + "/") for r in roots):
        return prefix
    return pipeline.staging_prefix.rstrip("/") + "/" + prefix.lstrip("/")


def object_key(pipeline: Pipeline, key: str) -> str:
    """A user's object key (``s3://bucket/key`` or a key) as a key in the bucket."""
    if key.startswith("s3://"):
        bucket, _, key = key[5:].partition("/")
        if bucket != pipeline.bucket:
            raise OperatorError(
                f"s3://{bucket} is not the {pipeline.where} staging bucket ({pipeline.bucket})."
            )
    return key


def table_of(pipeline: Pipeline, key: str) -> str | None:
    """The source table of a staging object, or of the one a quarantine entry stands for."""
    root = pipeline.quarantine_prefix.rstrip("/") + "/"
    if key.startswith(root):
        key = key[len(root) :].removesuffix(REASON_SUFFIX).removesuffix(ROWS_SUFFIX)
    return layout.table_of(key, pipeline.staging_prefix)


def list_objects(pipeline: Pipeline, prefix: str) -> Iterator[dict[str, Any]]:
    """S3 objects under a full key prefix, page by page (``Key, Size, ETag, LastModified``)."""
    paginator = pipeline.client("s3").get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=pipeline.bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def read_object(pipeline: Pipeline, key: str) -> bytes:
    """One object's bytes, gunzipped when it is gzip."""
    try:
        body = pipeline.client("s3").get_object(Bucket=pipeline.bucket, Key=key)["Body"].read()
    except ClientError as e:
        if e.response["Error"]["Code"] in ("NoSuchKey", "404"):
            raise OperatorError(f"s3://{pipeline.bucket}/{key} does not exist.") from None
        raise
    if body[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(body)
        except (OSError, EOFError, zlib.error):
            raise OperatorError(
                f"s3://{pipeline.bucket}/{key} is not a staging file: its gzip data is damaged."
            ) from None
    return body


def read_lines(pipeline: Pipeline, key: str) -> list[StagingLine]:
    """The decoded change records of one staging object."""
    data = read_object(pipeline, key)
    lines = []
    for n, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            lines.append(decode_line(raw))
        except BadLine as e:
            raise OperatorError(
                f"s3://{pipeline.bucket}/{key} is not a staging file: line {n}: {e}."
            ) from None
    return lines


# (key, ETag) pairs -> what the ledger knows per key, as StagingObject field values.
LedgerLookup = Callable[[list[tuple[str, str]]], dict[str, dict[str, Any]]]
# Above this many objects, loaded ones are not downloaded just for their time span.
SPAN_READ_LIMIT = 200


def ledger_lookup(conn: Any) -> LedgerLookup:
    """A ``LedgerLookup`` reading the loader's ledger (``loaders.ledger``) on ``conn``."""
    from loaders import ledger
    from loaders.errors import is_missing_table

    def lookup(objects: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
        try:
            rows = ledger.ledger_rows(conn, [key for key, _ in objects])
        except Exception as e:
            if is_missing_table(e):  # no ledger table yet: nothing loaded so far
                return {}
            raise
        by_key: dict[str, list[ledger.LedgerRow]] = {}
        for row in rows:
            by_key.setdefault(row.s3_key, []).append(row)
        found = {}
        for key, etag in objects:
            # The row of this very object version; another ETag means it was replaced
            # since, and the new version is pending.
            match = next((r for r in by_key.get(key, []) if r.etag == etag), None)
            if match is not None:
                found[key] = _from_ledger(match)
        return found

    return lookup


def _from_ledger(row: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "status": row.status,
        "loads": row.load_count,
        "reason": row.error,
    }
    if row.status in ("loaded", "quarantined"):
        if row.version_oldest_us is not None:
            entry.update(
                first_change=iso_us(row.version_oldest_us),
                last_change=iso_us(row.version_newest_us),
            )
        entry.update(
            records=row.records_read,
            loaded_at=_iso(row.finished_at.replace(tzinfo=UTC)) if row.finished_at else None,
            applied=row.rows_applied,
            stale=row.stale_skipped,
            deleted=row.rows_deleted,
            quarantined=row.rows_quarantined,
        )
    return entry


def inspect_prefix(
    pipeline: Pipeline,
    prefix: str | None,
    ledger: LedgerLookup,
    progress: Callable[[int], None] | None = None,
) -> Listing:
    """Every staging object under ``prefix`` with its load status.

    ``ledger`` (``ledger_lookup``) says what the loader recorded per object.
    Objects it does not know are read from S3 to count their records; the time
    span of loaded ones comes from their ledger row, and only rows written before
    the ledger kept change times send the object to be read, when the listing is
    small (``SPAN_READ_LIMIT``), so large prefixes stay fast.
    """
    full = full_prefix(pipeline, prefix)
    listing = Listing(bucket=pipeline.bucket, prefix=full)
    page: list[tuple[StagingObject, str]] = []
    read_loaded = True
    for entry in list_objects(pipeline, full):
        obj = StagingObject(
            key=entry["Key"],
            size=entry["Size"],
            last_modified=_iso(entry["LastModified"]),
            table=table_of(pipeline, entry["Key"]),
        )
        page.append((obj, entry.get("ETag", "").strip('"')))
        if len(page) >= 1000:
            read_loaded = False
            _fill(pipeline, page, ledger, read_loaded)
            listing.objects.extend(o for o, _ in page)
            if progress:
                progress(len(page))
            page = []
    if page:
        _fill(pipeline, page, ledger, read_loaded and len(page) <= SPAN_READ_LIMIT)
        listing.objects.extend(o for o, _ in page)
        if progress:
            progress(len(page))
    if not listing.objects:
        raise OperatorError(f"Nothing under s3://{pipeline.bucket}/{full}; check the prefix.")
    tables = sorted({o.table for o in listing.objects if o.table})
    listing.targets = {t: pipeline.config.target_of(t) for t in tables}
    return listing


def inspect_pipeline(pipeline: Pipeline, prefix: str | None) -> Listing:
    """``inspect_prefix`` with the load status read from the pipeline's own ledger."""
    conn = pipeline.connect()
    try:
        return inspect_prefix(pipeline, prefix, ledger_lookup(conn))
    finally:
        conn.close()


def _fill(
    pipeline: Pipeline,
    page: list[tuple[StagingObject, str]],
    ledger: LedgerLookup,
    read_loaded: bool,
) -> None:
    known = ledger([(o.key, etag) for o, etag in page])
    to_read = []
    for o, _ in page:
        for name, value in known.get(o.key, {}).items():
            setattr(o, name, value)
        # The ledger holds the change times of files loaded since it has them; only
        # older ones (and pending ones) are read for their span.
        if o.records is None or (read_loaded and o.first_change is None):
            to_read.append(o)
    with ThreadPoolExecutor(_READERS) as pool:
        for o, summary in zip(
            to_read, pool.map(lambda o: _summary(pipeline, o.key), to_read), strict=True
        ):
            records, first, last = summary
            o.first_change, o.last_change = first or o.first_change, last or o.last_change
            if o.records is None:
                o.records = records


def _summary(pipeline: Pipeline, key: str) -> tuple[int | None, str | None, str | None]:
    try:
        lines = read_lines(pipeline, key)
    except OperatorError:
        return None, None, None
    if not lines:
        return 0, None, None
    versions = [line.version_us for line in lines]
    return len(lines), iso_us(min(versions)), iso_us(max(versions))


@dataclass
class Shown:
    """The decoded change records of one object (``inspect --show``)."""

    key: str
    records: int
    rows: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def show(pipeline: Pipeline, key: str, limit: int | None = None) -> Shown:
    """Decode one staging object; at most ``limit`` records (all when None)."""
    key = object_key(pipeline, key)
    lines = read_lines(pipeline, key)
    chosen = lines if limit is None else lines[:limit]
    rows = [
        {
            "table": line.table,
            "op": line.op,
            "key": line.key,
            "version": iso_us(line.version_us),
            "version_us": line.version_us,
            "seq": line.seq,
            "ttl_delete": line.ttl_delete,
            "item": line.item,
            "event_id": line.event_id,
        }
        for line in chosen
    ]
    return Shown(key=key, records=len(lines), rows=rows)


def errors(pipeline: Pipeline, prefix: str | None = None) -> list[ErrorObject]:
    """Firehose processing failures and loader quarantine, each with its reasons.

    Under the error prefix every object is a Firehose failure (one JSON per
    record with ``errorCode`` and ``errorMessage``). Under the quarantine prefix
    (``loaders.quarantine``) a rejected file has ``<key>.reason.json`` and a copy
    of the file, rejected rows of a loaded file are ``<key>.rows.ndjson`` with a
    ``_reason`` per row; ``key`` names the original staging object.
    """
    found = []
    start = pipeline.error_prefix.rstrip("/") + "/" + (prefix or "").lstrip("/")
    for entry in list_objects(pipeline, start):
        records, reasons = _reasons(pipeline, entry["Key"], ("errorCode", "errorMessage"))
        found.append(_error("processing-failed", entry, entry["Key"], records, reasons))
    root = pipeline.quarantine_prefix.rstrip("/") + "/"
    for entry in list_objects(pipeline, root + (prefix or "").lstrip("/")):
        key = entry["Key"]
        if key.endswith(REASON_SUFFIX):
            _, reasons = _reasons(pipeline, key, ("reason",))
            source = key[len(root) : -len(REASON_SUFFIX)]
            found.append(_error("quarantined-file", entry, source, None, reasons))
        elif key.endswith(ROWS_SUFFIX):
            records, reasons = _reasons(pipeline, key, ("_reason",))
            source = key[len(root) : -len(ROWS_SUFFIX)]
            found.append(_error("quarantined-rows", entry, source, records, reasons))
    return found


def _error(
    kind: str, entry: dict[str, Any], source: str, records: int | None, reasons: list[str]
) -> ErrorObject:
    return ErrorObject(
        kind=kind,
        key=source,
        object=entry["Key"],
        size=entry["Size"],
        last_modified=_iso(entry["LastModified"]),
        records=records,
        reasons=reasons,
    )


def _reasons(pipeline: Pipeline, key: str, fields: tuple[str, ...]) -> tuple[int, list[str]]:
    """Record count and distinct reasons (``fields`` joined) of an NDJSON error object."""
    data = read_object(pipeline, key)
    count = 0
    reasons: dict[str, None] = {}
    for raw in data.splitlines():
        if not raw.strip():
            continue
        count += 1
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            reasons.setdefault("unreadable record", None)
            continue
        if isinstance(obj, dict):
            reason = " ".join(str(obj[f]) for f in fields if obj.get(f))
            if reason:
                reasons.setdefault(reason, None)
    return count, list(reasons)
