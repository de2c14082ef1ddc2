"""``ddbload status``: freshness, latency, backlog, failures and dead letters; exit 3 on trouble."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from cli import render
from cli.errors import EXIT_ATTENTION
from cli.options import Json, Local, Stack, open_pipeline
from contract import lanes


def status(local: Local = False, stack: Stack = None, as_json: Json = False) -> None:
    """Per table: MariaDB target, freshness, latency, backlog, last load, failures and
    quarantine (24 h); per loader lane (a configured table, or * for the unconfigured
    ones): backlog, queue, last run, busy or failed; dead letters.

    Freshness is the age of the oldest change not yet committed to MariaDB,
    0 when nothing is pending (staged objects not loaded yet and, deployed,
    what Kinesis and Firehose hold); latency is commit time minus change
    time of the changes committed in the last hour (p50 and max); backlog
    the staging objects not loaded yet. Exit code 3 when something needs
    attention (freshness beyond the objective, a failure or quarantine in
    the last 24 hours, a lane whose last run left files failed or that has
    not run for three schedules, or messages in a dead-letter queue), never
    because a table is idle, so it can run from cron or a check.

    --json prints {"where", "checked_at", "tables": [{"table", "target",
    "freshness_seconds", "oldest_pending_change", "latency_p50_seconds",
    "latency_max_seconds", "newest_change", "backlog_objects",
    "backlog_bytes", "oldest_pending", "last_load", "failed_24h",
    "quarantined_files_24h", "quarantined_rows_24h", "attention":
    [sentences], "needs_attention", "lane"}], "lanes": [{"lane", "tables",
    "backlog_objects", "backlog_bytes",
    "work_queue_messages", "dead_letter_messages", "last_run_started",
    "last_run", "last_outcome" (ok | busy | incomplete), "busy", "failed",
    "last_error", "attention", "needs_attention", "freshness_seconds" (its
    tables' greatest)}], "dead_letter_messages",
    "work_queue_messages" (sums over the lanes), "freshness_objective_seconds",
    "upstream": {"kinesis_iterator_age_seconds", "firehose_freshness_seconds"}
    or null (local), "attention", "needs_attention"}.

    Example:

        ddbload status --stack prod --json
    """
    from ops.status import pipeline_status

    health = pipeline_status(open_pipeline(local, stack))
    if as_json:
        render.print_json(health.to_json())
    else:
        _print_status(health)
    if health.needs_attention:
        raise typer.Exit(EXIT_ATTENTION)


def _seconds(value: float | None) -> str:
    """Sub-second precision where latency lives; whole units beyond."""
    if value is None:
        return "-"
    if value == 0:
        return "0 s"
    if value < 10:
        return f"{value:.1f} s"
    return render.duration(value)


def _print_status(health: Any) -> None:
    table = Table(title=f"{health.where} pipeline at {render.short(health.checked_at)} UTC")
    table.add_column("table")
    table.add_column("MariaDB target")
    table.add_column("freshness", justify="right")
    table.add_column("latency 1h p50 / max", justify="right")
    table.add_column("backlog", justify="right")
    table.add_column("last load (UTC)")
    table.add_column("failed 24h", justify="right")
    table.add_column("quarantined 24h", justify="right")
    for t in health.tables:
        latency = (
            "-"
            if t.latency_p50_seconds is None
            else f"{_seconds(t.latency_p50_seconds)} / {_seconds(t.latency_max_seconds)}"
        )
        table.add_row(
            t.table,
            t.target,
            _seconds(t.freshness_seconds),
            latency,
            f"{t.backlog_objects} ({render.size(t.backlog_bytes)})",
            render.short(t.last_load) or "never",
            str(t.failed_24h),
            f"{t.quarantined_files_24h} files, {t.quarantined_rows_24h} rows",
        )
    out = render.console()
    out.print(table)
    out.print(_lanes_table(health.lanes))
    dlq = "-" if health.dead_letter_messages is None else str(health.dead_letter_messages)
    work = "-" if health.work_queue_messages is None else str(health.work_queue_messages)
    out.print(f"work queue: {work} messages; dead-letter queue: {dlq} messages")
    objective = _seconds(health.freshness_objective_seconds)
    out.print(f"freshness objective: {objective} (exit 3 beyond it)")
    if health.upstream is not None:
        out.print(
            f"upstream: Kinesis {_seconds(health.upstream['kinesis_iterator_age_seconds'])} "
            f"behind, Firehose holding {_seconds(health.upstream['firehose_freshness_seconds'])}"
        )
    problems = health.attention + [f"{t.table}: {a}" for t in health.tables for a in t.attention]
    problems += [f"lane {lane.lane}: {a}" for lane in health.lanes for a in lane.attention]
    if problems:
        out.print("needs attention:")
        for p in problems:
            out.print(f"  - {p}")
    else:
        out.print("all good")


def _lanes_table(lane_list: list[Any]) -> Table:
    table = Table(title="loader lanes (one run per lane per schedule, in parallel)")
    table.add_column("lane")
    table.add_column("backlog", justify="right")
    table.add_column("freshness", justify="right")
    table.add_column("queue / dead letters", justify="right")
    table.add_column("last run (UTC)")
    table.add_column("state")
    for lane in lane_list:
        queue = (
            "sweep only"
            if lane.work_queue_messages is None
            else f"{lane.work_queue_messages} / {lane.dead_letter_messages or 0}"
        )
        state = "busy" if lane.busy else "failed" if lane.failed else (lane.last_outcome or "-")
        table.add_row(
            lanes.title(lane.lane),
            f"{lane.backlog_objects} ({render.size(lane.backlog_bytes)})",
            _seconds(lane.freshness_seconds),
            queue,
            render.short(lane.last_run) or "never",
            state,
        )
    return table
