"""Is the pipeline healthy? (``ddbload status``): per table freshness, latency, backlog, failures.

Reads the S3 staging listing (what exists), the loader's ledger in MariaDB (what
was loaded, failed or quarantined, when, the change times of each file, and how
each lane's last run ended), each lane's SQS queues (work waiting, notifications
that could not be handled) and, for a deployed pipeline, CloudWatch (what Kinesis
and Firehose still hold).

Two figures per table, defined in ``loaders.freshness``: **freshness**, the age of
the oldest change not yet committed to MariaDB (0 when nothing is pending), and
**end-to-end latency** over the last hour, commit time minus change time (p50 and
max). Pending changes are the staging objects not settled in the ledger (their
oldest change read from the heads of the earliest few) and, deployed, what the
stream and the delivery stream hold: their CloudWatch metrics are per stream, so
that age counts for a table only if it was written while the oldest held record
waited (nothing of a table nobody wrote to can be in them), besides the table's own
DynamoDB -> Kinesis replication age.

A table ``needs_attention`` when its freshness exceeds the objective
(``contract.config.freshness_objective``), never merely because it is idle, or when
it has failures or quarantine in the last 24 hours; a lane when its dead-letter
queue holds messages, its last run left files failed, or it has not run for three
periods.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from contract import lanes
from contract.config import freshness_objective
from loaders import freshness, ledger
from loaders.errors import is_missing_table
from ops import inspection
from ops.pipeline import Lane, Pipeline

WINDOW = timedelta(hours=24)
LATENCY_WINDOW = timedelta(hours=1)
# CloudWatch: a stream's figure is its newest data point this recent (none: nothing
# held); a table counts as written while the oldest held record waited when its write
# metrics show data in that wait plus this slack (they arrive a few minutes late).
METRIC_RECENT = timedelta(minutes=5)
WRITE_SLACK = timedelta(minutes=5)
_KINESIS_AGE = ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName")
_FIREHOSE_FRESHNESS = ("AWS/Firehose", "DeliveryToS3.DataFreshness", "DeliveryStreamName")
# Per table (AWS/DynamoDB, dimension TableName): writes, TTL deletes (which consume no
# write capacity), and the age of changes not yet replicated to Kinesis (milliseconds).
_TABLE_WRITES = ("ConsumedWriteCapacityUnits", "TimeToLiveDeletedItemCount")
_REPLICATION_AGE = "AgeOfOldestUnreplicatedRecord"


class _Attention:
    """A status whose ``attention`` lists what needs an operator (empty: nothing)."""

    attention: list[str]

    @property
    def needs_attention(self) -> bool:
        return bool(self.attention)

    def to_json(self) -> dict[str, Any]:
        # Every subclass is a dataclass; the mixin itself cannot say so to mypy.
        fields = asdict(self)  # type: ignore[call-overload]
        return {**fields, "needs_attention": self.needs_attention}


@dataclass
class TableStatus(_Attention):
    table: str
    target: str  # the MariaDB table it loads into
    # Age of the oldest change not yet committed to MariaDB; 0 when nothing is pending.
    freshness_seconds: float
    oldest_pending_change: str | None  # that change's time, when it is a staged one
    # Last hour, committed changes: commit time minus change time (None: none committed).
    latency_p50_seconds: float | None
    latency_max_seconds: float | None
    newest_change: str | None  # the newest change committed (over every committed file)
    backlog_objects: int
    backlog_bytes: int
    oldest_pending: str | None  # when the oldest pending object was written
    last_load: str | None
    failed_24h: int
    quarantined_files_24h: int
    quarantined_rows_24h: int
    attention: list[str] = field(default_factory=list)
    lane: str = ""  # the loader lane that loads it (contract.lanes)


@dataclass
class LaneStatus(_Attention):
    """One loader lane: what waits for it, and how its last run ended (``busy``: another
    run held a table's lock; ``failed``: files failed or the run stopped early)."""

    lane: str
    tables: list[str]
    backlog_objects: int
    backlog_bytes: int
    work_queue_messages: int | None  # None: the lane has no queue (the default lane)
    dead_letter_messages: int | None
    last_run_started: str | None
    last_run: str | None  # when its last run ended; None: no run reached the database yet
    last_outcome: str | None  # ok | busy | incomplete
    busy: bool
    failed: bool
    last_error: str | None
    attention: list[str] = field(default_factory=list)
    # The greatest freshness of its tables (the age of its oldest change not yet in MariaDB).
    freshness_seconds: float = 0.0


@dataclass
class PipelineStatus:
    where: str
    checked_at: str
    tables: list[TableStatus]
    dead_letter_messages: int | None
    work_queue_messages: int | None
    freshness_objective_seconds: int = 0
    # Deployed: what Kinesis and Firehose hold, from CloudWatch; None where not known.
    upstream: dict[str, float] | None = None
    attention: list[str] = field(default_factory=list)
    lanes: list[LaneStatus] = field(default_factory=list)

    @property
    def needs_attention(self) -> bool:
        return (
            bool(self.attention)
            or any(t.needs_attention for t in self.tables)
            or any(lane.needs_attention for lane in self.lanes)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "where": self.where,
            "checked_at": self.checked_at,
            "tables": [t.to_json() for t in self.tables],
            "lanes": [lane.to_json() for lane in self.lanes],
            "dead_letter_messages": self.dead_letter_messages,
            "work_queue_messages": self.work_queue_messages,
            "freshness_objective_seconds": self.freshness_objective_seconds,
            "upstream": self.upstream,
            "attention": self.attention,
            "needs_attention": self.needs_attention,
        }


def _iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="seconds")


