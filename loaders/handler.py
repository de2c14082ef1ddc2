"""Loader Lambda entry: a scheduled run, a reload of a prefix, or a load of named keys.

Events:
  anything without "action" (the EventBridge Scheduler payload): a scheduled run.
      With {"lane": L, "work_queue_url": Q} (what each lane's schedule sends,
      ``contract.lanes.lane_event``) it loads lane L only: drain Q, sweep L's recent
      hour prefixes (the default lane: those of every unconfigured table), load,
      acknowledge, and note the run in the lanes table. Without a lane it does the
      same for every table (drain ``DDBLOAD_WORK_QUEUE_URL`` if set);
  {"action": "reload", "prefix": P, "table": optional}: load every staging object
      under P again (harmless: the merge is version-guarded);
  {"action": "load", "keys": [...]}: load these keys (already loaded ones are skipped).
Returns a JSON-able summary. Stops taking new batches before the time limit. A
table whose named lock another run holds is left at once and reported as ``busy``
(its files stay pending); the run goes on with its other tables.

Inside Lambda (``AWS_LAMBDA_FUNCTION_NAME`` set by the runtime), a scheduled run also
prints its summary and one CloudWatch Embedded Metric Format document (namespace
``DDBLOAD_METRICS_NAMESPACE``, dimension ``Function``: files loaded, failed,
quarantined and pending, rows quarantined, run failed), which the stack alarms on,
then one per table it covered (dimensions ``Function`` and ``Table``, seconds: the
table's freshness, and the latency of what it committed; ``loaders.freshness``).
A scheduled run that could not start (bad settings, database unreachable or refusing
the connection) then raises ``RunFailed``, so Lambda's Errors metric and the
LoaderErrors alarm count it; its files stay pending for the next tick. Actions (CLI
reloads) and direct calls (tests, local mode) always get the summary back.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import orjson

from contract import lanes, layout, names
from contract.names import (
    METRIC_DIMENSION,
    METRIC_FILES_FAILED,
    METRIC_FILES_LOADED,
    METRIC_FILES_PENDING,
    METRIC_FILES_QUARANTINED,
    METRIC_FRESHNESS,
    METRIC_LATENCY_MAX,
    METRIC_LATENCY_P50,
    METRIC_ROWS_QUARANTINED,
    METRIC_RUN_FAILED,
    METRIC_TABLE_DIMENSION,
    METRIC_TABLES_BUSY,
)
from contract.names import METRICS_NAMESPACE as DEFAULT_METRICS_NAMESPACE
from loaders import discovery, freshness, ledger
from loaders.db import connect
from loaders.engine import load_keys, load_refs
from loaders.errors import error_code, is_transient
from loaders.jobs import ObjectRef, RunReport, now
from loaders.settings import LoaderSettings, SettingsError

# Statuses of a run that loaded nothing because it could not start.
FAILED_RUN = ("error", "unreachable")


class RunFailed(RuntimeError):
    """A scheduled Lambda run could not start; raised after its summary is logged."""


def _deadline(context: Any, settings: LoaderSettings) -> float | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return time.monotonic() + remaining() / 1000 - settings.time_margin_seconds


def _clients(queue_url: str | None) -> tuple[Any, Any, Any]:
    """S3, SQS (with a queue to drain) and Secrets Manager clients of this run's own session:
    boto3's default session is not safe to share between runs that overlap in threads
    (the local scheduler stand-in runs lanes that way; Lambda gives each its process)."""
    import boto3

    session = boto3.session.Session()
    sqs = session.client("sqs") if queue_url else None
    return session.client("s3"), sqs, session.client("secretsmanager")


@dataclass
class Work:
    """What one scheduled run found to load: its lane (None: every table), the work
    messages it drained from ``queue_url`` and the objects its sweep listed."""

    lane: str | None
    queue_url: str | None
    messages: list[discovery.WorkMessage]
    swept: list[ObjectRef]

    def refs(self) -> list[ObjectRef]:
        refs = {r.key: r for m in self.messages for r in m.refs}
        refs.update({r.key: r for r in self.swept})
        return list(refs.values())


def lane_of_event(event: dict[str, Any], settings: LoaderSettings) -> tuple[str | None, str | None]:
    """The lane and work queue a scheduled event names; (None, the env's queue) without a lane."""
    lane = event.get(lanes.EVENT_LANE)
    if lane is None:
        return None, settings.work_queue_url
    if not isinstance(lane, str) or not (
        lane == lanes.DEFAULT_LANE or lane in settings.config.tables
    ):
        raise SettingsError(
            f"unknown lane {lane!r}: a lane is a configured table or {lanes.DEFAULT_LANE!r} "
            "(every unconfigured table)."
        )
    queue_url = event.get(lanes.EVENT_WORK_QUEUE_URL)
    return lane, queue_url if isinstance(queue_url, str) and queue_url else None


def discover(
    s3: Any,
    sqs: Any,
    settings: LoaderSettings,
    *,
    lane: str | None = None,
    queue_url: str | None = None,
    deadline: float | None = None,
) -> Work:
    """Drain the lane's work queue and sweep the lane's recent hour prefixes."""
    visibility = settings.visibility_seconds or (
        int(settings.config.settings["loader_timeout_seconds"]) + 60
    )
    messages = []
    if sqs is not None and queue_url:
        messages = discovery.drain(
            sqs, queue_url, settings.bucket, visibility_seconds=visibility, deadline=deadline
        )
    hours, tables, exclude = settings.sweep_hours, None, frozenset[str]()
    if lane == lanes.DEFAULT_LANE:
        # No queue feeds this lane: its sweep looks further back.
        hours = max(hours, settings.default_lane_sweep_hours)
        exclude = frozenset(settings.config.tables)
    elif lane is not None:
        tables = [lane]
    swept = discovery.sweep(
        s3, settings.bucket, settings.staging_prefix, hours, tables=tables, exclude=exclude
    )
    return Work(lane, queue_url, messages, swept)


def load_work(
    conn: Any, s3: Any, sqs: Any, settings: LoaderSettings, work: Work, deadline: float | None
) -> dict[str, Any]:
    """Load what ``discover`` found that is not in the ledger, then acknowledge the messages."""
    report = load_refs(conn, s3, settings, work.refs(), deadline=deadline)
    acknowledged = 0
    if work.messages and work.queue_url:
        acknowledged = discovery.acknowledge(
            sqs, work.queue_url, work.messages, report.settled_keys()
        )
    return {
        **report.as_dict(),
        "messages": len(work.messages),
        "acknowledged": acknowledged,
        "swept": len(work.swept),
        **_table_figures(conn, s3, settings, work, report),
    }


def _table_figures(
    conn: Any, s3: Any, settings: LoaderSettings, work: Work, report: RunReport
) -> dict[str, Any]:
    """Freshness and latency of each table this run covered (``loaders.freshness``).

    A run covers its lane's table, or with no lane every configured table, plus any
    table it met. Figures that cannot be computed are reported, never raised: the
    files are settled by then.
    """
    covered = set(settings.config.tables) if work.lane is None else set()
    if work.lane not in (None, lanes.DEFAULT_LANE):
        covered.add(work.lane)
    covered |= {r.table for r in report.results if r.table}
    try:
        figures = freshness.run_figures(
            conn, s3, settings.bucket, covered, report, freshness.now_us()
        )
    except Exception as e:  # noqa: BLE001 - reported in the summary; the load stands
        return {"tables": {}, "figures_error": f"freshness and latency not computed: {e!r}"}
    return {"tables": figures}


def run_scheduled(
    conn: Any,
    s3: Any,
    sqs: Any,
    settings: LoaderSettings,
    deadline: float | None = None,
    *,
    lane: str | None = None,
    queue_url: str | None = None,
) -> dict[str, Any]:
    """Drain the queue, sweep recent prefixes, load what is not in the ledger, acknowledge."""
    if lane is None and queue_url is None:
        queue_url = settings.work_queue_url
    work = discover(s3, sqs, settings, lane=lane, queue_url=queue_url, deadline=deadline)
    return load_work(conn, s3, sqs, settings, work, deadline)


def run_action(
    conn: Any, s3: Any, settings: LoaderSettings, event: dict[str, Any], deadline: float | None
) -> RunReport:
    action = event["action"]
    if action == "load":
        keys = event.get("keys")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise SettingsError('"load" needs "keys": a list of S3 keys.')
        return load_keys(conn, s3, settings, keys, deadline=deadline)
    if action == "reload":
        prefix = event.get("prefix")
        if not isinstance(prefix, str) or not prefix.startswith(settings.staging_prefix):
            raise SettingsError(
                f'"reload" needs "prefix" under the staging prefix {settings.staging_prefix!r}.'
            )
        table = event.get("table")
        refs = [
            r
            for r in discovery.under_prefix(s3, settings.bucket, prefix)
            if table is None or layout.table_of(r.key, settings.staging_prefix) == table
        ]
        return load_refs(conn, s3, settings, refs, reload=True, deadline=deadline)
    raise SettingsError(f"unknown action {action!r}; use 'load' or 'reload' (or none).")


def metrics_document(
    summary: dict[str, Any], namespace: str, function: str, now_ms: int | None = None
) -> dict[str, Any]:
    """The run's CloudWatch Embedded Metric Format document (one log line)."""
    files = summary.get("files") or {}
    values = {
        METRIC_FILES_LOADED: files.get("loaded", 0),
        METRIC_FILES_FAILED: files.get("failed", 0),
        METRIC_FILES_QUARANTINED: files.get("quarantined", 0),
        METRIC_FILES_PENDING: files.get("retry", 0) + files.get("deferred", 0),
        METRIC_ROWS_QUARANTINED: (summary.get("rows") or {}).get("quarantined", 0),
        METRIC_RUN_FAILED: int(summary.get("status") in FAILED_RUN),
        METRIC_TABLES_BUSY: len(summary.get("busy") or []),
    }
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000) if now_ms is None else now_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [[METRIC_DIMENSION]],
                    "Metrics": [{"Name": name, "Unit": "Count"} for name in values],
                }
            ],
        },
        METRIC_DIMENSION: function,
        # A property, not a dimension: one set of metrics per function, searchable by lane.
        "lane": summary.get("lane"),
        "status": summary.get("status"),
        **values,
    }


