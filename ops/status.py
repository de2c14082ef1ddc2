"""Is the pipeline healthy? (``ddbload status``): per table lag, backlog, last load, failures.

Reads three places: the S3 staging listing (what exists), the loader's ledger
in MariaDB (what was loaded, failed or quarantined, and when), and the SQS
dead-letter queue (work notifications that could not be handled). A table
``needs_attention`` when it has failures or quarantine in the last 24 hours,
or a staging object pending for longer than two loader schedules plus the
Firehose buffer; the dead-letter queue holding messages needs attention too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from contract.config import target_name
from loaders import ledger
from loaders.errors import is_missing_table
from ops import inspection
from ops.pipeline import Pipeline

WINDOW = timedelta(hours=24)


@dataclass
class TableStatus:
    table: str
    target: str
    lag_seconds: float | None  # now minus the newest change committed; None: nothing loaded
    newest_change: str | None
    backlog_objects: int
    backlog_bytes: int
    oldest_pending: str | None  # when the oldest pending object was written
    last_load: str | None
    failed_24h: int
    quarantined_files_24h: int
    quarantined_rows_24h: int
    attention: list[str] = field(default_factory=list)

    @property
    def needs_attention(self) -> bool:
        return bool(self.attention)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "needs_attention": self.needs_attention}


@dataclass
class PipelineStatus:
    where: str
    checked_at: str
    tables: list[TableStatus]
    dead_letter_messages: int | None
    work_queue_messages: int | None
    attention: list[str] = field(default_factory=list)

    @property
    def needs_attention(self) -> bool:
        return bool(self.attention) or any(t.needs_attention for t in self.tables)

    def to_json(self) -> dict[str, Any]:
        return {
            "where": self.where,
            "checked_at": self.checked_at,
            "tables": [t.to_json() for t in self.tables],
            "dead_letter_messages": self.dead_letter_messages,
            "work_queue_messages": self.work_queue_messages,
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
    settings = pipeline.config.settings
    # A file may wait for the next schedule and the Firehose buffer before anyone is late.
    grace = timedelta(
        minutes=2 * settings["schedule_minutes"], seconds=settings["firehose_buffer_seconds"]
    )
    staged = _staged(pipeline)
    done = _done(conn, [(key, etag) for objs in staged.values() for key, etag, _, _ in objs])
    per_table = _ledger_per_table(conn, now - WINDOW)
    names = sorted(set(pipeline.config.tables) | set(staged) | set(per_table))
    tables = []
    for name in names:
        pending = [
            (k, size, when) for k, etag, size, when in staged.get(name, []) if (k, etag) not in done
        ]
        facts = per_table.get(name, {})
        newest = facts.get("newest_change_us")
        mapping = pipeline.config.tables.get(name)
        t = TableStatus(
            table=name,
            target=mapping.target if mapping else target_name(name),
            lag_seconds=round((now.timestamp() - newest / 1e6), 3) if newest else None,
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
        if pending and now - min(w for _, _, w in pending) > grace:
            t.attention.append(f"{len(pending)} staging objects waiting longer than {grace}")
        tables.append(t)
    result = PipelineStatus(
        where=pipeline.where,
        checked_at=_iso(now) or "",
        tables=tables,
        dead_letter_messages=_depth(pipeline, pipeline.dead_letter_queue_url),
        work_queue_messages=_depth(pipeline, pipeline.work_queue_url),
    )
    if result.dead_letter_messages:
        result.attention.append(
            f"the dead-letter queue holds {result.dead_letter_messages} messages"
        )
    return result


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


def _done(conn: Any, objects: list[tuple[str, str]]) -> set[tuple[str, str]]:
    ids = {ledger.job_id(k, e): (k, e) for k, e in objects}
    try:
        found = ledger.done_ids(conn, list(ids))
    except Exception as e:
        if is_missing_table(e):
            return set()
        raise
    return {ids[i] for i in found}


def _ledger_per_table(conn: Any, since: datetime) -> dict[str, dict[str, Any]]:
    """Last load, recent failures and quarantine, and the newest loaded keys, per source table."""
    try:
        return ledger.activity_since(conn, since.astimezone(UTC).replace(tzinfo=None))
    except Exception as e:
        if is_missing_table(e):
            return {}
        raise


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
