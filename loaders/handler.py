"""Loader Lambda entry: a scheduled run, a reload of a prefix, or a load of named keys.

Events:
  anything without "action" (the EventBridge Scheduler payload): drain the work
      queue, sweep recent hour prefixes against the ledger, load, acknowledge;
  {"action": "reload", "prefix": P, "table": optional}: load every staging object
      under P again (harmless: the merge is version-guarded);
  {"action": "load", "keys": [...]}: load these keys (already loaded ones are skipped).
Returns a JSON-able summary. Stops taking new batches before the time limit.
"""

from __future__ import annotations

import time
from typing import Any

from loaders import discovery
from loaders.db import connect
from loaders.engine import RunReport, load_keys, load_refs, staging_table_of
from loaders.errors import is_transient
from loaders.settings import LoaderSettings, SettingsError


def _deadline(context: Any, settings: LoaderSettings) -> float | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return time.monotonic() + remaining() / 1000 - settings.time_margin_seconds


def _clients(settings: LoaderSettings) -> tuple[Any, Any]:
    import boto3

    return boto3.client("s3"), (boto3.client("sqs") if settings.work_queue_url else None)


def run_scheduled(
    conn: Any, s3: Any, sqs: Any, settings: LoaderSettings, deadline: float | None = None
) -> dict[str, Any]:
    """Drain the queue, sweep recent prefixes, load what is not in the ledger, acknowledge."""
    visibility = settings.visibility_seconds or (
        int(settings.config.settings["loader_timeout_seconds"]) + 60
    )
    messages = []
    if sqs is not None and settings.work_queue_url:
        messages = discovery.drain(
            sqs, settings.work_queue_url, settings.bucket,
            visibility_seconds=visibility, deadline=deadline,
        )  # fmt: skip
    swept = discovery.sweep(s3, settings.bucket, settings.staging_prefix, settings.sweep_hours)
    refs = {r.key: r for m in messages for r in m.refs}
    refs.update({r.key: r for r in swept})
    report = load_refs(conn, s3, settings, list(refs.values()), deadline=deadline)
    acknowledged = 0
    if messages and settings.work_queue_url:
        acknowledged = discovery.acknowledge(
            sqs, settings.work_queue_url, messages, report.settled_keys()
        )
    return {
        **report.as_dict(),
        "messages": len(messages),
        "acknowledged": acknowledged,
        "swept": len(swept),
    }


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
            if table is None or staging_table_of(r.key, settings.staging_prefix) == table
        ]
        return load_refs(conn, s3, settings, refs, reload=True, deadline=deadline)
    raise SettingsError(f"unknown action {action!r}; use 'load' or 'reload' (or none).")


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    started = time.monotonic()
    try:
        settings = LoaderSettings.from_env()
    except SettingsError as e:
        return {"status": "error", "error": str(e)}
    deadline = _deadline(context, settings)
    s3, sqs = _clients(settings)
    event = event if isinstance(event, dict) else {}
    try:
        conn = connect(settings)
    except Exception as e:  # noqa: BLE001 - reported; files stay pending for a later run
        kind = "unreachable" if is_transient(e) else "error"
        return {"status": kind, "error": f"cannot connect to MariaDB: {e}; files stay pending."}
    try:
        if "action" not in event:
            summary = run_scheduled(conn, s3, sqs, settings, deadline)
        else:
            try:
                summary = run_action(conn, s3, settings, event, deadline).as_dict()
            except SettingsError as e:
                return {"status": "error", "error": str(e)}
    finally:
        conn.close()
    summary["status"] = "ok" if not summary.get("error") else "incomplete"
    summary["seconds"] = round(time.monotonic() - started, 3)
    return summary
