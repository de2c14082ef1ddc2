"""How the commands print: rich tables on stdout, one JSON document with ``--json``,
progress bars on stderr (so stdout stays clean for ``--json``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table


def console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def print_json(doc: Any) -> None:
    typer.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())


def size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def short(time: str | None) -> str:
    """An ISO time as 'YYYY-MM-DD HH:MM:SS' for tables."""
    return time[:19].replace("T", " ") if time else ""


def duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def _bar(*columns: ProgressColumn) -> Progress:
    """A transient progress display on stderr, drawn only on a terminal."""
    err = Console(stderr=True)
    return Progress(*columns, console=err, transient=True, disable=not err.is_terminal)


@contextmanager
def counted_progress(total: int, what: str) -> Iterator[Callable[[], None]]:
    """A bar of ``total`` steps; yields ``advance()``."""
    with _bar(TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as bar:
        task = bar.add_task(what, total=total)
        yield lambda: bar.advance(task)


@contextmanager
def counted_waiting_progress(
    total: int, what: str
) -> Iterator[tuple[Callable[[], None], Callable[[float], None]]]:
    """A bar of ``total`` steps with a spinner; yields ``advance()`` and ``waiting(seconds)``,
    which says how long the work has been waiting for an answer (a deployed function's)."""
    with _bar(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ) as bar:
        task = bar.add_task(what, total=total)

        def waiting(seconds: float) -> None:
            bar.update(task, description=f"{what}: waiting for the loader, {duration(seconds)}")

        yield (lambda: bar.advance(task)), waiting


@contextmanager
def rate_progress(what: str) -> Iterator[Callable[[Any], None]]:
    """A bar with items/s for ``ops.backfill.BackfillProgress`` updates."""
    with _bar(
        TextColumn(what),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.fields[estimate]} items"),
        TextColumn("{task.fields[rate]} items/s"),
        TimeElapsedColumn(),
    ) as bar:
        task = bar.add_task(what, total=None, estimate="?", rate="0")

        def report(p: Any) -> None:
            estimate = p.estimated_items
            bar.update(
                task,
                completed=p.items,
                # DynamoDB's item count is approximate: never let the bar run past its end.
                total=max(estimate, p.items) if estimate else None,
                estimate="?" if estimate is None else f"~{estimate}",
                rate=f"{p.items_per_s:.0f}",
            )

        yield report


@contextmanager
def labelled_progress() -> Iterator[Callable[[str, int, int | None], None]]:
    """A ``progress(label, done, total)`` callback drawing one bar per label."""
    with _bar(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
    ) as bar:
        tasks: dict[str, Any] = {}

        def report(label: str, done: int, total: int | None) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done, total=total)

        yield report


def print_reconciliation(results: list[dict[str, Any]]) -> None:
    """``ops.verify.TableReconciliation.to_dict`` rows as one table."""
    table = Table(title="DynamoDB vs MariaDB")
    for name in ("table", "target", "items", "rows", "missing", "extra", "different"):
        table.add_column(name, justify="left" if name in ("table", "target") else "right")
    table.add_column("samples", overflow="fold")
    for r in results:
        samples = "; ".join(f"{k}: {', '.join(v)}" for k, v in r["samples"].items() if v)
        table.add_row(
            r["table"],
            r["target"],
            str(r["dynamodb_items"]),
            str(r["mariadb_rows"]),
            str(r["missing"]),
            str(r["extra"]),
            str(r["different"]),
            samples,
        )
    console().print(table)


def print_dicts(docs: list[dict[str, Any]], title: str) -> None:
    """Flat dictionaries as a two-column table each (nested values as compact JSON)."""
    out = console()
    for doc in docs:
        table = Table(title=title, show_header=False)
        table.add_column("field")
        table.add_column("value", overflow="fold")
        for name, value in doc.items():
            if isinstance(value, dict | list):
                value = orjson.dumps(value).decode()
            table.add_row(name, str(value))
        out.print(table)
