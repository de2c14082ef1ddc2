"""``ddbload reload --errors``: load what failed earlier, once its cause is fixed.

Three kinds of leftovers, each turned back into ordinary staging objects and
loaded through the loader's own path (``ops.reload.execute``):

* Firehose processing failures under the error prefix: one JSON error record
  per line (``attemptsMade, arrivalTimestamp, errorCode, errorMessage,
  attemptEndingTimestamp, rawData, lambdaArn``), ``rawData`` the base64 of the
  original DynamoDB Kinesis-destination record. Each is run through the real
  transform (``transforms.normalize``) again; what it now accepts is written,
  per table, as a staging object named after the error object. Firehose does
  not keep the Kinesis sequence number in these records, so the lines get
  ``seq`` "0" (a record's version is its creation time; "0" only loses a tie
  in the same microsecond). Records that still fail stay in the error object,
  which is left as it is and reported; an object whose records all loaded is
  deleted.
* Quarantined rows (``<quarantine>/<key>.rows.ndjson``): the rows are staging
  lines plus ``_line`` and ``_reason``; they are written back as a staging
  object named after the quarantine object and loaded again (the target or the
  config may have been fixed). Rows that fail again replace the quarantine
  object's content, with their new reasons; when none fail it is deleted.
* Quarantined files (``<key>.reason.json`` + a copy): the original staging
  object is loaded again by its key (restored from the copy if it expired).
  When it loads, the reason and the copy are deleted.

Names are deterministic (``reloaded-<hash of the source object>-<name>.gz``
in the hour of the oldest line), so a rerun rewrites the same objects with the
same bytes; the version guard makes loading them again harmless, and
re-transformed Firehose records already in the ledger are not loaded twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from botocore.exceptions import ClientError

from contract import layout, staging
from contract.staging import StagingLine
from loaders.errors import is_missing_table
from loaders.jobs import JobResult
from loaders.quarantine import REASON_SUFFIX, ROWS_SUFFIX
from ops import inspection
from ops import reload as reload_lib
from ops.pipeline import OperatorError, Pipeline
from ops.reload import OK_STATUSES, PlannedObject, ReloadPlan, file_json, row_totals

PROCESSING_FAILED = "processing-failed"
QUARANTINEDROWS_SUFFIX = "quarantined-rows"
QUARANTINED_FILE = "quarantined-file"
RESTAGED = "reloaded-"
# Firehose's error records carry no Kinesis sequence number (see the module docstring).
NO_SEQUENCE = "0"


@dataclass
class ErrorEntry:
    """One error or quarantine object and what reloading it would load."""

    kind: str
    source: str  # the object under the error or quarantine prefix
    reasons: list[str]  # why it failed before
    staged: dict[str, list[bytes]] = field(default_factory=dict)  # new staging key -> lines
    reload_key: str | None = None  # a quarantined file: its original staging key
    still_failing: list[str] = field(default_factory=list)  # records the transform still rejects

    @property
    def records(self) -> int:
        return sum(len(lines) for lines in self.staged.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "reasons": self.reasons,
            "records": self.records,
            "still_failing": len(self.still_failing),
            "still_failing_reasons": sorted(set(self.still_failing)),
            "loads": sorted(self.staged) if self.reload_key is None else [self.reload_key],
        }


@dataclass
class ErrorsPlan:
    where: str
    bucket: str
    entries: list[ErrorEntry]

    def count(self, kind: str) -> int:
        return sum(e.kind == kind for e in self.entries)

    def to_json(self) -> dict[str, Any]:
        return {
            "where": self.where,
            "bucket": self.bucket,
            "processing_failed_objects": self.count(PROCESSING_FAILED),
            "quarantined_row_objects": self.count(QUARANTINEDROWS_SUFFIX),
            "quarantined_files": self.count(QUARANTINED_FILE),
            "records": sum(e.records for e in self.entries),
            "still_failing": sum(len(e.still_failing) for e in self.entries),
            "entries": [e.to_json() for e in self.entries],
        }


@dataclass
class EntryOutcome:
    entry: ErrorEntry
    files: list[JobResult]
    resolved: bool  # everything of it loaded; the error object is gone
    remaining: int  # records or rows still failing (a file: 1 when it is still quarantined)
    reasons: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.entry.kind,
            "source": self.entry.source,
            "resolved": self.resolved,
            "remaining": self.remaining,
            "reasons": self.reasons,
            "files": [file_json(f) for f in self.files],
        }


@dataclass
class ErrorsResult:
    plan: ErrorsPlan
    outcomes: list[EntryOutcome]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(
            f.status in OK_STATUSES for o in self.outcomes for f in o.files
        )

    def to_json(self) -> dict[str, Any]:
        files = [f for o in self.outcomes for f in o.files]
        return {
            "plan": self.plan.to_json(),
            "outcomes": [o.to_json() for o in self.outcomes],
            "resolved": sum(o.resolved for o in self.outcomes),
            "remaining": sum(o.remaining for o in self.outcomes),
            "rows": row_totals(files),
            "error": self.error,
            "ok": self.ok,
        }


def retransform(record: Any) -> StagingLine:
    """One Firehose error record -> its staging line, by the real transform; raises ``Rejected``.

    ``rawData`` is decoded exactly as the transform handler decodes a record's ``data``.
    """
    from transforms.handler import record_bytes
    from transforms.normalize import Rejected, decode_json, normalize

    if not isinstance(record, dict) or not isinstance(record.get("rawData"), str):
        raise Rejected("not_error_record", "the line is not a Firehose error record")
    change = decode_json(record_bytes(record["rawData"]))
    sequence = record.get("sequenceNumber")
    return normalize(
        change,
        sequence_number=sequence if isinstance(sequence, str) else NO_SEQUENCE,
        arrival_ms=record.get("arrivalTimestamp"),  # type: ignore[arg-type]
    )


def staged_key(pipeline: Pipeline, source: str, table: str, oldest_ms: int) -> str:
    """Where re-staged lines go: their table's folder, the hour of the oldest, a name fixed
    by the source object (so a rerun writes the same object)."""
    stem = source.rsplit("/", 1)[-1].removesuffix(ROWS_SUFFIX).removesuffix(layout.SUFFIX)
    digest = hashlib.sha256(source.encode()).hexdigest()[:10]
    name = f"{RESTAGED}{digest}-{stem}"
    return layout.staging_key(pipeline.staging_prefix, table, oldest_ms / 1000, name)


def _group(pipeline: Pipeline, source: str, lines: list[StagingLine]) -> dict[str, list[bytes]]:
    """Encoded lines by the staging object they go to (one per table)."""
    by_table: dict[str, list[StagingLine]] = {}
    for line in lines:
        by_table.setdefault(line.table, []).append(line)
    return {
        staged_key(pipeline, source, table, min(x.arrival_ms for x in group)): [
            staging.encode_line(x) for x in group
        ]
        for table, group in by_table.items()
    }


def _ndjson(data: bytes) -> list[Any]:
    docs = []
    for raw in data.splitlines():
        if raw.strip():
            try:
                docs.append(orjson.loads(raw))
            except orjson.JSONDecodeError:
                docs.append(None)
    return docs


def _firehose_entry(pipeline: Pipeline, key: str) -> ErrorEntry:
    from transforms.normalize import Rejected

    entry = ErrorEntry(PROCESSING_FAILED, key, [])
    ok: list[StagingLine] = []
    reasons: dict[str, None] = {}
    for doc in _ndjson(inspection.read_object(pipeline, key)):
        if isinstance(doc, dict) and (doc.get("errorCode") or doc.get("errorMessage")):
            reasons.setdefault(f"{doc.get('errorCode')} {doc.get('errorMessage')}".strip(), None)
        try:
            ok.append(retransform(doc))
        except Rejected as e:
            entry.still_failing.append(str(e))
    entry.reasons = list(reasons)
    entry.staged = _group(pipeline, key, ok)
    return entry


def _rows_entry(pipeline: Pipeline, key: str) -> ErrorEntry:
    entry = ErrorEntry(QUARANTINEDROWS_SUFFIX, key, [])
    lines: list[StagingLine] = []
    reasons: dict[str, None] = {}
    for doc in _ndjson(inspection.read_object(pipeline, key)):
        if not isinstance(doc, dict):
            entry.still_failing.append("the quarantined row is not JSON")
            continue
        if doc.get("_reason"):
            reasons.setdefault(str(doc["_reason"]), None)
        fields = {k: v for k, v in doc.items() if not k.startswith("_")}
        try:
            lines.append(staging.decode_line(orjson.dumps(fields)))
        except Exception as e:  # noqa: BLE001 - any decoding problem: the row stays quarantined
            entry.still_failing.append(f"not a staging line: {e}")
    entry.reasons = list(reasons)
    entry.staged = _group(pipeline, key, lines)
    return entry


def _file_entry(pipeline: Pipeline, key: str, root: str) -> ErrorEntry:
    source = key[len(root) : -len(REASON_SUFFIX)]
    doc = orjson.loads(inspection.read_object(pipeline, key) or b"{}")
    reason = doc.get("reason") if isinstance(doc, dict) else None
    return ErrorEntry(QUARANTINED_FILE, key, [str(reason)] if reason else [], reload_key=source)


def plan(pipeline: Pipeline, prefix: str | None = None) -> ErrorsPlan:
    """Every error and quarantine object (under ``prefix`` of each), and what it would load.

    Reads and re-transforms but writes nothing.
    """
    entries = []
    errors_root = pipeline.error_prefix.rstrip("/") + "/"
    for obj in inspection.list_objects(pipeline, errors_root + (prefix or "").lstrip("/")):
        entries.append(_firehose_entry(pipeline, obj["Key"]))
    root = pipeline.quarantine_prefix.rstrip("/") + "/"
    for obj in inspection.list_objects(pipeline, root + (prefix or "").lstrip("/")):
        key = obj["Key"]
        # Rows a reload quarantined again are folded back into their source's object.
        if key.rsplit("/", 1)[-1].startswith(RESTAGED):
            continue
        if key.endswith(ROWS_SUFFIX):
            entries.append(_rows_entry(pipeline, key))
        elif key.endswith(REASON_SUFFIX):
            entries.append(_file_entry(pipeline, key, root))
    return ErrorsPlan(pipeline.where, pipeline.bucket, entries)


def _put(pipeline: Pipeline, key: str, lines: list[bytes]) -> PlannedObject:
    body = layout.gzip_lines(lines)
    out = pipeline.client("s3").put_object(
        Bucket=pipeline.bucket, Key=key, Body=body, ContentType="application/x-ndjson"
    )
    return PlannedObject(key, out.get("ETag", "").strip('"'), len(body), False)


def _exists(pipeline: Pipeline, key: str) -> bool:
    try:
        pipeline.client("s3").head_object(Bucket=pipeline.bucket, Key=key)
    except ClientError as e:
        if e.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def _delete(pipeline: Pipeline, *keys: str) -> None:
    for key in keys:
        pipeline.client("s3").delete_object(Bucket=pipeline.bucket, Key=key)


def _load(
    pipeline: Pipeline, objects: list[PlannedObject], conn: Any
) -> tuple[list[JobResult], str | None]:
    if not objects:
        return [], None
    if pipeline.local:
        batch = ReloadPlan(pipeline.where, pipeline.bucket, pipeline.staging_prefix, None, objects)
        done = reload_lib.execute(pipeline, batch, conn)
        return done.files, done.error
    # A deployed loader reloads a prefix: each object's own key is one.
    files: list[JobResult] = []
    for obj in objects:
        one = ReloadPlan(pipeline.where, pipeline.bucket, obj.key, None, [obj])
        done = reload_lib.execute(pipeline, one, conn)
        files += done.files
        if done.error:
            return files, done.error
    return files, None


def _already_loaded(conn: Any, objects: list[PlannedObject]) -> set[str]:
    if conn is None or not objects:
        return set()
    from loaders import ledger

    try:
        done = ledger.done_ids(conn, [ledger.job_id(o.key, o.etag) for o in objects])
    except Exception as e:
        if not is_missing_table(e):  # no ledger yet: nothing loaded
            raise
        return set()
    return {o.key for o in objects if ledger.job_id(o.key, o.etag) in done}


def execute(
    pipeline: Pipeline,
    planned: ErrorsPlan,
    conn: Any = None,
    progress: Callable[[ErrorEntry], None] | None = None,
) -> ErrorsResult:
    """Write the re-staged objects, load them (and quarantined files), clean up what loaded."""
    result = ErrorsResult(planned, [])
    for entry in planned.entries:
        outcome = _execute_entry(pipeline, entry, conn)
        result.outcomes.append(outcome)
        if progress:
            progress(entry)
        error = next((f.error for f in outcome.files if f.status in ("retry", "deferred")), None)
        if error:
            result.error = error
            break
    return result


def _execute_entry(pipeline: Pipeline, entry: ErrorEntry, conn: Any) -> EntryOutcome:
    if entry.kind == QUARANTINED_FILE:
        return _reload_file(pipeline, entry, conn)
    objects = [_put(pipeline, key, lines) for key, lines in sorted(entry.staged.items())]
    skipped: list[JobResult] = []
    if entry.kind == PROCESSING_FAILED:
        # The same records re-transformed into the same bytes: loaded before, not again.
        done = _already_loaded(conn, objects)
        skipped = [JobResult(o.key, status="skipped") for o in objects if o.key in done]
        objects = [o for o in objects if o.key not in done]
    files, _ = _load(pipeline, objects, conn)
    files = skipped + files
    settled = all(f.status in ("loaded", "skipped") for f in files) and len(files) == len(
        entry.staged
    )
    if entry.kind == PROCESSING_FAILED:
        resolved = settled and not entry.still_failing and not any(f.quarantined for f in files)
        if resolved:
            _delete(pipeline, entry.source)
        reasons = sorted(set(entry.still_failing))
        return EntryOutcome(entry, files, resolved, len(entry.still_failing), reasons)
    return _settle_rows(pipeline, entry, files, settled)


def _settle_rows(
    pipeline: Pipeline, entry: ErrorEntry, files: list[JobResult], settled: bool
) -> EntryOutcome:
    """Quarantined rows after their reload: the source object keeps exactly the rows that failed."""
    root = pipeline.quarantine_prefix.rstrip("/") + "/"
    again: list[bytes] = []
    reasons: dict[str, None] = {}
    for f in files:
        requarantined = root + f.key + ROWS_SUFFIX
        if f.quarantined and _exists(pipeline, requarantined):
            data = inspection.read_object(pipeline, requarantined)
            for doc in _ndjson(data):
                if isinstance(doc, dict) and doc.get("_reason"):
                    reasons.setdefault(str(doc["_reason"]), None)
            again.append(data if data.endswith(b"\n") or not data else data + b"\n")
            _delete(pipeline, requarantined)
    remaining = sum(f.quarantined for f in files) + len(entry.still_failing)
    resolved = settled and remaining == 0
    if resolved:
        _delete(pipeline, entry.source)
    elif again and not entry.still_failing:
        pipeline.client("s3").put_object(
            Bucket=pipeline.bucket, Key=entry.source, Body=b"".join(again)
        )
    return EntryOutcome(entry, files, resolved, remaining, list(reasons))


def _reload_file(pipeline: Pipeline, entry: ErrorEntry, conn: Any) -> EntryOutcome:
    key = entry.reload_key
    assert key is not None
    copy = pipeline.quarantine_prefix.rstrip("/") + "/" + key
    if not _exists(pipeline, key):
        if not _exists(pipeline, copy):
            raise OperatorError(
                f"Neither {key} nor its quarantined copy exists any more; nothing to reload."
            )
        pipeline.client("s3").copy_object(
            Bucket=pipeline.bucket, Key=key, CopySource={"Bucket": pipeline.bucket, "Key": copy}
        )
    head = pipeline.client("s3").head_object(Bucket=pipeline.bucket, Key=key)
    obj = PlannedObject(key, head["ETag"].strip('"'), int(head.get("ContentLength", 0)), False)
    files, _ = _load(pipeline, [obj], conn)
    resolved = len(files) == 1 and files[0].status == "loaded"
    if resolved:
        _delete(pipeline, entry.source, copy)
    reasons = [f.error for f in files if f.error]
    return EntryOutcome(entry, files, resolved, 0 if resolved else 1, reasons)
