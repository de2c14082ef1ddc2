"""Where a backfill reads items: a parallel scan of the table, or a DynamoDB export in S3.

Both sources hand out pages of typed DynamoDB items (``{"attr": {"S": ...}}``,
binary as base64 text, as on the wire) per *segment*, resuming from a
``SegmentState``: a scan segment continues after its ``LastEvaluatedKey``, an
export data file after the lines already consumed.

* ``ScanSource``: ``Scan`` with ``Segment``/``TotalSegments``, each segment in
  its own thread, under a shared ``RateLimiter`` (items/s or read capacity
  units/s from ``ReturnConsumedCapacity``) so a production table is not
  throttled.
* ``ExportSource``: an existing export (``ExportTableToPointInTime``, format
  DYNAMODB_JSON) given as ``s3://bucket/prefix``. Layout, as AWS documents it:
  ``<prefix>/AWSDynamoDB/<ExportId>/manifest-summary.json`` (exportTime,
  tableArn, outputFormat, manifestFilesS3Key, itemCount),
  ``manifest-files.json`` (one JSON object per line: dataFileS3Key, itemCount,
  md5Checksum, etag) and ``data/*.json.gz`` (one ``{"Item": {...}}`` per line).
  Everything but the data lines is checked before the first page is written.
"""

from __future__ import annotations

import base64
import gzip
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

import orjson
from botocore.exceptions import ClientError

from ops.backfill_store import SegmentState


class BackfillError(Exception):
    """A backfill that cannot start or go on; ``str()`` is one sentence saying why."""


class RateLimiter:
    """Average-rate bound shared by all segment threads: charge what a call used, wait it off."""

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("rate must be positive")
        self.per_second = per_second
        self._clock = clock
        self._sleep = sleep
        self._free_at = clock()
        self._lock = threading.Lock()

    def wait(self, stop: threading.Event | None = None) -> None:
        """Block until earlier charges are paid off (or ``stop`` is set)."""
        # Bounded: each round sleeps at most 1 s and the debt only shrinks while we wait.
        for _ in range(1_000_000):
            with self._lock:
                delay = self._free_at - self._clock()
            if delay <= 0 or (stop is not None and stop.is_set()):
                return
            self._sleep(min(delay, 1.0))

    def charge(self, amount: float) -> None:
        with self._lock:
            now = self._clock()
            self._free_at = max(self._free_at, now) + amount / self.per_second


# --- scan ------------------------------------------------------------------

_RAW = threading.local()
_RAW_HOOK_ID = "ddbload-backfill-raw-scan-items"


def _keep_raw_items(
    response_dict: dict[str, Any], customized_response_dict: dict, **_: Any
) -> None:
    """Take ``Items`` out of a Scan response body before botocore parses it.

    botocore walks every attribute value in Python and decodes binary to bytes;
    the staging contract wants the wire form (base64 text) and orjson parses
    the body many times faster. Only calls made by ``ScanSource`` (flag set on this
    thread) are touched; anything else on the same client parses as usual.
    """
    if not getattr(_RAW, "active", False) or response_dict.get("status_code") != 200:
        return
    doc = orjson.loads(response_dict["body"])
    customized_response_dict["RawItems"] = doc.pop("Items", [])
    # The continuation key too stays in wire form: it goes into a JSON checkpoint.
    if "LastEvaluatedKey" in doc:
        customized_response_dict["LastEvaluatedKey"] = doc.pop("LastEvaluatedKey")
    response_dict["body"] = orjson.dumps(doc)


def _boto_key(wire: dict[str, Any]) -> dict[str, Any]:
    """A wire-form key (binary as base64 text) as boto3 takes it (bytes; it encodes them)."""
    return {
        name: {"B": base64.b64decode(av["B"])} if "B" in av else av for name, av in wire.items()
    }


