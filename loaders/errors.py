"""Driver errors sorted at one boundary: transient (retry the batch) or terminal (stop the file).

Everything the engine catches from PyMySQL passes through ``classify``;
nothing else in ``loaders/`` inspects MySQL error numbers.
"""

from __future__ import annotations

import pymysql

# Lost connection (2006 gone away, 2013 lost during query), can't connect (2003),
# deadlock (1213), lock wait timeout (1205), connection killed (1927), server
# shutting down (1053), too many connections (1040), packet read errors (2055).
TRANSIENT_CODES = frozenset({2003, 2006, 2013, 2055, 1213, 1205, 1927, 1053, 1040})


class LoaderError(Exception):
    """Base of the loader's own errors."""


class TransientError(LoaderError):
    """Worth retrying: the file stays pending and a later attempt or run loads it."""


class TerminalError(LoaderError):
    """Retrying will not help; the message names the file and what to do."""


class TargetRefused(TerminalError):
    """The MariaDB target table does not match the mapping (primary key, unique keys)."""


class TargetOwned(TargetRefused):
    """The target already holds another DynamoDB table's items (see ``loaders.target``)."""


def error_code(exc: BaseException) -> int | None:
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, LoaderError):
        return False
    if isinstance(exc, pymysql.err.InterfaceError):
        # "(0, '')": the socket is already closed.
        return True
    if isinstance(exc, pymysql.err.Error):
        return error_code(exc) in TRANSIENT_CODES
    return isinstance(exc, ConnectionError | TimeoutError)


def classify(exc: BaseException, what: str) -> LoaderError:
    """Wrap any exception met while loading ``what`` (a key or batch) as transient or terminal."""
    if isinstance(exc, LoaderError):
        return exc
    if is_transient(exc):
        return TransientError(f"{what}: transient database error ({exc}); it will be retried.")
    code = error_code(exc)
    detail = f"MariaDB error {code}: {exc.args[1]}" if code and len(exc.args) > 1 else repr(exc)
    return TerminalError(
        f"{what}: {detail}. Fix the cause (mapping, target table or data), then run "
        "`ddbload reload --prefix` for this key."
    )
