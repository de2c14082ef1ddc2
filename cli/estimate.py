"""``ddbload estimate``: what a steady load costs a month, and the settings it needs."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import render
from cli.options import Json


def estimate(
    changes_per_second: Annotated[
        float,
        typer.Option("--changes-per-second", metavar="N", help="Item changes per second."),
    ],
    item_bytes: Annotated[
        int, typer.Option("--item-bytes", metavar="B", help="Average item size in bytes.")
    ],
    tables: Annotated[
        int, typer.Option("--tables", metavar="T", help="Tables sharing the load.")
    ] = 1,
    stream_mode: Annotated[
        str,
        typer.Option("--stream-mode", help="Kinesis capacity to price: on-demand or provisioned."),
    ] = "on-demand",
    shards: Annotated[
        int | None, typer.Option("--shards", help="Shards, with --stream-mode provisioned.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Monthly cost at list prices of this design and of per-row writes, with sizing.

    Prints each design's cost by component, recommended stream mode, shards,
    Firehose buffer and schedule, the database each design needs, the expected
    freshness and the break points this load crosses. Prices and their sources:
    ops/prices.json. --json prints {"this_design": {"monthly_usd", "components"},
    "seed_design": {...}, "settings", "database", "freshness_seconds", "limits", ...}.

    Example:

        ddbload estimate --changes-per-second 10000 --item-bytes 1024 --json
    """
    from ops.estimate import estimate as run_estimate
    from ops.estimate_report import render_text

    result = run_estimate(
        changes_per_second, item_bytes, tables, stream_mode=stream_mode, shards=shards
    )
    if as_json:
        render.print_json(result)
    else:
        typer.echo(render_text(result))
