"""``ddbload local up|down|status``: the local stack (a moto server plus the pipeline's resources)."""

from __future__ import annotations

import typer
from rich.table import Table

from cli import render
from cli.errors import EXIT_ATTENTION
from cli.options import ConfigFile, Database, Json, StateDir, read_config


def up(
    config: ConfigFile = "cdk.json",
    database: Database = None,
    state_dir: StateDir = None,
    as_json: Json = False,
) -> None:
    """Start the local stack (or keep the running one) and create the pipeline's resources.

    --json prints {"endpoint", "pid", "resources": {...}} (resources as saved
    in the state folder: bucket, prefixes, queue URLs, secret ARN, tables).

    Example:

        ddbload local up
    """
    from localmode import demo, resources, server

    pipeline_config = read_config(config)
    made = demo.ensure_stack(pipeline_config, database=database, state_path=state_dir)
    running = server.status(state_dir)
    if as_json:
        render.print_json(
            {"endpoint": running.endpoint, "pid": running.pid, "resources": made.to_dict()}
        )
        return
    table = Table(title=f"local stack at {running.endpoint} (pid {running.pid})")
    table.add_column("resource")
    table.add_column("name", overflow="fold")
    for kind, name in resources.describe(made):
        table.add_row(kind, name)
    render.console().print(table)


def down(state_dir: StateDir = None, as_json: Json = False) -> None:
    """Stop the local stack; everything in it (tables, bucket, queues) goes with it.

    MariaDB keeps its data. --json prints {"stopped": bool, "pid"}.

    Example:

        ddbload local down
    """
    from localmode import server

    before = server.down(state_dir)
    if as_json:
        render.print_json({"stopped": before.running, "pid": before.pid})
    elif before.running:
        typer.echo(f"stopped the local stack (pid {before.pid})")
    else:
        typer.echo("the local stack was not running")


def status(state_dir: StateDir = None, as_json: Json = False) -> None:
    """Whether the local stack runs, where, and what it holds; exit code 3 when it is down.

    --json prints {"running", "pid", "port", "endpoint", "log", "state_dir",
    "resources": {...} or null}.

    Example:

        ddbload local status --json
    """
    from localmode import resources, server

    current = server.status(state_dir)
    made = None
    if current.running:
        try:
            made = resources.load(state_dir)
        except server.LocalModeError:
            made = None
    if as_json:
        render.print_json({**current.to_dict(), "resources": made.to_dict() if made else None})
    elif current.running:
        typer.echo(f"running at {current.endpoint} (pid {current.pid}, log {current.log})")
        if made:
            for kind, name in resources.describe(made):
                typer.echo(f"  {kind}: {name}")
        else:
            typer.echo("  no resources yet: run `ddbload local up`")
    else:
        typer.echo("not running: start it with `ddbload local up`")
    if not current.running:
        raise typer.Exit(EXIT_ATTENTION)