def table_metrics_documents(
    summary: dict[str, Any], namespace: str, function: str, now_ms: int | None = None
) -> list[dict[str, Any]]:
    """One EMF document per table the run covered (dimensions Function and Table, seconds):
    its freshness, and its end-to-end latency p50 and max when the run committed files."""
    stamp = int(time.time() * 1000) if now_ms is None else now_ms
    documents = []
    for table, figures in sorted((summary.get("tables") or {}).items()):
        values = {METRIC_FRESHNESS: figures["freshness_seconds"]}
        if figures.get("latency_p50_seconds") is not None:
            values[METRIC_LATENCY_P50] = figures["latency_p50_seconds"]
            values[METRIC_LATENCY_MAX] = figures["latency_max_seconds"]
        documents.append(
            {
                "_aws": {
                    "Timestamp": stamp,
                    "CloudWatchMetrics": [
                        {
                            "Namespace": namespace,
                            "Dimensions": [[METRIC_DIMENSION, METRIC_TABLE_DIMENSION]],
                            "Metrics": [{"Name": name, "Unit": "Seconds"} for name in values],
                        }
                    ],
                },
                METRIC_DIMENSION: function,
                METRIC_TABLE_DIMENSION: table,
                **values,
            }
        )
    return documents


def _emit(document: dict[str, Any]) -> None:
    # Lambda sends stdout to CloudWatch Logs line by line; EMF needs the bare JSON object.
    sys.stdout.write(orjson.dumps(document, default=str).decode() + "\n")
    sys.stdout.flush()


