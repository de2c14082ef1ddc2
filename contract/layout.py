"""Where staging objects live in the bucket and how they are written: one definition for all.

    <staging_prefix>/table=<source table>/YYYY/MM/DD/HH/<object>.gz

Firehose writes the data objects through ``firehose_data_prefix`` (the stack
and the local Firehose driver build it from here), backfill and ``reload
--errors`` write their own objects with ``staging_key`` and ``gzip_lines``,
and the loader, discovery and the operator tools read keys back with
``table_of`` and ``hour_folder``. The hour is the UTC hour the object was
written in (Firehose: its arrival), not the hour of the changes inside.
"""

from __future__ import annotations

import gzip
import re
import time
from collections.abc import Iterable

PARTITION_KEY = "table"
HOUR_FORMAT = "%Y/%m/%d/%H"
SUFFIX = ".gz"
# Firehose's expression for the hour folders (Java date pattern, UTC).
FIREHOSE_HOUR = "!{timestamp:yyyy/MM/dd/HH}"
# The documented form, for messages that tell an operator what a staging key looks like.
KEY_FORM = f"{PARTITION_KEY}=<name>/YYYY/MM/DD/HH/<object>{SUFFIX}"


def table_prefix(staging_prefix: str, table: str) -> str:
    """The folder of one source table's staging objects (with a trailing slash)."""
    return f"{staging_prefix.strip('/')}/{PARTITION_KEY}={table}/"


def hour_folder(epoch_seconds: float) -> str:
    """``YYYY/MM/DD/HH`` of a moment, UTC."""
    return time.strftime(HOUR_FORMAT, time.gmtime(epoch_seconds))


def staging_key(staging_prefix: str, table: str, epoch_seconds: float, name: str) -> str:
    """The key of a staging object named ``name`` (``.gz`` added if missing), written then."""
    if not name.endswith(SUFFIX):
        name += SUFFIX
    return f"{table_prefix(staging_prefix, table)}{hour_folder(epoch_seconds)}/{name}"


def firehose_data_prefix(staging_prefix: str) -> str:
    """Firehose's S3 prefix for the data: the table from the transform's partition key."""
    table = f"!{{partitionKeyFromLambda:{PARTITION_KEY}}}"
    return f"{staging_prefix.strip('/')}/{PARTITION_KEY}={table}/{FIREHOSE_HOUR}/"


def firehose_error_prefix(error_prefix: str) -> str:
    """Firehose's S3 prefix for records it could not deliver, split by error type."""
    return f"{error_prefix.strip('/')}/!{{firehose:error-output-type}}/{FIREHOSE_HOUR}/"


def table_of(key: str, staging_prefix: str) -> str | None:
    """The source table of a staging key, or None when the key is not a staging object."""
    m = re.fullmatch(
        re.escape(staging_prefix.strip("/"))
        + rf"/{PARTITION_KEY}=([^/]+)/\d{{4}}/\d{{2}}/\d{{2}}/\d{{2}}/[^/]+{re.escape(SUFFIX)}",
        key,
    )
    return m.group(1) if m else None


def gzip_lines(lines: Iterable[bytes], *, level: int = 6) -> bytes:
    """A staging object's body: the lines, gzip-compressed with no timestamp in the header
    (the same lines always give the same bytes, so a rewrite keeps its ETag)."""
    return gzip.compress(b"".join(lines), compresslevel=level, mtime=0)
