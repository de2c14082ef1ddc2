"""Staging lines and objects for loader tests, built with the contract's own encoder."""

from __future__ import annotations

import gzip
import time
import uuid
from typing import Any

import orjson

from contract import values
from contract.staging import StagingLine, encode_line, key_text

# Versions in tests are offsets from now: tombstones older than the retention are pruned.
T0 = int(time.time()) * 1_000_000


def change(
    table: str,
    key: dict[str, Any],
    item: dict[str, Any] | None,
    version: int,
    seq: str = "1",
    *,
    ttl: bool = False,
) -> bytes:
    """One staging line at version ``T0 + version``: ``item`` None is a REMOVE (typed values)."""
    ktext, letters = key_text(key)
    plain, types = (None, None)
    if item is not None:
        raw, tmap = values.to_plain({**item, **key})
        plain, types = raw.decode(), (orjson.dumps(tmap).decode() if tmap else None)
    return encode_line(
        StagingLine(
            table=table,
            op="REMOVE" if item is None else "MODIFY",
            key=ktext,
            key_types=letters,
            item=plain,
            item_types=types,
            version_us=T0 + version,
            seq=seq,
            ttl_delete=ttl,
            event_id=uuid.uuid4().hex,
            arrival_ms=(T0 + version) // 1000,
        )
    )


def staging_key(table: str, name: str | None = None, hour: str = "2026/11/25/13") -> str:
    return f"staging/table={table}/{hour}/{name or uuid.uuid4().hex}.gz"


def gz(lines: list[bytes]) -> bytes:
    return gzip.compress(b"".join(lines))


def obj(table: str, lines: list[bytes], name: str | None = None) -> tuple[str, str, bytes]:
    """(key, etag, gzip bytes) as ``load_staging_bytes`` takes them."""
    data = gz(lines)
    return staging_key(table, name), uuid.uuid4().hex, data
