"""Where the loader puts what it will not load: S3 objects under the quarantine prefix.

A whole file (corrupt, unreadable, not a staging object) is copied to
``<quarantine_prefix>/<original key>`` with ``.reason.json`` beside it;
rejected rows of an otherwise good file go to ``<original key>.rows.ndjson``,
one JSON object per row with its ``_reason``. Names derive from the source
key, so a rerun overwrites rather than duplicates.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

# Beside a quarantined copy of a whole file: why. Of a loaded file's rejected rows: the rows.
REASON_SUFFIX = ".reason.json"
ROWS_SUFFIX = ".rows.ndjson"


class Quarantine(Protocol):
    def put_rows(self, source_key: str, rows: list[dict[str, Any]]) -> None: ...

    def put_file(self, source_key: str, data: bytes | None, reason: str) -> None: ...


class S3Quarantine:
    def __init__(self, s3: Any, bucket: str, prefix: str) -> None:
        self.s3, self.bucket, self.prefix = s3, bucket, prefix.strip("/")

    def key_for(self, source_key: str, suffix: str = "") -> str:
        return f"{self.prefix}/{source_key}{suffix}"

    def put_rows(self, source_key: str, rows: list[dict[str, Any]]) -> None:
        body = b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows)
        self.s3.put_object(Bucket=self.bucket, Key=self.key_for(source_key, ROWS_SUFFIX), Body=body)

    def put_file(self, source_key: str, data: bytes | None, reason: str) -> None:
        if data is not None:
            self.s3.put_object(Bucket=self.bucket, Key=self.key_for(source_key), Body=data)
        self.s3.put_object(
            Bucket=self.bucket,
            Key=self.key_for(source_key, REASON_SUFFIX),
            Body=orjson.dumps({"source_key": source_key, "reason": reason}),
        )


class MemoryQuarantine:
    """Keeps quarantined rows and files in memory (tests, benchmarks, dry runs)."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.files: dict[str, str] = {}

    def put_rows(self, source_key: str, rows: list[dict[str, Any]]) -> None:
        self.rows[source_key] = rows

    def put_file(self, source_key: str, data: bytes | None, reason: str) -> None:
        self.files[source_key] = reason