class ScanSource:
    """Pages of one table's items, by parallel scan segment."""

    kind = "scan"

    def __init__(
        self,
        dynamodb: Any,
        table: str,
        segments: int,
        page_items: int,
        *,
        rate_items: float | None = None,
        rate_rcu: float | None = None,
    ) -> None:
        if rate_items and rate_rcu:
            raise BackfillError("Give one read rate bound: items per second or RCU per second.")
        self.dynamodb = dynamodb
        self.table = table
        self.segments = segments
        self.page_items = page_items
        self.rate_unit = "rcu" if rate_rcu else "items"
        rate = rate_rcu or rate_items
        self.limiter = RateLimiter(rate) if rate else None
        # One call never reads more than a second's worth of the item budget.
        self.call_limit = max(1, min(page_items, int(rate_items))) if rate_items else page_items
        dynamodb.meta.events.register(
            f"before-parse.{dynamodb.meta.service_model.service_id.hyphenize()}.Scan",
            _keep_raw_items,
            unique_id=_RAW_HOOK_ID,
        )

    def pages(
        self, state: SegmentState, stop: threading.Event
    ) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any] | None]]:
        """(items, key to continue after) per page; the key is None at the segment's end."""
        start = state.last_key
        # Bounded: each round reads at least one scan call; a segment ends when
        # DynamoDB returns no LastEvaluatedKey.
        for _ in range(10**9):
            items: list[dict[str, Any]] = []
            while len(items) < self.page_items and not stop.is_set():
                if self.limiter:
                    self.limiter.wait(stop)
                limit = min(self.call_limit, self.page_items - len(items))
                out = self._scan(state.segment, start, limit)
                items.extend(out["RawItems"])
                if self.limiter:
                    used = (
                        out.get("ConsumedCapacity", {}).get("CapacityUnits", 0.5)
                        if self.rate_unit == "rcu"
                        else len(out["RawItems"])
                    )
                    self.limiter.charge(used)
                start = out.get("LastEvaluatedKey")
                if start is None:
                    break
            if stop.is_set():
                return
            yield items, start
            if start is None:
                return

    def _scan(self, segment: int, start: dict[str, Any] | None, limit: int) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Limit": limit,
            "ConsistentRead": True,
            "ReturnConsumedCapacity": "TOTAL",
        }
        if self.segments > 1:
            kwargs["Segment"] = segment
            kwargs["TotalSegments"] = self.segments
        if start:
            kwargs["ExclusiveStartKey"] = _boto_key(start)
        _RAW.active = True
        try:
            return self.dynamodb.scan(**kwargs)
        finally:
            _RAW.active = False


# --- export ----------------------------------------------------------------

_EXPORT_FORMAT = "DYNAMODB_JSON"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise BackfillError(f"The export location {uri!r} is not an s3://bucket/prefix URI.")
    return parsed.netloc, parsed.path.lstrip("/")


def _iso_to_us(text: Any) -> int:
    try:
        when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise BackfillError(f"The export's exportTime {text!r} is not an ISO 8601 time.") from None
    if when.tzinfo is None:
        raise BackfillError(f"The export's exportTime {text!r} has no time zone.")
    return int(when.timestamp()) * 1_000_000 + when.microsecond


