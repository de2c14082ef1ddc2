"""Options shared by the commands, and the one place a command opens its pipeline.

``--local`` reaches the local stack through ``localmode``; ``--stack NAME`` a
deployed one through ``ops.pipeline.from_stack``. ``DDBLOAD_LOCAL=1`` and
``DDBLOAD_STACK=NAME`` set the default.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from contract import names
from contract.config import ConfigError, PipelineConfig, load_cdk_json
from ops.pipeline import OperatorError, Pipeline, from_stack

Local = Annotated[
    bool, typer.Option("--local", help="Use the local stack (moto + MariaDB; `ddbload local up`).")
]
Stack = Annotated[
    str | None,
    typer.Option("--stack", metavar="NAME", help="Use the deployed CloudFormation stack NAME."),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON (shape documented above).")]
StateDir = Annotated[
    str | None,
    typer.Option(
        "--state-dir",
        metavar="DIR",
        help="Where local mode keeps its state (default: $DDBLOAD_STATE_DIR or ./.state).",
    ),
]
Database = Annotated[
    str | None,
    typer.Option("--database", metavar="NAME", help="MariaDB database (default: config's)."),
]
ConfigFile = Annotated[
    str, typer.Option("--config", metavar="FILE", help="cdk.json with the pipeline config.")
]


def read_config(path: str) -> PipelineConfig:
    """The pipeline config of cdk.json ``path``; a missing or broken file is one sentence."""
    try:
        return load_cdk_json(path)
    except FileNotFoundError:
        raise OperatorError(
            f"No config file {path} here; run from the project folder or pass --config PATH "
            "to its cdk.json."
        ) from None
    except ValueError as e:
        if isinstance(e, ConfigError):
            raise
        raise OperatorError(f"{path} is not valid JSON ({e}).") from None


def open_pipeline(local: bool = False, stack: str | None = None) -> Pipeline:
    """The pipeline named by the flags, else by ``DDBLOAD_LOCAL`` / ``DDBLOAD_STACK``."""
    if local and stack:
        raise OperatorError("Choose one pipeline: --local or --stack, not both.")
    if not local and not stack:
        local = os.environ.get(names.ENV_LOCAL, "").lower() in ("1", "true", "yes")
        stack = None if local else os.environ.get(names.ENV_STACK_NAME) or None
    if local:
        from localmode.pipeline import from_local

        return from_local()
    if stack:
        return from_stack(stack)
    raise OperatorError(
        "No pipeline chosen: pass --stack NAME (or set DDBLOAD_STACK) for a deployed stack, "
        "or --local (or DDBLOAD_LOCAL=1) for the local stack."
    )
