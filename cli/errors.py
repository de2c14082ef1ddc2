"""The CLI's error edge: library errors become one sentence on stderr and exit code 1.

Usage errors exit 2 (typer); ``status``, ``verify`` and friends exit 3 when
something needs attention. ``DDBLOAD_DEBUG=1`` shows the traceback of an
unexpected error instead of its one-line summary.
"""

from __future__ import annotations

import os
from typing import Any

import typer
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)
from typer.core import TyperGroup

from contract.config import ConfigError
from ops.pipeline import OperatorError

EXIT_ERROR = 1
EXIT_ATTENTION = 3


def sentence(exc: BaseException) -> str | None:
    """The one sentence an operator sees for an error, or None when it is a bug."""
    if isinstance(exc, OperatorError):
        return str(exc)
    from loaders.settings import SettingsError
    from localmode.server import LocalModeError
    from ops.backfill_sources import BackfillError
    from ops.estimate_inputs import EstimateError

    if isinstance(exc, LocalModeError | SettingsError | BackfillError | EstimateError):
        text = str(exc)
        return text[:1].upper() + text[1:]
    if isinstance(exc, ConfigError):
        return "The pipeline configuration is invalid: " + " ".join(exc.problems)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return (
            "No AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or use --local."
        )
    if isinstance(exc, NoRegionError):
        return "No AWS region set: set AWS_DEFAULT_REGION (or a region in your AWS profile)."
    if isinstance(exc, EndpointConnectionError):
        return (
            f"Cannot reach {exc.kwargs.get('endpoint_url', 'the AWS endpoint')}; "
            "for the local stack run `ddbload local up` first."
        )
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"AWS refused {exc.operation_name}: {err.get('Code')}: {err.get('Message')}"
    if isinstance(exc, BotoCoreError):
        return f"AWS call failed: {exc}"
    return _database_sentence(exc)


def _database_sentence(exc: BaseException) -> str | None:
    import pymysql

    from loaders import errors

    if isinstance(exc, pymysql.err.OperationalError):
        if errors.is_unreachable(exc) or errors.is_connection_lost(exc):
            return f"The database is unreachable ({exc.args[1]}); check that it is up."
        if errors.is_access_denied(exc):
            return "The database refused the credentials in the pipeline's secret."
        if errors.is_unknown_database(exc):
            return f"The database does not exist ({exc.args[1]})."
        code = errors.error_code(exc)
        return f"Database error {code}: {exc.args[1] if len(exc.args) > 1 else exc}."
    return None


class EdgeGroup(TyperGroup):
    """The error boundary: library errors -> one sentence on stderr and exit code 1."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as exc:
            text = sentence(exc)
            if text is None:
                if os.environ.get("DDBLOAD_DEBUG"):
                    raise
                text = (
                    f"Unexpected error ({type(exc).__name__}: {exc}); "
                    "run again with DDBLOAD_DEBUG=1 for the details."
                )
            typer.echo(f"ddbload: {text}", err=True)
            raise typer.Exit(EXIT_ERROR) from None