def status(pipeline: Pipeline, conn: Any, now: datetime | None = None) -> PipelineStatus:
    """The pipeline's health, table by table (``conn``: a connection to its database)."""
    now = now or datetime.now(UTC)
    now_us = int(now.timestamp() * 1_000_000)
    objective = freshness_objective(pipeline.config.settings)
    staged = _staged(pipeline)
    done = _done(conn, [(key, etag) for objs in staged.values() for key, etag, _, _ in objs])
    per_table = _ledger_per_table(conn, now - WINDOW)
    latency = _latency(conn, now - LATENCY_WINDOW)
    names = sorted(set(pipeline.config.tables) | set(staged) | set(per_table))
    upstream = _upstream(pipeline, now)
    held = _held_upstream(pipeline, now, names, upstream)
    tables = []
    for name in names:
        pending = [
            (k, size, when) for k, etag, size, when in staged.get(name, []) if (k, etag) not in done
        ]
        facts = per_table.get(name, {})
        newest = facts.get("newest_change_us")
        oldest = freshness.pending_oldest_us(
            pipeline.client("s3"),
            pipeline.bucket,
            [k for k, _, _ in sorted(pending, key=lambda p: (p[2], p[0]))],
        )
        found = latency.get(name)
        t = TableStatus(
            table=name,
            target=pipeline.config.target_of(name),
            freshness_seconds=freshness.freshness_seconds(now_us, [oldest], held.get(name, 0.0)),
            oldest_pending_change=inspection.iso_us(oldest),
            latency_p50_seconds=round(found.p50_seconds, 3) if found else None,
            latency_max_seconds=round(found.max_seconds, 3) if found else None,
            newest_change=inspection.iso_us(newest),
            backlog_objects=len(pending),
            backlog_bytes=sum(size for _, size, _ in pending),
            oldest_pending=_iso(min((w for _, _, w in pending), default=None)),
            last_load=_iso(facts.get("last_load")),
            failed_24h=facts.get("failed", 0),
            quarantined_files_24h=facts.get("quarantined_files", 0),
            quarantined_rows_24h=facts.get("quarantined_rows", 0),
        )
        if t.failed_24h:
            t.attention.append(f"{t.failed_24h} files failed to load in the last 24 hours")
        if t.quarantined_files_24h or t.quarantined_rows_24h:
            t.attention.append(
                f"{t.quarantined_files_24h} files and {t.quarantined_rows_24h} rows quarantined "
                "in the last 24 hours"
            )
        if t.freshness_seconds > objective:
            t.attention.append(
                f"freshness {round(t.freshness_seconds)} s exceeds the objective of {objective} s"
            )
        tables.append(t)
    lane_list = _lanes(pipeline, conn, tables, now)
    result = PipelineStatus(
        where=pipeline.where,
        checked_at=_iso(now) or "",
        tables=tables,
        dead_letter_messages=_total(lane.dead_letter_messages for lane in lane_list),
        work_queue_messages=_total(lane.work_queue_messages for lane in lane_list),
        lanes=lane_list,
        freshness_objective_seconds=objective,
        upstream=upstream,
    )
    return result


