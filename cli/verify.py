"""``ddbload verify``: DynamoDB vs MariaDB, counts and per-key checksums."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import render
from cli.errors import EXIT_ATTENTION
from cli.options import Json, Local, Stack, open_pipeline


def verify(
    table: Annotated[
        str | None, typer.Option("--table", metavar="T", help="Only this source table.")
    ] = None,
    local: Local = False,
    stack: Stack = None,
    as_json: Json = False,
) -> None:
    """Reconcile DynamoDB with MariaDB: item counts and per-key checksums.

    Scans each DynamoDB table and reads its MariaDB target; exit code 3 when
    they differ. --json prints [{"table", "target", ... counts, "missing",
    "extra", "different", "samples", "ok"}] (``TableReconciliation.to_dict``).

    Example:

        ddbload verify --local --table orders
    """
    from ops.verify import verify_pipeline

    pipeline = open_pipeline(local, stack)
    with render.labelled_progress() as progress:
        results = verify_pipeline(pipeline, table=table, progress=progress)
    if as_json:
        render.print_json([r.to_dict() for r in results])
    else:
        render.print_reconciliation([r.to_dict() for r in results])
    if not all(r.ok for r in results):
        raise typer.Exit(EXIT_ATTENTION)
