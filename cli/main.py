"""The ``ddbload`` command group: every command module registered under its verb.

Each command opens the pipeline (``cli.options.open_pipeline``), makes one
library call and formats the result as a table or, with ``--json``, as a
stable JSON document (shape in each command's help).
"""

from __future__ import annotations

import typer

from cli import backfill, demo, estimate, inspection, local, reload, replay, status, verify
from cli.errors import EdgeGroup

app = typer.Typer(
    name="ddbload",
    cls=EdgeGroup,
    help="Operate a ddbload pipeline: DynamoDB changes -> S3 staging -> MariaDB.\n\n"
    "Commands that read or change a pipeline take --local (the local stack) or "
    "--stack NAME (a deployed stack, found by its CloudFormation outputs); "
    "DDBLOAD_LOCAL=1 and DDBLOAD_STACK=NAME set the default.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """Keeps ``ddbload`` a group of commands (and the error boundary on top of them)."""


app.command("inspect")(inspection.inspect)
app.command("reload")(reload.reload)
app.command("backfill")(backfill.backfill)
app.command("status")(status.status)
app.command("verify")(verify.verify)
app.command("demo")(demo.demo)
app.command("replay")(replay.replay)
app.command("estimate")(estimate.estimate)

local_app = typer.Typer(
    cls=EdgeGroup,
    help="The local stack: a moto server on 127.0.0.1 plus the pipeline's resources in it.",
    no_args_is_help=True,
)
local_app.command("up")(local.up)
local_app.command("down")(local.down)
local_app.command("status")(local.status)
app.add_typer(local_app, name="local")


def main() -> None:
    """Console-script entry point (``ddbload``)."""
    app(prog_name="ddbload")