def _run(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        settings = LoaderSettings.from_env()
        lane, queue_url = lane_of_event(event, settings) if "action" not in event else (None, None)
    except SettingsError as e:
        return {"status": "error", "error": str(e)}
    deadline = _deadline(context, settings)
    s3, sqs, secrets = _clients(queue_url)
    started = now()
    # Connect before discovering: a run that cannot reach MariaDB leaves the work queue
    # as it is, and every tick proves the lane can still connect, work or no work.
    try:
        conn = connect(settings, secrets)
    except Exception as e:  # noqa: BLE001 - reported; files stay pending for a later run
        kind = "unreachable" if is_transient(e) else "error"
        return {
            "status": kind,
            "lane": lane,
            "error": f"cannot connect to MariaDB: {e}; files stay pending.",
        }
    try:
        if "action" not in event:
            summary = {
                "lane": lane,
                **run_scheduled(conn, s3, sqs, settings, deadline, lane=lane, queue_url=queue_url),
            }
            if lane is not None:
                _note_lane_run(conn, lane, started, summary)
        else:
            try:
                summary = run_action(conn, s3, settings, event, deadline).as_dict()
            except SettingsError as e:
                return {"status": "error", "error": str(e)}
    except Exception as e:
        # A connection lost outside a batch (ledger DDL, ledger reads) loses nothing:
        # the files stay pending, and that is what the run reports.
        if not is_transient(e):
            raise
        return {
            "status": "unreachable",
            "lane": lane,
            "error": f"lost the connection to MariaDB (error {error_code(e) or type(e).__name__}); files stay pending.",
        }
    finally:
        with contextlib.suppress(Exception):
            conn.close()
    summary["status"] = run_status(summary)
    return summary


def run_status(summary: dict[str, Any]) -> str:
    """``ok``; ``busy`` when another run held a table and nothing else went wrong;
    ``incomplete`` when the run stopped early (its files stay pending)."""
    if summary.get("error"):
        return "incomplete"
    return "busy" if summary.get("busy") else "ok"


def _note_lane_run(conn: Any, lane: str, started: Any, summary: dict[str, Any]) -> None:
    """Record how this lane run ended, for ``ddbload status``; never fails the run."""
    files = summary.get("files") or {}
    failed = summary.get("failed") or []
    busy = summary.get("busy") or []
    pending = files.get("retry", 0) + files.get("deferred", 0)
    outcome = "busy" if busy else (
        "incomplete" if summary.get("error") or files.get("failed") or pending else "ok"
    )  # fmt: skip
    run = ledger.LaneRun(
        lane=lane,
        started_at=started,
        finished_at=now(),
        outcome=outcome,
        files_loaded=files.get("loaded", 0),
        files_pending=pending,
        files_failed=files.get("failed", 0),
        busy_tables=", ".join(busy) or None,
        error=summary.get("error") or (failed[0]["error"] if failed else None),
    )
    try:
        ledger.record_lane_run(conn, run)
        conn.commit()
    except Exception:  # noqa: BLE001 - the files are settled; only the note is lost
        with contextlib.suppress(Exception):
            conn.rollback()


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    started = time.monotonic()
    event = event if isinstance(event, dict) else {}
    function = os.environ.get(names.ENV_LAMBDA_FUNCTION_NAME)
    # Only a scheduled run inside Lambda reports to CloudWatch and raises on failure.
    observed = function if "action" not in event else None
    try:
        summary = _run(event, context)
    except Exception as e:
        if observed:
            # Lambda counts the exception; the metrics still say this run loaded nothing.
            _report({"status": "error", "error": f"the run stopped: {e!r}"}, observed)
        raise
    summary["seconds"] = round(time.monotonic() - started, 3)
    if observed:
        _report(summary, observed)
        if summary["status"] in FAILED_RUN:
            raise RunFailed(f"scheduled run failed ({summary['status']}): {summary['error']}")
    return summary


def _report(summary: dict[str, Any], function: str) -> None:
    namespace = os.environ.get(names.ENV_METRICS_NAMESPACE) or DEFAULT_METRICS_NAMESPACE
    _emit({"ddbload_run": summary})
    _emit(metrics_document(summary, namespace, function))
    for document in table_metrics_documents(summary, namespace, function):
        _emit(document)
