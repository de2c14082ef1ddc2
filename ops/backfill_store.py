"""Where a backfill writes: staging objects named per page, and its checkpoints.

Backfill pages are ordinary staging objects (gzip NDJSON of ``contract.staging``
lines) under the normal layout, so the loader, its ledger and its version guard
treat them like Firehose output::

    <staging_prefix>/table=<T>/YYYY/MM/DD/HH/backfill-<run>-<segment>-<page>.gz

The hour is the run's start hour, fixed for the whole run, and the name depends
only on (run, segment, page): a page written again after an interruption
replaces the same object. Pages are gzipped with mtime 0, so a page re-read
with the same content gets the same ETag and the ledger skips it.

Checkpoints live next to the staging prefix, never under it (the loader and the
S3 event notification only look at the staging prefix)::

    <state_prefix>/table=<T>/run=<run>/run.json          what the run is
    <state_prefix>/table=<T>/run=<run>/segment-0003.json  how far segment 3 got

A segment checkpoint is written after its page object, so it never claims a
page that is not in S3; at worst the page after it was written but not
recorded, and a resumed run writes that one page again.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from contract import layout

# Run ids appear in object names and event ids: keep them to a safe alphabet.
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
DEFAULT_STATE_PREFIX = "backfill"


@dataclass
class RunState:
    """What a backfill run is; fixed when it starts, ``done`` set when it finishes."""

    run: str
    table: str
    source: str  # "scan" | "export"
    version_us: int  # the version every line of this run carries
    segments: int
    page_items: int
    hour: str  # YYYY/MM/DD/HH of the run's start, shared by all its objects
    started: str
    export: str | None = None  # s3://bucket/prefix of the export (export source)
    done: bool = False


@dataclass
class SegmentState:
    """How far one segment (a scan segment or an export data file) got."""

    segment: int
    pages: int = 0
    items: int = 0
    # Scan: the typed LastEvaluatedKey to continue from. Export: lines consumed.
    last_key: dict[str, Any] | None = None
    lines: int = 0
    done: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Store:
    """Staging objects and checkpoints of backfill runs in one bucket."""

    def __init__(
        self, s3: Any, bucket: str, staging_prefix: str, state_prefix: str = DEFAULT_STATE_PREFIX
    ) -> None:
        staging = staging_prefix.strip("/")
        state = state_prefix.strip("/")
        if state == staging or state.startswith(staging + "/"):
            raise ValueError("the backfill state prefix must lie outside the staging prefix")
        self.s3 = s3
        self.bucket = bucket
        self.staging_prefix = staging
        self.state_prefix = state

    def page_key(self, run: RunState, segment: int, page: int) -> str:
        return f"{self.run_objects_prefix(run)}{segment:04d}-{page:06d}{layout.SUFFIX}"

    def run_objects_prefix(self, run: RunState) -> str:
        return (
            f"{layout.table_prefix(self.staging_prefix, run.table)}{run.hour}/backfill-{run.run}-"
        )

    def write_page(self, key: str, lines: list[bytes]) -> None:
        # Level 1: staging objects are short-lived, and the loader reads them once.
        body = layout.gzip_lines(lines, level=1)
        self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType="application/x-ndjson"
        )

    def run_keys(self, run: RunState) -> list[str]:
        """Every staging object this run has written so far, in name order."""
        keys: list[str] = []
        token: dict[str, str] = {}
        # Bounded: one listing page per 1000 objects; a run has at most segments x pages.
        for _ in range(100_000):
            out = self.s3.list_objects_v2(
                Bucket=self.bucket, Prefix=self.run_objects_prefix(run), **token
            )
            keys.extend(o["Key"] for o in out.get("Contents", []))
            if not out.get("IsTruncated"):
                break
            token = {"ContinuationToken": out["NextContinuationToken"]}
        return sorted(keys)

    def _run_dir(self, table: str, run: str) -> str:
        return f"{self.state_prefix}/table={table}/run={run}"

    def save_run(self, run: RunState) -> None:
        self._put_json(f"{self._run_dir(run.table, run.run)}/run.json", asdict(run))

    def load_run(self, table: str, run: str) -> RunState | None:
        doc = self._get_json(f"{self._run_dir(table, run)}/run.json")
        return RunState(**doc) if doc is not None else None

    def save_segment(self, run: RunState, seg: SegmentState) -> None:
        self._put_json(
            f"{self._run_dir(run.table, run.run)}/segment-{seg.segment:04d}.json", asdict(seg)
        )

    def load_segment(self, run: RunState, segment: int) -> SegmentState:
        doc = self._get_json(f"{self._run_dir(run.table, run.run)}/segment-{segment:04d}.json")
        return SegmentState(**doc) if doc is not None else SegmentState(segment)

    def unfinished_runs(self, table: str) -> list[RunState]:
        """Runs of this table that have not finished, newest first."""
        prefix = f"{self.state_prefix}/table={table}/run="
        runs = []
        token: dict[str, str] = {}
        for _ in range(10_000):
            out = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix, **token)
            for o in out.get("Contents", []):
                if o["Key"].endswith("/run.json"):
                    doc = self._get_json(o["Key"])
                    if doc is not None and not doc.get("done"):
                        runs.append(RunState(**doc))
            if not out.get("IsTruncated"):
                break
            token = {"ContinuationToken": out["NextContinuationToken"]}
        return sorted(runs, key=lambda r: r.started, reverse=True)

    def _put_json(self, key: str, doc: dict[str, Any]) -> None:
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=json.dumps(doc, sort_keys=True).encode(),
            ContentType="application/json",
        )

    def _get_json(self, key: str) -> dict[str, Any] | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as e:
            if e.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise
        doc = json.loads(body)
        return doc if isinstance(doc, dict) else None
