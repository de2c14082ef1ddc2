"""``ddbload demo``: the whole pipeline on the local stack, then the reconciliation."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import render
from cli.errors import EXIT_ATTENTION
from cli.options import Database, Json


def demo(
    items: Annotated[
        int, typer.Option("--items", min=1, help="About how many new items to write.")
    ] = 1000,
    database: Database = None,
    state_dir: Annotated[
        str | None, typer.Option("--state-dir", metavar="DIR", help="Local mode state folder.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Run the whole pipeline locally (moto + MariaDB), then reconcile DynamoDB with MariaDB.

    Starts the local stack if needed and leaves it running. Exit code 3 when
    the reconciliation finds a difference. --json prints the summary
    (``DemoSummary.to_dict``: changes written, files, rows applied / deleted /
    stale / quarantined, loader runs, lag, reconciliation, ok, next_steps).

    Example:

        ddbload demo --items 500
    """
    from localmode.demo import run_demo

    with render.labelled_progress() as progress:
        summary = run_demo(items, database=database, state_path=state_dir, progress=progress)
    doc = summary.to_dict()
    if as_json:
        render.print_json(doc)
    else:
        steps = doc.pop("next_steps", [])
        render.print_reconciliation(doc.pop("reconciliation", []))
        render.print_dicts([doc], "demo")
        for step in steps:
            typer.echo(step)
    if not summary.ok:
        raise typer.Exit(EXIT_ATTENTION)