def _lanes(
    pipeline: Pipeline, conn: Any, tables: list[TableStatus], now: datetime
) -> list[LaneStatus]:
    """Each lane's backlog (its tables'), queues and last run, from the lanes table."""
    runs = _lane_runs(conn)
    queues = {lane.name: lane for lane in pipeline.lanes}
    # A lane runs every schedule period: a last run older than a few is a lane stopped.
    overdue = timedelta(
        minutes=3 * pipeline.config.settings["schedule_minutes"],
        seconds=pipeline.config.settings["loader_timeout_seconds"],
    )
    out = []
    for name in lanes.lanes(pipeline.config):
        mine = [t for t in tables if lanes.lane_of(t.table, pipeline.config) == name]
        for t in mine:
            t.lane = name
        run = runs.get(name)
        lane_queues = queues.get(name) or Lane(name)
        lane = LaneStatus(
            lane=name,
            tables=[t.table for t in mine],
            backlog_objects=sum(t.backlog_objects for t in mine),
            backlog_bytes=sum(t.backlog_bytes for t in mine),
            work_queue_messages=_depth(pipeline, lane_queues.work_queue_url),
            dead_letter_messages=_depth(pipeline, lane_queues.dead_letter_queue_url),
            last_run_started=_iso(run.started_at) if run else None,
            last_run=_iso(run.finished_at) if run else None,
            last_outcome=run.outcome if run else None,
            busy=bool(run and run.outcome == "busy"),
            failed=bool(run and run.outcome == "incomplete" and (run.files_failed or run.error)),
            last_error=run.error if run else None,
            freshness_seconds=max((t.freshness_seconds for t in mine), default=0.0),
        )
        if lane.dead_letter_messages:
            lane.attention.append(
                f"its dead-letter queue holds {lane.dead_letter_messages} messages"
            )
        if lane.failed:
            lane.attention.append(f"its last run did not finish its files: {lane.last_error}")
        if run and now - run.finished_at.replace(tzinfo=UTC) > overdue:
            lane.attention.append(f"no run since {lane.last_run} (one is due every period)")
        out.append(lane)
    return out


def _total(values: Any) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def pipeline_status(pipeline: Pipeline) -> PipelineStatus:
    """``status`` on a connection of the pipeline's own, closed afterwards."""
    conn = pipeline.connect()
    try:
        return status(pipeline, conn)
    finally:
        conn.close()


def _staged(pipeline: Pipeline) -> dict[str, list[tuple[str, str, int, datetime]]]:
    """Staging objects per table: (key, ETag, size, last modified)."""
    out: dict[str, list[tuple[str, str, int, datetime]]] = {}
    root = pipeline.staging_prefix.rstrip("/") + "/"
    for entry in inspection.list_objects(pipeline, root):
        table = inspection.table_of(pipeline, entry["Key"])
        if table:
            out.setdefault(table, []).append(
                (
                    entry["Key"],
                    entry.get("ETag", "").strip('"'),
                    entry["Size"],
                    entry["LastModified"],
                )
            )
    return out


_T = TypeVar("_T")


def _unless_new(read: Callable[[], _T], empty: _T) -> _T:
    """``read()`` of the ledger or lanes table, or ``empty`` before the first load made it."""
    try:
        return read()
    except Exception as e:
        if is_missing_table(e):
            return empty
        raise


def _lane_runs(conn: Any) -> dict[str, ledger.LaneRun]:
    return _unless_new(lambda: ledger.lane_runs(conn), {})


def _done(conn: Any, objects: list[tuple[str, str]]) -> set[tuple[str, str]]:
    ids = {ledger.job_id(k, e): (k, e) for k, e in objects}
    found: set[str] = _unless_new(lambda: ledger.done_ids(conn, list(ids)), set())
    return {ids[i] for i in found}


