"""``ddbload demo``: the whole pipeline on this machine, then proof that nothing was lost.

Brings the local stack up (if it is not), seeds the tables with items before
streaming starts and backfills them (``ops.backfill``, scan path), then
writes a realistic workload to the DynamoDB tables with boto3 in bursts
(updating and deleting seeded items too), and after each burst pumps it through
the local drivers and the real handlers: DynamoDB stream -> Kinesis
(destination format) -> Firehose driver + real transform -> gzip staging
objects in S3 (S3 events -> SQS work queue) -> scheduler tick -> real loader ->
MariaDB. Then it reconciles DynamoDB with MariaDB (``ops.verify``) and
returns a summary. The stack keeps running, so ``ddbload inspect`` and
``ddbload reload`` can be tried next.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import pymysql

from contract.config import IDENTIFIER, SYSTEM_PREFIX, PipelineConfig, load_cdk_json
from loaders.sql import quote
from localmode import resources, server
from localmode.aws import Clients
from localmode.drivers.firehose import DeliveryStats, FirehoseDriver
from localmode.drivers.scheduler import tick
from localmode.drivers.stream_to_kinesis import StreamToKinesis
from localmode.resources import LocalResources
from localmode.workload import Workload
from ops.latency import measure as measure_latency

# (stage label, units done so far, total or None when unknown); same as ops.verify.Progress
Progress = Callable[[str, int, int | None], None]
DEFAULT_ITEMS = 1000
BURSTS = 4
MAX_LOADER_RUNS = 30
SEED_ITEMS = 120  # items the tables hold before streaming starts (backfilled, not streamed)


@dataclass
class DemoSummary:
    """What the demo did and found; ``ok`` when the reconciliation shows no difference."""

    endpoint: str
    database: str
    changes_written: dict[str, int]  # after streaming started (the seeded items are not in it)
    items_seeded: int  # written before streaming started; they reach MariaDB by backfill
    items_backfilled: int
    backfill_files: int
    backfill_rows_applied: int
    stream_records: int
    staging_files: int
    error_files: int
    records_ok: int
    records_failed: int
    rows_applied: int
    rows_deleted: int
    stale_skipped: int
    rows_quarantined: int
    loader_runs: int
    # Commit time minus change time of every streamed change (ops.latency): p50, p90,
    # p99, max and a histogram; None if nothing was committed.
    latency: dict[str, Any] | None
    elapsed_seconds: float
    reconciliation: list[dict[str, Any]] = field(default_factory=list)
    ok: bool = False
    next_steps: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ensure_stack(
    config: PipelineConfig | None = None,
    *,
    database: str | None = None,
    state_path: str | os.PathLike[str] | None = None,
) -> LocalResources:
    """The running local stack's resources, with their MariaDB database; starts the server
    and creates them if needed.

    A freshly started server holds empty DynamoDB tables, so the pipeline's MariaDB tables
    (targets, ledger, tombstones) from an earlier local stack are emptied too: otherwise
    the new stack's reconciliation would find the old run's rows.
    """
    status = server.status(state_path)
    if status.running:
        try:
            found = resources.load(state_path)
        except server.LocalModeError:
            found = None
        wanted = config.to_json() if config else None
        if (
            found
            and found.endpoint == status.endpoint
            and (wanted is None or found.config_json == wanted)
            and (database is None or found.database == database)
        ):
            if resources.follows_mariadb_url(found):
                return found
            # MARIADB_URL names another server (or account, or TLS) than when the stack was
            # made: point the same stack and database at it.
            config, database = found.config, found.database
    fresh = not status.running
    if fresh:
        status = server.up(state_path)
    assert status.endpoint
    res = resources.create(
        status.endpoint, config or load_cdk_json(), database=database, state_path=state_path
    )
    ensure_database(res)
    if fresh:
        _empty_pipeline_tables(res)
    return res


def ensure_database(res: LocalResources) -> None:
    """Create the MariaDB database the secret names, if it is missing."""
    if not IDENTIFIER.fullmatch(res.database):
        raise server.LocalModeError(f"{res.database!r} is not a valid MariaDB database name.")
    conn = _open(res, with_database=False)
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"CREATE DATABASE IF NOT EXISTS `{res.database}` "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            )
    finally:
        conn.close()


def _empty_pipeline_tables(res: LocalResources) -> None:
    """Drop the local pipeline's own MariaDB tables: its targets and ``_ddbload_*`` tables."""
    conn = connect(res)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                [res.database],
            )
            present = {name for (name,) in cur.fetchall()}
            owned = {m.target for m in res.config.tables.values()}
            doomed = sorted(n for n in present if n in owned or n.startswith(SYSTEM_PREFIX))
            for name in doomed:
                cur.execute(f"DROP TABLE {quote(name)}")
    finally:
        conn.close()