class ExportSource:
    """Pages of a full DynamoDB export (DYNAMODB_JSON), one segment per data file."""

    kind = "export"

    def __init__(self, s3: Any, uri: str, table: str, page_items: int) -> None:
        self.s3 = s3
        self.uri = uri
        self.table = table
        self.page_items = page_items
        self.bucket, self.prefix = parse_s3_uri(uri)
        self.files: list[str] = []
        self.export_time_us = 0
        self.item_count = 0

    @property
    def segments(self) -> int:
        return len(self.files)

    def validate(self) -> None:
        """Read and check the manifests and every data file's presence and first line."""
        summary_key = self._find_summary()
        summary = self._json_object(summary_key, "manifest-summary.json")
        fmt = summary.get("outputFormat")
        if fmt != _EXPORT_FORMAT:
            raise BackfillError(
                f"The export at {self.uri} is in {fmt!r} format; backfill reads "
                f"{_EXPORT_FORMAT} exports (export again with ExportFormat={_EXPORT_FORMAT})."
            )
        kind = summary.get("exportType", "FULL_EXPORT")
        if kind != "FULL_EXPORT":
            raise BackfillError(
                f"The export at {self.uri} is an {kind}; backfill needs a FULL_EXPORT "
                "(the whole table at one point in time)."
            )
        arn = summary.get("tableArn")
        if not isinstance(arn, str) or arn.rsplit("/", 1)[-1] != self.table:
            raise BackfillError(
                f"The export at {self.uri} is of table {arn!r}, not of {self.table!r}."
            )
        self.export_time_us = _iso_to_us(summary.get("exportTime"))
        files_key = summary.get("manifestFilesS3Key")
        if not isinstance(files_key, str) or not files_key:
            raise BackfillError(
                f"The export's manifest-summary.json at s3://{self.bucket}/{summary_key} "
                "names no manifestFilesS3Key."
            )
        files_key = self._resolve(files_key, summary_key)
        entries = self._manifest_entries(files_key)
        expected = summary.get("itemCount")
        listed = sum(e["itemCount"] for e in entries)
        if isinstance(expected, int) and expected != listed:
            raise BackfillError(
                f"The export at {self.uri} is incomplete: its summary counts {expected} items "
                f"but its data files list {listed}."
            )
        self.item_count = listed
        self.files = [self._resolve(e["dataFileS3Key"], summary_key) for e in entries]
        for key in self.files:
            self._check_first_line(key)

    def pages(
        self, state: SegmentState, stop: threading.Event
    ) -> Iterator[tuple[list[dict[str, Any]], int | None]]:
        """(items, lines consumed so far) per page; None once the file is done."""
        key = self.files[state.segment]
        consumed = 0
        items: list[dict[str, Any]] = []
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        with gzip.GzipFile(fileobj=body) as lines:
            for number, raw in enumerate(lines, start=1):
                if stop.is_set():
                    return
                if number <= state.lines:
                    continue
                if raw.strip():
                    items.append(self._item(raw, key, number))
                consumed = number
                if len(items) >= self.page_items:
                    yield items, consumed
                    items = []
        yield items, None

    def _item(self, raw: bytes, key: str, number: int) -> dict[str, Any]:
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            doc = None
        if not isinstance(doc, dict) or not isinstance(doc.get("Item"), dict):
            raise BackfillError(
                f"Line {number} of export file s3://{self.bucket}/{key} is not a "
                '{"Item": {...}} line of a DYNAMODB_JSON full export.'
            )
        item: dict[str, Any] = doc["Item"]
        return item

    def _check_first_line(self, key: str) -> None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        except ClientError:
            raise BackfillError(
                f"The export data file s3://{self.bucket}/{key} listed in manifest-files.json "
                "is missing."
            ) from None
        try:
            with gzip.GzipFile(fileobj=body) as lines:
                first = next(iter(lines), b"")
        except (OSError, EOFError):
            raise BackfillError(
                f"The export data file s3://{self.bucket}/{key} is not gzip, "
                "as the data files of a DYNAMODB_JSON export are."
            ) from None
        if first.strip():
            self._item(first, key, 1)

    def _find_summary(self) -> str:
        if self.prefix.endswith("manifest-summary.json"):
            return self.prefix
        found: list[str] = []
        token: dict[str, str] = {}
        for _ in range(1000):
            try:
                out = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, **token)
            except ClientError as e:
                raise BackfillError(
                    f"Cannot list the export at {self.uri}: {e.response['Error']['Code']}."
                ) from None
            found += [
                o["Key"]
                for o in out.get("Contents", [])
                if o["Key"].endswith("/manifest-summary.json")
            ]
            if not out.get("IsTruncated"):
                break
            token = {"ContinuationToken": out["NextContinuationToken"]}
        if not found:
            raise BackfillError(
                f"No manifest-summary.json under {self.uri}; point --export at the prefix of a "
                "finished DynamoDB export (…/AWSDynamoDB/<ExportId>/)."
            )
        if len(found) > 1:
            raise BackfillError(
                f"{len(found)} exports under {self.uri}; point --export at one of them: "
                + ", ".join(f"s3://{self.bucket}/{k.rsplit('/', 1)[0]}/" for k in sorted(found)[:3])
                + "."
            )
        return found[0]

    def _resolve(self, key: str, summary_key: str) -> str:
        """A manifest key as stored: AWS writes it from the bucket root or from the export prefix."""
        root = summary_key.split("AWSDynamoDB/", 1)[0] if "AWSDynamoDB/" in summary_key else ""
        for candidate in (key, root + key):
            try:
                self.s3.head_object(Bucket=self.bucket, Key=candidate)
                return candidate
            except ClientError:
                continue
        raise BackfillError(
            f"The export file {key!r} named in the manifests of {self.uri} is not in "
            f"bucket {self.bucket}."
        )

    def _json_object(self, key: str, what: str) -> dict[str, Any]:
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            doc = None
        if not isinstance(doc, dict):
            raise BackfillError(
                f"The export's {what} at s3://{self.bucket}/{key} is not a JSON object."
            )
        return doc

    def _manifest_entries(self, key: str) -> list[dict[str, Any]]:
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        entries = []
        for number, line in enumerate(body.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                entry = None
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get("dataFileS3Key"), str)
                or type(entry.get("itemCount")) is not int
            ):
                raise BackfillError(
                    f"Line {number} of the export's manifest-files.json at s3://{self.bucket}/{key} "
                    "is not an object with dataFileS3Key and itemCount."
                )
            entries.append(entry)
        return entries