def _naive_utc(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(tzinfo=None)


def _ledger_per_table(conn: Any, since: datetime) -> dict[str, dict[str, Any]]:
    """Last load, recent failures and quarantine, and the newest change committed, per source table."""
    return _unless_new(lambda: ledger.activity_since(conn, _naive_utc(since)), {})


def _latency(conn: Any, since: datetime) -> dict[str, freshness.Latency]:
    """Per source table, the latency of files first committed since ``since``."""
    files: list[ledger.CommittedFile] = _unless_new(
        lambda: ledger.committed_since(conn, _naive_utc(since)), []
    )
    return freshness.latency_by_table(files)


def _query(qid: str, namespace: str, metric: str, dimension: tuple[str, str], stat: str):
    """One GetMetricData query of a one-dimension metric, by minute."""
    return {
        "Id": qid,
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": metric,
                "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}],
            },
            "Period": 60,
            "Stat": stat,
        },
    }


def _metric_values(
    pipeline: Pipeline, queries: list[dict[str, Any]], since: datetime, now: datetime
) -> dict[str, list[float]]:
    """Values per query id, newest first (GetMetricData takes 500 queries a call)."""
    found: dict[str, list[float]] = {}
    paginator = pipeline.client("cloudwatch").get_paginator("get_metric_data")
    for first in range(0, len(queries), 500):
        for page in paginator.paginate(
            MetricDataQueries=queries[first : first + 500],
            StartTime=since,
            EndTime=now,
            ScanBy="TimestampDescending",
        ):
            for result in page["MetricDataResults"]:
                found.setdefault(result["Id"], []).extend(result.get("Values", []))
    return found


def _upstream(pipeline: Pipeline, now: datetime) -> dict[str, float] | None:
    """Deployed: the age of the oldest change the stream, and the delivery stream, hold."""
    if pipeline.local or not (pipeline.kinesis_stream or pipeline.delivery_stream):
        return None
    queries = []
    for qid, (namespace, metric, dimension), name in (
        ("kinesis", _KINESIS_AGE, pipeline.kinesis_stream),
        ("firehose", _FIREHOSE_FRESHNESS, pipeline.delivery_stream),
    ):
        if name:
            queries.append(_query(qid, namespace, metric, (dimension, name), "Maximum"))
    values = _metric_values(pipeline, queries, now - METRIC_RECENT, now)
    return {
        "kinesis_iterator_age_seconds": round((values.get("kinesis") or [0.0])[0] / 1000, 3),
        "firehose_freshness_seconds": round((values.get("firehose") or [0.0])[0], 3),
    }


def _held_upstream(
    pipeline: Pipeline, now: datetime, tables: list[str], upstream: dict[str, float] | None
) -> dict[str, float]:
    """Per table, the age of its changes that may still be upstream of S3.

    The stream's figures are per stream: they count for a table written while the
    oldest held record waited (nothing of a table nobody wrote to can be held). The
    table's own DynamoDB -> Kinesis replication age counts in any case.
    """
    if upstream is None or not tables:
        return {}
    age = max(upstream.values())
    replication = _metric_values(
        pipeline,
        [_query(f"r{i}", "AWS/DynamoDB", _REPLICATION_AGE, ("TableName", t), "Maximum")
         for i, t in enumerate(tables)],
        now - METRIC_RECENT,
        now,
    )  # fmt: skip
    writes: dict[str, list[float]] = {}
    if age > 0:
        writes = _metric_values(
            pipeline,
            [_query(f"w{i}_{j}", "AWS/DynamoDB", metric, ("TableName", t), "Sum")
             for i, t in enumerate(tables) for j, metric in enumerate(_TABLE_WRITES)],
            now - timedelta(seconds=age) - WRITE_SLACK,
            now,
        )  # fmt: skip
    held = {}
    for i, table in enumerate(tables):
        behind = (replication.get(f"r{i}") or [0.0])[0] / 1000
        written = any(sum(writes.get(f"w{i}_{j}", [])) > 0 for j in range(len(_TABLE_WRITES)))
        held[table] = max(behind, age if written else 0.0)
    return held


def _depth(pipeline: Pipeline, url: str | None) -> int | None:
    if not url:
        return None
    attrs = pipeline.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs.get("ApproximateNumberOfMessages", 0)) + int(
        attrs.get("ApproximateNumberOfMessagesNotVisible", 0)
    )