def connect(res: LocalResources) -> Any:
    """A connection to the stack's database with the credentials from its secret."""
    return _open(res, with_database=True)


def _open(res: LocalResources, *, with_database: bool) -> Any:
    """A connection as the loader makes it: the secret's server and account (built from
    ``MARIADB_URL``), the stack's TLS setting, and the secret's database if asked."""
    import json

    from loaders.db import tls_policy

    aws = Clients(res.endpoint)
    secret = json.loads(
        aws.secretsmanager.get_secret_value(SecretId=res.db_secret_arn)["SecretString"]
    )
    tls = tls_policy(secret["host"], res.db_tls, res.db_ca_bundle)
    return pymysql.connect(
        host=secret["host"],
        port=int(secret["port"]),
        user=secret["username"],
        password=secret["password"],
        database=secret["dbname"] if with_database else None,
        autocommit=True,
        **tls.connect_kwargs(),
    )


def _queue_depth(aws: Clients, url: str) -> int:
    attrs = aws.sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def load_until_done(
    res: LocalResources, keys: list[str], *, max_runs: int = MAX_LOADER_RUNS
) -> tuple[int, dict[str, int]]:
    """Scheduler ticks until every staging object in ``keys`` is in the ledger (or runs run out).

    Returns (loader runs, ledger totals of those objects).
    """
    from loaders import ledger

    runs = 0
    conn = connect(res)
    try:
        for _ in range(max_runs):
            tick(res)
            runs += 1
            ledger.ensure_ledger(conn)
            done = ledger.done_keys(conn, keys) if keys else set()
            if len(done) == len(set(keys)):
                break
        rows = ledger.ledger_rows(conn, keys) if keys else []
    finally:
        conn.close()
    totals = {
        "rows_applied": sum(r.rows_applied for r in rows if r.status in ledger.DONE),
        "rows_deleted": sum(r.rows_deleted for r in rows if r.status in ledger.DONE),
        "stale_skipped": sum(r.stale_skipped for r in rows if r.status in ledger.DONE),
        "rows_quarantined": sum(r.rows_quarantined for r in rows if r.status in ledger.DONE),
        "files_done": len({r.s3_key for r in rows if r.status in ledger.DONE}),
    }
    return runs, totals


@dataclass
class BackfillStats:
    """What the seeding step put in DynamoDB before streaming started, and what backfilled it."""

    items_seeded: int = 0
    items_backfilled: int = 0
    files: int = 0
    rows_applied: int = 0
    loader_runs: int = 0


def seed_and_backfill(
    res: LocalResources, workload: Workload, progress: Progress | None, *, items: int = SEED_ITEMS
) -> BackfillStats:
    """Seed ``items`` items before streaming starts, then backfill them (scan path).

    The stream driver's checkpoints move past the seeded inserts, so they never
    reach Kinesis: only the backfill carries them to MariaDB, as in a real
    deployment attached to a table that already holds data. The backfill's
    pages are ordinary staging objects; the scheduled loader takes them.
    """
    from ops import backfill
    from ops.backfill_store import Store

    report = progress or (lambda label, done, total: None)
    stats = BackfillStats()
    for i in range(items):
        workload.insert(workload.rng.choice(workload.tables))
        report("seed items before streaming starts", i + 1, items)
    stats.items_seeded = items
    StreamToKinesis(res, state_path=workload.state_path, clients=workload.aws).skip_pending()
    store = Store(workload.aws.s3, res.bucket, res.staging_prefix)
    keys: list[str] = []
    for table in workload.tables:
        # moto's parallel scan fails on a binary partition key (it hashes it as text).
        binary_key = res.config.tables[table].keys[0].type == "B"

        def backfill_progress(p: backfill.BackfillProgress, t: str = table) -> None:
            report(f"backfill {t}", p.items, p.estimated_items)

        result = backfill.run(
            workload.aws.dynamodb,
            workload.aws.s3,
            store,
            res.config,
            table,
            backfill.Options(segments=1 if binary_key else 2, page_items=50),
            progress=backfill_progress,
        )
        stats.items_backfilled += result.items
        keys += result.keys
    stats.files = len(keys)
    stats.loader_runs, totals = load_until_done(res, keys)
    stats.rows_applied = totals["rows_applied"]
    return stats


