"""``ddbload backfill``: the items a table already holds, loaded through the loader."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import render
from cli.options import Json, Local, Stack, open_pipeline


def backfill(
    table: Annotated[
        str, typer.Option("--table", metavar="T", help="The DynamoDB table to backfill.")
    ],
    segments: Annotated[
        int,
        typer.Option(
            "--segments", metavar="N", help="Parallel scan segments (export: files read at once)."
        ),
    ] = 4,
    rate: Annotated[
        float | None,
        typer.Option("--rate", metavar="N", help="Read at most N items per second (scan)."),
    ] = None,
    rate_rcu: Annotated[
        float | None,
        typer.Option(
            "--rate-rcu", metavar="N", help="Use at most N read capacity units per second (scan)."
        ),
    ] = None,
    export: Annotated[
        str | None,
        typer.Option(
            "--export",
            metavar="S3_URL",
            help="Read a finished DynamoDB export (s3://bucket/prefix) instead of scanning.",
        ),
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option("--run", metavar="ID", help="Continue (or start) the backfill run ID."),
    ] = None,
    restart: Annotated[
        bool,
        typer.Option("--restart", help="Start a new run instead of continuing the unfinished one."),
    ] = False,
    local: Local = False,
    stack: Stack = None,
    as_json: Json = False,
) -> None:
    """Load the items table T already holds into its MariaDB target, through the loader.

    Reads the table with a parallel scan (or a finished point-in-time export
    with --export), writes the items as ordinary staging objects (op BACKFILL)
    and loads them through the same ledger and version guard as streamed
    changes, so a change streamed during or after the backfill wins when
    newer and a deleted item does not come back. An interrupted backfill
    continues where it stopped when run again (--restart starts over; --run ID
    picks a run). Where the database is not reachable from here (a deployed
    stack's private database) the pages wait for the scheduled loader.

    --json prints {"run", "table", "source" (scan | export), "version_us",
    "resumed", "items", "pages_written", "objects", "loaded_here", "loaded":
    {"files", "skipped", "read", "applied", "stale"} or null, "elapsed_s",
    "items_per_s"}.

    Example:

        ddbload backfill --local --table orders --segments 2

        ddbload backfill --stack prod --table orders --rate-rcu 500

        ddbload backfill --stack prod --table orders --export s3://exports/AWSDynamoDB/0169-ab/
    """
    from ops import backfill as backfill_lib

    pipeline = open_pipeline(local, stack)
    options = backfill_lib.Options(
        segments=segments,
        export=export,
        rate_items=rate,
        rate_rcu=rate_rcu,
        run_id=run_id,
        resume=not restart,
    )
    try:
        with render.rate_progress(f"backfill {table}") as progress:
            done = backfill_lib.backfill_pipeline(pipeline, table, options, progress=progress)
    except KeyboardInterrupt:
        typer.echo(
            "ddbload: backfill interrupted; run the same command again to continue.", err=True
        )
        raise typer.Exit(130) from None
    doc = done.to_json()
    if as_json:
        render.print_json(doc)
        return
    result = done.result
    out = render.console()
    verb = "continued" if result.resumed else "ran"
    out.print(
        f"backfill {verb} run {result.run} of {table} ({result.source}): "
        f"{result.items} items in {result.pages_written} pages, {doc['items_per_s']} items/s"
    )
    if done.loaded is not None:
        t = done.loaded
        out.print(
            f"loaded {t['files']} objects ({t['skipped']} already loaded): "
            f"{t['read']} read, {t['applied']} applied, {t['stale']} stale"
        )
    else:
        out.print(
            f"the database is not reachable from here: the {len(result.keys)} objects wait "
            "for the scheduled loader (see `ddbload status`)"
        )
