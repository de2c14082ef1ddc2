"""``ddbload replay FILE --database NAME``: reproduce what production saw, locally.

The file holds captured DynamoDB Kinesis-destination records, one JSON object
per line (the ``data`` of each Kinesis record); lines may repeat or come out
of order, as Kinesis delivers them. Each line is put on a Kinesis stream of
its own replay pipeline in the local moto server (stream, bucket, work queue
and secret named for this run, so the demo's pipeline is not disturbed), then
goes through the local Firehose driver with the REAL transform, gzip objects
in S3, and scheduler ticks of the REAL loader into MariaDB database ``NAME``
(created if missing). A line that is not a valid record becomes a
processing failure under the error prefix, as in production.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from contract.config import IDENTIFIER, PipelineConfig, load_cdk_json
from localmode import resources, server, state
from localmode.aws import Clients
from localmode.demo import ensure_database, load_until_done
from localmode.drivers.firehose import FirehoseDriver
from localmode.drivers.stream_to_kinesis import partition_key

Progress = Callable[[str, int, int | None], None]
_PUT_BATCH = 500


@dataclass
class ReplaySummary:
    database: str
    records: int
    ok: int
    processing_failed: int
    dropped: int
    files: int
    error_files: int
    rows_applied: int
    rows_deleted: int
    stale_skipped: int
    rows_quarantined: int
    loader_runs: int
    error_objects: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _lines(path: str | os.PathLike[str]) -> Iterator[bytes]:
    with open(path, "rb") as f:
        for raw in f:
            line = raw.rstrip(b"\r\n")
            if line.strip():
                yield line


def _partition_key(line: bytes) -> str:
    try:
        return partition_key(json.loads(line))
    except Exception:
        # Not a record we can key: any shard will do, the transform will reject it.
        return hashlib.md5(line).hexdigest().upper()


def replay(
    path: str | os.PathLike[str],
    database: str,
    *,
    config: PipelineConfig | None = None,
    state_path: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> ReplaySummary:
    """Push captured Kinesis-destination records through the local pipeline into ``database``.

    Starts the local moto server if it is not running. Raises ``LocalModeError``
    for a bad database name or a missing file.
    """
    if not IDENTIFIER.fullmatch(database):
        raise server.LocalModeError(f"{database!r} is not a valid MariaDB database name.")
    if not Path(path).is_file():
        raise server.LocalModeError(f"no such file: {path}")
    report = progress or (lambda label, done, total: None)
    status = server.status(state_path)
    if not status.running:
        status = server.up(state_path)
    assert status.endpoint
    run = uuid.uuid4().hex[:8]
    folder = state.state_dir(state_path) / f"replay-{run}"
    res = resources.create(
        status.endpoint,
        config or load_cdk_json(),
        database=database,
        state_path=folder,
        suffix=f"-replay-{run}",
        with_tables=False,
    )
    ensure_database(res)
    aws = Clients(res.endpoint)

    lines = list(_lines(path))
    for start in range(0, len(lines), _PUT_BATCH):
        chunk = lines[start : start + _PUT_BATCH]
        got = aws.kinesis.put_records(
            StreamName=res.kinesis_stream,
            Records=[{"Data": line, "PartitionKey": _partition_key(line)} for line in chunk],
        )
        if got.get("FailedRecordCount"):
            raise server.LocalModeError(f"Kinesis refused {got['FailedRecordCount']} records.")
        report("records -> Kinesis", start + len(chunk), len(lines))

    stats = FirehoseDriver(res, state_path=folder, clients=aws).deliver()
    report("Kinesis -> transform -> S3", stats.records, len(lines))
    runs, totals = load_until_done(res, stats.objects)
    report("scheduled loader -> MariaDB", totals["files_done"], len(stats.objects))
    return ReplaySummary(
        database=database,
        records=len(lines),
        ok=stats.ok,
        processing_failed=stats.processing_failed,
        dropped=stats.dropped,
        files=len(stats.objects),
        error_files=len(stats.error_objects),
        rows_applied=totals["rows_applied"],
        rows_deleted=totals["rows_deleted"],
        stale_skipped=totals["stale_skipped"],
        rows_quarantined=totals["rows_quarantined"],
        loader_runs=runs,
        error_objects=stats.error_objects,
    )