def run_demo(
    items: int = DEFAULT_ITEMS,
    *,
    config: PipelineConfig | None = None,
    database: str | None = None,
    state_path: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    seed: int = 7,
    seed_items: int = SEED_ITEMS,
) -> DemoSummary:
    """Run the local end-to-end demo with about ``items`` new items; return its summary.

    First ``seed_items`` items are written before streaming starts and backfilled.

    ``progress(label, done, total)`` is called as work advances (a no-op when None).
    The local stack is left running.
    """
    from ops.verify import verify

    started = time.monotonic()
    report = progress or (lambda label, done, total: None)
    res = ensure_stack(config, database=database, state_path=state_path)
    aws = Clients(res.endpoint)
    workload = Workload(
        res.config, aws, run_id=uuid.uuid4().hex[:8], seed=seed, state_path=state_path
    )
    seeded = seed_and_backfill(res, workload, progress, items=seed_items)
    seeded_changes = Counter(workload.stats.changes)

    stream = StreamToKinesis(res, state_path=state_path, clients=aws)
    # Buffer interval 0: each pump is a delivery, so every burst makes its own objects.
    hose = FirehoseDriver(res, state_path=state_path, clients=aws, buffer_seconds=0)
    delivered = DeliveryStats()
    forwarded = 0
    runs = seeded.loader_runs
    staging_keys: list[str] = []
    per_burst = max(1, items // BURSTS)
    for burst in range(BURSTS):
        count = per_burst if burst < BURSTS - 1 else items - per_burst * (BURSTS - 1)
        workload.burst(count)
        report("write changes to DynamoDB", workload.stats.total, None)
        forwarded += stream.pump()
        report("DynamoDB stream -> Kinesis", forwarded, None)
        stats = hose.deliver()
        delivered.add(stats)
        staging_keys += stats.objects
        report("Kinesis -> transform -> S3", delivered.records, forwarded)
        more, _ = load_until_done(res, stats.objects)
        runs += more
        report("scheduled loader -> MariaDB", burst + 1, BURSTS)
    _, totals = load_until_done(res, staging_keys, max_runs=1)
    runs += 1

    conn = connect(res)
    try:
        # Streamed changes only: a backfilled item's version is the backfill's start
        # (minus a margin), not when the item changed.
        latency = measure_latency(conn, aws.s3, res.bucket, staging_keys)

        def verify_progress(label: str, done: int, total: int | None) -> None:
            report(f"verify: {label}", done, total)

        reconciliation = verify(res.config, aws.dynamodb, conn, progress=verify_progress)
    finally:
        conn.close()
    ok = all(r.ok for r in reconciliation)
    return DemoSummary(
        endpoint=res.endpoint,
        database=res.database,
        changes_written=dict(workload.stats.changes - seeded_changes),
        items_seeded=seeded.items_seeded,
        items_backfilled=seeded.items_backfilled,
        backfill_files=seeded.files,
        backfill_rows_applied=seeded.rows_applied,
        stream_records=forwarded,
        staging_files=len(staging_keys),
        error_files=len(delivered.error_objects),
        records_ok=delivered.ok,
        records_failed=delivered.processing_failed,
        rows_applied=totals["rows_applied"],
        rows_deleted=totals["rows_deleted"],
        stale_skipped=totals["stale_skipped"],
        rows_quarantined=totals["rows_quarantined"],
        loader_runs=runs,
        latency=latency.as_dict() if latency else None,
        elapsed_seconds=round(time.monotonic() - started, 3),
        reconciliation=[r.to_dict() for r in reconciliation],
        ok=ok,
        next_steps=[
            "The local stack is still running; look around with:",
            "  ddbload inspect --local",
            "  ddbload reload --local --prefix staging/ --dry-run",
            "  ddbload verify --local",
            "Stop it with: ddbload local down",
        ],
    )
