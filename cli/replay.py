"""``ddbload replay``: captured change records through the real transform and loader, locally."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import render
from cli.options import Json


def replay(
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE", help="Captured Kinesis-destination records, one JSON per line."
        ),
    ],
    database: Annotated[
        str, typer.Option("--database", metavar="NAME", help="MariaDB database to load into.")
    ],
    state_dir: Annotated[
        str | None, typer.Option("--state-dir", metavar="DIR", help="Local mode state folder.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Push captured DynamoDB change records through the real transform and loader, locally.

    Uses its own local resources (its own bucket and queues) and loads into
    DATABASE. --json prints ``ReplaySummary.to_dict``: records, ok,
    processing_failed, dropped, files, error_files, rows applied / deleted /
    stale / quarantined, loader_runs, error_objects.

    Example:

        ddbload replay captured.ndjson --database ddbload_replay
    """
    from localmode.replay import replay as run_replay

    with render.labelled_progress() as progress:
        summary = run_replay(file, database, state_path=state_dir, progress=progress)
    if as_json:
        render.print_json(summary.to_dict())
    else:
        render.print_dicts([summary.to_dict()], "replay")
