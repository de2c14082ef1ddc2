"""``ddbload demo``: the whole pipeline on the local stack, then the reconciliation."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from cli import render
from cli.errors import EXIT_ATTENTION
from cli.options import ConfigFile, Database, Json, read_config


def demo(
    items: Annotated[
        int, typer.Option("--items", min=1, help="About how many new items to write.")
    ] = 1000,
    config: ConfigFile = "cdk.json",
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
    stale / quarantined, loader runs, latency: commit time minus change time of
    every streamed change as p50/p90/p99/max seconds and a histogram,
    reconciliation, ok, next_steps).

    Example:

        ddbload demo --items 500
    """
    from localmode.demo import run_demo

    pipeline_config = read_config(config)
    with render.labelled_progress() as progress:
        summary = run_demo(
            items,
            config=pipeline_config,
            database=database,
            state_path=state_dir,
            progress=progress,
        )
    doc = summary.to_dict()
    if as_json:
        render.print_json(doc)
    else:
        steps = doc.pop("next_steps", [])
        latency = doc.pop("latency", None)
        render.print_reconciliation(doc.pop("reconciliation", []))
        render.print_dicts([doc], "demo")
        _print_latency(latency)
        for step in steps:
            typer.echo(step)
    if not summary.ok:
        raise typer.Exit(EXIT_ATTENTION)


def _print_latency(latency: dict[str, Any] | None) -> None:
    """The measured end-to-end latency: percentiles, then changes per bucket."""
    out = render.console()
    if not latency:
        out.print("end-to-end latency: nothing committed")
        return
    out.print(
        f"end-to-end latency (commit time minus change time), {latency['changes']} changes "
        f"in {latency['files']} files: p50 {latency['p50_seconds']:.2f} s, p90 "
        f"{latency['p90_seconds']:.2f} s, p99 {latency['p99_seconds']:.2f} s, max "
        f"{latency['max_seconds']:.2f} s"
    )
    table = Table(title="end-to-end latency")
    table.add_column("seconds", justify="right")
    table.add_column("changes", justify="right")
    table.add_column("")
    widest = max(b["changes"] for b in latency["histogram"])
    for bucket in latency["histogram"]:
        span = (
            f"> {bucket['gt']:g}" if bucket["le"] is None else f"{bucket['gt']:g}-{bucket['le']:g}"
        )
        bar = "#" * max(1, round(40 * bucket["changes"] / widest))
        table.add_row(span, str(bucket["changes"]), bar)
    out.print(table)
