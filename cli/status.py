"""``ddbload status``: lag, backlog, failures and dead letters; exit code 3 on trouble."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from cli import render
from cli.errors import EXIT_ATTENTION
from cli.options import Json, Local, Stack, open_pipeline


def status(local: Local = False, stack: Stack = None, as_json: Json = False) -> None:
    """Per table: lag, backlog, last load, failures and quarantine (24 h); dead letters.

    Lag is now minus the newest change committed to MariaDB; backlog the
    staging objects not loaded yet. Exit code 3 when something needs
    attention (a failure or quarantine in the last 24 hours, a staging
    object waiting longer than two schedules plus the Firehose buffer, or
    messages in the dead-letter queue), so it can run from cron or a check.

    --json prints {"where", "checked_at", "tables": [{"table", "target",
    "lag_seconds", "newest_change", "backlog_objects", "backlog_bytes",
    "oldest_pending", "last_load", "failed_24h", "quarantined_files_24h",
    "quarantined_rows_24h", "attention": [sentences], "needs_attention"}],
    "dead_letter_messages", "work_queue_messages", "attention",
    "needs_attention"}.

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


def _print_status(health: Any) -> None:
    table = Table(title=f"{health.where} pipeline at {render.short(health.checked_at)} UTC")
    table.add_column("table")
    table.add_column("lag", justify="right")
    table.add_column("backlog", justify="right")
    table.add_column("last load (UTC)")
    table.add_column("failed 24h", justify="right")
    table.add_column("quarantined 24h", justify="right")
    for t in health.tables:
        lag = "-" if t.lag_seconds is None else render.duration(t.lag_seconds)
        table.add_row(
            t.table,
            lag,
            f"{t.backlog_objects} ({render.size(t.backlog_bytes)})",
            render.short(t.last_load) or "never",
            str(t.failed_24h),
            f"{t.quarantined_files_24h} files, {t.quarantined_rows_24h} rows",
        )
    out = render.console()
    out.print(table)
    dlq = "-" if health.dead_letter_messages is None else str(health.dead_letter_messages)
    work = "-" if health.work_queue_messages is None else str(health.work_queue_messages)
    out.print(f"work queue: {work} messages; dead-letter queue: {dlq} messages")
    problems = health.attention + [f"{t.table}: {a}" for t in health.tables for a in t.attention]
    if problems:
        out.print("needs attention:")
        for p in problems:
            out.print(f"  - {p}")
    else:
        out.print("all good")
